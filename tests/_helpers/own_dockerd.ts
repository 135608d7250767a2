/**
 * Docker engines of a test's own: N dockerds on this host, each in a network
 * namespace the test creates, so a test can do to an engine what it must
 * never do to the shared one (freeze it with SIGSTOP, kill it, cut its link)
 * while other tests keep using `/var/run/docker.sock`.
 *
 * The recipe is the one of `/work/shared/swarm-lab` (setup.sh, nsboot.sh,
 * teardown.sh), made reusable:
 *
 * - A lab is a bridge in the host's network namespace (`fod<tag>b`, address
 *   `10.219.K.1/24`, K picked free) and one node per dockerd: a network
 *   namespace `flame-od-<tag>-<i>` joined to the bridge by a veth, the node's
 *   address `10.219.K.(10+i)`. A node has no default route: its containers
 *   reach the lab's addresses and nothing else.
 * - Node i's dockerd has its own data-root, exec-root, pidfile and socket
 *   (`/tmp/flame-od-<tag>/n<i>/docker.sock`), private `/etc/docker`,
 *   `/run/docker`, `/run/containerd` and `/opt/containerd` (bind mounts in its
 *   own mount namespace), the host's cgroup hierarchies mounted again (`ip
 *   netns exec` hides them) and its containers under the cgroup parent
 *   `/flame-od-<tag>-<i>`. It runs with `--iptables=false --ip-masq=false`,
 *   as the shared one does.
 * - Address pools never overlap the shared engine's (172.17/16 and Docker's
 *   default 172.x and 192.168.x pools) nor another node's: node i's bridge
 *   and networks come from `10.(224+i).K.0/24` (the `bip` `.224/27`, user
 *   networks `/27`s of `.0/25`), routed from the host and from every other
 *   node through node i's address, so traffic needs no NAT. A Swarm's overlay
 *   networks should take {@linkcode OwnDockerds.swarmAddressPool}.
 * - The host reaches every node's containers, and they reach the host at
 *   {@linkcode OwnDockerds.hostAddress}: a parent process on the host listens
 *   there (`parentHost` and `listenHost` of `DockerBackend`). A network for
 *   runners on a node is created without `--internal` (an internal network has
 *   no route to the host address): the node's namespace is what isolates it.
 *
 * `close()` removes everything, even after a failed start: containers, the
 * dockerds (thawed first) and whatever they left running (containerd, shims,
 * container processes: by namespace and cgroup, never by name), cgroups,
 * namespaces, links, routes and files. Needs root (CI runs the tests as root).
 *
 * @module
 */

import { engineAnswers } from "./docker.ts";

/** What to start. */
export interface OwnDockerdOptions {
  /** How many dockerds (nodes), at most 31. @default {1} */
  nodes?: number;
  /** Images copied from the shared engine into every node (`docker save` | `docker load`). */
  images?: string[];
  /** Extra dockerd arguments, for every node. */
  dockerdArgs?: string[];
}

/** One dockerd of a lab. */
export interface DockerdNode {
  /** 1-based. */
  readonly index: number;
  /** Its socket's path (a `dockerSocketPath`). */
  readonly socket: string;
  /** Its network namespace. */
  readonly netns: string;
  /** Its address on the lab's link (other nodes and the host reach it there). */
  readonly address: string;
  /** The subnet its own bridge and networks take addresses from. */
  readonly addressPool: string;
  /** The dockerd's pid (valid while the lab is up). */
  readonly pid: number;
  /** Its log file. */
  readonly log: string;
  /**
   * Runs the docker CLI against this node; returns trimmed stdout, throws with stderr.
   * Bounded: killed after 60 s.
   */
  docker(...args: string[]): Promise<string>;
  /** SIGSTOP: the dockerd stops answering; its containers keep running. */
  freeze(): void;
  /** SIGCONT after {@linkcode DockerdNode.freeze}. */
  thaw(): void;
}

