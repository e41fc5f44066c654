// Split virtqueues through the virtio-pci transport, driven by the fake guest
// driver: an echo device returns what it reads, through chains of several
// readable and writable buffers, direct and indirect; interrupt and
// notification suppression; both notification paths; a driver that lies in
// its rings; the dirty bitmap; and save/restore in the middle of a stream.
import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/core/core-host.ts";
import { Core } from "../../src/core/core.ts";
import { DescriptorChain } from "../../src/devices/virtio/descriptor-chain.ts";
import type {
  QueueDefinition,
  VirtioDeviceHost,
  VirtioDeviceModel,
} from "../../src/devices/virtio/device-model.ts";
import { expectInt, expectIntArray, expectObject } from "../../src/platform/state-check.ts";
import {
  BOARD_RAM_BYTES,
  createVirtioBoard,
  DESC_INDIRECT,
  DESC_NEXT,
  DESC_WRITE,
  F_EVENT_IDX,
  F_INDIRECT_DESC,
  F_VERSION_1,
  FakeVirtioDriver,
  STATUS,
  type DriverMode,
  type DriverQueue,
  type VirtioBoard,
} from "../helpers/virtio-driver.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const ECHO = 0;
const SOURCE = 1; // device-to-driver only
const SINK = 2; // driver-to-device only
/** The echo device upper-cases ASCII instead of reversing when this is negotiated. */
const F_UPPER = 1n << 0n;

/**
 * The echo device: queue 0 returns each request reversed (or upper-cased)
 * into the chain's writable part; queue 1 holds the driver's empty buffers
 * until the host emits data into them; queue 2 swallows what it reads.
 */
class EchoDevice implements VirtioDeviceModel {
  readonly deviceType = 63;
  readonly transitionalDeviceId = 0x103f;
  readonly classCode = 0xff0000;
  readonly name = "echo";
  readonly features = F_UPPER;
  readonly queues: QueueDefinition[] = [
    { maxSize: 16, buffers: "both" },
    { maxSize: 8, buffers: "writable" },
    { maxSize: 8, buffers: "readable" },
  ];
  readonly configSize = 4;
  host!: VirtioDeviceHost;
  /** Chains taken per notification of the echo queue. */
  budget = Infinity;
  /** Throws from the next notification, like a buggy device. */
  broken = false;
  notifications: number[] = [];
  received: number[][] = [];
  processed = 0;
  resets = 0;
  private held: DescriptorChain[] = [];
  // Heads held across a restore, walked again when needed.
  private heldHeads: number[] = [];

  attach(host: VirtioDeviceHost): void {
    this.host = host;
  }

  readConfig(offset: number, size: AccessSize): number {
    return (this.processed >>> (8 * offset)) & (size === 4 ? 0xffffffff : (1 << (8 * size)) - 1);
  }

  writeConfig(): void {}

  queueNotified(index: number): void {
    this.notifications.push(index);
    if (this.broken) throw new Error("echo device bug");
    if (index === ECHO) this.echo(this.budget);
    if (index === SOURCE) this.collect();
    if (index === SINK) this.swallow();
  }

  /** Answers up to `count` requests; returns how many. */
  echo(count: number): number {
    const queue = this.host.queue(ECHO);
    let done = 0;
    while (done < count) {
      const chain = queue.pop();
      if (!chain) break;
      const request = chain.read();
      const reply = this.host.hasFeature(0)
        ? request.map((byte) => (byte >= 0x61 && byte <= 0x7a ? byte - 0x20 : byte))
        : request.reverse();
      const length = Math.min(reply.length, chain.writableLength);
      chain.write(reply.subarray(0, length));
      queue.push(chain, length);
      done++;
      this.processed++;
    }
    if (done > 0) queue.interruptIfNeeded();
    return done;
  }

  /** Sends host data to the driver in the oldest held buffer. */
  emit(data: Uint8Array): boolean {
    const queue = this.host.queue(SOURCE);
    const chain = this.held.shift() ?? this.reopenHeld();
    if (!chain) return false;
    const length = Math.min(data.length, chain.writableLength);
    chain.write(data.subarray(0, length));
    queue.push(chain, length);
    queue.interruptIfNeeded();
    return true;
  }

