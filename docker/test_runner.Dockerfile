# The local test runner image: no base image, nothing pulled from a registry.
# docker/build_test_image.sh stages the build context: rootfs/ holds the Deno
# binary and the shared libraries `ldd` says it needs, app/ holds this
# repository. The app sits at the same absolute path as on the host, so
# `file:` module specifiers resolve identically in the parent and the runner
# (the same-image model).
FROM scratch
COPY rootfs/ /
ENV DENO_DIR=/tmp/deno PATH=/usr/local/bin NO_COLOR=1
ARG APP_DIR
WORKDIR ${APP_DIR}
COPY app/ ${APP_DIR}/
# Bake the module cache so a cold runner does not transpile at each boot.
RUN ["/usr/local/bin/deno", "cache", "runner.ts", "mod.ts", "tests/fixtures/jobs.ts"]
LABEL dev.flame-docker.image="test-runner"
CMD ["/usr/local/bin/deno", "run", "--allow-all", "runner.ts"]
