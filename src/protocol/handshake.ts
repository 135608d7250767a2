/**
 * Mutual authentication before any call.
 *
 * 1. runner → parent `Hello { v, id, nonce: nr }`
 * 2. parent → runner `Challenge { nonce: np, proof: HMAC(secret, "parent" | id | nr | np) }`
 * 3. runner checks the parent's proof (a listener that lacks the secret gets nothing run),
 *    then runner → parent `Proof { proof: HMAC(secret, "runner" | id | nr | np) }`
 * 4. parent checks it and answers `Welcome`.
 *
 * Both nonces are fresh, so a recorded exchange cannot be replayed; the parent
 * accepts each runner id once. HMAC verification is constant-time
 * (`crypto.subtle.verify`).
 *
 * @module
 */

import { decodeBase64Url, encodeBase64Url } from "../util/base64url.ts";
import type { FrameConnection } from "./connection.ts";
import { ProtocolError } from "./errors.ts";
import { FrameType } from "./messages.ts";
import { PROTOCOL_VERSION } from "./parent_env.ts";

/** Largest frame payload accepted before authentication completes. */
export const HANDSHAKE_MAX_PAYLOAD = 1024;

const NONCE_BYTES = 32;
const encoder = new TextEncoder();

/**
 * Imports a runner secret as an HMAC-SHA256 key.
 *
 * @param secret The base64url secret from `FLAME_PARENT`.
 * @returns The key, usable for sign and verify only.
 */
export function importSecret(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    decodeBase64Url(secret) as Uint8Array<ArrayBuffer>,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
}

/**
 * Makes a fresh random secret (32 bytes, base64url).
 *
 * @returns The secret.
 */
export function generateSecret(): string {
  return encodeBase64Url(crypto.getRandomValues(new Uint8Array(32)));
}

function transcript(role: "parent" | "runner", id: string, nr: Uint8Array, np: Uint8Array) {
  const label = encoder.encode(`flame-v${PROTOCOL_VERSION}|${role}|${id}|`);
  const out = new Uint8Array(label.length + nr.length + np.length);
  out.set(label);
  out.set(nr, label.length);
  out.set(np, label.length + nr.length);
  return out;
}

async function sign(key: CryptoKey, data: Uint8Array): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.sign("HMAC", key, data as Uint8Array<ArrayBuffer>));
}

function verify(key: CryptoKey, proof: Uint8Array, data: Uint8Array): Promise<boolean> {
  return crypto.subtle.verify(
    "HMAC",
    key,
    proof as Uint8Array<ArrayBuffer>,
    data as Uint8Array<ArrayBuffer>,
  );
}

/**
 * The peer hung up during the handshake. Nothing was proven either way, so a
 * runner may dial again (a parent under a flood evicts waiting connections).
 */
export class HandshakeClosedError extends ProtocolError {
  /**
   * @param stage The message that was awaited.
   */
  constructor(stage: string) {
    super(`Connection closed during the handshake (${stage})`);
    this.name = "HandshakeClosedError";
  }
}

function sendJson(conn: FrameConnection, type: number, value: unknown): void {
  conn.send(type, [encoder.encode(JSON.stringify(value))]);
}

async function readJson(
  conn: FrameConnection,
  type: number,
  what: string,
): Promise<Record<string, unknown>> {
  const frame = await conn.readFrame();
  if (frame === null) throw new HandshakeClosedError(what);
  if (frame.type !== type) {
    throw new ProtocolError(`Expected ${what} frame, got frame type ${frame.type}`);
  }
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(frame.payload));
  } catch {
    throw new ProtocolError(`Malformed ${what} frame`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ProtocolError(`Malformed ${what} frame`);
  }
  return value as Record<string, unknown>;
}

function bytesField(o: Record<string, unknown>, field: string, length: number): Uint8Array {
  const v = o[field];
  let bytes: Uint8Array | undefined;
  try {
    bytes = typeof v === "string" ? decodeBase64Url(v) : undefined;
  } catch {
    bytes = undefined;
  }
  if (bytes === undefined || bytes.length !== length) {
    throw new ProtocolError(`Malformed handshake field "${field}"`);
  }
  return bytes;
}

/**
 * Runner side: proves the secret and checks the parent's proof.
 *
 * @param conn The fresh connection to the parent.
 * @param id This runner's id.
 * @param key The secret, from {@linkcode importSecret}.
 * @throws {ProtocolError} When the parent cannot prove the secret or breaks the protocol.
 */
export async function authenticateToParent(
  conn: FrameConnection,
  id: string,
  key: CryptoKey,
): Promise<void> {
  const nr = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  sendJson(conn, FrameType.Hello, { v: PROTOCOL_VERSION, id, nonce: encodeBase64Url(nr) });
  const challenge = await readJson(conn, FrameType.Challenge, "challenge");
  const np = bytesField(challenge, "nonce", NONCE_BYTES);
  const parentProof = bytesField(challenge, "proof", 32);
  if (!(await verify(key, parentProof, transcript("parent", id, nr, np)))) {
    throw new ProtocolError("The parent could not prove it knows this runner's secret");
  }
  const proof = await sign(key, transcript("runner", id, nr, np));
  sendJson(conn, FrameType.Proof, { proof: encodeBase64Url(proof) });
  await readJson(conn, FrameType.Welcome, "welcome");
}

/**
 * Parent side: reads the runner's hello, proves the secret, checks the runner's proof.
 *
 * @param conn The fresh connection from a would-be runner.
 * @param keyFor Returns the key for a runner id the parent is waiting for, or `undefined`.
 * @returns The authenticated runner id.
 * @throws {ProtocolError} On an unknown id, a wrong proof, or any protocol violation.
 */
export async function authenticateRunner(
  conn: FrameConnection,
  keyFor: (id: string) => CryptoKey | undefined,
): Promise<string> {
  const hello = await readJson(conn, FrameType.Hello, "hello");
  if (hello.v !== PROTOCOL_VERSION) {
    // The peer's value is not echoed: it is attacker-controlled text.
    throw new ProtocolError(
      `Unsupported protocol version (this parent speaks ${PROTOCOL_VERSION})`,
    );
  }
  const id = hello.id;
  if (typeof id !== "string" || id === "" || id.length > 128) {
    throw new ProtocolError('Malformed handshake field "id"');
  }
  const nr = bytesField(hello, "nonce", NONCE_BYTES);
  const key = keyFor(id);
  if (key === undefined) throw new ProtocolError("Unknown or already connected runner id");
  const np = crypto.getRandomValues(new Uint8Array(NONCE_BYTES));
  const proof = await sign(key, transcript("parent", id, nr, np));
  sendJson(conn, FrameType.Challenge, {
    nonce: encodeBase64Url(np),
    proof: encodeBase64Url(proof),
  });
  const answer = await readJson(conn, FrameType.Proof, "proof");
  const runnerProof = bytesField(answer, "proof", 32);
  if (!(await verify(key, runnerProof, transcript("runner", id, nr, np)))) {
    throw new ProtocolError("The runner could not prove it knows its secret");
  }
  sendJson(conn, FrameType.Welcome, {});
  return id;
}
