/**
 * The options of `DockerBackend`: what each means, their defaults (one
 * table) and their validation.
 *
 * @module
 */

import type { HostConfig, Mount, RegistryAuth } from "../../docker/types.ts";
import type { Logger } from "../../util/logger.ts";

/** Options for `DockerBackend`. Every duration is in milliseconds. */
export interface DockerBackendOptions {
  /**
   * The runner image; its CMD must run `runner.ts`. Defaults to the parent
   * container's own image (Docker-out-of-Docker).
   */
  image?: string;
  /**
   * The user-defined network runners join. Defaults to the parent container's
   * only user-defined network.
   */
  network?: string;
  /**
   * Extra runner environment, merged over `DEFAULT_RUNNER_ENV`.
   * `FLAME_PARENT` cannot be set.
   */
  env?: Record<string, string>;
  /**
   * Passed through into the create body's `HostConfig` (`AutoRemove` and
   * `NetworkMode` are the backend's).
   */
  hostConfig?: HostConfig;
  /** Mounts added to `HostConfig.Mounts`. */
  mounts?: Mount[];
  /** Overrides the image's `CMD`. */
  cmd?: string[];
  /**
   * The Docker socket: a path, `unix:///path` or `tcp://host:port`. Defaults to
   * `DOCKER_HOST`, else the first of `$XDG_RUNTIME_DIR/docker.sock` and
   * `/var/run/docker.sock` that answers.
   */
  dockerSocketPath?: string;
  /**
   * Milliseconds for the Docker side of a boot (inspect, pull, create, start);
   * the pool's `bootTimeout` covers the whole boot, connect and authenticate
   * included.
   *
   * @default {30000}
   */
  startTimeout?: number;
  /**
   * Keep exited runner containers for inspection (no `AutoRemove`, not removed
   * on stop).
   *
   * @default {false}
   */
  keepRunners?: boolean;
  /**
   * Runner env variable that receives the container's host name.
   *
   * @default {"HOSTNAME"}
   */
  runnerHostnameEnv?: string;
  /**
   * Host name runners dial to reach the parent. Defaults to the parent's own
   * container name when it runs in a container (Docker-out-of-Docker), else the
   * network's gateway address.
   */
  parentHost?: string;
  /**
   * Address the parent listens on when `parentHost` is given.
   *
   * @default {"0.0.0.0"}
   */
  listenHost?: string;
  /**
   * Prefix of container names (`<app>-flame-<20 hex>`). Defaults to the parent
   * container's name, else the working directory's name.
   */
  app?: string;
  /** Extra labels on every runner container. */
  labels?: Record<string, string>;
  /**
   * When to pull the image: only when missing, or never.
   *
   * @default {"missing"}
   */
  pull?: "missing" | "never";
  /** Registry credentials for a pull. */
  registryAuth?: RegistryAuth;
  /**
   * Milliseconds `stop` gives a runner between SIGTERM and SIGKILL (the engine
   * counts whole seconds: rounded up).
   *
   * @default {5000}
   */
  stopTimeout?: number;
  /**
   * Where the backend logs (pulls, boots, stops). Defaults to logging
   * nothing.
   */
  logger?: Logger;
  /** Called with each pull progress line. */
  onPullProgress?: (
    event: { image: string; status: string; id?: string; progress?: string },
  ) => void;
}

/** The default of every {@linkcode DockerBackendOptions} field that has one. */
export const DEFAULTS = {
  startTimeout: 30_000,
  keepRunners: false,
  runnerHostnameEnv: "HOSTNAME",
  listenHost: "0.0.0.0",
  pull: "missing",
  stopTimeout: 5_000,
} as const satisfies DockerBackendOptions;

/** Options after validation, with every default filled in. */
export type ResolvedDockerBackendOptions =
  & Omit<DockerBackendOptions, keyof typeof DEFAULTS>
  & Required<Pick<DockerBackendOptions, keyof typeof DEFAULTS>>;

function nonEmpty(name: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== "string" || value.trim() === "") {
    throw new TypeError(`Invalid DockerBackend option "${name}": expected a non-empty string`);
  }
  return value;
}

