#!/usr/bin/env bash
# Long fuzz campaigns over molt's parsers: scripts/fuzz.sh [target|all] [cases] [seed]
#   targets: qmp (framing and dispatch), hmp (command lines), cli (the command line),
#            incoming (-incoming options: URIs, keyval, JSON), cpr (the CPR state),
#            virtqueue (descriptor chains and indirect tables a hostile guest driver writes, served by virtio-blk),
#            netqueue (the same on virtio-net's receive, transmit and control queues, mergeable receive
#            buffers or not, with a real tap; root only), or all
#   cases:   per target, 100000 by default; seed: the current time by default (printed, to replay)
# Prints, per target, the cases run and how many ended in each outcome class (accepted, clean-error,
# unexpected-exception, hang, allocation), then the first findings; exits 1 if there were any.
# The unit tests run the same drivers for a few thousand cases from fixed seeds.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bin/lib/jdk.sh"
molt_find_jdk
command -v mvn >/dev/null || { echo "molt: Maven (mvn) is missing: apt-get install maven" >&2; exit 1; }
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
cd "$root"
mvn -B -q -o test-compile
# The drivers use nothing but molt's classes and their own, so no test framework is on the path.
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp target/classes:target/test-classes \
  dev.molt.fuzz.FuzzMain "${1:-all}" "${2:-100000}" "${3:-$(date +%s)}"
