#!/usr/bin/env bash
# Builds one image for your own app that serves as both the parent and its
# runners, offline: FROM scratch with the local Deno binary (see
# _scratch_image.sh), the app's files at /app, and a module cache filled at
# build time. Its CMD is the runner, so DockerBackend boots runners from the
# parent's own image; the parent overrides the command:
#
#   deno task app-image --dir ~/my-app --entry main.ts --tag my-app
#   docker network create --internal my_net
#   docker run -d --name my-app --network my_net \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     my-app deno run --allow-all --cached-only main.ts
#
# Usage: build_app_image.sh --entry FILE --tag TAG [--dir DIR] [--runner SPEC]
#                           [--cache SPEC]... [--exclude PATTERN]...
#   --entry FILE       the parent's main module, relative to DIR (cached in the image)
#   --tag TAG          the image's tag
#   --dir DIR          the app (copied to /app); default: the directory `deno task` ran in
#   --runner SPEC      the runner module, resolved from DIR like an import there
#                      (default: @flame/docker/runner, which your deno.json imports map)
#   --cache SPEC       another module to cache (e.g. the modules pool.module() calls); repeatable
#   --exclude PATTERN  a path not to copy (tar --exclude); repeatable; .git is never copied
#
# Remote modules (jsr:, npm:, https:) are fetched on this machine into the image's cache, so
# the build needs the registry for them, or a vendored copy ("vendor": true in deno.json);
# the docker build itself runs with --network none and pulls nothing.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=docker/_scratch_image.sh
source "$here/_scratch_image.sh"
prog="build_app_image.sh"
usage() {
  sed -n 's/^# \{0,1\}//; /^Usage:/,/^$/p' "${BASH_SOURCE[0]}" | sed '$d' >&2
  exit 2
}
die() {
  echo "$prog: $*" >&2
  exit 1
}

entry="" tag="" dir="${INIT_CWD:-$PWD}" runner="@flame/docker/runner"
cache=() excludes=(--exclude=./.git)
while [ $# -gt 0 ]; do
  case "$1" in
    --entry | --tag | --dir | --runner | --cache | --exclude)
      [ $# -ge 2 ] || { echo "$prog: $1 needs a value" >&2; usage; }
      case "$1" in
        --entry) entry="$2" ;;
        --tag) tag="$2" ;;
        --dir) dir="$2" ;;
        --runner) runner="$2" ;;
        --cache) cache+=("$2") ;;
        --exclude) excludes+=("--exclude=$2") ;;
      esac
      shift 2
      ;;
    -h | --help) usage ;;
    *) echo "$prog: unknown argument \"$1\"" >&2; usage ;;
  esac
done
[ -n "$entry" ] || { echo "$prog: --entry is required" >&2; usage; }
[ -n "$tag" ] || { echo "$prog: --tag is required" >&2; usage; }
case "$dir" in /*) ;; *) dir="${INIT_CWD:-$PWD}/$dir" ;; esac
[ -d "$dir" ] || die "the app directory \"$dir\" does not exist (--dir)"
dir="$(cd "$dir" && pwd)"
[ -f "$dir/$entry" ] || die "the entry \"$entry\" is not a file in $dir (--entry is relative to --dir)"
deno_bin="$(scratch_deno_bin)"

ctx="$(cd "$(mktemp -d "${TMPDIR:-/tmp}/flame-app-image.XXXXXX")" && pwd -P)"
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/app" "$ctx/deno-dir"
tar -C "$dir" "${excludes[@]}" -cf - . | tar -C "$ctx/app" -xf -

# Resolves each module as an import in the app would be (its deno.json, its lock file), fetching
# remote ones into the image's cache; prints each one's URL as it will be at /app, or fails
# naming the module that cannot be loaded and why.
resolve='
const [app, dir, ...specs] = Deno.args;
const local = `file://${app}/`;
const shown = (url) => url.replaceAll(local, `file://${dir}/`);
for (const spec of specs) {
  const out = await new Deno.Command(Deno.execPath(), { args: ["info", "--json", spec], stderr: "piped" }).output();
  const graph = out.success ? JSON.parse(new TextDecoder().decode(out.stdout)) : undefined;
  const root = graph?.roots?.[0];
  let why = root ? undefined : new TextDecoder().decode(out.stderr).trim();
  for (const m of graph?.modules ?? []) {
    if (m.error !== undefined) why ??= m.error;
    // Dynamic imports load at run time, when their code path runs; only static ones must resolve.
    for (const d of (m.dependencies ?? []).filter((d) => !d.isDynamic)) {
      const error = d.code?.error ?? d.type?.error;
      if (error !== undefined) why ??= `${m.specifier} imports "${d.specifier}": ${error}`;
    }
  }
  if (why !== undefined) {
    console.error(`cannot load "${spec}" as the app would import it: ${shown(why)}`);
    Deno.exit(1);
  }
  console.log(root.startsWith(local) ? `file:///app/${root.slice(local.length)}` : root);
}'
if ! resolved="$(cd "$ctx/app" && DENO_DIR="$ctx/deno-dir" DENO_NO_UPDATE_CHECK=1 \
  "$deno_bin" eval --quiet "$resolve" "$ctx/app" "$dir" "./$entry" "$runner" "${cache[@]}")"; then
  die "cannot fill the module cache (see above): the entry, the runner (\"$runner\") and each --cache module must resolve from $dir as the app imports them. Map \"@flame/docker\" in the app's deno.json \"imports\" (the runner resolves through it too) or pass --runner; remote modules need their registry at build time, or a vendored copy (\"vendor\": true in deno.json)"
fi
# Keep the downloads only: the transpile cache is rebuilt in the image, at the image's paths.
find "$ctx/deno-dir" -mindepth 1 -maxdepth 1 -not -name remote -not -name npm -exec rm -rf {} +
scratch_stage "$ctx" "$deno_bin"
mapfile -t modules <<<"$resolved"
cmd="$(_scratch_json_array /usr/local/bin/deno run --allow-all --cached-only "$runner")"
scratch_dockerfile "$ctx" /app app "$cmd" "${modules[@]}"
scratch_build "$ctx" "$tag" --label "dev.flame-docker.app-entry=$entry"
echo "built $tag ($(docker image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.0f MB", $1 / 1e6 }')): runner CMD $cmd"