/** How long a lab took to come up and go away, in milliseconds. */
export interface OwnDockerdTimings {
  /** Links, namespaces and dockerds, until every node answers `/_ping`. */
  engines: number;
  /** Copying the images into every node. */
  images: number;
  /** `close()`, once it ran. */
  teardown?: number;
}

const decoder = new TextDecoder();
const LAB_PREFIX = "10.219";

/** Runs a command; returns trimmed stdout; throws with stderr unless `check` is false. */
async function run(
  cmd: string,
  args: string[],
  options: { check?: boolean; timeoutSeconds?: number } = {},
): Promise<string> {
  const out = await new Deno.Command("timeout", {
    args: ["-k", "2", String(options.timeoutSeconds ?? 30), cmd, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success && options.check !== false) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr).trim()}`,
    );
  }
  return decoder.decode(out.stdout).trim();
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to each pid that exists; ignores the ones gone. */
function signalAll(pids: Iterable<number>, signal: Deno.Signal): void {
  for (const pid of pids) {
    try {
      Deno.kill(pid, signal);
    } catch {
      // Gone already.
    }
  }
}

/** The host's cgroup mounts, as commands that mount them again in a node's mount namespace. */
async function cgroupMounts(): Promise<string> {
  const lines: string[] = ["mount -t tmpfs -o mode=755 tmpfs /sys/fs/cgroup"];
  for (const line of (await Deno.readTextFile("/proc/self/mounts")).split("\n")) {
    const [, path, type, opts] = line.split(" ");
    if (!path?.startsWith("/sys/fs/cgroup/")) continue;
    if (type === "cgroup") {
      lines.push(`mkdir -p ${path} && mount -t cgroup -o ${opts} cgroup ${path}`);
    } else if (type === "cgroup2") {
      lines.push(`mkdir -p ${path} && mount -t cgroup2 cgroup2 ${path}`);
    }
  }
  return lines.join("\n");
}

/** The script a node's dockerd starts from, inside `ip netns exec <ns> unshare --uts`. */
function nodeScript(dir: string, node: number, cgroups: string, args: string[]): string {
  return `#!/bin/sh
# Node ${node}: \`ip netns exec\` gave this process a private (slave) mount namespace
# and a /sys of the netns, without /sys/fs/cgroup: mount the host's hierarchies again.
set -e
hostname flame-od-node${node}
${cgroups}
# Drop our copies of the shared dockerd's mounts (only in this namespace), so
# this node never pins its network namespaces or overlays.
for m in $(awk '{print $5}' /proc/self/mountinfo | grep -E '^/(var/)?run/docker/|^/var/lib/docker(/|$)' | sort -r); do
  umount -l "$m" 2>/dev/null || true
done
# Private copies of the host-wide directories dockerd and containerd use whatever
# --exec-root says: key.json, the libnetwork socket, shim sockets, the opt plugin.
for d in etc/docker run/docker run/containerd opt/containerd; do
  mkdir -p ${dir}/priv/$d
  [ -d /$d ] && mount --bind ${dir}/priv/$d /$d
done
export DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1
exec dockerd ${args.map((a) => `'${a}'`).join(" ")} >> ${dir}/dockerd.log 2>&1
`;
}

/** A lab of dockerds of the test's own; `await using` closes it. */
export class OwnDockerds implements AsyncDisposable {
  /** The nodes, in order. */
  readonly nodes: DockerdNode[] = [];
  /** The host's address on the lab's link: a parent on the host listens and is dialled there. */
  readonly hostAddress: string;
  /** A subnet for a Swarm's overlay networks (`swarm init --default-addr-pool`), distinct from every other. */
  readonly swarmAddressPool: string;
  /** Bring-up and teardown durations. */
  readonly timings: OwnDockerdTimings = { engines: 0, images: 0 };
  readonly #tag: string;
  readonly #dir: string;
  readonly #lab: number;
  readonly #bridge: string;
  #children: Deno.ChildProcess[] = [];
  #netns: string[] = [];
  #links: string[] = [];
  #routes: string[] = [];
  #runNetns = { existed: true, mounted: true };
  #closing: Promise<void> | undefined;

  private constructor(tag: string, lab: number) {
    this.#tag = tag;
    this.#lab = lab;
    this.#dir = `/tmp/flame-od-${tag}`;
    this.#bridge = `fod${tag}b`;
    this.hostAddress = `${LAB_PREFIX}.${lab}.1`;
    this.swarmAddressPool = `10.223.${lab}.0/24`;
  }

  /**
   * Starts the lab: links, namespaces, dockerds (until each answers), then
   * the images. On any failure, what was made is removed before the error
   * is thrown.
   *
   * @param options Nodes, images, dockerd arguments.
   * @returns The running lab.
   */
  static async start(options: OwnDockerdOptions = {}): Promise<OwnDockerds> {
    const count = options.nodes ?? 1;
    if (!(count >= 1 && count <= 31)) throw new RangeError(`Invalid node count ${count}: 1 to 31`);
    const tag = Array.from(
      crypto.getRandomValues(new Uint8Array(3)),
      (b) => b.toString(16).padStart(2, "0"),
    ).join("");
    const lab = new OwnDockerds(tag, await freeLab(count));
    try {
      await lab.#up(count, options);
      return lab;
    } catch (err) {
      await lab.close().catch(() => {});
      throw err;
    }
  }

  async #up(count: number, options: OwnDockerdOptions): Promise<void> {
    const started = Date.now();
    const lab = this.#lab;
    this.#runNetns = { existed: await exists("/run/netns"), mounted: await runNetnsMounted() };
    await Deno.mkdir(this.#dir, { recursive: true });
    await run("ip", ["link", "add", this.#bridge, "type", "bridge"]);
    this.#links.push(this.#bridge);
    await run("ip", ["addr", "add", `${this.hostAddress}/24`, "dev", this.#bridge]);
    await run("ip", ["link", "set", this.#bridge, "up"]);
    const pools = (i: number) => `10.${224 + i}.${lab}.0/24`;
    const address = (i: number) => `${LAB_PREFIX}.${lab}.${10 + i}`;
    for (let i = 1; i <= count; i++) {
      const ns = `flame-od-${this.#tag}-${i}`;
      const veth = `fod${this.#tag}v${i}`;
      await run("ip", ["netns", "add", ns]);
      this.#netns.push(ns);
      await run("ip", ["link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      this.#links.push(veth);
      await run("ip", ["link", "set", veth, "master", this.#bridge, "up"]);
      await run("ip", ["-n", ns, "link", "set", "lo", "up"]);
      await run("ip", ["-n", ns, "addr", "add", `${address(i)}/24`, "dev", "eth0"]);
      await run("ip", ["-n", ns, "link", "set", "eth0", "up"]);
      await run("ip", ["route", "add", pools(i), "via", address(i)]);
      this.#routes.push(pools(i));
    }
    for (let i = 1; i <= count; i++) {
      for (let j = 1; j <= count; j++) {
        if (i === j) continue;
        const ns = `flame-od-${this.#tag}-${i}`;
        await run("ip", ["-n", ns, "route", "add", pools(j), "via", address(j)]);
      }
    }
    const cgroups = await cgroupMounts();
    for (let i = 1; i <= count; i++) {
      const dir = `${this.#dir}/n${i}`;
      const ns = `flame-od-${this.#tag}-${i}`;
      await Deno.mkdir(dir, { recursive: true });
      const socket = `${dir}/docker.sock`;
      const args = [
        `--data-root=${dir}/data`,
        `--exec-root=${dir}/exec`,
        `--pidfile=${dir}/docker.pid`,
        `--host=unix://${socket}`,
        "--iptables=false",
        "--ip-masq=false",
        `--bip=10.${224 + i}.${lab}.225/27`,
        `--default-address-pool=base=10.${224 + i}.${lab}.0/25,size=27`,
        `--cgroup-parent=/${ns}`,
        "--storage-driver=overlay2",
        "--shutdown-timeout=1",
        ...(options.dockerdArgs ?? []),
      ];
      await Deno.writeTextFile(`${dir}/boot.sh`, nodeScript(dir, i, cgroups, args));
      const child = new Deno.Command("ip", {
        args: ["netns", "exec", ns, "unshare", "--uts", "sh", `${dir}/boot.sh`],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).spawn();
      this.#children.push(child);
      this.nodes.push({
        index: i,
        socket,
        netns: ns,
        address: address(i),
        addressPool: pools(i),
        // ip netns exec, unshare and sh each exec the next: the child is the dockerd.
        pid: child.pid,
        log: `${dir}/dockerd.log`,
        docker: (...a: string[]) =>
          run("docker", ["-H", `unix://${socket}`, ...a], { timeoutSeconds: 60 }),
        freeze: () => Deno.kill(child.pid, "SIGSTOP"),
        thaw: () => this.#thaw(child.pid),
      });
    }
    for (const node of this.nodes) {
      const deadline = Date.now() + 30_000;
      while (!await engineAnswers(node.socket)) {
        if (Date.now() > deadline) {
          const log = await Deno.readTextFile(node.log).catch(() => "");
          throw new Error(
            `Own dockerd ${node.index} did not answer within 30 s; its log ends:\n${
              log.split("\n").slice(-20).join("\n")
            }`,
          );
        }
        await sleep(50);
      }
    }
    this.timings.engines = Date.now() - started;
    const images = options.images ?? [];
    if (images.length > 0) {
      const loadedAt = Date.now();
      const tar = `${this.#dir}/images.tar`;
      await run("docker", ["save", "-o", tar, ...images], { timeoutSeconds: 120 });
      await Promise.all(
        this.nodes.map((n) => n.docker("load", "-q", "-i", tar)),
      );
      await Deno.remove(tar);
      this.timings.images = Date.now() - loadedAt;
    }
  }

  #thaw(pid: number): void {
    try {
      Deno.kill(pid, "SIGCONT");
    } catch {
      // Gone.
    }
  }

  /**
   * Removes everything the lab made; idempotent; bounded (each command is, and
   * every wait is). Errors of single steps are collected and thrown at the end,
   * after every other step ran.
   */
  close(): Promise<void> {
    this.#closing ??= this.#down();
    return this.#closing;
  }

  /** `await using` closes the lab. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #down(): Promise<void> {
    const started = Date.now();
    const problems: string[] = [];
    // 1. Thaw, then remove every container while the engines answer.
    for (const node of this.nodes) this.#thaw(node.pid);
    await Promise.all(this.nodes.map(async (node) => {
      if (!await engineAnswers(node.socket)) return;
      const ids = await node.docker("ps", "-aq").catch(() => "");
      if (ids !== "") {
        await node.docker("rm", "-f", ...ids.split("\n")).catch((e) => problems.push(e.message));
      }
    }));
    // 2. The dockerds: SIGTERM (they stop their containerd), SIGKILL after 15 s.
    signalAll(this.#children.map((c) => c.pid), "SIGTERM");
    await Promise.all(this.#children.map(async (child) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = await Promise.race([
        child.status.then(() => true),
        new Promise<boolean>((r) => timer = setTimeout(() => r(false), 15_000)),
      ]);
      clearTimeout(timer);
      if (!done) {
        problems.push(`dockerd ${child.pid} ignored SIGTERM for 15 s: killed`);
        signalAll([child.pid], "SIGKILL");
        await child.status;
      }
    }));
    // 3. Whatever is left in the nodes' namespaces and cgroups (containerd, shims, container processes).
    const left = new Set<number>();
    for (const ns of this.#netns) {
      const pids = await run("ip", ["netns", "pids", ns], { check: false });
      for (const p of pids.split("\n")) if (/^\d+$/.test(p)) left.add(Number(p));
    }
    const cgroupDirs = await this.#cgroupDirs();
    for (const dir of cgroupDirs) {
      const procs = await Deno.readTextFile(`${dir}/cgroup.procs`).catch(() => "");
      for (const p of procs.split("\n")) if (/^\d+$/.test(p)) left.add(Number(p));
    }
    if (left.size > 0) {
      signalAll(left, "SIGKILL");
      for (let i = 0; i < 50 && [...left].some(alive); i++) await sleep(100);
      if ([...left].some(alive)) problems.push(`processes still alive: ${[...left].filter(alive)}`);
    }
    // 4. Cgroups (deepest first), routes, namespaces, links.
    for (const dir of cgroupDirs.sort((a, b) => b.length - a.length)) {
      await Deno.remove(dir).catch((e) => problems.push(`rmdir ${dir}: ${e.message}`));
    }
    for (const route of this.#routes) await run("ip", ["route", "del", route], { check: false });
    for (const ns of this.#netns) {
      await run("ip", ["netns", "del", ns]).catch((e) => problems.push(e.message));
    }
    for (const link of this.#links.reverse()) {
      const present = await run("ip", ["link", "show", link], { check: false });
      if (present !== "") {
        await run("ip", ["link", "del", link]).catch((e) => problems.push(e.message));
      }
    }
    // `ip netns add` makes /run/netns a mount (and the directory, if missing): undo
    // that once no namespace is left in it (Podman's, too, live there).
    if (!this.#runNetns.mounted && await runNetnsMounted()) {
      if ([...Deno.readDirSync("/run/netns")].length === 0) {
        await run("umount", ["/run/netns"], { check: false });
      }
    }
    if (!this.#runNetns.existed) await Deno.remove("/run/netns").catch(() => {});
    // 5. Files (a mount namespace lingering a moment can keep a directory busy).
    for (let attempt = 0; await exists(this.#dir); attempt++) {
      try {
        await Deno.remove(this.#dir, { recursive: true });
      } catch (err) {
        if (attempt >= 20) {
          problems.push(`cannot remove ${this.#dir}: ${(err as Error).message}`);
          break;
        }
        await sleep(100);
      }
    }
    this.timings.teardown = Date.now() - started;
    if (problems.length > 0) {
      throw new Error(`Own dockerds not removed cleanly:\n${problems.join("\n")}`);
    }
  }

  /** The cgroup directories under the nodes' cgroup parents, in every hierarchy. */
  async #cgroupDirs(): Promise<string[]> {
    const dirs: string[] = [];
    const walk = async (dir: string) => {
      dirs.push(dir);
      for await (const entry of Deno.readDir(dir)) {
        if (entry.isDirectory) await walk(`${dir}/${entry.name}`);
      }
    };
    for await (const hierarchy of Deno.readDir("/sys/fs/cgroup")) {
      for (const ns of this.#netns) {
        const dir = `/sys/fs/cgroup/${hierarchy.name}/${ns}`;
        if (await exists(dir)) await walk(dir).catch(() => {});
      }
    }
    return dirs;
  }
}

/** Whether /run/netns is a mount point. */
async function runNetnsMounted(): Promise<boolean> {
  const mounts = await Deno.readTextFile("/proc/self/mountinfo");
  return mounts.split("\n").some((line) => line.split(" ")[4] === "/run/netns");
}

/** A lab number K whose addresses (`10.219.K.0/24`, nodes' `10.(224+i).K.0/24`) nothing on this host uses. */
async function freeLab(nodes: number): Promise<number> {
  const used = (await run("ip", ["-4", "-o", "addr"])) + (await run("ip", ["-4", "route"]));
  for (let attempt = 0; attempt < 100; attempt++) {
    const lab = 1 + Math.floor(Math.random() * 254);
    const nets = [`${LAB_PREFIX}.${lab}.`, `10.223.${lab}.`];
    for (let i = 1; i <= nodes; i++) nets.push(`10.${224 + i}.${lab}.`);
    if (!nets.some((n) => used.includes(n))) return lab;
  }
  throw new Error("Cannot find a free lab subnet in 10.219.0.0/16 after 100 tries");
}