  get heldCount(): number {
    return this.held.length + this.heldHeads.length;
  }

  reset(): void {
    this.resets++;
    this.held = [];
    this.heldHeads = [];
  }

  saveState(): unknown {
    return {
      version: 1,
      processed: this.processed,
      held: [...this.heldHeads, ...this.held.map((chain) => chain.head)],
    };
  }

  prepareRestore(value: unknown, what: string): () => void {
    const fields = expectObject(value, what);
    const processed = expectInt(fields, "processed", 0, 0xffffffff, what);
    const held = [...expectIntArray(fields, "held", 0, 7, 0, 8, what)];
    return () => {
      this.processed = processed;
      this.held = [];
      this.heldHeads = held;
    };
  }

  private reopenHeld(): DescriptorChain | undefined {
    const head = this.heldHeads.shift();
    return head === undefined ? undefined : this.host.queue(SOURCE).reopen(head);
  }

  private collect(): void {
    const queue = this.host.queue(SOURCE);
    for (let chain = queue.pop(); chain; chain = queue.pop()) this.held.push(chain);
  }

  private swallow(): void {
    const queue = this.host.queue(SINK);
    let any = false;
    for (let chain = queue.pop(); chain; chain = queue.pop()) {
      this.received.push([...chain.read()]);
      queue.push(chain, 0);
      any = true;
    }
    if (any) queue.interruptIfNeeded();
  }
}

const text = (value: string) => new TextEncoder().encode(value);
const string = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

interface Env {
  model: EchoDevice;
  board: VirtioBoard;
  driver: FakeVirtioDriver;
  queues: DriverQueue[];
}

function start(
  mode: DriverMode = "modern",
  features: bigint = F_VERSION_1 | F_INDIRECT_DESC,
  board?: (model: EchoDevice) => VirtioBoard,
): Env {
  const model = new EchoDevice();
  const made = board ? board(model) : createVirtioBoard(model);
  const driver = new FakeVirtioDriver(made, mode);
  const wanted = mode === "legacy" ? features & 0xffffffffn : features;
  const queues = driver.init(wanted, 3);
  return { model, board: made, driver, queues };
}

function needsReset(env: Env): boolean {
  return (env.driver.status() & STATUS.NEEDS_RESET) !== 0;
}

