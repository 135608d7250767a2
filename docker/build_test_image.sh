#!/usr/bin/env bash
# Builds the local test runner image (FROM scratch, nothing pulled).
# Usage: docker/build_test_image.sh [tag]   (default tag: flame-docker-runner:test)
set -euo pipefail
tag="${1:-${FLAME_TEST_IMAGE:-flame-docker-runner:test}}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
deno_bin="${DENO_BIN:-$(command -v deno || true)}"
[ -n "$deno_bin" ] || { echo "build_test_image.sh: no deno binary (set DENO_BIN)" >&2; exit 1; }
deno_bin="$(readlink -f "$deno_bin")"
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
docker build -q -f "$root/docker/test_runner.Dockerfile" --build-arg "APP_DIR=$root" -t "$tag" "$ctx" >/dev/null
echo "built $tag"
