/**
 * The Docker client over ssh, as the docker CLI does it: `ssh … docker
 * system dial-stdio` carries the HTTP bytes, one ssh process per
 * connection. The "remote" is a local sshd of the test's own
 * (tests/_helpers/sshd.ts) whose docker CLI talks to the machine's engine.
 * On Deno (Deno.Command) and on Node.js (node:child_process).
 */

import assert from "node:assert/strict";
import { DockerClient, DockerConnectionError } from "../../src/docker/mod.ts";
import { childProcesses, childrenGone, ignoreWithoutSshd, TestSshd } from "../_helpers/sshd.ts";
import { ignoreWithoutDocker } from "../_helpers/docker.ts";
import { nodeAvailable, runNodeRemoteTest } from "../_helpers/node_remote.ts";

/** How long closed ssh processes may take to be gone. */
const EXIT_BOUND = 5_000;

Deno.test({
  name: "DockerClient reaches an engine over ssh … docker system dial-stdio",
  ignore: ignoreWithoutSshd || ignoreWithoutDocker,
  fn: async (t) => {
    await using sshd = await TestSshd.start();

    await t.step("ping, version and concurrent calls; closing leaves no ssh process", async () => {
      {
        await using docker = new DockerClient({ endpoint: sshd.endpoint(), timeout: 20_000 });
        assert.ok((await docker.ping()).apiVersion);
        const version = await docker.version();
        assert.ok(version.ApiVersion);
        // One ssh process per connection; the pool keeps them for the next calls.
        await Promise.all([docker.ping(), docker.ping(), docker.ping()]);
        assert.ok((await childProcesses("ssh")).length >= 1);
        await docker.ping();
        assert.deepEqual(docker.endpoint, sshd.endpoint());
      }
      // close() ended every ssh; each is reaped (no zombie left) within the bound.
      assert.deepEqual(await childrenGone("ssh", EXIT_BOUND), []);
    });

    await t.step("a key sshd does not accept: ssh's own message, at once", async () => {
      const began = performance.now();
      {
        await using docker = new DockerClient({
          endpoint: sshd.endpoint(sshd.wrongKey),
          timeout: 20_000,
        });
        const error = await docker.ping().catch((e) => e);
        assert.ok(error instanceof DockerConnectionError, String(error));
        assert.match(
          error.message,
          new RegExp(`tried "ssh://root@127\\.0\\.0\\.1:${sshd.port}"`),
        );
        assert.match(
          error.message,
          /ssh exited with code 255 before the engine answered \(root@127\.0\.0\.1: Permission denied \(publickey\)\.\)/,
        );
        assert.match(error.message, /BatchMode is on/);
      }
      assert.ok(performance.now() - began < 10_000, `took ${performance.now() - began} ms`);
      assert.deepEqual(await childrenGone("ssh", EXIT_BOUND), []);
    });

    await t.step("nothing listening on the port: ssh's message and what to check", async () => {
      {
        await using docker = new DockerClient({
          endpoint: sshd.endpoint(sshd.key, 1),
          timeout: 20_000,
        });
        const error = await docker.ping().catch((e) => e);
        assert.ok(error instanceof DockerConnectionError, String(error));
        assert.match(error.message, /Connection refused/);
        assert.match(error.message, /check the host name and port, and that sshd runs there/);
      }
      assert.deepEqual(await childrenGone("ssh", EXIT_BOUND), []);
    });

    await t.step({
      name: "Node.js: the same through node:child_process",
      ignore: !nodeAvailable,
      fn: () =>
        runNodeRemoteTest({
          FLAME_SSH_ENDPOINT: JSON.stringify(sshd.endpoint()),
          FLAME_SSH_WRONG_KEY: sshd.wrongKey,
        }, 1),
    });
  },
});