describe("virtqueue data path", () => {
  for (const mode of ["modern", "legacy"] as const) {
    it(`${mode}: echoes a chain of several readable and writable buffers, then interrupts`, () => {
      const { board, driver, queues, model } = start(mode);
      const echo = queues[ECHO]!;
      echo.post({ out: [text("hel"), text("lo, "), text("world")], in: [4, 2, 16] });
      expect(echo.kick()).toBe(true);
      expect(model.notifications).toEqual([ECHO]);
      expect(board.irqLevel()).toBe(true);
      const [used] = echo.takeUsed();
      expect(used!.len).toBe(12);
      expect(string(used!.written)).toBe("dlrow ,olleh");
      expect(driver.readIsr()).toBe(1);
      expect(board.irqLevel()).toBe(false);
      expect(echo.usedIdx()).toBe(1);
    });
  }

  it("reports only the bytes written when the reply is shorter than the writable space", () => {
    const { queues } = start();
    const echo = queues[ECHO]!;
    echo.post({ out: [text("abc")], in: [64] });
    echo.post({ out: [text("abcdefgh")], in: [3] });
    echo.kick();
    const used = echo.takeUsed();
    expect(used.map((u) => [u.len, string(u.written)])).toEqual([
      [3, "cba"],
      [3, "hgf"],
    ]);
  });

  it("follows indirect descriptor tables", () => {
    const { queues, board } = start();
    const echo = queues[ECHO]!;
    echo.post({ out: [text("in"), text("direct")], in: [3, 5], indirect: true });
    echo.post({ out: [text("plain")], in: [8] });
    echo.kick();
    const used = echo.takeUsed();
    expect(used.map((u) => string(u.written))).toEqual(["tceridni", "nialp"]);
    expect(board.log).toEqual([]);
  });

  it("applies negotiated device features: F_UPPER upper-cases", () => {
    const { queues } = start("modern", F_VERSION_1 | F_UPPER);
    const echo = queues[ECHO]!;
    echo.post({ out: [text("Shout!")], in: [6] });
    echo.kick();
    expect(string(echo.takeUsed()[0]!.written)).toBe("SHOUT!");
  });

  it("device-writable-only and device-readable-only queues carry data both ways", () => {
    const { queues, model } = start();
    queues[SOURCE]!.post({ in: [8] });
    queues[SOURCE]!.post({ in: [8] });
    queues[SOURCE]!.kick();
    expect(model.heldCount).toBe(2);
    expect(queues[SOURCE]!.takeUsed()).toEqual([]);
    expect(model.emit(text("tick"))).toBe(true);
    const [first] = queues[SOURCE]!.takeUsed();
    expect(string(first!.written)).toBe("tick");
    queues[SINK]!.post({ out: [text("to"), text(" device")] });
    queues[SINK]!.kick();
    expect(model.received.map((bytes) => string(Uint8Array.from(bytes)))).toEqual(["to device"]);
    expect(queues[SINK]!.takeUsed().map((u) => u.len)).toEqual([0]);
  });

  it("carries on across the 16-bit index wrap", () => {
    const env = start("modern", F_VERSION_1 | F_EVENT_IDX);
    const near = 0xfffd;
    // Put the device and the driver just short of the wrap, in step.
    const saved = env.board.bus.save();
    const device = saved.functions.find((f) => f.slot === 2)!.device as {
      queues: Array<Record<string, unknown>>;
    };
    Object.assign(device.queues[ECHO]!, {
      lastAvailIdx: near,
      usedIdx: near,
      signalledUsed: near,
    });
    restoreComponent(env.board.bus, saved);
    const echo = env.queues[ECHO]!;
    echo.jumpTo(near);
    const replies: string[] = [];
    for (let round = 0; round < 6; round++) {
      echo.post({ out: [text(`ab${round}`)], in: [4] });
      expect(echo.kick()).toBe(true);
      replies.push(...echo.takeUsed().map((u) => string(u.written)));
      expect(env.driver.readIsr()).toBe(1);
    }
    expect(replies).toEqual(["0ba", "1ba", "2ba", "3ba", "4ba", "5ba"]);
    expect(echo.usedIdx()).toBe((near + 6) & 0xffff);
    expect(env.board.transport.queue(ECHO).lastAvailIdx).toBe(3);
  });
});

describe("descriptor chain helpers", () => {
  it("gathers and scatters at any offset across the chain's buffers", () => {
    const board = createVirtioBoard(new EchoDevice());
    const memory = board.memory;
    memory.write(0x20000, text("abc"));
    memory.write(0x20100, text("defg"));
    memory.write(0x20200, text("hi"));
    const chain = new DescriptorChain(memory, {
      queueIndex: 0,
      head: 0,
      readable: [
        { address: 0x20000, length: 3 },
        { address: 0x20100, length: 4 },
        { address: 0x20200, length: 2 },
      ],
      writable: [
        { address: 0x30000, length: 2 },
        { address: 0x30100, length: 3 },
        { address: 0x30200, length: 4 },
      ],
      epoch: 0,
    });
    expect([chain.readableLength, chain.writableLength]).toEqual([9, 9]);
    expect(string(chain.read())).toBe("abcdefghi");
    expect(string(chain.read(2, 6))).toBe("cdefgh");
    expect(string(chain.read(4, 1))).toBe("e");
    chain.write(text("WXYZUV"), 1);
    expect(string(memory.read(0x30000, 2))).toBe("\0W");
    expect(string(memory.read(0x30100, 3))).toBe("XYZ");
    expect(string(memory.read(0x30200, 4))).toBe("UV\0\0");
    expect(() => chain.read(8, 2)).toThrow(RangeError);
    expect(() => chain.write(text("xy"), 8)).toThrow(RangeError);
    expect(() => chain.read(-1, 1)).toThrow(RangeError);
  });
});

