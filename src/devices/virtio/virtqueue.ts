// A split virtqueue (virtio 1.1, 2.6) seen from the device: takes chains off
// the available ring, returns them on the used ring and decides, with
// VIRTIO_RING_F_EVENT_IDX or the ring flags, whether the driver wants an
// interrupt. The driver's memory is untrusted: a chain that breaks the rules
// makes the queue fail through its host (which sets DEVICE_NEEDS_RESET), and
// nothing outside RAM is read or written.
import type { GuestMemory } from "../../core/guest-memory.ts";
import { DescriptorChain, type GuestRange } from "./descriptor-chain.ts";
import { hasFeature, VIRTIO_RING_F_EVENT_IDX, VIRTIO_RING_F_INDIRECT_DESC } from "./features.ts";
import {
  AVAIL_FLAGS,
  AVAIL_F_NO_INTERRUPT,
  AVAIL_IDX,
  AVAIL_RING,
  availEventOffset,
  DESC_F_INDIRECT,
  DESC_F_NEXT,
  DESC_F_WRITE,
  DESCRIPTOR_SIZE,
  isPowerOfTwo,
  legacyRingAddresses,
  rangeInRam,
  ringLayoutProblem,
  USED_ELEMENT_SIZE,
  USED_IDX,
  USED_RING,
  usedEventOffset,
  type RingAddresses,
} from "./ring-layout.ts";
import type { VirtqueueState } from "./state.ts";

/** Which descriptors a queue takes: device-readable only, device-writable only, or both. */
export type QueueBuffers = "readable" | "writable" | "both";

/** What a queue needs from its transport. */
export interface VirtqueueHost {
  readonly memory: GuestMemory;
  /** The features the driver accepted. */
  acceptedFeatures(): bigint;
  /** Whether the device may touch its queues: DRIVER_OK set, DEVICE_NEEDS_RESET clear. */
  isLive(): boolean;
  /** The driver broke the queue protocol. */
  queueFailed(queue: Virtqueue, reason: string): void;
  /** Raises the used-buffer interrupt. */
  queueInterrupt(queue: Virtqueue): void;
  log(message: string): void;
}

export type RingArea = keyof RingAddresses;
export const RING_AREAS: readonly RingArea[] = ["desc", "driver", "device"];

class QueueProtocolError extends Error {}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

/** vring_need_event: whether moving the used index from `old` to `now` crossed `event`. */
export function crossedEvent(event: number, now: number, old: number): boolean {
  return ((now - event - 1) & 0xffff) < ((now - old) & 0xffff);
}

export class Virtqueue {
  readonly index: number;
  readonly maxSize: number;
  readonly buffers: QueueBuffers;
  private readonly host: VirtqueueHost;

  private queueSize: number;
  private active = false;
  // Each area's guest-physical address as [low, high] 32-bit halves, as the driver wrote them.
  private readonly words: Record<RingArea, [number, number]> = {
    desc: [0, 0],
    driver: [0, 0],
    device: [0, 0],
  };
  private lastAvail = 0;
  private usedIndex = 0;
  // The used index when the device last decided about an interrupt.
  private signalledUsed = 0;
  private pendingNotify = false;
  // Bumped whenever the queue is enabled, reset or restored: older chains are stale.
  private epoch = 0;

  constructor(host: VirtqueueHost, index: number, maxSize: number, buffers: QueueBuffers) {
    this.host = host;
    this.index = index;
    this.maxSize = maxSize;
    this.buffers = buffers;
    this.queueSize = maxSize;
  }

  /** The size the driver chose (the maximum until it writes another). */
  get size(): number {
    return this.queueSize;
  }

  get enabled(): boolean {
    return this.active;
  }

  /** Whether the device may use the queue now. */
  get ready(): boolean {
    return this.active && this.host.isLive();
  }

  /** Next available-ring index the device will take. */
  get lastAvailIdx(): number {
    return this.lastAvail;
  }

  /** The used index the device has published. */
  get usedIdx(): number {
    return this.usedIndex;
  }

  // ---- for device models ----

