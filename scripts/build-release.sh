#!/usr/bin/env bash
# Builds molt as it was at git tag TAG (a previous release, for the tests that live-update between
# releases) and prints the path of its launcher. Built once per commit, in the user's cache, so that
# fresh clones (CI) reuse it. Needs the tag in this clone's history: a shallow clone has none.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tag=${1:?usage: build-release.sh TAG}
sha=$(git -C "$root" rev-parse --verify -q "$tag^{commit}") \
  || { echo "molt: no release $tag in $root's history (a shallow clone, or tags not fetched?)" >&2; exit 2; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/molt/releases"
dir="$cache/$sha"
if [ ! -f "$dir/target/molt.jar" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/build.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  git -C "$root" archive "$sha" | tar -x -C "$tmp"
  . "$root/bin/lib/jdk.sh"
  molt_find_jdk
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
  (cd "$tmp" && mvn -B -q -Dmaven.test.skip=true package) >&2 \
    || { echo "molt: cannot build $tag ($sha)" >&2; exit 1; }
  rm -rf "$dir"
  mv "$tmp" "$dir"
  trap - EXIT
fi
echo "$dir/bin/molt"
