// A migration wire over a WebSocket: the browser's, or the `ws` package's in
// Node (websocket-node.ts opens those). Browsers have no event for "the send
// buffer got short", so while someone waits for room we poll bufferedAmount.
import { QueuedTransport } from "../transport.ts";

/** The part of a WebSocket both the browser's and `ws`'s provide. */
export interface WebSocketLike {
  binaryType: string;
  readonly readyState: number;
  readonly bufferedAmount: number;
  send(data: Uint8Array<ArrayBuffer>): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: "message", listener: (event: { data: unknown }) => void): void;
  addEventListener(
    type: "close",
    listener: (event: { code: number; reason: string }) => void,
  ): void;
  addEventListener(type: "error", listener: (event: { message?: string }) => void): void;
}

const OPEN = 1;
/** Close codes 4000-4999 belong to applications: ours says "closed on purpose, see the reason". */
export const CLOSED_BY_PEER_CODE = 4000;
/** A close frame's reason holds at most 123 bytes of UTF-8. */
const MAX_CLOSE_REASON_BYTES = 123;
const POLL_INTERVAL_MS = 4;
const DEFAULT_LOW_WATER_BYTES = 1024 * 1024;

export class WebSocketTransport extends QueuedTransport {
  readonly kind = "websocket";
  private lastError: string | null = null;
  private pollTimer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly socket: WebSocketLike,
    lowWaterBytes = DEFAULT_LOW_WATER_BYTES,
  ) {
    super(lowWaterBytes);
    socket.binaryType = "arraybuffer";
    socket.addEventListener("message", (event) => this.onMessage(event.data));
    socket.addEventListener("error", (event) => {
      this.lastError = event.message || "a WebSocket error";
    });
    socket.addEventListener("close", (event) => {
      this.stopPolling();
      this.ended(describeClose(event.code, event.reason, this.lastError));
    });
    if (socket.readyState > OPEN) this.ended("the WebSocket was already closed");
  }

  get bufferedBytes(): number {
    return this.socket.bufferedAmount;
  }

  override drained(): Promise<void> {
    const waiting = super.drained();
    if (this.bufferedBytes > this.lowWaterBytes) this.startPolling();
    return waiting;
  }

  protected transmit(message: Uint8Array): void {
    // The socket copies (browser) or may hold on to (ws) the bytes: give it its own.
    this.socket.send(message.slice());
  }

  protected shutdown(reason: string): void {
    this.stopPolling();
    // Queued messages go out before the close frame.
    this.socket.close(CLOSED_BY_PEER_CODE, truncateUtf8(reason, MAX_CLOSE_REASON_BYTES));
  }

  private onMessage(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      this.deliver(new Uint8Array(data));
    } else if (ArrayBuffer.isView(data)) {
      // A Node Buffer: hand on a plain Uint8Array, whose slice() copies.
      this.deliver(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } else {
      this.close(`a ${typeof data} message arrived where only binary ones belong`);
    }
  }

  private startPolling(): void {
    if (this.pollTimer !== null) return;
    this.pollTimer = setInterval(() => {
      if (this.closedReason !== null || this.bufferedBytes <= this.lowWaterBytes) {
        this.stopPolling();
      }
      this.bufferShrank();
    }, POLL_INTERVAL_MS);
  }

  private stopPolling(): void {
    if (this.pollTimer === null) return;
    clearInterval(this.pollTimer);
    this.pollTimer = null;
  }
}

/** Why the socket closed, as a person would want to read it. */
export function describeClose(code: number, reason: string, error: string | null): string {
  if (code === CLOSED_BY_PEER_CODE) return `the other side closed: ${reason}`;
  const known: Record<number, string> = {
    1000: "the other side closed the connection",
    1001: "the other side went away",
    1006: "the connection was lost without a close frame",
    1009: "a message was larger than the other side accepts",
    1011: "the other side hit an internal error",
  };
  const what = known[code] ?? `the connection closed with code ${code}`;
  const details = [reason, error].filter((part) => part).join("; ");
  return details ? `${what} (${details})` : what;
}

function truncateUtf8(text: string, maxBytes: number): string {
  const encoder = new TextEncoder();
  if (encoder.encode(text).length <= maxBytes) return text;
  let end = text.length;
  while (end > 0 && encoder.encode(text.slice(0, end) + "…").length > maxBytes) end--;
  return text.slice(0, end) + "…";
}
