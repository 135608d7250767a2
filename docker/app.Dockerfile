# Your app as one image on the official Deno image: the parent (your app) and
# its runners. The runner runs from source (`deno run`) and is the image's CMD,
# so DockerBackend boots runners from the parent's own image with no options.
# Online recipe: it pulls denoland/deno and fetches your remote modules at
# build time. Offline, use `deno task app-image` (docker/build_app_image.sh).
#
# Your deno.json maps the library: { "imports": { "@flame/docker": "jsr:@flame/docker@^0.1.0" } }
#
#   docker build -f app.Dockerfile -t my-app .
#   docker network create --internal my_net
#   docker run -d --name my-app --network my_net \
#     -v /var/run/docker.sock:/var/run/docker.sock \
#     my-app deno run --allow-all --cached-only main.ts

ARG DENO_VERSION=2.9.6
FROM denoland/deno:${DENO_VERSION}
WORKDIR /app
COPY . .
# Fill the module cache: the parent's graph, the modules pool.module() calls
# (jobs.ts here), and the runner (started once to load its whole graph).
RUN deno cache main.ts jobs.ts && deno run --allow-all @flame/docker/runner --version
CMD ["deno", "run", "--allow-all", "--cached-only", "@flame/docker/runner"]
