#!/usr/bin/env bash
# Builds the stock runner image (docker/runner.Dockerfile's image) offline:
# FROM scratch with the local Deno binary (see _scratch_image.sh) and only the
# runner (runner.ts, src/, deno.json) at /flame: no app code, no tests. With
# code sync (`code: "sync"`) the parent ships its modules to it.
#
# Usage: build_runner_image.sh [TAG]     (default: flame-docker-runner:stock)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=docker/_scratch_image.sh
source "$root/docker/_scratch_image.sh"
tag="${1:-flame-docker-runner:stock}"
deno_bin="$(scratch_deno_bin)"
mkdir -p "$root/.build"
ctx="$(mktemp -d "$root/.build/runner-image.XXXXXX")"
trap 'rm -rf "$ctx"' EXIT
scratch_stage "$ctx" "$deno_bin"
tar -C "$root" -cf - deno.json runner.ts src | tar -C "$ctx/app" -xf -
scratch_dockerfile "$ctx" /flame stock-runner '["/usr/local/bin/deno", "run", "--allow-all", "--cached-only", "runner.ts"]' \
  runner.ts src/runner/call_worker.ts
scratch_build "$ctx" "$tag" --label "dev.flame-docker.stock-runner=1"
echo "$tag"