describe("interrupt and notification suppression", () => {
  it("EVENT_IDX: interrupts only when the used index passes used_event", () => {
    const { queues, driver, board, model } = start("modern", F_VERSION_1 | F_EVENT_IDX);
    const echo = queues[ECHO]!;
    echo.rearm = false;
    echo.setUsedEvent(3); // interrupt when entry 3 (the fourth) is used
    const interrupts: boolean[] = [];
    for (let i = 0; i < 6; i++) {
      echo.post({ out: [text("x")], in: [1] });
      echo.kick();
      interrupts.push(board.irqLevel());
      driver.readIsr();
    }
    expect(model.processed).toBe(6);
    expect(interrupts).toEqual([false, false, false, true, false, false]);
    expect(echo.takeUsed()).toHaveLength(6);
  });

  it("EVENT_IDX: publishes avail_event, so a driver ahead of a slow device does not notify", () => {
    const { queues, model } = start("modern", F_VERSION_1 | F_EVENT_IDX);
    const echo = queues[ECHO]!;
    model.budget = 1;
    for (let i = 0; i < 3; i++) echo.post({ out: [text(`${i}`)], in: [1] });
    expect(echo.kick()).toBe(true);
    expect(model.processed).toBe(1);
    expect(echo.availEvent()).toBe(1);
    echo.post({ out: [text("3")], in: [1] });
    expect(echo.kick()).toBe(false); // avail_event 1 is behind: the device will come back
    expect(model.notifications).toEqual([ECHO]);
    expect(model.echo(Infinity)).toBe(3);
    expect(echo.availEvent()).toBe(4);
    echo.post({ out: [text("4")], in: [1] });
    expect(echo.kick()).toBe(true);
    expect(model.processed).toBe(5);
  });

  it("without EVENT_IDX: VIRTQ_AVAIL_F_NO_INTERRUPT silences interrupts while set", () => {
    const { queues, board } = start("modern", F_VERSION_1);
    const echo = queues[ECHO]!;
    echo.setNoInterrupt(true);
    echo.post({ out: [text("quiet")], in: [5] });
    echo.kick();
    expect(board.irqLevel()).toBe(false);
    expect(echo.takeUsed()).toHaveLength(1);
    echo.setNoInterrupt(false);
    echo.post({ out: [text("loud")], in: [4] });
    echo.kick();
    expect(board.irqLevel()).toBe(true);
  });

  it("with EVENT_IDX the NO_INTERRUPT flag is ignored", () => {
    const { queues, board } = start("modern", F_VERSION_1 | F_EVENT_IDX);
    const echo = queues[ECHO]!;
    echo.setNoInterrupt(true);
    echo.post({ out: [text("x")], in: [1] });
    echo.kick();
    expect(board.irqLevel()).toBe(true);
  });

  it("does not interrupt when nothing was returned since the last decision", () => {
    const { queues, board, driver, model } = start();
    queues[ECHO]!.post({ out: [text("a")], in: [1] });
    queues[ECHO]!.kick();
    driver.readIsr();
    const transport = board.transport;
    expect(transport.queue(ECHO).interruptIfNeeded()).toBe(false);
    expect(board.irqLevel()).toBe(false);
    expect(model.processed).toBe(1);
  });
});

