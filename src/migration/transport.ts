// The one small interface every migration wire implements: ordered, reliable
// messages with backpressure. The engines pull messages with receive() and
// push with send(), waiting on drained() when the wire is full. Adapters
// (an in-memory pair, a WebRTC data channel, a WebSocket) extend
// QueuedTransport and only translate their events into deliver() and ended().

/** No message on any of our wires is larger: the data channel refuses more than 256 KiB. */
export const MAX_MESSAGE_BYTES = 256 * 1024;

export class TransportClosedError extends Error {
  constructor(readonly reason: string) {
    super(`the connection closed: ${reason}`);
    this.name = "TransportClosedError";
  }
}

export class TransportTimeoutError extends Error {
  constructor(readonly waitedMs: number) {
    super(`no message arrived for ${(waitedMs / 1000).toFixed(1)} s`);
    this.name = "TransportTimeoutError";
  }
}

export class TransportStalledError extends Error {
  constructor(readonly waitedMs: number) {
    super(`nothing could be sent for ${(waitedMs / 1000).toFixed(1)} s`);
    this.name = "TransportStalledError";
  }
}

/**
 * drained(), or a TransportStalledError when the wire stays full for
 * `timeoutMs`: a peer that vanished without closing (a tab closed, a machine
 * gone) never drains it, and a sender must not wait forever.
 */
export function drainedWithin(transport: MessageTransport, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new TransportStalledError(timeoutMs)), timeoutMs);
    transport.drained().then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}

export interface MessageTransport {
  /** What kind of wire this is ("webrtc", "websocket", "memory"), for traces. */
  readonly kind: string;
  /** Queues a message of at most MAX_MESSAGE_BYTES; throws TransportClosedError once closed. */
  send(message: Uint8Array): void;
  /** Bytes queued and not yet on the wire. */
  readonly bufferedBytes: number;
  /** Resolves when the queue is short again (at once when it is); rejects once closed. */
  drained(): Promise<void>;
  /** The next message, in order; rejects when the wire closes or nothing comes for `timeoutMs`. */
  receive(timeoutMs: number): Promise<Uint8Array>;
  /** A message that has already arrived, or null: never waits. */
  poll(): Uint8Array | null;
  /** Ends the connection; the other side sees it closed with `reason`. */
  close(reason?: string): void;
  /** Why the wire closed, or null while it is open. */
  readonly closedReason: string | null;
}

/** The queueing, waiting and closing every adapter shares. */
export abstract class QueuedTransport implements MessageTransport {
  abstract readonly kind: string;
  private readonly inbox: Uint8Array[] = [];
  private receiver: { resolve(m: Uint8Array): void; reject(e: Error): void } | null = null;
  private drainWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private reason: string | null = null;

  constructor(protected readonly lowWaterBytes = 1024 * 1024) {}

  abstract readonly bufferedBytes: number;

  /** Puts a message on the wire (the adapter's own send). */
  protected abstract transmit(message: Uint8Array): void;
  /** Closes the underlying wire (the adapter's own close). */
  protected abstract shutdown(reason: string): void;

  get closedReason(): string | null {
    return this.reason;
  }

  send(message: Uint8Array): void {
    if (this.reason !== null) throw new TransportClosedError(this.reason);
    if (message.length > MAX_MESSAGE_BYTES) {
      throw new RangeError(`a message of ${message.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    }
    this.transmit(message);
  }

  drained(): Promise<void> {
    if (this.reason !== null) return Promise.reject(new TransportClosedError(this.reason));
    if (this.bufferedBytes <= this.lowWaterBytes) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  receive(timeoutMs: number): Promise<Uint8Array> {
    const ready = this.inbox.shift();
    if (ready) return Promise.resolve(ready);
    if (this.reason !== null) return Promise.reject(new TransportClosedError(this.reason));
    if (this.receiver) return Promise.reject(new Error("receive() is already waiting"));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.receiver = null;
        reject(new TransportTimeoutError(timeoutMs));
      }, timeoutMs);
      this.receiver = {
        resolve: (message) => {
          clearTimeout(timer);
          resolve(message);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
    });
  }

  poll(): Uint8Array | null {
    return this.inbox.shift() ?? null;
  }

  close(reason = "closed by this side"): void {
    if (this.reason !== null) return;
    this.shutdown(reason);
    this.ended(reason);
  }

  /** The adapter received a message. */
  protected deliver(message: Uint8Array): void {
    if (this.reason !== null) return;
    const receiver = this.receiver;
    if (receiver) {
      this.receiver = null;
      receiver.resolve(message);
    } else {
      this.inbox.push(message);
    }
  }

  /** The adapter's queue got shorter: wake whoever waits for room. */
  protected bufferShrank(): void {
    if (this.bufferedBytes > this.lowWaterBytes) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /** The wire closed (either side): whoever waits learns why. Messages already received stay readable. */
  protected ended(reason: string): void {
    if (this.reason !== null) return;
    this.reason = reason;
    const error = new TransportClosedError(reason);
    this.receiver?.reject(error);
    this.receiver = null;
    for (const waiter of this.drainWaiters) waiter.reject(error);
    this.drainWaiters = [];
  }
}
