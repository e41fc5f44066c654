// A wire slowed to a set rate. On one machine a data channel moves an idle
// guest in a quarter of a second: a presenter who wants the audience to see
// the rounds, and a test that must act mid-migration, cap the link instead.
// Only what this side sends is paced; what arrives is passed through.
import { MAX_MESSAGE_BYTES, TransportClosedError, type MessageTransport } from "../transport.ts";

/** As on the data channel: a few hundred KiB in flight keep the line busy. */
const LOW_WATER_BYTES = 128 * 1024;

export class PacedTransport implements MessageTransport {
  readonly kind: string;
  private readonly queue: Uint8Array[] = [];
  private queuedBytes = 0;
  private lineFreeAt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private waiters: Array<{ resolve(): void; reject(error: Error): void }> = [];

  constructor(
    private readonly inner: MessageTransport,
    readonly bytesPerSecond: number,
  ) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond)) {
      throw new RangeError(
        `a link rate must be a positive number of bytes per second, not ${bytesPerSecond}`,
      );
    }
    this.kind = inner.kind;
  }

  get bufferedBytes(): number {
    return this.queuedBytes + this.inner.bufferedBytes;
  }

  get closedReason(): string | null {
    return this.inner.closedReason;
  }

  send(message: Uint8Array): void {
    const closed = this.inner.closedReason;
    if (closed !== null) throw new TransportClosedError(closed);
    if (message.length > MAX_MESSAGE_BYTES) {
      throw new RangeError(`a message of ${message.length} bytes exceeds ${MAX_MESSAGE_BYTES}`);
    }
    this.queue.push(message.slice()); // the sender may reuse its buffer
    this.queuedBytes += message.length;
    this.pump();
  }

  async drained(): Promise<void> {
    while (this.queuedBytes > LOW_WATER_BYTES) {
      const closed = this.inner.closedReason;
      if (closed !== null) throw new TransportClosedError(closed);
      await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
    await this.inner.drained();
  }

  receive(timeoutMs: number): Promise<Uint8Array> {
    return this.inner.receive(timeoutMs);
  }

  poll(): Uint8Array | null {
    return this.inner.poll();
  }

  /** What is queued still goes (unpaced) before the close, as on a data channel. */
  close(reason?: string): void {
    this.stopTimer();
    while (this.queue.length > 0 && this.inner.closedReason === null)
      this.forward(this.queue.shift()!);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.inner.close(reason);
    this.settleWaiters();
  }

  private pump(): void {
    if (this.timer !== null) return;
    while (this.queue.length > 0) {
      const now = performance.now();
      if (this.lineFreeAt > now) {
        this.timer = setTimeout(() => {
          this.timer = null;
          this.pump();
        }, this.lineFreeAt - now);
        return;
      }
      const message = this.queue.shift()!;
      this.queuedBytes -= message.length;
      this.lineFreeAt = now + (message.length / this.bytesPerSecond) * 1000;
      if (!this.forward(message)) return;
      this.settleWaiters();
    }
  }

  private forward(message: Uint8Array): boolean {
    try {
      this.inner.send(message);
      return true;
    } catch {
      // The wire closed under us: whoever waits learns why from the inner transport.
      this.queue.length = 0;
      this.queuedBytes = 0;
      this.stopTimer();
      this.settleWaiters();
      return false;
    }
  }

  /** Wakes waiters when the queue is short, or rejects them once the wire closed. */
  private settleWaiters(): void {
    const closed = this.inner.closedReason;
    if (closed === null && this.queuedBytes > LOW_WATER_BYTES) return;
    const waiters = this.waiters;
    this.waiters = [];
    for (const waiter of waiters) {
      if (closed !== null) waiter.reject(new TransportClosedError(closed));
      else waiter.resolve();
    }
  }

  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
