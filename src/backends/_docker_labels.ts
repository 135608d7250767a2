/**
 * The labels on every runner container `DockerBackend` creates.
 *
 * @module
 */

/** Label on every container this project creates. */
export const LABEL_PROJECT = "dev.flame-docker";
/** Label: the pool's name. */
export const LABEL_POOL = "dev.flame-docker.pool";
/** Label: the parent instance that created the container. */
export const LABEL_PARENT = "dev.flame-docker.parent";
/** Label: the parent's container id when the parent runs in a container. */
export const LABEL_PARENT_CONTAINER = "dev.flame-docker.parent-container";
/** Label: `<hostname>:<pid>` of the parent process. */
export const LABEL_PARENT_PROCESS = "dev.flame-docker.parent-process";
