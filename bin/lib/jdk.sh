# Sourced by molt's scripts: finds a JDK 25+ and exports JAVA_HOME, or fails with a clear message.
# Order: $JAVA_HOME if it is 25 or newer, then the Temurin 25 JDK that the machine image carries.
# The JDK's release file names its version; reading it costs nothing, while starting a JVM to ask
# would add tens of milliseconds to every start, including the one inside a live update's pause.
# Sets molt_major to the major version of the JDK at $1 (empty if unknown), with builtins only.
molt_java_major() {
  molt_major=""
  local line
  if [ -f "$1/release" ]; then
    while IFS= read -r line; do
      case $line in
        JAVA_VERSION=*) line=${line#JAVA_VERSION=\"}; molt_major=${line%%[!0-9]*}; break ;;
      esac
    done <"$1/release"
  fi
  if [ -z "$molt_major" ]; then
    molt_major=$("$1/bin/java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java.specification.version = //p')
    molt_major=${molt_major%%.*}
  fi
}

molt_find_jdk() {
  local candidate
  for candidate in "${JAVA_HOME:-}" /usr/lib/jvm/temurin-25-jdk-amd64 /usr/lib/jvm/temurin-25-jdk /usr/lib/jvm/temurin-2[5-9]-jdk-amd64 /usr/lib/jvm/jdk-25*; do
    [ -n "$candidate" ] && [ -x "$candidate/bin/java" ] || continue
    molt_java_major "$candidate"
    if [ -n "$molt_major" ] && [ "$molt_major" -ge 25 ]; then
      export JAVA_HOME="$candidate"
      return 0
    fi
  done
  echo "molt: no JDK 25 found (JAVA_HOME='${JAVA_HOME:-}' is not 25+, and /usr/lib/jvm/temurin-25-jdk-amd64 is missing); install Temurin 25 or set JAVA_HOME to a JDK 25+" >&2
  return 1
}
