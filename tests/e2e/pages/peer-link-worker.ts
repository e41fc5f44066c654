// A stand-in for the VM worker: it receives a still-connecting data channel
// from its page and streams bytes over it through DataChannelTransport, as
// the migration engine will.
import { openDataChannelTransport } from "../../../src/migration/transports/data-channel.ts";
import { TransportClosedError } from "../../../src/migration/transport.ts";
import { MESSAGE_SIZES, fillPattern, firstMismatch } from "./stream-pattern.ts";

export interface StreamJob {
  channel: RTCDataChannel;
  role: "sender" | "receiver";
  totalBytes: number;
}

export interface StreamReport {
  role: "sender" | "receiver";
  bytes: number;
  messages: number;
  /** performance.timeOrigin + now(), comparable between workers of one browser. */
  startedAt: number;
  finishedAt: number;
  mostBuffered: number;
  mismatchAt: number;
  closeReason: string;
}

const now = () => performance.timeOrigin + performance.now();

async function send(job: StreamJob): Promise<StreamReport> {
  const transport = await openDataChannelTransport(job.channel, 30_000);
  // Half the messages come from shared memory, half from the middle of a larger buffer.
  const shared = new Uint8Array(new SharedArrayBuffer(256 * 1024));
  const plain = new Uint8Array(256 * 1024 + 16);
  const startedAt = now();
  let offset = 0;
  let messages = 0;
  let mostBuffered = 0;
  while (offset < job.totalBytes) {
    const size = Math.min(MESSAGE_SIZES[messages % MESSAGE_SIZES.length], job.totalBytes - offset);
    const message = messages % 2 === 0 ? shared.subarray(0, size) : plain.subarray(5, 5 + size);
    fillPattern(message, offset);
    transport.send(message);
    mostBuffered = Math.max(mostBuffered, transport.bufferedBytes);
    offset += size;
    messages++;
    await transport.drained();
  }
  // The receiver says when everything arrived; then this side closes with a reason.
  await transport.receive(60_000);
  const finishedAt = now();
  transport.close("all bytes sent");
  return {
    role: "sender",
    bytes: offset,
    messages,
    startedAt,
    finishedAt,
    mostBuffered,
    mismatchAt: -1,
    closeReason: transport.closedReason ?? "",
  };
}

async function receive(job: StreamJob): Promise<StreamReport> {
  const transport = await openDataChannelTransport(job.channel, 30_000);
  let offset = 0;
  let messages = 0;
  let mismatchAt = -1;
  let startedAt = 0;
  while (offset < job.totalBytes) {
    const message = await transport.receive(30_000);
    if (messages === 0) startedAt = now();
    if (mismatchAt < 0) mismatchAt = firstMismatch(message, offset);
    offset += message.length;
    messages++;
  }
  const finishedAt = now();
  transport.send(new Uint8Array([1]));
  let closeReason = "";
  try {
    await transport.receive(30_000);
    closeReason = "an unexpected extra message";
  } catch (error) {
    closeReason = error instanceof TransportClosedError ? error.reason : String(error);
  }
  return {
    role: "receiver",
    bytes: offset,
    messages,
    startedAt,
    finishedAt,
    mostBuffered: 0,
    mismatchAt,
    closeReason,
  };
}

self.onmessage = async (event: MessageEvent<StreamJob>) => {
  try {
    const report = await (event.data.role === "sender" ? send(event.data) : receive(event.data));
    self.postMessage({ report });
  } catch (error) {
    self.postMessage({ error: String(error) });
  }
};
