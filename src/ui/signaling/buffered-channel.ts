// The SignalingChannel both carriers hand out: messages wait until someone
// listens (the first one often arrives before the peer link is set up), and
// nothing is sent or delivered after close().
import type { SignalingChannel, SignalingMessage } from "./signaling.ts";

export class BufferedSignalingChannel implements SignalingChannel {
  private handler: ((message: SignalingMessage) => void) | null = null;
  private readonly waiting: SignalingMessage[] = [];
  private closed = false;

  constructor(
    private readonly transmit: (message: SignalingMessage) => void,
    private readonly onClose: () => void = () => {},
  ) {}

  get onmessage(): ((message: SignalingMessage) => void) | null {
    return this.handler;
  }

  set onmessage(handler: ((message: SignalingMessage) => void) | null) {
    this.handler = handler;
    while (handler && this.handler === handler && this.waiting.length > 0) {
      handler(this.waiting.shift()!);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  send(message: SignalingMessage): void {
    if (this.closed) throw new Error("the signaling channel is closed");
    this.transmit(message);
  }

  /** A message from the other side. */
  deliver(message: SignalingMessage): void {
    if (this.closed) return;
    if (this.handler) this.handler(message);
    else this.waiting.push(message);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.waiting.length = 0;
    this.onClose();
  }
}
