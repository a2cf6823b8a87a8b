#!/usr/bin/env bash
# Runs every test: unit tests, then integration tests that boot real guests under /dev/kvm.
# Integration tests report which KVM flavour they ran on and what they could check there.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bin/lib/jdk.sh"
molt_find_jdk
command -v mvn >/dev/null || { echo "molt: Maven (mvn) is missing: apt-get install maven" >&2; exit 1; }
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
# socat is the QMP client the wire-compatibility test uses (one molt's project did not write).
if ! command -v socat >/dev/null; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq socat) >/dev/null || { echo "molt: cannot install socat" >&2; exit 1; }
  else
    echo "molt: socat is missing (the QMP wire-compatibility test uses it): apt-get install socat" >&2; exit 1
  fi
fi
"$root/guest/build.sh"
cd "$root"
exec mvn -B verify "$@"