describe("notifications", () => {
  it("the modern notify region names the queue by its offset", () => {
    const { driver, model, queues } = start();
    queues[SINK]!.post({ out: [text("a")] });
    queues[ECHO]!.post({ out: [text("b")], in: [1] });
    driver.notify(SINK);
    driver.notify(ECHO);
    expect(model.notifications).toEqual([SINK, ECHO]);
    const cap = driver.capability(2);
    driver.board.mmio.write(driver.barBase(4) + cap.offset + 1, 2, 0);
    driver.board.mmio.write(driver.barBase(4) + cap.offset + 4 * 3, 2, 3);
    expect(model.notifications).toEqual([SINK, ECHO]);
  });

  it("the legacy queue notify register carries the queue index", () => {
    const { driver, model, queues, board } = start("legacy");
    queues[SINK]!.post({ out: [text("legacy")] });
    driver.legacyWrite(16, 2, SINK);
    expect(model.received).toHaveLength(1);
    driver.legacyWrite(16, 2, 9);
    expect(board.log.some((l) => /notification for queue 9, which does not exist/.test(l))).toBe(
      true,
    );
  });

  it("a notification before DRIVER_OK waits for it, as Linux's balloon primes its stats queue", () => {
    const model = new EchoDevice();
    const board = createVirtioBoard(model);
    const driver = new FakeVirtioDriver(board, "modern");
    const features = driver.negotiate(F_VERSION_1)!;
    const queues = [0, 1, 2].map((index) => driver.setupQueue(index, features));
    queues[ECHO]!.post({ out: [text("early")], in: [5] });
    queues[ECHO]!.kick();
    expect(model.notifications).toEqual([]);
    expect(queues[ECHO]!.usedIdx()).toBe(0);
    driver.driverOk();
    expect(model.notifications).toEqual([ECHO]);
    expect(string(queues[ECHO]!.takeUsed()[0]!.written)).toBe("ylrae");
  });

  it("a notification for a queue that is not enabled is ignored", () => {
    const model = new EchoDevice();
    const board = createVirtioBoard(model);
    const driver = new FakeVirtioDriver(board, "modern");
    driver.negotiate(F_VERSION_1);
    driver.driverOk();
    driver.notify(ECHO);
    expect(model.notifications).toEqual([]);
    expect(board.log.some((l) => /queue 0, which is not enabled/.test(l))).toBe(true);
  });
});

