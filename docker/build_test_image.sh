#!/usr/bin/env bash
# Builds the local test runner image (FROM scratch, nothing pulled).
# Usage: docker/build_test_image.sh [tag]       (default tag: flame-docker-runner:test)
#        docker/build_test_image.sh --source-id  prints the id of what an image built now holds
# The image is labelled with that id (the repository path, the Deno binary and a
# hash of every source file), so tests can tell a stale image and rebuild it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source_id() {
  {
    echo "$root"
    sha256sum "$deno_bin" | cut -c1-64
    (cd "$root" && find . -type f -not -path './.git/*' -not -path './.build/*' \
      -not -path './node_modules/*' -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-64
}
deno_bin="${DENO_BIN:-$(command -v deno || true)}"
[ -n "$deno_bin" ] || { echo "build_test_image.sh: no deno binary (set DENO_BIN)" >&2; exit 1; }
deno_bin="$(readlink -f "$deno_bin")"
if [ "${1:-}" = "--source-id" ]; then
  source_id
  exit 0
fi
tag="${1:-${FLAME_TEST_IMAGE:-flame-docker-runner:test}}"
mkdir -p "$root/.build"
ctx="$(mktemp -d "$root/.build/image.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/etc" "$ctx/app"
chmod 1777 "$ctx/rootfs/tmp"
cp "$deno_bin" "$ctx/rootfs/usr/local/bin/deno"
# Every shared object the binary loads, at the path the loader expects.
for lib in $(ldd "$deno_bin" | grep -oE '/[^ ]+' | sort -u); do
  mkdir -p "$ctx/rootfs$(dirname "$lib")"
  cp -L "$lib" "$ctx/rootfs$lib"
done
printf 'hosts: files dns\n' > "$ctx/rootfs/etc/nsswitch.conf"
printf 'root:x:0:0:root:/root:/nonexistent\n' > "$ctx/rootfs/etc/passwd"
# The repository's sources (no VCS data, no build output).
tar -C "$root" --exclude=./.git --exclude=./.build --exclude=./node_modules -cf - . | tar -C "$ctx/app" -xf -
previous="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
docker build -q -f "$root/docker/test_runner.Dockerfile" --build-arg "APP_DIR=$root" \
  --label "dev.flame-docker.source-id=$(source_id)" -t "$tag" "$ctx" >/dev/null
# The image this build replaced is left untagged: remove it unless a container still uses it.
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$tag")" ]; then
  docker rmi "$previous" >/dev/null 2>&1 || true
fi
# Earlier test images left untagged while a container still used them (removal
# fails then) are removed once free: only untagged images with our label.
docker image prune -f --filter "label=dev.flame-docker.source-id" >/dev/null 2>&1 || true
echo "built $tag"
