// The signaling server on loopback, driven by plain WebSocket clients: rooms,
// relaying, and each refusal with its reason.
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import {
  startSignalingServer,
  type SignalingServer,
  type SignalingServerOptions,
} from "../../server/signaling.ts";
import type { ServerMessage } from "../../server/signaling-protocol.ts";

/** A test client that keeps every message the server sends, in order. */
class Client {
  private readonly inbox: ServerMessage[] = [];
  private wake: (() => void) | null = null;
  closed: { code: number; reason: string } | null = null;

  private constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.inbox.push(JSON.parse(data.toString()) as ServerMessage);
      this.wake?.();
    });
    socket.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake?.();
    });
  }

  static async connect(url: string, origin?: string, host?: string): Promise<Client> {
    const headers: Record<string, string> = {};
    if (origin) headers.Origin = origin;
    if (host) headers.Host = host;
    const socket = new WebSocket(url, { headers });
    const client = new Client(socket);
    await new Promise((resolve, reject) => {
      socket.once("open", resolve);
      socket.once("error", reject);
    });
    return client;
  }

  send(message: unknown): void {
    this.socket.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  async next(timeoutMs = 2000): Promise<ServerMessage> {
    const deadline = Date.now() + timeoutMs;
    while (this.inbox.length === 0) {
      if (this.closed) throw new Error(`closed (${this.closed.code}) ${this.closed.reason}`);
      if (Date.now() > deadline) throw new Error("no message from the server");
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 50);
      });
    }
    return this.inbox.shift()!;
  }

  async closedWith(timeoutMs = 2000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error("the server did not close the connection");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    return this.closed;
  }

  /** Messages that arrived and were not read yet. */
  get unread(): number {
    return this.inbox.length;
  }
}

let server: SignalingServer | null = null;
const clients: Client[] = [];

async function start(options: Partial<SignalingServerOptions> = {}): Promise<string> {
  server = await startSignalingServer({ host: "127.0.0.1", port: 0, ...options });
  return server.url;
}

async function connect(url: string, origin?: string, host?: string): Promise<Client> {
  const client = await Client.connect(url, origin, host);
  clients.push(client);
  return client;
}

/** A client may see its close a moment before the server has handled it. */
function serverCatchesUp(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 200));
}

/** A creator and a joiner in one room. */
async function pair(url: string): Promise<[Client, Client, string]> {
  const creator = await connect(url);
  creator.send({ type: "create" });
  const created = await creator.next();
  if (created.type !== "created") throw new Error(`not created: ${JSON.stringify(created)}`);
  const joiner = await connect(url);
  joiner.send({ type: "join", code: created.code });
  expect(await joiner.next()).toMatchObject({
    type: "joined",
    code: created.code,
    peerPresent: true,
  });
  expect(await creator.next()).toEqual({ type: "peer-joined" });
  return [creator, joiner, created.code];
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.socket.terminate();
  await server?.close();
  server = null;
});