  /** Takes the next available chain, or undefined when there is none (or the queue failed). */
  pop(): DescriptorChain | undefined {
    if (!this.ready) return undefined;
    return this.guard(() => {
      if (this.pendingEntries() === 0) return undefined;
      const memory = this.host.memory;
      const slot = this.lastAvail & (this.queueSize - 1);
      // The index was read first; only now the entry it covers.
      const head = memory.read16(this.address("driver") + AVAIL_RING + 2 * slot);
      const chain = this.walk(head);
      this.lastAvail = (this.lastAvail + 1) & 0xffff;
      if (this.eventIdx) {
        // Ask for a notification as soon as the driver adds past what we took.
        memory.write16(this.address("device") + availEventOffset(this.queueSize), this.lastAvail);
      }
      return chain;
    });
  }

  /** Whether pop() would return a chain. */
  hasAvailable(): boolean {
    if (!this.ready) return false;
    return this.guard(() => this.pendingEntries() > 0) ?? false;
  }

  /**
   * Walks the chain at `head` again, for a device that kept a popped chain
   * across save/restore by its head index (the descriptors stay the device's
   * until it returns them). Only for heads popped and not yet pushed; the
   * queue cannot tell. Undefined when the queue is not usable or the chain is bad.
   */
  reopen(head: number): DescriptorChain | undefined {
    if (!this.ready) return undefined;
    return this.guard(() => this.walk(head));
  }

  /** Returns a chain to the driver with the number of bytes the device wrote into it. */
  push(chain: DescriptorChain, bytesWritten: number): void {
    if (chain.queueIndex !== this.index) {
      throw new Error(
        `virtqueue ${this.index}: chain ${chain.head} is from queue ${chain.queueIndex}`,
      );
    }
    if (
      !Number.isInteger(bytesWritten) ||
      bytesWritten < 0 ||
      bytesWritten > chain.writableLength
    ) {
      throw new RangeError(
        `virtqueue ${this.index}: chain ${chain.head} has ${chain.writableLength} writable bytes, ` +
          `cannot report ${bytesWritten} written`,
      );
    }
    chain.markReturned();
    if (chain.epoch !== this.epoch || !this.ready) {
      this.host.log(
        `queue ${this.index}: dropped chain ${chain.head}: the queue was reset since it was taken, ` +
          `or the device needs a reset`,
      );
      return;
    }
    this.guard(() => {
      const memory = this.host.memory;
      const used = this.address("device");
      const element =
        used + USED_RING + USED_ELEMENT_SIZE * (this.usedIndex & (this.queueSize - 1));
      memory.write32(element, chain.head);
      memory.write32(element + 4, bytesWritten);
      // The element is in place before the index that publishes it.
      this.usedIndex = (this.usedIndex + 1) & 0xffff;
      memory.write16(used + USED_IDX, this.usedIndex);
    });
  }

  /**
   * Interrupts the driver for the chains pushed since the last call, unless
   * it asked not to (used_event with EVENT_IDX, else VIRTQ_AVAIL_F_NO_INTERRUPT).
   * Returns whether it interrupted.
   */
  interruptIfNeeded(): boolean {
    if (!this.ready || this.usedIndex === this.signalledUsed) return false;
    const needed = this.guard(() => {
      const memory = this.host.memory;
      const driver = this.address("driver");
      if (!this.eventIdx) return (memory.read16(driver + AVAIL_FLAGS) & AVAIL_F_NO_INTERRUPT) === 0;
      // Read after the used index went out, so a driver re-arming meanwhile is seen.
      const usedEvent = memory.read16(driver + usedEventOffset(this.queueSize));
      return crossedEvent(usedEvent, this.usedIndex, this.signalledUsed);
    });
    this.signalledUsed = this.usedIndex;
    if (needed) this.host.queueInterrupt(this);
    return needed === true;
  }

  // ---- for the transport ----

  /** An area's address; with the high half set it is beyond 4 GiB, so never in RAM. */
  address(area: RingArea): number {
    const [low, high] = this.words[area];
    return high * 2 ** 32 + low;
  }

  addressWord(area: RingArea, half: 0 | 1): number {
    return this.words[area][half];
  }

