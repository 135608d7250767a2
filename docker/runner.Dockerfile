# The stock runner image: the flame-docker runner and nothing of any app.
# With code sync (`new Pool({ code: "sync", ... })`) the parent ships each
# module's code to the runner, so this one image serves any app:
#
#   docker build -f docker/runner.Dockerfile -t flame-docker-runner:stock .
#   new DockerBackend({ image: "flame-docker-runner:stock", network: "my_net" })
#
# Online recipe: it pulls denoland/deno. Offline (no registry), use
# `deno task runner-image` (docker/build_runner_image.sh), which builds the
# same image FROM scratch with the local Deno binary.

ARG DENO_VERSION=2.9.6
FROM denoland/deno:${DENO_VERSION}
WORKDIR /flame
COPY deno.json runner.ts ./
COPY src/ src/
# Fill the module cache: the runner's whole graph, its call worker included.
RUN deno cache runner.ts src/runner/call_worker.ts
USER deno
CMD ["deno", "run", "--allow-all", "--cached-only", "runner.ts"]
