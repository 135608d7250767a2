/**
 * Request options and results of the Docker Engine API calls we use. Field
 * names are the engine's own (PascalCase), so values pass through unchanged.
 * Only the fields we rely on are declared; the engine sends more.
 *
 * It stays one file because it is one concept, the engine API's request and
 * response shapes, kept in one place to diff against moby's versioned spec.
 *
 * @module
 */

/** Options every client call takes. */
export interface DockerCallOptions {
  /** Aborts the call; its connection is destroyed, never reused. */
  signal?: AbortSignal;
  /**
   * Milliseconds the whole call (including a streamed body) may take before
   * it fails with a `TimeoutError` `DOMException`.
   *
   * @default {undefined} the client's `timeout`, if any
   */
  timeout?: number;
}

/** What `GET /_ping` tells about the engine. */
export interface DockerPing {
  /** Highest API version the engine supports (`API-Version` header). */
  apiVersion: string | undefined;
  /** `"linux"` or `"windows"` (`OSType` header). */
  osType: string | undefined;
  /** Whether experimental features are on (`Docker-Experimental` header). */
  experimental: boolean;
  /**
   * Which engine answered: `"podman"` when it sends Podman's own API version
   * (`Libpod-Api-Version` header, or a `Server: Libpod/…` header), else `"docker"`.
   */
  engine: "docker" | "podman";
  /** Podman's version (`Libpod-Api-Version` header), when the engine is Podman. */
  podmanVersion?: string;
}

/** Result of `GET /version`. */
export interface DockerVersion {
  /** Engine version, such as `"24.0.7"`. */
  Version: string;
  /** Highest API version supported. */
  ApiVersion: string;
  /** Lowest API version supported. */
  MinAPIVersion?: string;
  /** Engine commit. */
  GitCommit?: string;
  /** Go version it was built with. */
  GoVersion?: string;
  /** Operating system, such as `"linux"`. */
  Os: string;
  /** Architecture, such as `"amd64"`. */
  Arch: string;
  /** Host kernel version. */
  KernelVersion?: string;
  /** The engine's parts (Podman names itself here: `Podman Engine`). */
  Components?: { Name: string; Version: string; Details?: Record<string, unknown> }[];
}

/** Result of `GET /info` (the fields this library reads; the engine sends many more). */
export interface SystemInfo {
  /** The engine host's name (`docker-desktop`, `colima`, `orbstack`, …). */
  Name: string;
  /** The engine host's operating system (`Docker Desktop`, `OrbStack`, `Ubuntu 24.04 LTS`, …). */
  OperatingSystem: string;
  /** `linux` or `windows`. */
  OSType: string;
  /** Kernel version (`…-linuxkit` on Docker Desktop, `…-orbstack` on OrbStack). */
  KernelVersion: string;
  /** Engine version. */
  ServerVersion: string;
  /** Architecture, such as `x86_64`. */
  Architecture: string;
  /** The engine's labels. */
  Labels?: string[] | null;
  /** Swarm state (`LocalNodeState`: `inactive`, `active`, …). */
  Swarm?: { LocalNodeState?: string; NodeID?: string; ControlAvailable?: boolean };
  /** Security features (`name=seccomp,profile=default`, `name=rootless`, …). */
  SecurityOptions?: string[] | null;
}

/** Options of {@linkcode DockerClient.events}: a window of past events. */
export interface EventsOptions extends DockerCallOptions {
  /** From this time (Unix seconds, fractions allowed). */
  since: number;
  /** Until this time (Unix seconds): the engine ends the answer there. Default: now. */
  until?: number;
  /** Engine filters, such as `{ container: [id], event: ["die"] }`. */
  filters?: Record<string, string[]>;
}

/** One engine event (`GET /events`; the fields this library reads). */
export interface DockerEvent {
  /** What it is about: `container`, `image`, `network`, `service`, … */
  Type: string;
  /** What happened: `create`, `start`, `die`, `oom`, `destroy`, … */
  Action: string;
  /** The object: its ID and attributes (a container's `die` carries `exitCode`). */
  Actor: { ID: string; Attributes?: Record<string, string> };
  /** When (Unix seconds). */
  time: number;
  /** When (Unix nanoseconds). */
  timeNano?: number;
}

