"""The small QMP client molt's scripts and benchmarks share: connect to a unix socket (retrying while
the VMM starts or restarts), negotiate capabilities, run commands and wait for their answers (events
that arrive meanwhile are skipped)."""
import json
import socket
import time


def connect(path, tries=300, delay=0.05):
    """A negotiated session on the QMP socket at path, as a text file object."""
    for _ in range(tries):
        try:
            s = socket.socket(socket.AF_UNIX)
            s.connect(path)
            f = s.makefile("rw")
            f.readline()  # the greeting
            execute(f, "qmp_capabilities")
            return f
        except (OSError, ValueError):  # ValueError: the connection closed before a JSON answer
            time.sleep(delay)
    raise SystemExit("no QMP on " + path)


def execute(f, name, **args):
    """Runs one command; returns its answer, {"return": ...} or {"error": ...}."""
    f.write(json.dumps({"execute": name, **({"arguments": args} if args else {})}) + "\n")
    f.flush()
    while True:
        r = json.loads(f.readline())
        if "return" in r or "error" in r:
            return r


def event(f, name, wall0):
    """Waits for the next event called name; returns its timestamp in ms after wall0 (a time.time())."""
    while True:
        m = json.loads(f.readline())
        if m.get("event") == name:
            ts = m["timestamp"]
            return (ts["seconds"] + ts["microseconds"] / 1e6 - wall0) * 1000
