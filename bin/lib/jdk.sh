# Sourced by molt's scripts: finds a JDK 25+ and exports JAVA_HOME, or fails with a clear message.
# Order: $JAVA_HOME if it is 25 or newer, then the Temurin 25 JDK that the machine image carries.
# The JDK's release file names its version; reading it costs nothing, while starting a JVM to ask
# would add tens of milliseconds to every start, including the one inside a live update's pause.
molt_java_major() {
  local v=""
  if [ -f "$1/release" ]; then
    v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release")
  fi
  if [ -z "$v" ]; then
    v=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    v=${v%%.*}
  fi
  echo "$v"
}

molt_find_jdk() {
  local candidate
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/temurin-2[5-9]-jdk-amd64 /usr/lib/jvm/jdk-25*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    local major
    major=$(molt_java_major "$candidate")
    if [ -n "$major" ] && [ "$major" -ge 25 ]; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  echo "molt: no JDK 25 found (JAVA_HOME='${JAVA_HOME:-}' is not 25+, and /usr/lib/jvm/temurin-25-jdk-amd64 is missing); install Temurin 25 or set JAVA_HOME to a JDK 25+" >&2
  return 1
}