describe("a driver that lies in its rings", () => {
  function broken(
    name: string,
    lie: (env: Env) => void,
    message: RegExp,
    options: { features?: bigint; queue?: number } = {},
  ) {
    it(`${name}: DEVICE_NEEDS_RESET, a config interrupt, nothing returned, nothing outside RAM`, () => {
      const env = start("modern", options.features ?? F_VERSION_1 | F_INDIRECT_DESC);
      const queue = env.queues[options.queue ?? ECHO]!;
      expect(() => {
        lie(env);
        queue.notify();
      }).not.toThrow();
      expect(needsReset(env)).toBe(true);
      expect(env.board.irqLevel()).toBe(true);
      expect(env.driver.readIsr()).toBe(2);
      expect(queue.usedIdx()).toBe(0);
      expect(env.model.processed + env.model.received.length + env.model.heldCount).toBe(0);
      expect(env.board.log.some((line) => message.test(line))).toBe(true);
      expect(env.board.guardsIntact()).toBe(true);
      // Dead until reset: more notifications do nothing, and nothing throws.
      env.queues[ECHO]!.post({ out: [text("after")], in: [5] });
      env.queues[ECHO]!.notify();
      expect(env.model.processed).toBe(0);
      expect(env.board.irqLevel()).toBe(false);
    });
  }

  const head = (env: Env, descriptors: Parameters<DriverQueue["writeDescriptor"]>[1][]) => {
    const queue = env.queues[ECHO]!;
    descriptors.forEach((descriptor, index) => queue.writeDescriptor(index, descriptor));
    queue.publish(0);
  };
  const buffer = (env: Env) => env.driver.allocate(64);

  broken(
    "a chain that loops",
    (env) =>
      head(env, [
        { addr: buffer(env), len: 4, flags: DESC_NEXT, next: 1 },
        { addr: buffer(env), len: 4, flags: DESC_NEXT, next: 0 },
      ]),
    /chain 0: the chain is longer than the 16-entry descriptor table/,
  );
  broken(
    "a descriptor pointing past the end of RAM",
    (env) => head(env, [{ addr: BOARD_RAM_BYTES - 8, len: 16, flags: DESC_WRITE, next: 0 }]),
    /descriptor 0 points outside RAM: \[0xffff8, \+0x10\)/,
  );
  broken(
    "a descriptor above 4 GiB",
    (env) => head(env, [{ addr: 0x1000, addrHigh: 1, len: 16, flags: 0, next: 0 }]),
    /descriptor 0 points outside RAM/,
  );
  broken(
    "a next index beyond the table",
    (env) => head(env, [{ addr: buffer(env), len: 4, flags: DESC_NEXT, next: 16 }]),
    /descriptor 16 is outside the 16-entry descriptor table/,
  );
  broken(
    "a head index beyond the table",
    (env) => env.queues[ECHO]!.publish(40),
    /chain 40: the head index is not below the queue size 16/,
  );
  broken(
    "an indirect table outside RAM",
    (env) => head(env, [{ addr: BOARD_RAM_BYTES - 16, len: 32, flags: DESC_INDIRECT, next: 0 }]),
    /the indirect table \[0xffff0, \+0x20\) is outside RAM/,
  );
  broken(
    "an indirect descriptor inside an indirect table",
    (env) => {
      const table = env.driver.allocate(32);
      const queue = env.queues[ECHO]!;
      queue.writeDescriptorAt(table, { addr: table + 16, len: 16, flags: DESC_INDIRECT, next: 0 });
      head(env, [{ addr: table, len: 16, flags: DESC_INDIRECT, next: 0 }]);
    },
    /an indirect descriptor inside an indirect table/,
  );
  broken(
    "an indirect table longer than the queue",
    (env) =>
      head(env, [
        { addr: env.driver.allocate(16 * 17), len: 16 * 17, flags: DESC_INDIRECT, next: 0 },
      ]),
    /an indirect table of 17 descriptors is longer than the queue \(16\)/,
  );
  broken(
    "an indirect table that is not whole descriptors",
    (env) => head(env, [{ addr: buffer(env), len: 24, flags: DESC_INDIRECT, next: 0 }]),
    /an indirect table of 24 bytes is not a whole number of descriptors/,
  );
  broken(
    "an indirect descriptor that also has NEXT",
    (env) => head(env, [{ addr: buffer(env), len: 16, flags: DESC_INDIRECT | DESC_NEXT, next: 1 }]),
    /an indirect descriptor that also has NEXT/,
  );
  broken(
    "an indirect table that loops",
    (env) => {
      const table = env.driver.allocate(32);
      const queue = env.queues[ECHO]!;
      queue.writeDescriptorAt(table, { addr: buffer(env), len: 4, flags: DESC_NEXT, next: 1 });
      queue.writeDescriptorAt(table + 16, { addr: buffer(env), len: 4, flags: DESC_NEXT, next: 0 });
      head(env, [{ addr: table, len: 32, flags: DESC_INDIRECT, next: 0 }]);
    },
    /the chain is longer than the 2-entry indirect table/,
  );
  broken(
    "an indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC",
    (env) => {
      const table = env.driver.allocate(16);
      env.queues[ECHO]!.writeDescriptorAt(table, { addr: buffer(env), len: 4, flags: 0, next: 0 });
      head(env, [{ addr: table, len: 16, flags: DESC_INDIRECT, next: 0 }]);
    },
    /an indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC/,
    { features: F_VERSION_1 },
  );
  broken(
    "an available index more than a queue ahead",
    (env) => {
      env.queues[ECHO]!.post({ out: [text("x")], in: [1] });
      env.queues[ECHO]!.setAvailIdx(17);
    },
    /the available index 17 is 17 entries past 0, more than the queue size 16/,
  );
  broken(
    "a readable buffer after a writable one",
    (env) =>
      head(env, [
        { addr: buffer(env), len: 4, flags: DESC_WRITE | DESC_NEXT, next: 1 },
        { addr: buffer(env), len: 4, flags: 0, next: 0 },
      ]),
    /descriptor 1 is device-readable after a device-writable one/,
  );
  broken(
    "a writable buffer on a queue the device only reads",
    (env) => env.queues[SINK]!.post({ out: [text("a")], in: [4] }),
    /queue 2: chain 0: descriptor 1 is device-writable on a queue the device only reads/,
    { queue: SINK },
  );
  broken(
    "a readable buffer on a queue the device only writes",
    (env) => env.queues[SOURCE]!.post({ out: [text("a")] }),
    /queue 1: chain 0: descriptor 0 is device-readable on a queue the device only writes/,
    { queue: SOURCE },
  );
  broken(
    "a device model that throws",
    (env) => {
      env.model.broken = true;
      env.queues[ECHO]!.post({ out: [text("a")], in: [1] });
    },
    /the device model failed in queue 0 notification: Error: echo device bug/,
  );

  it("recovers after the driver resets and sets the device up again", () => {
    const env = start();
    env.queues[ECHO]!.publish(40);
    env.queues[ECHO]!.notify();
    expect(needsReset(env)).toBe(true);
    const again = new FakeVirtioDriver(env.board, "modern");
    const queues = again.init(F_VERSION_1, 3);
    expect(again.status() & STATUS.NEEDS_RESET).toBe(0);
    queues[ECHO]!.post({ out: [text("fine")], in: [4] });
    queues[ECHO]!.kick();
    expect(string(queues[ECHO]!.takeUsed()[0]!.written)).toBe("enif");
  });

  it("drops a chain taken before a reset instead of writing into the new rings", () => {
    const env = start();
    env.queues[SOURCE]!.post({ in: [8] });
    env.queues[SOURCE]!.kick();
    expect(env.model.heldCount).toBe(1);
    const held = (env.model as unknown as { held: DescriptorChain[] }).held[0]!;
    const queues = env.driver.init(F_VERSION_1, 3);
    expect(env.model.heldCount).toBe(0); // the model's reset dropped it
    env.board.transport.queue(SOURCE).push(held, 4);
    expect(queues[SOURCE]!.usedIdx()).toBe(0);
    expect(
      env.board.log.some((l) => /dropped chain 0: the queue was reset since it was taken/.test(l)),
    ).toBe(true);
    expect(() => env.board.transport.queue(SOURCE).push(held, 4)).toThrow(/already returned/);
  });

  it("refuses, as device-model bugs, a push of more bytes than the chain can hold", () => {
    const env = start();
    env.queues[SOURCE]!.post({ in: [8] });
    env.queues[SOURCE]!.kick();
    const held = (env.model as unknown as { held: DescriptorChain[] }).held[0]!;
    expect(() => env.board.transport.queue(SOURCE).push(held, 9)).toThrow(RangeError);
    expect(() => env.board.transport.queue(ECHO).push(held, 0)).toThrow(/is from queue 1/);
    expect(() => held.write(new Uint8Array(9))).toThrow(RangeError);
    expect(() => held.read(0, 1)).toThrow(RangeError);
  });
});

