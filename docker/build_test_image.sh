#!/usr/bin/env bash
# Builds the local test runner image: FROM scratch, nothing pulled (see _scratch_image.sh).
# Usage: docker/build_test_image.sh [TAG]         builds TAG (default: flame-docker-runner:test)
#        docker/build_test_image.sh --source-id   prints the id of what an image built now holds
#        docker/build_test_image.sh --test-tag    prints the tag --ensure builds: flame-docker-runner:src-<id>
#        docker/build_test_image.sh --ensure      what the tests run: builds flame-docker-runner:src-<id>
#                                                 unless it is there, prints that tag, and removes this
#                                                 checkout's other src- images once unused for an hour
#        docker/build_test_image.sh --ensure TAG  the same for TAG (removes nothing unless TAG is a src- tag)
# The image is labelled with the source id (the repository path, the Deno binary and a hash of
# every source file), so a stale image is told apart. Tests tag by that id: two checkouts sharing
# an engine never replace each other's image, and each removes only its own.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=docker/_scratch_image.sh
source "$root/docker/_scratch_image.sh"
source_id() {
  {
    echo "$root"
    sha256sum "$deno_bin" | cut -c1-64
    (cd "$root" && find . -type f -not -path './.git/*' -not -path './.build/*' \
      -not -path './node_modules/*' -print0 | sort -z | xargs -0 sha256sum)
  } | sha256sum | cut -c1-64
}
deno_bin="$(scratch_deno_bin)"
checkout="$(printf '%s' "$root" | sha256sum | cut -c1-16)"
markers="$root/.build/test-images"

build() {
  local tag="$1" id="$2" ctx
  mkdir -p "$root/.build"
  ctx="$(mktemp -d "$root/.build/image.XXXXXX")"
  trap "rm -rf '$ctx'" EXIT
  scratch_stage "$ctx" "$deno_bin"
  # The repository at the same absolute path as on the host, so `file:` module specifiers
  # resolve identically in a parent on the host and its runners (the same-image model).
  tar -C "$root" --exclude=./.git --exclude=./.build --exclude=./node_modules -cf - . |
    tar -C "$ctx/app" -xf -
  scratch_dockerfile "$ctx" "$root" test-runner '["/usr/local/bin/deno", "run", "--allow-all", "runner.ts"]' \
    runner.ts mod.ts tests/fixtures/jobs.ts
  scratch_build "$ctx" "$tag" --label "dev.flame-docker.source-id=$id" \
    --label "dev.flame-docker.checkout=$checkout"
  rm -rf "$ctx"
  trap - EXIT
  # Untagged test images of this checkout (replaced while a container still used them) go once free.
  docker image prune -f --filter "label=dev.flame-docker.checkout=$checkout" >/dev/null 2>&1 || true
}

# Removes this checkout's src- test images other than the current one, once no test has
# ensured them for an hour (concurrent runs of this checkout may still be using a recent one).
remove_stale() {
  local current="$1" tag id
  for tag in $(docker image ls flame-docker-runner --format '{{.Tag}}' | grep '^src-' || true); do
    [ "flame-docker-runner:$tag" = "$(test_tag "$current")" ] && continue
    id="$(docker image inspect --format \
      '{{index .Config.Labels "dev.flame-docker.checkout"}} {{index .Config.Labels "dev.flame-docker.source-id"}}' \
      "flame-docker-runner:$tag" 2>/dev/null || true)"
    [ "${id%% *}" = "$checkout" ] || continue
    id="${id#* }"
    [ -n "$(find "$markers/$id" -mmin -60 2>/dev/null)" ] && continue
    docker rmi "flame-docker-runner:$tag" >/dev/null 2>&1 && rm -f "$markers/$id" || true
  done
}

test_tag() { echo "flame-docker-runner:src-${1:0:16}"; }

ensure() {
  local id tag
  id="$(source_id)"
  tag="${1:-$(test_tag "$id")}"
  mkdir -p "$markers"
  exec 9>"$markers/.lock"
  flock 9
  touch "$markers/$id"
  if [ "$(docker image inspect --format '{{index .Config.Labels "dev.flame-docker.source-id"}}' \
    "$tag" 2>/dev/null || true)" != "$id" ]; then
    build "$tag" "$id"
  fi
  [[ "$tag" != flame-docker-runner:src-* ]] || remove_stale "$id"
  echo "$tag"
}

case "${1:-}" in
  --source-id) source_id ;;
  --test-tag) test_tag "$(source_id)" ;;
  --ensure) ensure "${2:-}" ;;
  *)
    tag="${1:-${FLAME_TEST_IMAGE:-flame-docker-runner:test}}"
    build "$tag" "$(source_id)"
    echo "built $tag"
    ;;
esac
