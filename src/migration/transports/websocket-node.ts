// Both ends of a migration between Node processes, QEMU style: the
// destination listens (`hive86 run --incoming ws://HOST:PORT`), the source
// connects (the monitor's `migrate ws://HOST:PORT/migrate`). A listener
// serves one migration at a time and refuses a second with a reason.
import type { AddressInfo } from "node:net";
import { WebSocket, WebSocketServer } from "ws";
import { MAX_MESSAGE_BYTES } from "../transport.ts";
import { WebSocketTransport } from "./websocket.ts";

export const MIGRATION_PATH = "/migrate";
const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;

export interface MigrationListener {
  /** Where the source connects: ws://HOST:PORT/migrate. */
  readonly url: string;
  /** The next incoming migration; rejects after `timeoutMs` (default: waits forever) or on close(). */
  accept(timeoutMs?: number): Promise<WebSocketTransport>;
  /** Stops listening; a connection already accepted stays open. */
  close(): Promise<void>;
}

/** Listens on HOST:PORT (port 0 picks a free one) for one migration at a time. */
export async function listenForMigration(host: string, port: number): Promise<MigrationListener> {
  // The connection being migrated, from its upgrade until it closes.
  let busy = false;
  const arrived: WebSocketTransport[] = [];
  let waiter: { resolve(t: WebSocketTransport): void; reject(e: Error): void } | null = null;
  let closed = false;

  const server = new WebSocketServer({
    host,
    port,
    path: MIGRATION_PATH,
    maxPayload: MAX_MESSAGE_BYTES,
    perMessageDeflate: false,
    verifyClient: (info, decide) => {
      if (busy) {
        decide(false, 409, "this destination is already receiving a migration");
        return;
      }
      busy = true;
      // Also frees the slot if the upgrade fails before a connection exists.
      info.req.socket.once("close", () => (busy = false));
      decide(true);
    },
  });
  server.on("connection", (socket) => {
    socket.on("close", () => {
      busy = false;
    });
    const transport = new WebSocketTransport(socket);
    if (waiter) {
      waiter.resolve(transport);
      waiter = null;
    } else {
      arrived.push(transport);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", (error) =>
      reject(new Error(`cannot listen for migrations on ${host}:${port}: ${error.message}`)),
    );
  });
  const address = server.address() as AddressInfo;
  const url = `ws://${formatHost(host)}:${address.port}${MIGRATION_PATH}`;

  return {
    url,
    accept(timeoutMs?: number) {
      const ready = arrived.shift();
      if (ready) return Promise.resolve(ready);
      if (closed) return Promise.reject(new Error(`the listener at ${url} is closed`));
      if (waiter) return Promise.reject(new Error("accept() is already waiting"));
      return new Promise((resolve, reject) => {
        const timer =
          timeoutMs === undefined
            ? undefined
            : setTimeout(() => {
                waiter = null;
                const seconds = (timeoutMs / 1000).toFixed(1);
                reject(new Error(`no migration arrived at ${url} within ${seconds} s`));
              }, timeoutMs);
        waiter = {
          resolve: (transport) => {
            clearTimeout(timer);
            resolve(transport);
          },
          reject: (error) => {
            clearTimeout(timer);
            reject(error);
          },
        };
      });
    },
    close() {
      closed = true;
      waiter?.reject(new Error(`the listener at ${url} was closed`));
      waiter = null;
      // Stop accepting without ending the migration in progress.
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

/** Connects to a listener; rejects with a readable reason on refusal or timeout. */
export function connectMigration(
  url: string,
  timeoutMs = DEFAULT_CONNECT_TIMEOUT_MS,
): Promise<WebSocketTransport> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, {
      maxPayload: MAX_MESSAGE_BYTES,
      perMessageDeflate: false,
      handshakeTimeout: timeoutMs,
    });
    let settled = false;
    const fail = (why: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.terminate();
      reject(new Error(`cannot migrate to ${url}: ${why}`));
    };
    const timer = setTimeout(() => {
      const seconds = (timeoutMs / 1000).toFixed(1);
      fail(`no answer within ${seconds} s`);
    }, timeoutMs);
    socket.on("unexpected-response", (_request, response) => {
      // The listener says why it refused in the body.
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk: string) => (body += chunk));
      response.on("end", () => fail(`refused (${response.statusCode}): ${body || "no reason"}`));
      response.on("error", () => fail(`refused (${response.statusCode})`));
    });
    socket.once("error", (error) => fail(error.message));
    socket.once("close", (code, reason) => fail(`closed (${code}) ${reason.toString()}`.trim()));
    socket.once("open", () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // The transport listens from here on; the one-shot listeners above only saw the handshake.
      resolve(new WebSocketTransport(socket));
    });
  });
}

function formatHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