/** Result of `GET /images/{name}/json`. */
export interface ImageInspect {
  /** Image ID (`sha256:...`). */
  Id: string;
  /** Tags naming it. */
  RepoTags: string[] | null;
  /** Digests naming it. */
  RepoDigests: string[] | null;
  /** Creation time (RFC 3339). */
  Created: string;
  /** Size in bytes. */
  Size: number;
  /** Architecture, such as `"amd64"`. */
  Architecture: string;
  /** Operating system. */
  Os: string;
  /** Default configuration of containers made from it. */
  Config: {
    /** Environment, as `NAME=value`. */
    Env?: string[] | null;
    /** Default command. */
    Cmd?: string[] | null;
    /** Entrypoint. */
    Entrypoint?: string[] | null;
    /** Working directory. */
    WorkingDir?: string;
    /** User. */
    User?: string;
    /** Labels. */
    Labels?: Record<string, string> | null;
  } | null;
}

/** Registry credentials, sent as the `X-Registry-Auth` header. */
export interface RegistryAuth {
  /** User name. */
  username?: string;
  /** Password or access token. */
  password?: string;
  /** Registry address, such as `"registry.example.com"`. */
  serveraddress?: string;
  /** Identity token (instead of a user name and password). */
  identitytoken?: string;
}

/** Options for {@linkcode DockerClient.imagePull}. */
export interface ImagePullOptions extends DockerCallOptions {
  /**
   * Tag or digest, when not part of the image reference.
   *
   * @default {"latest"} when the reference has none
   */
  tag?: string;
  /** Platform, such as `"linux/amd64"`. */
  platform?: string;
  /** Credentials for a private registry. */
  auth?: RegistryAuth;
}

/** One progress line of an image pull. */
export interface ImagePullProgress {
  /** What is happening, such as `"Downloading"` or `"Pull complete"`. */
  status?: string;
  /** Layer ID (or tag) the line is about. */
  id?: string;
  /** Human-readable progress bar. */
  progress?: string;
  /** Bytes done and total. */
  progressDetail?: {
    /** Bytes done. */
    current?: number;
    /** Total bytes. */
    total?: number;
  };
  /** Set on a failure line (which the client throws as a `DockerError`, never yields). */
  error?: string;
  /** Details of a failure line. */
  errorDetail?: {
    /** Error code. */
    code?: number;
    /** Error message. */
    message?: string;
  };
}

/** A mount, in `HostConfig.Mounts`. */
export interface Mount {
  /** `"bind"`, `"volume"`, `"tmpfs"` or `"npipe"`. */
  Type: "bind" | "volume" | "tmpfs" | "npipe";
  /** Host path or volume name (not for tmpfs). */
  Source?: string;
  /** Path in the container. */
  Target: string;
  /** Mount read-only. */
  ReadOnly?: boolean;
}

/** Restart policy of a container. */
export interface RestartPolicy {
  /** `""`, `"no"`, `"always"`, `"unless-stopped"` or `"on-failure"`. */
  Name: "" | "no" | "always" | "unless-stopped" | "on-failure";
  /** Retries for `"on-failure"`. */
  MaximumRetryCount?: number;
}

/**
 * Host-level configuration of a container. Fields not declared here are
 * passed to the engine as given.
 */
export interface HostConfig {
  /** Remove the container when it exits. */
  AutoRemove?: boolean;
  /** Network mode: `"bridge"`, `"host"`, `"none"`, `"container:<id>"` or a network name. */
  NetworkMode?: string;
  /** Bind mounts as `host:container[:options]`. */
  Binds?: string[];
  /** Mounts. */
  Mounts?: Mount[];
  /** Memory limit in bytes. */
  Memory?: number;
  /** CPU quota in units of 10^-9 CPUs. */
  NanoCpus?: number;
  /** Extra `/etc/hosts` lines as `host:ip`. */
  ExtraHosts?: string[];
  /** Restart policy. */
  RestartPolicy?: RestartPolicy;
  /** Run an init process as PID 1. */
  Init?: boolean;
  /** Port bindings, keyed by `"port/proto"`. */
  PortBindings?: Record<string, { HostIp?: string; HostPort?: string }[]>;
  /** Capabilities to add. */
  CapAdd?: string[];
  /** Capabilities to drop. */
  CapDrop?: string[];
  /** Security options. */
  SecurityOpt?: string[];
  /** Mount the root filesystem read-only. */
  ReadonlyRootfs?: boolean;
  /** Any other engine field. */
  [field: string]: unknown;
}

/** Settings of a container's endpoint on one network. */
export interface EndpointSettings {
  /** Extra DNS names on the network. */
  Aliases?: string[] | null;
  /** Network ID. */
  NetworkID?: string;
  /** Endpoint ID. */
  EndpointID?: string;
  /** Gateway address. */
  Gateway?: string;
  /** IPv4 address. */
  IPAddress?: string;
  /** IPv4 prefix length. */
  IPPrefixLen?: number;
  /** MAC address. */
  MacAddress?: string;
}

