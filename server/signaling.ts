// The signaling server for peers that share no browser: two pages (or Node
// peers) meet in a room by a short code and exchange their WebRTC offer,
// answer and ICE candidates through it; the migration itself then flows
// peer to peer. Every refusal is told to the client in words.
//
//   npx tsx server/signaling.ts [--host 127.0.0.1] [--port 8787] [--allow-origin URL]...
//
// `npm start` runs it beside Vite, which forwards ws://<page host>/signal here.
import { realpathSync } from "node:fs";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { WebSocketServer, type RawData, type WebSocket } from "ws";
import { originAllowed } from "./origins.ts";
import { RoomRegistry } from "./rooms.ts";
import { ClientConnection, SignalingSession, type SessionLimits } from "./session.ts";
import { DEFAULT_SIGNALING_PORT, SIGNALING_PATH } from "./signaling-protocol.ts";
import type { RateLimit } from "./token-bucket.ts";

export interface SignalingServerOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /**
   * Exact origins ("https://example.org") whose pages may connect; default:
   * pages on this machine. Pages of the host they connect to are always let in.
   */
  allowedOrigins?: readonly string[];
  /** How long a room lives after it is created (default 10 minutes). */
  roomLifetimeMs?: number;
  /** The largest message a client may send, in bytes of JSON (default 16 KiB). */
  maxMessageBytes?: number;
  /** Messages per connection (default a burst of 40, then 10 per second). */
  rateLimit?: RateLimit;
  /** Connections at once (default 256). */
  maxConnections?: number;
  /** Wrong codes one connection may try before it is sent away (default 5). */
  maxWrongCodes?: number;
  /** Where to report connections and refusals; silent by default. */
  log?: (line: string) => void;
}

export interface SignalingServer {
  /** ws://HOST:PORT/signal */
  readonly url: string;
  close(): Promise<void>;
}

export async function startSignalingServer(
  options: SignalingServerOptions,
): Promise<SignalingServer> {
  const limits: SessionLimits = {
    maxMessageBytes: options.maxMessageBytes ?? 16 * 1024,
    rateLimit: options.rateLimit ?? { burst: 40, perSecond: 10 },
    maxWrongCodes: options.maxWrongCodes ?? 5,
  };
  const maxConnections = options.maxConnections ?? 256;
  const log = options.log ?? (() => {});
  const rooms = new RoomRegistry(options.roomLifetimeMs ?? 10 * 60_000);
  let connections = 0;

  const server = new WebSocketServer({
    host: options.host,
    port: options.port,
    path: SIGNALING_PATH,
    // Past this, ws closes the connection (1009) before we could answer.
    maxPayload: 4 * limits.maxMessageBytes,
    perMessageDeflate: false,
  });

  server.on("connection", (socket: WebSocket, request: IncomingMessage) => {
    const client = new ClientConnection(socket);
    // ws reports a broken or oversized frame here, then closes the socket.
    socket.on("error", (error) => log(`connection error: ${error.message}`));
    // Accepted first and then refused, so that a page can read why.
    const origin = request.headers.origin;
    if (!originAllowed(origin, request.headers.host, options.allowedOrigins)) {
      log(`refused origin ${origin}`);
      client.expel("origin-not-allowed", `pages from ${origin} may not use this signaling server`);
      return;
    }
    if (connections >= maxConnections) {
      client.expel("server-full", `the server is full (${maxConnections} connections); try later`);
      return;
    }
    connections++;
    const session = new SignalingSession(client, rooms, limits);
    socket.on("message", (data: RawData, isBinary: boolean) => session.receive(data, isBinary));
    socket.on("close", () => {
      connections--;
      session.end();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once("listening", resolve);
    server.once("error", (error) =>
      reject(
        new Error(
          `cannot start the signaling server on ${options.host}:${options.port}: ${error.message}`,
        ),
      ),
    );
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `ws://${host}:${port}${SIGNALING_PATH}`,
    close() {
      rooms.clear();
      for (const client of server.clients) client.close(1001, "the signaling server is stopping");
      // A client that does not answer the close must not hold the server open.
      const cutOff = setTimeout(() => {
        for (const client of server.clients) client.terminate();
      }, 1000);
      return new Promise((resolve) =>
        server.close(() => {
          clearTimeout(cutOff);
          resolve();
        }),
      );
    },
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: {
        type: "string",
        default: process.env.HIVE86_SIGNAL_PORT ?? String(DEFAULT_SIGNALING_PORT),
      },
      "allow-origin": { type: "string", multiple: true },
      "room-minutes": { type: "string", default: "10" },
    },
  });
  const server = await startSignalingServer({
    host: values.host,
    port: Number(values.port),
    allowedOrigins: values["allow-origin"],
    roomLifetimeMs: Number(values["room-minutes"]) * 60_000,
    log: (line) => console.log(`signaling: ${line}`),
  });
  console.log(`signaling server on ${server.url}`);
  const stop = () => void server.close().then(() => process.exit(0));
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

const runDirectly =
  process.argv[1] && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url);
if (runDirectly) {
  main().catch((error: Error) => {
    console.error(error.message);
    process.exit(1);
  });
}