describe("dirty pages", () => {
  it("the device marks exactly the pages it wrote: the used ring and the writable buffers", async () => {
    const core = await Core.create({ ramBytes: BOARD_RAM_BYTES });
    core.setDirtyTracking(true);
    const env = start("modern", F_VERSION_1 | F_EVENT_IDX, (model) =>
      createVirtioBoard(model, { memory: core.memory }),
    );
    const echo = env.queues[ECHO]!;
    const sink = env.queues[SINK]!;
    const page = (address: number) => Math.floor(address / 4096);
    // Buffers on pages of their own, so the page sets are unambiguous.
    echo.post({ out: [text("page")], in: [4], align: 4096 });
    sink.post({ out: [text("read only")], align: 4096 });
    const descriptor = (queue: DriverQueue, index: number) =>
      env.driver.memory.read32(queue.rings.desc + 16 * index);
    const request = descriptor(echo, 0);
    const reply = descriptor(echo, 1);
    const sunk = descriptor(sink, 0);
    expect(new Set([page(request), page(reply), page(sunk)]).size).toBe(3);
    core.harvestDirty();
    echo.notify();
    sink.notify();
    const dirty = core.harvestDirty();
    // Where the device wrote: both used rings (avail_event included), and the reply buffer.
    expect(new Set(dirty)).toEqual(
      new Set([page(echo.rings.used), page(sink.rings.used), page(reply)]),
    );
    expect(dirty).not.toContain(page(request));
    expect(dirty).not.toContain(page(sunk));
    expect(string(echo.takeUsed()[0]!.written)).toBe("egap");
  });
});