/** Body of `POST /containers/create`. */
export interface ContainerCreateBody {
  /** Image to run. */
  Image: string;
  /** Command (overrides the image's `CMD`). */
  Cmd?: string[];
  /** Entrypoint (overrides the image's). */
  Entrypoint?: string[];
  /** Environment, as `NAME=value`. */
  Env?: string[];
  /** Labels. */
  Labels?: Record<string, string>;
  /** Hostname. */
  Hostname?: string;
  /** Working directory. */
  WorkingDir?: string;
  /** User, as `name`, `uid` or `uid:gid`. */
  User?: string;
  /** Allocate a TTY (its logs are then not multiplexed). */
  Tty?: boolean;
  /** Keep stdin open. */
  OpenStdin?: boolean;
  /** Signal that stops the container, such as `"SIGTERM"`. */
  StopSignal?: string;
  /** Seconds to wait after the stop signal before killing. */
  StopTimeout?: number;
  /** Ports to expose, keyed by `"port/proto"`. */
  ExposedPorts?: Record<string, Record<string, never>>;
  /** Host configuration. */
  HostConfig?: HostConfig;
  /** Networks to connect at creation. */
  NetworkingConfig?: {
    /** Endpoint settings, keyed by network name or ID. */
    EndpointsConfig?: Record<string, EndpointSettings>;
  };
}

/** Options for {@linkcode DockerClient.containerCreate}. */
export interface ContainerCreateOptions extends DockerCallOptions {
  /** Container name (`/?[a-zA-Z0-9][a-zA-Z0-9_.-]+`); the engine picks one if absent. */
  name?: string;
  /** Platform of the image, such as `"linux/amd64"`. */
  platform?: string;
}

/** Result of `POST /containers/create`. */
export interface ContainerCreateResult {
  /** ID of the new container. */
  Id: string;
  /** Warnings from the engine. */
  Warnings: string[] | null;
}

/** Options for {@linkcode DockerClient.containerStop}. */
export interface ContainerStopOptions extends DockerCallOptions {
  /**
   * Seconds to wait after the stop signal before killing.
   *
   * @default {undefined} the container's `StopTimeout` (10 s)
   */
  t?: number;
}

/** Options for {@linkcode DockerClient.containerKill}. */
export interface ContainerKillOptions extends DockerCallOptions {
  /**
   * Signal to send, such as `"SIGTERM"` or `"9"`.
   *
   * @default {"SIGKILL"}
   */
  killSignal?: string;
}

/** Options for {@linkcode DockerClient.containerWait}. */
export interface ContainerWaitOptions extends DockerCallOptions {
  /**
   * What to wait for.
   *
   * @default {"not-running"}
   */
  condition?: "not-running" | "next-exit" | "removed";
}

/** Result of `POST /containers/{id}/wait`. */
export interface ContainerWaitResult {
  /** Exit code of the container. */
  StatusCode: number;
  /** Set when waiting failed. */
  Error?: {
    /** What went wrong. */
    Message: string;
  } | null;
}

/** State of a container. */
export interface ContainerState {
  /** `"created"`, `"running"`, `"paused"`, `"restarting"`, `"removing"`, `"exited"` or `"dead"`. */
  Status: "created" | "running" | "paused" | "restarting" | "removing" | "exited" | "dead";
  /** Whether it runs. */
  Running: boolean;
  /** Whether it is paused. */
  Paused: boolean;
  /** Whether it is restarting. */
  Restarting: boolean;
  /** Whether it was killed for running out of memory. */
  OOMKilled: boolean;
  /** Whether it is dead. */
  Dead: boolean;
  /** Host PID of its main process (0 when not running). */
  Pid: number;
  /** Exit code of its last run. */
  ExitCode: number;
  /** Error of its last start, if any. */
  Error: string;
  /** Start time (RFC 3339). */
  StartedAt: string;
  /** Exit time (RFC 3339). */
  FinishedAt: string;
}