describe("signaling server", () => {
  it("pairs two peers by code and relays offer, answer and candidates both ways", async () => {
    const url = await start();
    expect(url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/signal$/);
    const [creator, joiner, code] = await pair(url);
    expect(code).toMatch(/^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{6}$/);

    const offer = { kind: "offer", sdp: "v=0\r\n..." };
    const candidate = {
      kind: "candidate",
      candidate: { candidate: "candidate:1 1 udp 1 127.0.0.1 5000 typ host", sdpMid: "0" },
    };
    creator.send({ type: "signal", signal: { kind: "hello" } });
    creator.send({ type: "signal", signal: offer });
    creator.send({ type: "signal", signal: candidate });
    expect(await joiner.next()).toEqual({ type: "signal", signal: { kind: "hello" } });
    expect(await joiner.next()).toEqual({ type: "signal", signal: offer });
    expect(await joiner.next()).toEqual({ type: "signal", signal: candidate });

    const answer = { kind: "answer", sdp: "v=0\r\nanswer" };
    joiner.send({ type: "signal", signal: answer });
    expect(await creator.next()).toEqual({ type: "signal", signal: answer });

    joiner.socket.close();
    expect(await creator.next()).toEqual({ type: "peer-left" });
  });

  it("codes are random: many rooms, all different", async () => {
    const url = await start();
    const client = await connect(url);
    const codes = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const other = await connect(url);
      other.send({ type: "create" });
      const created = await other.next();
      if (created.type === "created") codes.add(created.code);
    }
    expect(codes.size).toBe(20);
    client.send({ type: "join", code: [...codes][0].toLowerCase().replace(/(...)/, "$1-") });
    expect(await client.next()).toMatchObject({ type: "joined", peerPresent: true });
  });

  it("refuses a third member", async () => {
    const url = await start();
    const [, , code] = await pair(url);
    const third = await connect(url);
    third.send({ type: "join", code });
    expect(await third.next()).toEqual({
      type: "error",
      refusal: "room-full",
      message: `room ${code} already has two members`,
    });
  });

  it("refuses a wrong code, and sends away a connection that keeps guessing", async () => {
    const url = await start({ maxWrongCodes: 3 });
    await pair(url);
    const guesser = await connect(url);
    guesser.send({ type: "join", code: "ZZZZZZ" });
    expect(await guesser.next()).toMatchObject({ type: "error", refusal: "no-such-room" });
    guesser.send({ type: "join", code: "not a code" });
    expect(await guesser.next()).toMatchObject({
      refusal: "no-such-room",
      message: expect.stringMatching(/no room "not a code" \(wrong code, or it expired\)/),
    });
    guesser.send({ type: "join", code: "ZZZZZY" });
    expect(await guesser.next()).toMatchObject({ refusal: "too-many-wrong-codes" });
    expect(await guesser.closedWith()).toMatchObject({ code: 4429 });
  });

  it("drops oversized messages with a reason, and closes on absurd ones", async () => {
    const url = await start({ maxMessageBytes: 1000 });
    const [creator, joiner] = await pair(url);
    creator.send({ type: "signal", signal: { kind: "offer", sdp: "x".repeat(2000) } });
    expect(await creator.next()).toMatchObject({
      type: "error",
      refusal: "message-too-large",
      message: expect.stringMatching(/exceeds the limit of 1000/),
    });
    creator.send({ type: "signal", signal: { kind: "offer", sdp: "small" } });
    expect(await joiner.next()).toEqual({
      type: "signal",
      signal: { kind: "offer", sdp: "small" },
    });
    creator.send("y".repeat(10_000));
    expect((await creator.closedWith()).code).toBe(1009);
  });

  it("rate-limits each connection", async () => {
    const url = await start({ rateLimit: { burst: 10, perSecond: 0.01 } });
    const [creator, joiner] = await pair(url);
    for (let i = 0; i < 30; i++) creator.send({ type: "signal", signal: { kind: "candidate", i } });
    const replies: ServerMessage[] = [];
    for (let i = 0; i < 21; i++) replies.push(await creator.next());
    expect(
      replies.every((reply) => reply.type === "error" && reply.refusal === "rate-limited"),
    ).toBe(true);
    // The create and the first nine candidates fit in the burst of ten.
    let relayed = 0;
    while ((await joiner.next(300).catch(() => null)) !== null) relayed++;
    expect(relayed).toBe(9);
  });

  it("refuses pages from origins not on the list, with the reason", async () => {
    const url = await start();
    const page = await connect(url, "http://localhost:5173");
    page.send({ type: "create" });
    expect(await page.next()).toMatchObject({ type: "created" });
    const loopback = await connect(url, "https://127.0.0.1");
    loopback.send({ type: "create" });
    expect(await loopback.next()).toMatchObject({ type: "created" });

    const stranger = await connect(url, "https://evil.example");
    expect(await stranger.next()).toEqual({
      type: "error",
      refusal: "origin-not-allowed",
      message: "pages from https://evil.example may not use this signaling server",
    });
    expect(await stranger.closedWith()).toMatchObject({ code: 4403 });
    const nullOrigin = await connect(url, "null");
    expect(await nullOrigin.closedWith()).toMatchObject({ code: 4403 });

    // A page served from a LAN address, reaching the server through its own host (Vite's proxy).
    const proxied = await connect(url, "http://192.168.1.5:5173", "192.168.1.5:5173");
    proxied.send({ type: "create" });
    expect(await proxied.next()).toMatchObject({ type: "created" });
    const crossSite = await connect(url, "http://192.168.1.5:5173", "hive86.example:5173");
    expect(await crossSite.closedWith()).toMatchObject({ code: 4403 });
  });

  it("turns connections away when full, and takes them again when there is room", async () => {
    const url = await start({ maxConnections: 1 });
    const first = await connect(url);
    const second = await connect(url);
    expect(await second.next()).toMatchObject({ type: "error", refusal: "server-full" });
    expect(await second.closedWith()).toMatchObject({ code: 4503 });
    first.socket.close();
    await first.closedWith();
    await serverCatchesUp();
    const third = await connect(url);
    third.send({ type: "create" });
    expect(await third.next()).toMatchObject({ type: "created" });
  });

  it("with an allow-list, takes exactly the listed origins", async () => {
    const url = await start({ allowedOrigins: ["https://hive86.example"] });
    const listed = await connect(url, "https://hive86.example");
    listed.send({ type: "create" });
    expect(await listed.next()).toMatchObject({ type: "created" });
    const local = await connect(url, "http://localhost:5173");
    expect(await local.closedWith()).toMatchObject({ code: 4403 });
  });

  it("relays only signaling, and only inside a room", async () => {
    const url = await start();
    const loner = await connect(url);
    loner.send({ type: "signal", signal: { kind: "offer", sdp: "x" } });
    expect(await loner.next()).toMatchObject({ refusal: "not-in-room" });
    loner.send("not json");
    expect(await loner.next()).toMatchObject({ refusal: "not-json" });
    loner.send({ type: "shout" });
    expect(await loner.next()).toMatchObject({ refusal: "unknown-type" });
    loner.send({ type: "create" });
    await loner.next();
    loner.send({ type: "signal", signal: { kind: "hello" } });
    expect(await loner.next()).toMatchObject({ refusal: "no-peer" });
    loner.send({ type: "create" });
    expect(await loner.next()).toMatchObject({ refusal: "already-in-room" });

    const [creator, joiner] = await pair(url);
    creator.send({ type: "signal", signal: { kind: "exec", command: "rm -rf /" } });
    expect(await creator.next()).toMatchObject({
      refusal: "not-relayed",
      message: "only signals of kind hello, offer, answer, candidate, bye are relayed",
    });
    creator.send({ type: "signal", signal: ["offer"] });
    expect(await creator.next()).toMatchObject({ refusal: "not-relayed" });
    creator.send({ type: "signal", signal: { kind: "bye" } });
    // The refused ones never reached the joiner: the bye is the first thing it sees.
    expect(await joiner.next()).toEqual({ type: "signal", signal: { kind: "bye" } });
    expect(joiner.unread).toBe(0);
  });

  it("expires rooms, and forgets a room its members left", async () => {
    const url = await start({ roomLifetimeMs: 300 });
    const [creator, joiner, code] = await pair(url);
    for (const member of [creator, joiner]) {
      expect(await member.next()).toMatchObject({ type: "error", refusal: "room-expired" });
      expect(await member.closedWith()).toMatchObject({ code: 4410 });
    }
    const late = await connect(url);
    late.send({ type: "join", code });
    expect(await late.next()).toMatchObject({ refusal: "no-such-room" });

    const leaver = await connect(url);
    leaver.send({ type: "create" });
    const created = await leaver.next();
    leaver.socket.close();
    await leaver.closedWith();
    await serverCatchesUp();
    late.send({ type: "join", code: created.type === "created" ? created.code : "" });
    expect(await late.next()).toMatchObject({ refusal: "no-such-room" });
  });
});