  setAddressWord(area: RingArea, half: 0 | 1, value: number): void {
    this.words[area][half] = value >>> 0;
  }

  /** Why `size` is refused, or undefined after taking it. */
  setSize(size: number): string | undefined {
    if (!isPowerOfTwo(size) || size > this.maxSize) {
      return `queue size ${size} is not a power of two in [1, ${this.maxSize}]`;
    }
    this.queueSize = size;
    return undefined;
  }

  /** Starts using the rings at the programmed addresses; returns why not, if they are unusable. */
  enable(): string | undefined {
    const addresses = {
      desc: this.address("desc"),
      driver: this.address("driver"),
      device: this.address("device"),
    };
    const problem = ringLayoutProblem(addresses, this.queueSize, this.host.memory.ramBytes);
    if (problem) return problem;
    this.start();
    return undefined;
  }

  /** The legacy interface: rings at page `pfn` in the fixed layout, at the current size. */
  enableLegacy(pfn: number): string | undefined {
    const addresses = legacyRingAddresses(pfn, this.queueSize);
    const problem = ringLayoutProblem(addresses, this.queueSize, this.host.memory.ramBytes);
    if (problem) return problem;
    for (const area of RING_AREAS) this.words[area] = [addresses[area] >>> 0, 0];
    this.start();
    return undefined;
  }

  /** Back to the reset state: maximum size, no rings, nothing pending. */
  reset(): void {
    this.queueSize = this.maxSize;
    for (const area of RING_AREAS) this.words[area] = [0, 0];
    this.active = false;
    this.lastAvail = 0;
    this.usedIndex = 0;
    this.signalledUsed = 0;
    this.pendingNotify = false;
    this.epoch++;
  }

  /** A notification that came before DRIVER_OK, delivered once the driver is ready. */
  get notifyPending(): boolean {
    return this.pendingNotify;
  }

  set notifyPending(pending: boolean) {
    this.pendingNotify = pending;
  }

  save(): VirtqueueState {
    return {
      size: this.queueSize,
      enabled: this.active,
      desc: [...this.words.desc],
      driver: [...this.words.driver],
      device: [...this.words.device],
      lastAvailIdx: this.lastAvail,
      usedIdx: this.usedIndex,
      signalledUsed: this.signalledUsed,
      notifyPending: this.pendingNotify,
    };
  }

  /** Why this queue cannot take `state`, or undefined; changes nothing. */
  restoreProblem(state: VirtqueueState): string | undefined {
    if (!isPowerOfTwo(state.size) || state.size > this.maxSize) {
      return `size ${state.size} is not a power of two in [1, ${this.maxSize}]`;
    }
    if (!state.enabled) return undefined;
    const address = (words: readonly number[]) => words[1]! * 2 ** 32 + words[0]!;
    const addresses = {
      desc: address(state.desc),
      driver: address(state.driver),
      device: address(state.device),
    };
    return ringLayoutProblem(addresses, state.size, this.host.memory.ramBytes);
  }

  /** Applies a state restoreProblem accepted. */
  restore(state: VirtqueueState): void {
    this.queueSize = state.size;
    this.active = state.enabled;
    this.words.desc = [state.desc[0]!, state.desc[1]!];
    this.words.driver = [state.driver[0]!, state.driver[1]!];
    this.words.device = [state.device[0]!, state.device[1]!];
    this.lastAvail = state.lastAvailIdx;
    this.usedIndex = state.usedIdx;
    this.signalledUsed = state.signalledUsed;
    this.pendingNotify = state.notifyPending;
    this.epoch++;
  }

  // ---- internals ----

  private get eventIdx(): boolean {
    return hasFeature(this.host.acceptedFeatures(), VIRTIO_RING_F_EVENT_IDX);
  }

  private start(): void {
    this.active = true;
    this.lastAvail = 0;
    this.usedIndex = 0;
    this.signalledUsed = 0;
    this.epoch++;
  }

