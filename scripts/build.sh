#!/usr/bin/env bash
# Builds molt (target/molt.jar) and the bundled test guest (guest/build/molt-guest.elf).
# Needs: a JDK 25 (found by bin/lib/jdk.sh), Maven 3.8+, gcc.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
. "$root/bin/lib/jdk.sh"
molt_find_jdk
command -v mvn >/dev/null || { echo "molt: Maven (mvn) is missing: apt-get install maven" >&2; exit 1; }
command -v gcc >/dev/null || { echo "molt: gcc is missing (it builds the test guest and libmolt-sys.so): apt-get install gcc" >&2; exit 1; }
export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
"$root/guest/build.sh"
(cd "$root" && mvn -q -B -Dstyle.color=never -Dmaven.test.skip=true package)
"$root/scripts/train-aot.sh" || true
echo "built: $root/target/molt.jar and $root/guest/build/molt-guest.elf"
