// The migration wires: the queueing every transport shares (through the
// in-memory pair), the WebSocket transport over real loopback sockets, and
// the data channel transport's byte handling against a stand-in channel
// (the real one is exercised in tests/e2e/peer-link.spec.ts).
import { afterEach, describe, expect, it } from "vitest";
import {
  MAX_MESSAGE_BYTES,
  TransportClosedError,
  TransportTimeoutError,
  type MessageTransport,
} from "../../src/migration/transport.ts";
import { memoryTransportPair } from "../../src/migration/transports/memory.ts";
import { DataChannelTransport } from "../../src/migration/transports/data-channel.ts";
import { PacedTransport } from "../../src/migration/transports/paced.ts";
import {
  connectMigration,
  listenForMigration,
  type MigrationListener,
} from "../../src/migration/transports/websocket-node.ts";
import { prng } from "../helpers/prng.ts";
import { until } from "../helpers/wait.ts";

const KiB = 1024;
const MiB = 1024 * KiB;

/** A message whose bytes depend on its index, so a swap or a corruption shows. */
function patterned(index: number, size: number): Uint8Array {
  const next = prng(index + 1);
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = next() & 0xff;
  return bytes;
}

/** Byte equality that stays fast on 256 KiB (toEqual walks element by element). */
function expectSameBytes(actual: Uint8Array, expected: Uint8Array) {
  expect(actual.length).toBe(expected.length);
  expect(Buffer.from(actual.buffer, actual.byteOffset, actual.length).equals(expected)).toBe(true);
}

function expectClosedWith(promise: Promise<unknown>, reason: RegExp) {
  return expect(promise).rejects.toSatisfy(
    (error) => error instanceof TransportClosedError && reason.test(error.reason),
  );
}

describe("QueuedTransport, through the memory pair", () => {
  it("delivers in order, and poll() never waits", async () => {
    const [a, b] = memoryTransportPair();
    expect(b.poll()).toBeNull();
    for (let i = 0; i < 5; i++) a.send(patterned(i, 10 + i));
    await until(() => b.bufferedBytes === 0 && a.bufferedBytes === 0, 1000, "delivery");
    expect(b.poll()).toEqual(patterned(0, 10));
    expect(await b.receive(1000)).toEqual(patterned(1, 11));
    expect(b.poll()).toEqual(patterned(2, 12));
    expect(await b.receive(1000)).toEqual(patterned(3, 13));
    expect(await b.receive(1000)).toEqual(patterned(4, 14));
    expect(b.poll()).toBeNull();
  });

  it("keeps messages that arrived before the close readable, then rejects", async () => {
    const [a, b] = memoryTransportPair();
    a.send(patterned(1, 100));
    a.send(patterned(2, 200));
    a.close("done sending");
    await until(() => b.closedReason !== null, 1000, "the close to arrive");
    expect(b.poll()).toEqual(patterned(1, 100));
    expect(await b.receive(1000)).toEqual(patterned(2, 200));
    await expectClosedWith(b.receive(1000), /other side closed: done sending/);
    expect(() => a.send(new Uint8Array(1))).toThrow(TransportClosedError);
  });

  it("refuses a second waiting receive() and times one out", async () => {
    const [, b] = memoryTransportPair();
    const first = b.receive(50);
    await expect(b.receive(50)).rejects.toThrow(/already waiting/);
    await expect(first).rejects.toBeInstanceOf(TransportTimeoutError);
  });

  it("drained() waits for a slow link and rejects when it closes", async () => {
    const [a, b] = memoryTransportPair({ bytesPerSecond: 8 * MiB });
    for (let i = 0; i < 8; i++) a.send(new Uint8Array(128 * KiB));
    expect(a.bufferedBytes).toBeGreaterThan(256 * KiB);
    await a.drained();
    expect(a.bufferedBytes).toBeLessThanOrEqual(256 * KiB);
    for (let i = 0; i < 8; i++) a.send(new Uint8Array(128 * KiB));
    const waiting = a.drained();
    a.close("gave up");
    await expectClosedWith(waiting, /gave up/);
    await until(() => b.closedReason !== null, 2000, "the close to arrive");
  });
});