/**
 * Validates `DockerBackend` options and fills in the defaults.
 *
 * @param options The options as given.
 * @returns The options with every default filled in.
 * @throws {TypeError} Naming the option that is wrong.
 * @throws {RangeError} When `startTimeout` is not a positive number, or
 * `stopTimeout` is negative or not finite.
 */
export function resolveDockerBackendOptions(
  options: DockerBackendOptions,
): ResolvedDockerBackendOptions {
  if (typeof options !== "object" || options === null) {
    throw new TypeError("Invalid DockerBackend options: expected an object");
  }
  nonEmpty("image", options.image);
  nonEmpty("network", options.network);
  nonEmpty("dockerSocketPath", options.dockerSocketPath);
  nonEmpty("parentHost", options.parentHost);
  nonEmpty("listenHost", options.listenHost);
  nonEmpty("runnerHostnameEnv", options.runnerHostnameEnv);
  const app = nonEmpty("app", options.app);
  if (app !== undefined && !/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(app)) {
    throw new TypeError(
      `Invalid DockerBackend option "app": ${
        JSON.stringify(app)
      } must be letters, digits, "_", "." or "-"`,
    );
  }
  if (options.env !== undefined) {
    if (typeof options.env !== "object" || options.env === null) {
      throw new TypeError('Invalid DockerBackend option "env": expected an object of strings');
    }
    for (const [k, v] of Object.entries(options.env)) {
      if (k === "FLAME_PARENT") {
        throw new TypeError(
          'Invalid DockerBackend option "env": FLAME_PARENT is set by the pool for each runner (it carries the runner\'s secret) and cannot be overridden',
        );
      }
      if (typeof v !== "string" || k === "" || k.includes("=")) {
        throw new TypeError(
          `Invalid DockerBackend option "env": ${
            JSON.stringify(k)
          } must be a name with a string value`,
        );
      }
    }
  }
  if (
    options.cmd !== undefined &&
    (!Array.isArray(options.cmd) || options.cmd.some((c) => typeof c !== "string"))
  ) {
    throw new TypeError('Invalid DockerBackend option "cmd": expected an array of strings');
  }
  if (options.mounts !== undefined && !Array.isArray(options.mounts)) {
    throw new TypeError('Invalid DockerBackend option "mounts": expected an array');
  }
  if (
    options.hostConfig !== undefined &&
    (typeof options.hostConfig !== "object" || options.hostConfig === null)
  ) {
    throw new TypeError('Invalid DockerBackend option "hostConfig": expected an object');
  }
  const startTimeout = options.startTimeout ?? DEFAULTS.startTimeout;
  if (typeof startTimeout !== "number" || !(startTimeout > 0) || !Number.isFinite(startTimeout)) {
    throw new RangeError(
      `Invalid DockerBackend option "startTimeout": ${startTimeout} must be a positive number of milliseconds`,
    );
  }
  const stopTimeout = options.stopTimeout ?? DEFAULTS.stopTimeout;
  if (typeof stopTimeout !== "number") {
    throw new TypeError(
      'Invalid DockerBackend option "stopTimeout": expected a number of milliseconds',
    );
  }
  if (!(stopTimeout >= 0) || !Number.isFinite(stopTimeout)) {
    throw new RangeError(
      `Invalid DockerBackend option "stopTimeout": ${stopTimeout} must be a non-negative number of milliseconds`,
    );
  }
  if (options.pull !== undefined && options.pull !== "missing" && options.pull !== "never") {
    throw new TypeError('Invalid DockerBackend option "pull": expected "missing" or "never"');
  }
  return {
    ...options,
    startTimeout,
    stopTimeout,
    keepRunners: options.keepRunners ?? DEFAULTS.keepRunners,
    runnerHostnameEnv: options.runnerHostnameEnv ?? DEFAULTS.runnerHostnameEnv,
    listenHost: options.listenHost ?? DEFAULTS.listenHost,
    pull: options.pull ?? DEFAULTS.pull,
  };
}
