# Shared by build_test_image.sh and build_app_image.sh (sourced, not run): an
# image FROM scratch that holds the local Deno binary, the shared libraries
# `ldd` says it loads, an app tree and a module cache filled at build time.
# Nothing is pulled and the build runs with --network none, so it works on a
# machine without internet access.
#
#   scratch_deno_bin                         the Deno binary to use (DENO_BIN, else deno on PATH), resolved
#   scratch_stage CTX DENO_BIN               CTX/rootfs: the binary, its libraries, /tmp, /etc basics
#   scratch_dockerfile CTX WORKDIR LABEL CMD_JSON CACHE...
#                                            CTX/Dockerfile: rootfs, CTX/deno-dir as the module
#                                            cache, CTX/app at WORKDIR, `deno cache CACHE...`, CMD
#   scratch_build CTX TAG [DOCKER_BUILD_ARG...]
#                                            builds CTX as TAG; removes the image it replaced under
#                                            TAG unless a container still uses it

scratch_deno_bin() {
  local bin="${DENO_BIN:-$(command -v deno || true)}"
  if [ -z "$bin" ]; then
    echo "$(basename "$0"): no Deno binary: set DENO_BIN or put deno on PATH" >&2
    return 1
  fi
  readlink -f "$bin"
}

scratch_stage() {
  local ctx="$1" deno_bin="$2" lib
  mkdir -p "$ctx/rootfs/usr/local/bin" "$ctx/rootfs/tmp" "$ctx/rootfs/etc" "$ctx/app" "$ctx/deno-dir"
  chmod 1777 "$ctx/rootfs/tmp"
  cp "$deno_bin" "$ctx/rootfs/usr/local/bin/deno"
  # Every shared object the binary loads, at the path the loader expects.
  for lib in $(ldd "$deno_bin" | grep -oE '/[^ ]+' | sort -u); do
    mkdir -p "$ctx/rootfs$(dirname "$lib")"
    cp -L "$lib" "$ctx/rootfs$lib"
  done
  printf 'hosts: files dns\n' >"$ctx/rootfs/etc/nsswitch.conf"
  printf 'root:x:0:0:root:/root:/nonexistent\n' >"$ctx/rootfs/etc/passwd"
}

# A JSON array of strings; refuses what would need escaping (quotes, backslashes, control characters).
_scratch_json_array() {
  local out="" arg
  for arg in "$@"; do
    if [[ "$arg" == *[\"\\]* || "$arg" =~ [[:cntrl:]] ]]; then
      echo "$(basename "$0"): cannot put \"$arg\" in a Dockerfile: quotes, backslashes and control characters are not supported" >&2
      return 1
    fi
    out+="${out:+, }\"$arg\""
  done
  printf '[%s]' "$out"
}

scratch_dockerfile() {
  local ctx="$1" workdir="$2" label="$3" cmd="$4"
  shift 4
  local cache
  cache="$(_scratch_json_array /usr/local/bin/deno cache "$@")" || return 1
  _scratch_json_array "$workdir" >/dev/null || return 1
  cat >"$ctx/Dockerfile" <<EOF
FROM scratch
COPY rootfs/ /
ENV DENO_DIR=/deno-dir PATH=/usr/local/bin NO_COLOR=1 DENO_NO_UPDATE_CHECK=1
COPY deno-dir/ /deno-dir/
WORKDIR $workdir
COPY ["app/", "$workdir/"]
# Bake the module cache so a cold runner does not transpile (or fetch) at each boot.
RUN $cache
LABEL dev.flame-docker.image="$label"
CMD $cmd
EOF
}

scratch_build() {
  local ctx="$1" tag="$2" previous
  shift 2
  previous="$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)"
  docker build -q --network none --force-rm "$@" -t "$tag" "$ctx" >/dev/null
  # The image this build replaced is left untagged: remove it unless a container still uses it.
  if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$tag")" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
  fi
}
