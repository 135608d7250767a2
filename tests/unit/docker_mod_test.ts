import assert from "node:assert/strict";
import * as docker from "../../src/docker/mod.ts";

Deno.test("src/docker/mod.ts exports exactly the public Docker client API", () => {
  assert.deepEqual(Object.keys(docker).sort(), [
    "DEFAULT_DOCKER_SOCKET",
    "DockerClient",
    "DockerConnectionError",
    "DockerError",
    "DockerProtocolError",
    "MAX_API_VERSION",
    "MIN_API_VERSION",
    "collectLogs",
    "discoverDockerEndpoint",
    "dockerEndpointCandidates",
    "formatDockerEndpoint",
    "parseDockerHost",
  ]);
});

Deno.test("DockerClient has the documented calls", () => {
  const calls = Object.getOwnPropertyNames(docker.DockerClient.prototype).filter((name) =>
    name !== "constructor"
  ).sort();
  assert.deepEqual(calls, [
    "apiVersion",
    "close",
    "connections",
    "containerCreate",
    "containerInspect",
    "containerKill",
    "containerList",
    "containerLogs",
    "containerRemove",
    "containerStart",
    "containerStop",
    "containerWait",
    "endpoint",
    "endpointChoice",
    "events",
    "imageInspect",
    "imagePull",
    "info",
    "negotiateApiVersion",
    "networkInspect",
    "ping",
    "version",
  ]);
  assert.equal(typeof docker.DockerClient.prototype[Symbol.asyncDispose], "function");
});

Deno.test("Docker errors set their name and keep their cause", () => {
  const cause = new Error("root");
  const errors = [
    new docker.DockerError("Cannot x", {
      status: 409,
      engineMessage: "m",
      method: "POST",
      path: "/p",
      cause,
    }),
    new docker.DockerConnectionError("Cannot y", { attempts: [], cause }),
    new docker.DockerProtocolError("Bad z", { cause }),
  ];
  assert.deepEqual(errors.map((e) => e.name), [
    "DockerError",
    "DockerConnectionError",
    "DockerProtocolError",
  ]);
  assert.ok(errors.every((e) => e instanceof Error && e.cause === cause));
  const error = errors[0] as docker.DockerError;
  assert.deepEqual([error.conflict, error.notFound, error.notModified], [true, false, false]);
});
