#!/usr/bin/env bash
# Runs Debian's libvirt daemon against an emulator binary, as libvirt's users would:
#   scripts/lib/libvirt_probe.sh EMULATOR VIRTTYPE OUTDIR
# prints nothing; writes to OUTDIR: domcaps.xml and virsh.err (virsh domcapabilities --emulatorbin
# EMULATOR --arch x86_64 --virttype VIRTTYPE), qemucaps.xml (libvirt's cached probe of EMULATOR:
# what it asked and learnt), libvirtd.log (every QMP command and reply); exits with virsh's status.
# The daemon runs as root in a mount namespace of its own, where /etc/libvirt, /run/libvirt and
# libvirt's cache, state and log directories are fresh tmpfs and /etc/passwd knows the libvirt-qemu
# user the qemu driver insists on resolving: nothing of the machine's libvirt is used or changed,
# and each run probes afresh (libvirt caches a binary's capabilities by its times).
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 EMULATOR VIRTTYPE OUTDIR" >&2; exit 2; }
emulator=$1 virttype=$2 out=$3
mkdir -p "$out"
exec unshare --mount --propagation private bash -s "$emulator" "$virttype" "$out" <<'INNER'
set -euo pipefail
emulator=$1 virttype=$2 out=$3
cp /etc/passwd "$out/passwd"; cp /etc/group "$out/group"
grep -q '^libvirt-qemu:' "$out/passwd" || echo 'libvirt-qemu:x:64055:64055::/var/lib/libvirt:/usr/sbin/nologin' >>"$out/passwd"
grep -q '^libvirt-qemu:' "$out/group" || echo 'libvirt-qemu:x:64055:' >>"$out/group"
grep -q '^kvm:' "$out/group" || echo 'kvm:x:64056:' >>"$out/group"
mount --bind "$out/passwd" /etc/passwd
mount --bind "$out/group" /etc/group
for d in /etc/libvirt /run/libvirt /var/cache/libvirt /var/lib/libvirt /var/log/libvirt; do
  mkdir -p "$d"
  mount -t tmpfs tmpfs "$d"
done
cat >/etc/libvirt/libvirtd.conf <<CONF
unix_sock_dir = "/run/libvirt"
auth_unix_rw = "none"
auth_unix_ro = "none"
CONF
# The probe runs the emulator as this user.
cat >/etc/libvirt/qemu.conf <<CONF
user = "root"
group = "root"
CONF
LIBVIRT_LOG_FILTERS="1:qemu 3:util 3:rpc 3:object 3:event 3:conf 3:security" \
LIBVIRT_LOG_OUTPUTS="1:file:$out/libvirtd.log" libvirtd -f /etc/libvirt/libvirtd.conf >"$out/libvirtd.out" 2>&1 &
daemon=$!
for _ in $(seq 200); do [ -S /run/libvirt/libvirt-sock ] && break; sleep 0.05; done
status=0
virsh -c qemu:///system domcapabilities --emulatorbin "$emulator" --arch x86_64 --virttype "$virttype" \
  >"$out/domcaps.xml" 2>"$out/virsh.err" || status=$?
cat /var/cache/libvirt/qemu/capabilities/*.xml >"$out/qemucaps.xml" 2>/dev/null || true
kill "$daemon" 2>/dev/null || true
wait "$daemon" 2>/dev/null || true
exit "$status"
INNER
