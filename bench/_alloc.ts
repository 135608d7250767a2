/**
 * Bytes of JavaScript heap a piece of work allocates, garbage included, from
 * V8's sampling heap profiler (through `node:inspector`). Allocation per call
 * sets how often the young generation is scavenged, and a scavenge that lands
 * on a call is what most of a warm call's p99 is made of.
 *
 * @module
 */

import { Session } from "node:inspector/promises";

/** A node of V8's sampling heap profile (only the fields read here). */
interface ProfileNode {
  selfSize: number;
  children: ProfileNode[];
}

function totalSize(node: ProfileNode): number {
  let n = node.selfSize;
  for (const c of node.children) n += totalSize(c);
  return n;
}

/**
 * Runs `work` once under the sampling heap profiler.
 *
 * @param work The work to measure (run after the profiler starts).
 * @param ops How many operations `work` does.
 * @returns Bytes allocated per operation (an estimate: one sample per 64 bytes on average).
 */
export async function allocatedPerOp(work: () => Promise<void>, ops: number): Promise<number> {
  const session = new Session();
  session.connect();
  try {
    await session.post("HeapProfiler.enable");
    await session.post("HeapProfiler.startSampling", {
      samplingInterval: 64,
      // Count what the young and old generation collect too: garbage is the point.
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    let profile: { head: ProfileNode };
    try {
      await work();
    } finally {
      profile = (await session.post("HeapProfiler.stopSampling")).profile as unknown as {
        head: ProfileNode;
      };
    }
    await session.post("HeapProfiler.disable");
    return totalSize(profile.head) / ops;
  } finally {
    session.disconnect();
  }
}