  // Entries the driver made available that the device has not taken.
  private pendingEntries(): number {
    const availIdx = this.host.memory.read16(this.address("driver") + AVAIL_IDX);
    const pending = (availIdx - this.lastAvail) & 0xffff;
    if (pending > this.queueSize) {
      throw new QueueProtocolError(
        `the available index ${availIdx} is ${pending} entries past ${this.lastAvail}, ` +
          `more than the queue size ${this.queueSize}`,
      );
    }
    return pending;
  }

  // Runs a step that reads or writes the rings; a protocol violation (or any
  // other error from guest-controlled data) fails the queue instead of escaping.
  private guard<T>(step: () => T): T | undefined {
    try {
      return step();
    } catch (error) {
      const reason =
        error instanceof QueueProtocolError
          ? error.message
          : `unexpected ${error instanceof Error ? error.name : "error"}: ${String(error)}`;
      this.host.queueFailed(this, reason);
      return undefined;
    }
  }

  private walk(head: number): DescriptorChain {
    const memory = this.host.memory;
    const ramBytes = memory.ramBytes;
    const fail = (reason: string): never => {
      throw new QueueProtocolError(`chain ${head}: ${reason}`);
    };
    if (!Number.isInteger(head) || head < 0 || head >= this.queueSize) {
      fail(`the head index is not below the queue size ${this.queueSize}`);
    }
    const readable: GuestRange[] = [];
    const writable: GuestRange[] = [];
    let sawWritable = false;
    let table = this.address("desc");
    let tableSize = this.queueSize;
    let inIndirect = false;
    let index = head;
    let visited = 0;
    for (;;) {
      const where = inIndirect ? "indirect table" : "descriptor table";
      if (index >= tableSize)
        fail(`descriptor ${index} is outside the ${tableSize}-entry ${where}`);
      // More descriptors than the table holds means the chain revisits one.
      if (++visited > tableSize) fail(`the chain is longer than the ${tableSize}-entry ${where}`);
      const at = table + DESCRIPTOR_SIZE * index;
      const address = memory.read32(at + 4) * 2 ** 32 + memory.read32(at);
      const length = memory.read32(at + 8);
      const flags = memory.read16(at + 12);
      const next = memory.read16(at + 14);

      if (flags & DESC_F_INDIRECT) {
        if (!hasFeature(this.host.acceptedFeatures(), VIRTIO_RING_F_INDIRECT_DESC)) {
          fail("an indirect descriptor without VIRTIO_RING_F_INDIRECT_DESC");
        }
        if (inIndirect) fail("an indirect descriptor inside an indirect table");
        if (flags & DESC_F_NEXT) fail("an indirect descriptor that also has NEXT");
        if (length === 0 || length % DESCRIPTOR_SIZE !== 0) {
          fail(`an indirect table of ${length} bytes is not a whole number of descriptors`);
        }
        const entries = length / DESCRIPTOR_SIZE;
        if (entries > this.queueSize) {
          fail(
            `an indirect table of ${entries} descriptors is longer than the queue (${this.queueSize})`,
          );
        }
        if (!rangeInRam(address, length, ramBytes)) {
          fail(`the indirect table [${hex(address)}, +${hex(length)}) is outside RAM`);
        }
        table = address;
        tableSize = entries;
        inIndirect = true;
        index = 0;
        visited = 0;
        continue;
      }

      if (length > 0 && !rangeInRam(address, length, ramBytes)) {
        fail(`descriptor ${index} points outside RAM: [${hex(address)}, +${hex(length)})`);
      }
      if (flags & DESC_F_WRITE) {
        if (this.buffers === "readable") {
          fail(`descriptor ${index} is device-writable on a queue the device only reads`);
        }
        sawWritable = true;
        if (length > 0) writable.push({ address, length });
      } else {
        if (this.buffers === "writable") {
          fail(`descriptor ${index} is device-readable on a queue the device only writes`);
        }
        if (sawWritable) fail(`descriptor ${index} is device-readable after a device-writable one`);
        if (length > 0) readable.push({ address, length });
      }
      if (!(flags & DESC_F_NEXT)) break;
      index = next;
    }
    return new DescriptorChain(memory, {
      queueIndex: this.index,
      head,
      readable,
      writable,
      epoch: this.epoch,
    });
  }
}