describe("WebSocketTransport over loopback", () => {
  let listener: MigrationListener;
  const opened: MessageTransport[] = [];

  async function connectedPair(): Promise<[MessageTransport, MessageTransport]> {
    listener = await listenForMigration("127.0.0.1", 0);
    const incoming = listener.accept(5000);
    const source = await connectMigration(listener.url);
    const destination = await incoming;
    opened.push(source, destination);
    return [source, destination];
  }

  afterEach(async () => {
    for (const transport of opened.splice(0)) transport.close("test finished");
    await listener?.close();
  });

  it("carries messages of 1 byte to 256 KiB in order and intact, both ways", async () => {
    const [source, destination] = await connectedPair();
    expect(source.kind).toBe("websocket");
    const next = prng(7);
    const sizes = [1, 2, 3, 255, 4096, 65_535, 65_536, 65_537, MAX_MESSAGE_BYTES];
    for (let i = 0; i < 40; i++) sizes.push(1 + (next() % MAX_MESSAGE_BYTES));
    sizes.forEach((size, index) => source.send(patterned(index, size)));
    for (const [index, size] of sizes.entries()) {
      expectSameBytes(await destination.receive(5000), patterned(index, size));
    }
    destination.send(patterned(99, 12345));
    expect(await source.receive(5000)).toEqual(patterned(99, 12345));
  });

  it("hands over a copy: the sender may reuse its buffer at once", async () => {
    const [source, destination] = await connectedPair();
    const buffer = new Uint8Array(64 * KiB).fill(1);
    source.send(buffer);
    buffer.fill(2);
    source.send(buffer.subarray(0, 10));
    expect((await destination.receive(5000)).every((byte) => byte === 1)).toBe(true);
    expect(await destination.receive(5000)).toEqual(new Uint8Array(10).fill(2));
  });

  it("drained() resolves only once the send buffer is short again", async () => {
    const [source, destination] = await connectedPair();
    // Far more than the kernel takes at once, sent without waiting.
    for (let i = 0; i < 64; i++) source.send(new Uint8Array(256 * KiB));
    const before = source.bufferedBytes;
    expect(before).toBeGreaterThan(MiB);
    await source.drained();
    expect(source.bufferedBytes).toBeLessThanOrEqual(MiB);
    expect(source.bufferedBytes).toBeLessThan(before);
    for (let i = 0; i < 64; i++) await destination.receive(5000);
  });

  it("sends 64 MiB with backpressure, never more than a few MiB buffered", async () => {
    const [source, destination] = await connectedPair();
    const total = 64 * MiB;
    const chunk = 256 * KiB;
    let mostBuffered = 0;
    const sending = (async () => {
      for (let sent = 0, index = 0; sent < total; sent += chunk, index++) {
        const message = new Uint8Array(chunk).fill(index & 0xff);
        message[0] = index >> 8;
        source.send(message);
        mostBuffered = Math.max(mostBuffered, source.bufferedBytes);
        await source.drained();
      }
    })();
    let received = 0;
    for (let index = 0; received < total; index++) {
      const message = await destination.receive(10_000);
      expect(message.length).toBe(chunk);
      expect([message[0], message[1], message[chunk - 1]]).toEqual([
        index >> 8,
        index & 0xff,
        index & 0xff,
      ]);
      received += message.length;
    }
    await sending;
    expect(received).toBe(total);
    expect(mostBuffered).toBeLessThanOrEqual(4 * MiB);
  });

  it("a close from the source rejects the destination's receive() with the reason", async () => {
    const [source, destination] = await connectedPair();
    const waiting = destination.receive(5000);
    source.close("the guest was handed over");
    await expectClosedWith(waiting, /^the other side closed: the guest was handed over$/);
    await expectClosedWith(source.receive(10), /the guest was handed over/);
  });

  it("a close from the destination stops the source's sending loop and keeps sent messages", async () => {
    const [source, destination] = await connectedPair();
    destination.send(patterned(5, 1000));
    destination.close("refused: RAM sizes differ");
    // The close reaches the sender after what it had queued: a send() or drained() fails then.
    const sending = (async () => {
      for (;;) {
        source.send(new Uint8Array(256 * KiB));
        await source.drained();
      }
    })();
    await expectClosedWith(sending, /^the other side closed: refused: RAM sizes differ$/);
    expect(await source.receive(1000)).toEqual(patterned(5, 1000));
    await expectClosedWith(source.receive(1000), /RAM sizes differ/);
  });

  it("receive() times out when nothing comes", async () => {
    const [, destination] = await connectedPair();
    await expect(destination.receive(100)).rejects.toBeInstanceOf(TransportTimeoutError);
    expect(destination.closedReason).toBeNull();
  });

  it("send() refuses a message over 256 KiB", async () => {
    const [source] = await connectedPair();
    expect(() => source.send(new Uint8Array(MAX_MESSAGE_BYTES + 1))).toThrow(RangeError);
  });

  it("refuses a second migration while one is connected, and takes the next one after", async () => {
    const [source] = await connectedPair();
    await expect(connectMigration(listener.url)).rejects.toThrow(
      /refused \(409\): this destination is already receiving a migration/,
    );
    source.close("first attempt abandoned");
    const incoming = listener.accept(5000);
    let retry: MessageTransport | null = null;
    // The slot frees once the first socket is gone; retry until it is.
    for (let attempt = 0; retry === null && attempt < 50; attempt++) {
      retry = await connectMigration(listener.url).catch(() => null);
      if (retry === null) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(retry).not.toBeNull();
    opened.push(retry!, await incoming);
  });

  it("connecting where nobody listens fails with a readable reason", async () => {
    listener = await listenForMigration("127.0.0.1", 0);
    const url = listener.url;
    await listener.close();
    await expect(connectMigration(url, 2000)).rejects.toThrow(
      /cannot migrate to ws:\/\/127\.0\.0\.1:\d+\/migrate: .*ECONNREFUSED/,
    );
  });
});

/** Just enough of RTCDataChannel to see what the transport hands to send(). */
class StandInChannel extends EventTarget {
  binaryType = "blob";
  readyState: RTCDataChannelState = "open";
  bufferedAmount = 0;
  bufferedAmountLowThreshold = 0;
  readonly sent: Array<string | ArrayBuffer | ArrayBufferView> = [];

  send(data: string | ArrayBuffer | ArrayBufferView): void {
    if (typeof data !== "string" && data instanceof SharedArrayBuffer) {
      throw new TypeError("shared memory refused");
    }
    if (ArrayBuffer.isView(data) && data.buffer instanceof SharedArrayBuffer) {
      throw new TypeError("shared memory refused");
    }
    this.sent.push(data);
  }

  close(): void {
    this.readyState = "closed";
    this.dispatchEvent(new Event("close"));
  }

  receive(data: string | ArrayBuffer): void {
    this.dispatchEvent(new MessageEvent("message", { data }));
  }
}

function dataChannelOver(channel: StandInChannel) {
  return new DataChannelTransport(channel as unknown as RTCDataChannel, 1000);
}

function sentBytes(data: string | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (typeof data === "string") throw new Error(`a text message: ${data}`);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

describe("DataChannelTransport's handling of bytes and events", () => {
  it("sends exactly a view's bytes, copying shared memory and subarrays", () => {
    const channel = new StandInChannel();
    const transport = dataChannelOver(channel);
    expect(channel.binaryType).toBe("arraybuffer");
    const shared = new Uint8Array(new SharedArrayBuffer(16)).map((_, i) => i);
    transport.send(shared.subarray(4, 8));
    transport.send(new Uint8Array([9, 8, 7, 6, 5]).subarray(1, 3));
    transport.send(shared);
    const [first, second, third] = channel.sent.map(sentBytes);
    expect(first).toEqual(new Uint8Array([4, 5, 6, 7]));
    expect(first.buffer.byteLength).toBe(4);
    expect(second).toEqual(new Uint8Array([8, 7]));
    expect(second.buffer.byteLength).toBe(2);
    expect(third.buffer).toBeInstanceOf(ArrayBuffer);
    expect(third.length).toBe(16);
  });

  it("wakes drained() on bufferedamountlow", async () => {
    const channel = new StandInChannel();
    const transport = dataChannelOver(channel);
    expect(channel.bufferedAmountLowThreshold).toBe(1000);
    channel.bufferedAmount = 5000;
    let drained = false;
    const waiting = transport.drained().then(() => (drained = true));
    await Promise.resolve();
    expect(drained).toBe(false);
    channel.bufferedAmount = 900;
    channel.dispatchEvent(new Event("bufferedamountlow"));
    await waiting;
    expect(drained).toBe(true);
  });

  it("tells the other side why it closed, in a text message after the data", async () => {
    const channel = new StandInChannel();
    const transport = dataChannelOver(channel);
    transport.send(new Uint8Array([1]));
    transport.close("migration complete");
    expect(channel.sent[1]).toBe("migration complete");
    expect(channel.readyState).toBe("closed");

    const other = new StandInChannel();
    const receiving = dataChannelOver(other);
    other.receive(new Uint8Array([1, 2]).buffer);
    other.receive("migration complete");
    expect(await receiving.receive(100)).toEqual(new Uint8Array([1, 2]));
    await expectClosedWith(receiving.receive(100), /^the other side closed: migration complete$/);
  });

  it("turns a lost channel into a closed transport with a readable reason", async () => {
    const channel = new StandInChannel();
    const transport = dataChannelOver(channel);
    const waiting = transport.receive(1000);
    const error = Object.assign(new Event("error"), {
      error: { errorDetail: "sctp-failure", message: "Transport channel closed" },
    });
    channel.dispatchEvent(error);
    channel.readyState = "closed";
    channel.dispatchEvent(new Event("close"));
    await expectClosedWith(
      waiting,
      /^the data channel closed: sctp-failure: Transport channel closed$/,
    );
  });
});

describe("PacedTransport: a link capped for the audience and for tests", () => {
  it("holds the rate it was given, in order, with backpressure", async () => {
    const [a, b] = memoryTransportPair();
    const paced = new PacedTransport(a, 4 * MiB);
    const started = performance.now();
    const received: Promise<Uint8Array[]> = (async () => {
      const all: Uint8Array[] = [];
      for (let i = 0; i < 8; i++) all.push(await b.receive(5000));
      return all;
    })();
    let mostBuffered = 0;
    for (let i = 0; i < 8; i++) {
      paced.send(patterned(i, 128 * KiB));
      mostBuffered = Math.max(mostBuffered, paced.bufferedBytes);
      if (paced.bufferedBytes > 384 * KiB) await paced.drained();
    }
    const messages = await received;
    const elapsed = performance.now() - started;
    messages.forEach((message, i) => expectSameBytes(message, patterned(i, 128 * KiB)));
    // 1 MiB at 4 MiB/s: the first message leaves at once, the other seven wait their turn.
    expect(elapsed).toBeGreaterThanOrEqual((7 / 32) * 1000 - 5);
    expect(mostBuffered).toBeLessThanOrEqual(512 * KiB);
  });

  it("sends what is queued before closing, and refuses rates that are no rate", async () => {
    const [a, b] = memoryTransportPair();
    const paced = new PacedTransport(a, 64 * KiB);
    for (let i = 0; i < 3; i++) paced.send(patterned(i, 64 * KiB));
    paced.close("done here");
    for (let i = 0; i < 3; i++) expectSameBytes(await b.receive(1000), patterned(i, 64 * KiB));
    await expectClosedWith(b.receive(1000), /done here/);
    expect(() => paced.send(new Uint8Array(1))).toThrow(TransportClosedError);
    for (const rate of [0, -1, Number.NaN, Infinity]) {
      expect(() => new PacedTransport(a, rate)).toThrow(/positive number of bytes per second/);
    }
  });

  it("a sender waiting for room learns when the other side goes away", async () => {
    const [a, b] = memoryTransportPair();
    const paced = new PacedTransport(a, 256 * KiB);
    for (let i = 0; i < 4; i++) paced.send(patterned(i, 128 * KiB));
    const waiting = paced.drained();
    b.close("the destination tab closed");
    await expectClosedWith(waiting, /the destination tab closed/);
  });
});
