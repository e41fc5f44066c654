// A migration wire over an RTCDataChannel. The page negotiates the
// connection (RTCPeerConnection exists only there) and may transfer the
// still-connecting channel to the VM's worker, which then owns this
// transport; so nothing here may touch RTCPeerConnection.
//
// Binary messages carry the engine's bytes. A text message is never engine
// data: it carries the reason of a close(), which a data channel cannot
// send by itself, so the other side learns why the wire ended.
import { QueuedTransport, TransportClosedError } from "../transport.ts";

/**
 * Chromium refuses send() once 16 MiB are queued, but far less already hurts:
 * measured here, a burst with 1-2 MiB queued sometimes stalled the channel
 * for 0.6-2 s (a stop-and-copy's pause); with at most a few hundred KiB in
 * flight it never did, at the same 10-17 MB/s.
 */
const DEFAULT_LOW_WATER_BYTES = 128 * 1024;
/** A close reason is for people: a line, not a message-sized blob. */
const MAX_REASON_CHARS = 1000;

export class DataChannelTransport extends QueuedTransport {
  readonly kind = "webrtc";
  private lastError: string | null = null;

  constructor(
    private readonly channel: RTCDataChannel,
    lowWaterBytes = DEFAULT_LOW_WATER_BYTES,
  ) {
    super(lowWaterBytes);
    channel.binaryType = "arraybuffer";
    channel.bufferedAmountLowThreshold = lowWaterBytes;
    channel.addEventListener("message", (event) => this.onMessage(event.data));
    channel.addEventListener("bufferedamountlow", () => this.bufferShrank());
    channel.addEventListener("error", (event) => {
      this.lastError = describeChannelError(event);
    });
    channel.addEventListener("close", () => {
      const cause = this.lastError ?? "the other side went away or the connection was lost";
      this.ended(`the data channel closed: ${cause}`);
    });
    if (channel.readyState === "closing" || channel.readyState === "closed") {
      this.ended(`the data channel was already ${channel.readyState}`);
    }
  }

  get bufferedBytes(): number {
    return this.channel.bufferedAmount;
  }

  protected transmit(message: Uint8Array): void {
    if (this.channel.readyState !== "open") {
      if (this.channel.readyState === "connecting") {
        throw new Error("the data channel is not open yet: wait for waitForDataChannelOpen()");
      }
      const reason = `the data channel is ${this.channel.readyState}`;
      this.ended(reason);
      throw new TransportClosedError(reason);
    }
    this.channel.send(ownBytes(message));
  }

  protected shutdown(reason: string): void {
    if (this.channel.readyState === "open") {
      try {
        this.channel.send(reason.slice(0, MAX_REASON_CHARS));
      } catch {
        // A full queue: the other side learns only that the channel closed.
      }
    }
    // close() still delivers what is queued, the reason last.
    this.channel.close();
  }

  private onMessage(data: unknown): void {
    if (typeof data === "string") {
      this.ended(`the other side closed: ${data}`);
    } else if (data instanceof ArrayBuffer) {
      this.deliver(new Uint8Array(data));
    } else {
      this.ended(`the data channel delivered an unexpected ${typeof data} message`);
    }
  }
}

/**
 * Bytes Chromium's send() accepts: it refuses views on shared memory, and a
 * subarray must not drag the rest of its buffer along.
 */
function ownBytes(message: Uint8Array): Uint8Array<ArrayBuffer> {
  const buffer = message.buffer;
  const whole = message.byteOffset === 0 && message.byteLength === buffer.byteLength;
  if (buffer instanceof ArrayBuffer && whole) return message as Uint8Array<ArrayBuffer>;
  return message.slice();
}

function describeChannelError(event: Event): string {
  // RTCErrorEvent in pages and workers alike; read it without naming the type.
  const error = (event as { error?: { message?: string; errorDetail?: string } }).error;
  // Chromium's words when the peer closed its end (a tab closed, a link dropped).
  if (error?.errorDetail === "sctp-failure" && /User-Initiated Abort/i.test(error.message ?? "")) {
    return "the other side went away";
  }
  const parts = [error?.errorDetail, error?.message].filter((part) => part);
  return parts.length > 0 ? parts.join(": ") : "an unspecified data channel error";
}

/**
 * Resolves once the channel is open; rejects if it closes first or nothing
 * happens for `timeoutMs`. Works on a page and, after the channel was
 * transferred, in a worker.
 */
export function waitForDataChannelOpen(channel: RTCDataChannel, timeoutMs: number): Promise<void> {
  if (channel.readyState === "open") return Promise.resolve();
  if (channel.readyState !== "connecting") {
    return Promise.reject(new Error(`the data channel is already ${channel.readyState}`));
  }
  return new Promise((resolve, reject) => {
    let lastError: string | null = null;
    const onOpen = () => finish(null);
    const onError = (event: Event) => {
      lastError = describeChannelError(event);
    };
    const onClose = () => {
      const cause = lastError ?? "the other side went away or the connection failed";
      finish(new Error(`the data channel closed before it opened: ${cause}`));
    };
    const timer = setTimeout(() => {
      const seconds = (timeoutMs / 1000).toFixed(1);
      finish(new Error(`the data channel did not open within ${seconds} s`));
    }, timeoutMs);
    function finish(error: Error | null) {
      clearTimeout(timer);
      channel.removeEventListener("open", onOpen);
      channel.removeEventListener("error", onError);
      channel.removeEventListener("close", onClose);
      if (error) reject(error);
      else resolve();
    }
    channel.addEventListener("open", onOpen);
    channel.addEventListener("error", onError);
    channel.addEventListener("close", onClose);
  });
}

/**
 * A transport on a channel that may still be connecting: listens from the
 * start (no early message is lost) and resolves once the channel is open.
 * On failure or timeout the channel is closed and the promise rejects.
 */
export async function openDataChannelTransport(
  channel: RTCDataChannel,
  timeoutMs: number,
  lowWaterBytes = DEFAULT_LOW_WATER_BYTES,
): Promise<DataChannelTransport> {
  const transport = new DataChannelTransport(channel, lowWaterBytes);
  try {
    await waitForDataChannelOpen(channel, timeoutMs);
  } catch (error) {
    transport.close((error as Error).message);
    throw error;
  }
  return transport;
}
