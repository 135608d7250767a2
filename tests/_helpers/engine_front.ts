/**
 * A real HTTP server (Deno.serve on a unix socket of its own) that sits in
 * front of the real engine and answers as a newer engine does: it advertises
 * its own API version and minimum in `/_ping` and `/version`, refuses request
 * versions outside its range in Docker's own words, and forwards the rest to
 * the engine behind it (rewritten to the version that engine speaks). With
 * `reshape`, it drops from container and image inspects the fields that
 * Docker 29 (API 1.52) no longer returns, so a client that still reads them
 * breaks here.
 *
 * Only engines up to 20.10 run on these machines; this is how the tests see
 * what a Docker 25-29 engine would answer, while every container still runs
 * on a real engine.
 *
 * It runs as a process of its own (`startEngineFront`), so a test module can
 * keep one up across tests without the op sanitizer seeing its server's work,
 * and it writes each request it receives to a log file the tests read.
 */

/** How the front presents itself. */
export interface EngineFrontOptions {
  /** Its `Api-Version` (the newest it accepts). */
  apiVersion: string;
  /** Its `MinAPIVersion`. */
  minApiVersion: string;
  /** Its engine `Version`. */
  engineVersion: string;
  /** The real engine's socket. */
  upstream: string;
  /** The version the real engine speaks (requests are rewritten to it). */
  upstreamApiVersion: string;
  /** Drop the inspect fields API 1.52 removed. */
  reshape?: boolean;
}

/** Top-level `NetworkSettings` fields Docker 29 (API 1.52) no longer returns. */
const REMOVED_NETWORK_SETTINGS = [
  "Bridge",
  "HairpinMode",
  "LinkLocalIPv6Address",
  "LinkLocalIPv6PrefixLen",
  "SecondaryIPAddresses",
  "SecondaryIPv6Addresses",
  "EndpointID",
  "Gateway",
  "GlobalIPv6Address",
  "GlobalIPv6PrefixLen",
  "IPAddress",
  "IPPrefixLen",
  "IPv6Gateway",
  "MacAddress",
];

function compare(a: string, b: string): number {
  const [am = 0, an = 0] = a.split(".").map(Number);
  const [bm = 0, bn = 0] = b.split(".").map(Number);
  return am - bm || an - bn;
}

function errorResponse(status: number, message: string): Response {
  return new Response(JSON.stringify({ message }) + "\n", {
    status,
    headers: { "Content-Type": "application/json" },
  });
}

const NULL_BODY = new Set([101, 204, 205, 304]);

/** The front; close it with `await using`. */
export class EngineFront implements AsyncDisposable {
  /** Its socket. */
  readonly path: string;
  /** `METHOD /path` of every request it received, in order. */
  readonly requests: string[] = [];
  #dir: string;
  #server: Deno.HttpServer<Deno.UnixAddr>;
  #client: Deno.HttpClient;
  #options: EngineFrontOptions;
  #log: string | undefined;

