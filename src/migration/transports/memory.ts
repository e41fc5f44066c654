// Two ends of an in-process wire, for tests and for moving a guest between
// two machines in one process. Optionally as slow as a real link: messages
// then arrive after their bytes have "crossed" at the given rate, and
// bufferedBytes counts what has not, so backpressure behaves as on a
// data channel.
import { QueuedTransport } from "../transport.ts";

export interface MemoryLinkOptions {
  /** Link speed; Infinity (default) delivers on the next task. */
  bytesPerSecond?: number;
  /** One-way delay added to every message. */
  latencyMs?: number;
}

export class MemoryTransport extends QueuedTransport {
  readonly kind = "memory";
  peer!: MemoryTransport;
  private inFlight = 0;
  private lineFreeAt = 0;
  private readonly wire: Array<{ message: Uint8Array; dueAt: number }> = [];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private closing: string | null = null;

  constructor(private readonly link: MemoryLinkOptions) {
    super(256 * 1024);
  }

  get bufferedBytes(): number {
    return this.inFlight;
  }

  protected transmit(message: Uint8Array): void {
    const copy = message.slice(); // the sender may reuse its buffer
    const rate = this.link.bytesPerSecond ?? Infinity;
    const now = performance.now();
    const start = Math.max(now, this.lineFreeAt);
    this.lineFreeAt = start + (copy.length / rate) * 1000;
    this.inFlight += copy.length;
    this.wire.push({ message: copy, dueAt: this.lineFreeAt + (this.link.latencyMs ?? 0) });
    this.schedule();
  }

  // One timer for the message at the head of the wire: timers of different
  // delays may fire out of order (they are rounded to whole ms), messages must not.
  private schedule(): void {
    if (this.timer !== null || this.wire.length === 0) return;
    const wait = Math.max(0, this.wire[0]!.dueAt - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = performance.now();
      while (this.wire.length > 0 && this.wire[0]!.dueAt <= now + 0.5) {
        const { message } = this.wire.shift()!;
        this.inFlight -= message.length;
        this.peer.deliver(message);
      }
      this.bufferShrank();
      if (this.wire.length === 0 && this.closing !== null) this.peer.ended(this.closing);
      this.schedule();
    }, wait);
  }

  protected shutdown(reason: string): void {
    // The other side learns after what was already on the wire.
    this.closing = `the other side closed: ${reason}`;
    if (this.wire.length > 0) return;
    const closing = this.closing;
    setTimeout(() => this.peer.ended(closing), this.link.latencyMs ?? 0);
  }
}

/** Two connected ends: what one sends, the other receives. */
export function memoryTransportPair(
  link: MemoryLinkOptions = {},
): [MemoryTransport, MemoryTransport] {
  const a = new MemoryTransport(link);
  const b = new MemoryTransport(link);
  a.peer = b;
  b.peer = a;
  return [a, b];
}
