/**
 * The handle of one runner container: what boot makes and stop, kill and the
 * backend's bookkeeping use.
 *
 * @module
 */

import type { RunnerHandle } from "../backend.ts";

/** A runner container, as `DockerBackend` tracks it. */
export interface DockerHandle extends RunnerHandle {
  /** Resolves with how the container ended and its last log lines. */
  exited: Promise<string>;
  /** The container id. */
  container: string;
  /** When it was created (epoch ms, the parent's clock). */
  createdAt: number;
  /** The last lines the container printed. */
  logTail: string[];
  /** Aborted when the runner is being stopped: ends the log follow and the wait retries. */
  stopLogs: AbortController;
  /** Resolves when the log follow is over (at once for a container never started). */
  logsDone: Promise<void>;
}