  private constructor(dir: string, options: EngineFrontOptions, log?: string) {
    this.#log = log;
    this.#dir = dir;
    this.path = `${dir}/docker.sock`;
    this.#options = options;
    this.#client = Deno.createHttpClient({ proxy: { transport: "unix", path: options.upstream } });
    this.#server = Deno.serve(
      { path: this.path, onListen: () => {} },
      (request) => this.#handle(request),
    );
  }

  /** Starts a front. */
  static async start(options: EngineFrontOptions, dir?: string): Promise<EngineFront> {
    dir ??= await Deno.makeTempDir({ prefix: "flame-front-" });
    return new EngineFront(dir, options, `${dir}/requests.log`);
  }

  async #handle(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const o = this.#options;
    this.requests.push(`${request.method} ${url.pathname}`);
    if (this.#log !== undefined) {
      await Deno.writeTextFile(this.#log, `${request.method} ${url.pathname}\n`, { append: true });
    }
    if (url.pathname === "/_ping") {
      return new Response(request.method === "HEAD" ? null : "OK", {
        headers: {
          "Api-Version": o.apiVersion,
          "Docker-Experimental": "false",
          "Ostype": "linux",
          "Content-Type": "text/plain; charset=utf-8",
          "Cache-Control": "no-cache, no-store, must-revalidate",
        },
      });
    }
    let path = url.pathname;
    const versioned = /^\/v([0-9]+\.[0-9]+)(\/.*)$/.exec(path);
    if (versioned !== null) {
      const asked = versioned[1]!;
      if (compare(asked, o.minApiVersion) < 0) {
        return errorResponse(
          400,
          `client version ${asked} is too old. Minimum supported API version is ${o.minApiVersion}, please upgrade your client to a newer version`,
        );
      }
      if (compare(asked, o.apiVersion) > 0) {
        return errorResponse(
          400,
          `client version ${asked} is too new. Maximum supported API version is ${o.apiVersion}`,
        );
      }
      path = `/v${o.upstreamApiVersion}${versioned[2]}`;
    }
    const headers = new Headers(request.headers);
    for (const name of ["host", "connection", "content-length", "transfer-encoding"]) {
      headers.delete(name);
    }
    const hasBody = request.method !== "GET" && request.method !== "HEAD";
    let upstream: Response;
    try {
      upstream = await fetch(`http://docker${path}${url.search}`, {
        method: request.method,
        headers,
        ...(hasBody ? { body: await request.arrayBuffer() } : {}),
        client: this.#client,
        signal: request.signal,
      });
    } catch (error) {
      return errorResponse(502, `front: ${(error as Error).message}`);
    }
    const out = new Headers(upstream.headers);
    for (const name of ["content-length", "transfer-encoding", "connection"]) out.delete(name);
    if (out.has("api-version")) out.set("api-version", o.apiVersion);
    const reshaped = await this.#reshape(request.method, url.pathname, upstream);
    if (reshaped !== undefined) {
      return new Response(JSON.stringify(reshaped), { status: upstream.status, headers: out });
    }
    return new Response(NULL_BODY.has(upstream.status) ? null : upstream.body, {
      status: upstream.status,
      headers: out,
    });
  }

  /** The JSON to answer instead of the engine's, when this front changes it. */
  async #reshape(method: string, path: string, upstream: Response): Promise<unknown> {
    const o = this.#options;
    if (method !== "GET" || upstream.status !== 200) return undefined;
    if (/^(\/v[0-9.]+)?\/version$/.test(path)) {
      const version = await upstream.json();
      return {
        ...version,
        Version: o.engineVersion,
        ApiVersion: o.apiVersion,
        MinAPIVersion: o.minApiVersion,
      };
    }
    if (!o.reshape) return undefined;
    if (/^\/v[0-9.]+\/containers\/[^/]+\/json$/.test(path)) {
      const inspect = await upstream.json();
      for (const field of REMOVED_NETWORK_SETTINGS) delete inspect.NetworkSettings?.[field];
      delete inspect.Config?.MacAddress;
      return inspect;
    }
    if (/^\/v[0-9.]+\/images\/.+\/json$/.test(path)) {
      const inspect = await upstream.json();
      delete inspect.Container;
      delete inspect.ContainerConfig;
      delete inspect.VirtualSize;
      for (const [key, value] of Object.entries(inspect.Config ?? {})) {
        if (value === null || value === "" || (Array.isArray(value) && value.length === 0)) {
          delete inspect.Config[key];
        }
      }
      return inspect;
    }
    return undefined;
  }

  /** Stops the front (bounded: a request still open is cut) and removes its socket. */
  async [Symbol.asyncDispose](): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#server.shutdown(),
      new Promise((resolve) => timer = setTimeout(resolve, 5000)),
    ]);
    clearTimeout(timer);
    this.#client.close();
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** A front running as a process of its own. */
export interface RunningFront {
  /** Its socket. */
  readonly path: string;
  /** `METHOD /path` of every request it received so far, in order. */
  requests(): Promise<string[]>;
  /** Stops it and removes its files. */
  close(): Promise<void>;
}

/**
 * Starts a front in a child process and waits (at most 15 s) until its
 * `/_ping` answers.
 *
 * @param options How it presents itself.
 * @returns The running front.
 */
export async function startEngineFront(options: EngineFrontOptions): Promise<RunningFront> {
  const dir = await Deno.makeTempDir({ prefix: "flame-front-" });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-all", new URL(import.meta.url).pathname, dir, JSON.stringify(options)],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let errors = "";
  const drained = (async () => {
    for (let r = await stderr.read(); !r.done; r = await stderr.read()) errors += r.value;
  })();
  const path = `${dir}/docker.sock`;
  const close = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // Already gone.
    }
    await child.status;
    await drained;
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const conn = await Deno.connect({ transport: "unix", path });
      conn.close();
      break;
    } catch {
      if (Date.now() > deadline) {
        await close();
        throw new Error(`The engine front did not start within 15 s: ${errors.trim()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    path,
    requests: async () =>
      (await Deno.readTextFile(`${dir}/requests.log`).catch(() => "")).split("\n").filter(Boolean),
    close,
  };
}

if (import.meta.main) {
  const [dir, json] = Deno.args;
  const front = await EngineFront.start(JSON.parse(json!) as EngineFrontOptions, dir);
  Deno.addSignalListener("SIGTERM", async () => {
    await front[Symbol.asyncDispose]();
    Deno.exit(0);
  });
}
