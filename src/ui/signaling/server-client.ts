// The page's side of server/signaling.ts: one side creates a room and shows
// its code, the other types the code to join; then `signaling` carries the
// peer link's messages through the room.
import {
  SIGNALING_PATH,
  type ClientMessage,
  type Refusal,
  type ServerMessage,
} from "../../../server/signaling-protocol.ts";
import { BufferedSignalingChannel } from "./buffered-channel.ts";
import type { SignalingChannel, SignalingMessage } from "./signaling.ts";

/** Where Vite (and `npm start`) forwards the signaling server: ws(s)://<this page's host>/signal. */
export function signalingServerUrl(page: Location = location): string {
  return `${page.protocol === "https:" ? "wss" : "ws"}://${page.host}${SIGNALING_PATH}`;
}

export class SignalingRefusedError extends Error {
  constructor(
    readonly refusal: Refusal,
    message: string,
  ) {
    super(message);
    this.name = "SignalingRefusedError";
  }
}

type Pending = { resolve(message: ServerMessage): void; reject(error: Error): void };

export class SignalingServerClient {
  /** Carries signaling to the other member of the room. */
  readonly signaling: SignalingChannel;
  /** A refusal that answers no request of ours (e.g. a dropped signal). */
  onerror: ((error: SignalingRefusedError) => void) | null = null;
  /** The other member left the room (its page closed or lost the server). */
  onpeerleft: (() => void) | null = null;

  private readonly link: BufferedSignalingChannel;
  private pending: Pending | null = null;
  private peerWaiters: Array<{ resolve(): void; reject(error: Error): void }> = [];
  private peerPresent = false;
  private closedReason: string | null = null;

  private constructor(private readonly socket: WebSocket) {
    this.link = new BufferedSignalingChannel(
      (signal) => this.send({ type: "signal", signal }),
      () => this.close(),
    );
    this.signaling = this.link;
    socket.onmessage = (event) => this.onMessage(event.data);
    socket.onclose = (event) => this.onClose(event.code, event.reason);
  }

  /** Connects to the server; rejects with a readable reason if it cannot. */
  static connect(url = signalingServerUrl(), timeoutMs = 10_000): Promise<SignalingServerClient> {
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(url);
      const timer = setTimeout(() => {
        socket.close();
        reject(
          new Error(`the signaling server at ${url} did not answer within ${timeoutMs / 1000} s`),
        );
      }, timeoutMs);
      socket.onopen = () => {
        clearTimeout(timer);
        resolve(new SignalingServerClient(socket));
      };
      socket.onclose = (event) => {
        clearTimeout(timer);
        // A browser hides why a connection failed; say what usually causes it.
        const detail = event.reason || "is it running, and does it allow this page's origin?";
        reject(new Error(`cannot reach the signaling server at ${url}: ${detail}`));
      };
    });
  }

  /** Opens a room; returns the code to give to the other side. */
  async createRoom(): Promise<string> {
    const reply = await this.request({ type: "create" });
    if (reply.type !== "created") throw new Error(`unexpected answer to create: ${reply.type}`);
    return reply.code;
  }

  /** Joins the room of `code` (case, spaces and dashes do not matter). */
  async join(code: string): Promise<void> {
    const reply = await this.request({ type: "join", code });
    if (reply.type !== "joined") throw new Error(`unexpected answer to join: ${reply.type}`);
    this.peerPresent = reply.peerPresent;
  }

  /** Resolves once the room has another member. */
  waitForPeer(timeoutMs: number): Promise<void> {
    if (this.peerPresent) return Promise.resolve();
    if (this.closedReason !== null) return Promise.reject(new Error(this.closedReason));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.peerWaiters = this.peerWaiters.filter((waiter) => waiter !== entry);
        reject(new Error(`nobody joined within ${(timeoutMs / 1000).toFixed(0)} s`));
      }, timeoutMs);
      const entry = {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (error: Error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.peerWaiters.push(entry);
    });
  }

  /** Leaves the room and disconnects; the other member hears "peer-left". */
  close(): void {
    if (this.closedReason !== null) return;
    this.socket.close(1000, "done");
    this.onClose(1000, "closed by this page");
  }

  private request(message: ClientMessage): Promise<ServerMessage> {
    if (this.closedReason !== null) return Promise.reject(new Error(this.closedReason));
    if (this.pending) return Promise.reject(new Error("another request is still waiting"));
    return new Promise((resolve, reject) => {
      this.pending = { resolve, reject };
      this.send(message);
    });
  }

  private send(message: ClientMessage): void {
    if (this.closedReason !== null) throw new Error(this.closedReason);
    this.socket.send(JSON.stringify(message));
  }

  private onMessage(data: unknown): void {
    const message = JSON.parse(String(data)) as ServerMessage;
    switch (message.type) {
      case "created":
      case "joined":
        return this.answer(message);
      case "peer-joined":
        this.peerPresent = true;
        for (const waiter of this.peerWaiters.splice(0)) waiter.resolve();
        return;
      case "peer-left":
        this.peerPresent = false;
        this.onpeerleft?.();
        return;
      case "signal":
        // The server checked the kind only; peer-link.ts checks the rest.
        return this.link.deliver(message.signal as SignalingMessage);
      case "error": {
        const error = new SignalingRefusedError(message.refusal, message.message);
        // Refusals of signals are not answers to create or join.
        const aboutSignals = ["no-peer", "not-relayed", "not-in-room"].includes(message.refusal);
        if (this.pending && !aboutSignals) {
          const pending = this.pending;
          this.pending = null;
          pending.reject(error);
        } else {
          this.onerror?.(error);
        }
        return;
      }
    }
  }

  private answer(message: ServerMessage): void {
    const pending = this.pending;
    this.pending = null;
    pending?.resolve(message);
  }

  private onClose(code: number, reason: string): void {
    if (this.closedReason !== null) return;
    this.closedReason = reason
      ? `the signaling server closed the connection: ${reason}`
      : code === 1006
        ? "the connection to the signaling server was lost (the server stopped or the network dropped)"
        : `the signaling server closed the connection (code ${code})`;
    const error = new Error(this.closedReason);
    this.pending?.reject(error);
    this.pending = null;
    for (const waiter of this.peerWaiters.splice(0)) waiter.reject(error);
    this.link.deliver({ kind: "bye", reason: this.closedReason });
    this.link.close();
  }
}
