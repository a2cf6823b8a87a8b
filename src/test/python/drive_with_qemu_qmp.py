"""molt driven by QEMU's own QMP library (qemu.qmp, from QEMU's source tree on PYTHONPATH).

Subcommands (each prints one JSON object on its last line; the Java test checks it):
  schema SOCK             query-qmp-schema: every command and event, and the answers of the
                          argument-less query commands checked against the schema's types;
                          fd sets with add-fd (the fd passed by SCM_RIGHTS), query-fdsets, remove-fd
  migrate SRC DST URI     a live migration with the 'events' capability, to completion
  cpr-exec SOCK URI CMD   a cpr-exec update (CMD: the new command line as JSON), then a new
                          connection to the updated molt
"""
import asyncio
import json
import os
import sys
import tempfile

from qemu.qmp import ExecuteError, QMPClient


def conforms(schema, type_name, value, path, problems):
    """Checks value against the SchemaInfo type; appends what does not fit to problems."""
    t = schema[type_name]
    meta = t['meta-type']
    if meta == 'builtin':
        ok = {
            'string': lambda v: isinstance(v, str),
            'boolean': lambda v: isinstance(v, bool),
            'int': lambda v: isinstance(v, int) and not isinstance(v, bool),
            'number': lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            'null': lambda v: v is None,
            'value': lambda v: True,
        }[t['json-type']](value)
        if not ok:
            problems.append(f'{path}: {value!r} is not {t["json-type"]}')
    elif meta == 'enum':
        if value not in t['values']:
            problems.append(f'{path}: {value!r} is not one of {t["values"]}')
    elif meta == 'array':
        if not isinstance(value, list):
            problems.append(f'{path}: not an array')
            return
        for i, v in enumerate(value):
            conforms(schema, t['element-type'], v, f'{path}[{i}]', problems)
    elif meta == 'object':
        if not isinstance(value, dict):
            problems.append(f'{path}: not an object')
            return
        members = {m['name']: m for m in t['members']}
        for name, m in members.items():
            if name in value:
                conforms(schema, m['type'], value[name], f'{path}.{name}', problems)
            elif 'default' not in m:
                problems.append(f'{path}.{name}: missing')
        for name in value:
            if name not in members:
                problems.append(f'{path}.{name}: not in the schema')
    elif meta == 'alternate':
        for m in t['members']:
            trial = []
            conforms(schema, m['type'], value, path, trial)
            if not trial:
                return
        problems.append(f'{path}: {value!r} fits no branch')
    else:
        problems.append(f'{path}: unexpected meta-type {meta}')


async def connect(sock):
    qmp = QMPClient('molt')
    await qmp.connect(sock)
    return qmp


async def schema(sock):
    qmp = await connect(sock)
    entities = await qmp.execute('query-qmp-schema')
    by_name = {e['name']: e for e in entities}
    commands = sorted(c['name'] for c in await qmp.execute('query-commands'))
    described = sorted(e['name'] for e in entities if e['meta-type'] == 'command')
    events = sorted(e['name'] for e in entities if e['meta-type'] == 'event')
    problems = []
    for e in entities:
        for key in ('arg-type', 'ret-type', 'element-type'):
            if key in e and e[key] not in by_name:
                problems.append(f'{e["name"]}: {key} {e[key]} is not defined')
    checked = []
    for name in described:
        command = by_name[name]
        if not name.startswith('query-') or any('default' not in m for m in by_name[command['arg-type']]['members']):
            continue
        conforms(by_name, command['ret-type'], await qmp.execute(name), name, problems)
        checked.append(name)

    # fd sets: an fd passed along with add-fd, as libvirt does
    fdsets = {}
    with tempfile.TemporaryFile() as f:
        qmp.send_fd_scm(f.fileno())
        added = await qmp.execute('add-fd', {'opaque': 'from qemu.qmp'})
        fdsets['added'] = added
        fdsets['listed'] = await qmp.execute('query-fdsets')
        await qmp.execute('remove-fd', {'fdset-id': added['fdset-id']})
        fdsets['after-remove'] = await qmp.execute('query-fdsets')
    try:
        await qmp.execute('remove-fd', {'fdset-id': added['fdset-id']})
    except ExecuteError as e:
        fdsets['remove-again'] = {'class': e.error.error.class_, 'desc': e.error.error.desc}
    await qmp.disconnect()
    return {'commands': commands, 'described': described, 'events': events, 'checked': checked,
            'problems': problems, 'fdsets': fdsets}


async def migrate(src_sock, dst_sock, uri):
    src = await connect(src_sock)
    await src.execute('migrate-set-capabilities', {'capabilities': [{'capability': 'events', 'state': True}]})
    statuses = []
    with src.listener('MIGRATION') as listener:
        await src.execute('migrate', {'uri': uri})
        async for event in listener:
            statuses.append(event['data']['status'])
            if event['data']['status'] in ('completed', 'failed', 'cancelled'):
                break
    info = await src.execute('query-migrate')
    source_status = (await src.execute('query-status'))['status']
    await src.disconnect()
    dst = await connect(dst_sock)
    for _ in range(100):
        dst_status = (await dst.execute('query-status'))['status']
        if dst_status == 'running':
            break
        await asyncio.sleep(0.1)
    await dst.disconnect()
    return {'events': statuses, 'status': info['status'], 'source': source_status, 'destination': dst_status,
            'transferred': info['ram']['transferred']}


async def cpr_exec(sock, uri, command):
    qmp = await connect(sock)
    await qmp.execute('migrate-set-parameters', {'mode': 'cpr-exec', 'cpr-exec-command': command})
    before = await qmp.execute('query-migrate-parameters')
    await qmp.execute('migrate', {'uri': uri})
    # The process execs the new molt: this connection ends; the new molt serves the same socket.
    try:
        while True:
            await qmp.execute('query-status')
            await asyncio.sleep(0.05)
    except Exception:
        pass
    try:
        await qmp.disconnect()
    except (ConnectionError, EOFError):
        pass  # the exec closed the connection under us, as QEMU's does
    for _ in range(600):
        try:
            qmp = await connect(sock)
            info = await qmp.execute('query-migrate')
            status = (await qmp.execute('query-status'))['status']
            if info.get('status') == 'completed' and status == 'running':
                await qmp.disconnect()
                return {'mode-set': before['mode'], 'status': info['status'], 'run-state': status,
                        'downtime': info.get('downtime')}
            await qmp.disconnect()
        except Exception:
            pass
        await asyncio.sleep(0.1)
    return {'status': 'no completed update seen'}


def main():
    what = sys.argv[1]
    if what == 'schema':
        out = asyncio.run(schema(sys.argv[2]))
    elif what == 'migrate':
        out = asyncio.run(migrate(sys.argv[2], sys.argv[3], sys.argv[4]))
    elif what == 'cpr-exec':
        out = asyncio.run(cpr_exec(sys.argv[2], sys.argv[3], json.loads(sys.argv[4])))
    else:
        raise SystemExit(f'unknown subcommand {what}')
    print(json.dumps(out))


if __name__ == '__main__':
    main()
