#!/usr/bin/env bash
# Runs every test: unit tests, then integration tests. Those that need a running vCPU are skipped
# (one line each, saying why) where /dev/kvm is missing or unusable; the run ends with a line that
# counts the integration tests per accelerator and the skips for lack of KVM.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bin/lib/jdk.sh"
molt_find_jdk
command -v mvn >/dev/null || { echo "molt: Maven (mvn) is missing: apt-get install maven" >&2; exit 1; }
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
# The wire-compatibility tests talk QMP with socat (a client molt's project did not write) and
# compare molt's answers with Debian's QEMU on the same script.
missing=()
command -v socat >/dev/null || missing+=(socat)
command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
# qemu-io: the image-lock test checks that QEMU's own tools see molt's locks.
command -v qemu-io >/dev/null || missing+=(qemu-utils)
# strace: the update-ordering tests hold molt at one system call (SyscallHold) to quit or signal it there.
command -v strace >/dev/null || missing+=(strace)
# libvirt: QtestLibvirtProbeIT lets Debian's libvirt daemon probe molt (skipped without it). Its
# recommends (QEMU, dnsmasq, ...) are not needed: installed without them.
if [ "$(id -u)" = 0 ] && ! command -v libvirtd >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients) >/dev/null \
    || echo "molt: cannot install libvirt; QtestLibvirtProbeIT will be skipped" >&2
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}") >/dev/null \
      || { echo "molt: cannot install ${missing[*]}" >&2; exit 1; }
  else
    echo "molt: missing ${missing[*]} (used by the QMP compatibility tests): apt-get install ${missing[*]}" >&2; exit 1
  fi
fi
"$root/guest/build.sh"
cd "$root"
exec mvn -B verify "$@"