describe("save and restore in the middle of a stream", () => {
  function snapshot(board: VirtioBoard) {
    return {
      state: JSON.parse(JSON.stringify(board.bus.save())),
      ram: board.memory.read(0, BOARD_RAM_BYTES),
    };
  }

  function continueStream(env: Env): string[] {
    const out: string[] = [];
    const echo = env.queues[ECHO]!;
    env.model.budget = Infinity;
    echo.post({ out: [text("after")], in: [8] });
    expect(echo.kick()).toBe(true);
    out.push(...echo.takeUsed().map((u) => `${u.id}:${u.len}:${string(u.written)}`));
    out.push(`isr ${env.driver.readIsr()}`);
    expect(env.model.emit(text("late"))).toBe(true);
    out.push(...env.queues[SOURCE]!.takeUsed().map((u) => `${u.id}:${string(u.written)}`));
    out.push(`isr ${env.driver.readIsr()}`);
    out.push(`processed ${env.model.processed}`);
    return out;
  }

  for (const mode of ["modern", "legacy"] as const) {
    it(`${mode}: the rest of the stream is identical on the restored copy`, () => {
      const original = start(mode, F_VERSION_1 | F_EVENT_IDX | F_INDIRECT_DESC);
      const echo = original.queues[ECHO]!;
      original.model.budget = 2;
      for (let i = 0; i < 6; i++) {
        echo.post({ out: [text(`msg${i}`), text("!")], in: [2, 8], indirect: i % 2 === 1 });
      }
      echo.kick();
      expect(original.model.processed).toBe(2);
      original.queues[SOURCE]!.post({ in: [8] });
      original.queues[SOURCE]!.post({ in: [8] });
      original.queues[SOURCE]!.kick();
      expect(original.model.emit(text("first"))).toBe(true);
      expect(original.board.irqLevel()).toBe(true); // saved with an interrupt pending

      const { state, ram } = snapshot(original.board);
      const copyModel = new EchoDevice();
      const copyBoard = createVirtioBoard(copyModel);
      copyBoard.memory.write(0, ram);
      restoreComponent(copyBoard.bus, state);
      const copyDriver = original.driver.movedTo(copyBoard);
      const copy: Env = {
        model: copyModel,
        board: copyBoard,
        driver: copyDriver,
        queues: original.queues.map((queue) => queue.movedTo(copyDriver)),
      };
      expect(copyBoard.irqLevel()).toBe(true);
      expect(copyModel.processed).toBe(2);
      expect(copyModel.heldCount).toBe(1);

      // The device finishes the four requests it had not taken, on both.
      const finish = (env: Env) => {
        expect(env.model.echo(Infinity)).toBe(4);
        return env.queues[ECHO]!.takeUsed().map((u) => `${u.id}:${u.len}:${string(u.written)}`);
      };
      const left = finish(original);
      expect(finish(copy)).toEqual(left);
      expect(left).toHaveLength(6);
      expect(left.slice(2).map((entry) => entry.split(":").slice(1).join(":"))).toEqual([
        "5:!2gsm",
        "5:!3gsm",
        "5:!4gsm",
        "5:!5gsm",
      ]);
      expect(continueStream(copy)).toEqual(continueStream(original));
      expect(copyBoard.memory.read(0, BOARD_RAM_BYTES)).toEqual(
        original.board.memory.read(0, BOARD_RAM_BYTES),
      );
      expect(copyBoard.bus.save()).toEqual(original.board.bus.save());
    });
  }
});