/** Result of `GET /containers/{id}/json`. */
export interface ContainerInspect {
  /** Container ID. */
  Id: string;
  /** Name, with a leading `/`. */
  Name: string;
  /** Creation time (RFC 3339). */
  Created: string;
  /** Image ID. */
  Image: string;
  /** State. */
  State: ContainerState;
  /** Configuration it was created with. */
  Config: {
    /** Hostname. */
    Hostname: string;
    /** Image name it was created from. */
    Image: string;
    /** Environment. */
    Env: string[] | null;
    /** Command. */
    Cmd: string[] | null;
    /** Labels. */
    Labels: Record<string, string> | null;
    /** Whether it has a TTY. */
    Tty: boolean;
  };
  /** Host configuration. */
  HostConfig: HostConfig;
  /** Network attachments. */
  NetworkSettings: {
    /** Endpoint settings per network name. */
    Networks: Record<string, EndpointSettings> | null;
  };
}

/** Options for {@linkcode DockerClient.containerLogs}. */
export interface ContainerLogsOptions extends DockerCallOptions {
  /**
   * Include stdout.
   *
   * @default {true}
   */
  stdout?: boolean;
  /**
   * Include stderr.
   *
   * @default {true}
   */
  stderr?: boolean;
  /**
   * Keep streaming new output until the container stops.
   *
   * @default {false}
   */
  follow?: boolean;
  /**
   * Only the last lines.
   *
   * @default {"all"}
   */
  tail?: number | "all";
  /** Only output since this time (UNIX seconds). */
  since?: number;
  /** Only output before this time (UNIX seconds). */
  until?: number;
  /**
   * Prefix each line with its timestamp.
   *
   * @default {false}
   */
  timestamps?: boolean;
  /**
   * Whether the container has a TTY (its output is then one raw stream,
   * reported as stdout). Inspected when not given.
   */
  tty?: boolean;
}

/** Filters of {@linkcode DockerClient.containerList}, such as `{ label: ["k=v", "k"] }`. */
export type ContainerListFilters = Readonly<Record<string, readonly string[]>>;

/** Options for {@linkcode DockerClient.containerList}. */
export interface ContainerListOptions extends DockerCallOptions {
  /**
   * Include stopped containers.
   *
   * @default {false}
   */
  all?: boolean;
  /** Only the most recent containers. */
  limit?: number;
  /** Filters, such as `{ label: ["app=x"], status: ["running"] }`. */
  filters?: ContainerListFilters;
}

/** One entry of `GET /containers/json`. */
export interface ContainerSummary {
  /** Container ID. */
  Id: string;
  /** Names, each with a leading `/`. */
  Names: string[];
  /** Image name. */
  Image: string;
  /** Image ID. */
  ImageID: string;
  /** Command line. */
  Command: string;
  /** Creation time (UNIX seconds). */
  Created: number;
  /** State, such as `"running"`. */
  State: string;
  /** Human-readable status, such as `"Up 2 minutes"`. */
  Status: string;
  /** Labels. */
  Labels: Record<string, string>;
}

/** Options for {@linkcode DockerClient.containerRemove}. */
export interface ContainerRemoveOptions extends DockerCallOptions {
  /**
   * Kill the container first if it runs.
   *
   * @default {false}
   */
  force?: boolean;
  /**
   * Also remove its anonymous volumes.
   *
   * @default {false}
   */
  volumes?: boolean;
}

/** A container attached to a network. */
export interface NetworkContainer {
  /** Container name. */
  Name: string;
  /** Endpoint ID. */
  EndpointID: string;
  /** MAC address. */
  MacAddress: string;
  /** IPv4 address with prefix, such as `"172.18.0.2/16"`. */
  IPv4Address: string;
  /** IPv6 address with prefix. */
  IPv6Address: string;
}

/** Result of `GET /networks/{id}`. */
export interface NetworkInspect {
  /** Network name. */
  Name: string;
  /** Network ID. */
  Id: string;
  /** Creation time (RFC 3339). */
  Created: string;
  /** `"local"`, `"global"` or `"swarm"`. */
  Scope: string;
  /** Driver, such as `"bridge"`. */
  Driver: string;
  /** Whether IPv6 is enabled. */
  EnableIPv6: boolean;
  /** Address management. */
  IPAM: {
    /** IPAM driver. */
    Driver: string;
    /** Subnets. */
    Config: {
      /** Subnet, such as `"172.18.0.0/16"`. */
      Subnet?: string;
      /** Gateway address, such as `"172.18.0.1"`. */
      Gateway?: string;
      /** Allocation range. */
      IPRange?: string;
    }[] | null;
  };
  /** Whether the network has no outside access. */
  Internal: boolean;
  /** Whether standalone containers may attach. */
  Attachable: boolean;
  /** Attached containers, keyed by container ID. */
  Containers: Record<string, NetworkContainer> | null;
  /** Driver options. */
  Options: Record<string, string> | null;
  /** Labels. */
  Labels: Record<string, string> | null;
}
