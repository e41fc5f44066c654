// One available buffer as the device sees it: the guest-physical ranges of a
// descriptor chain, split into the part the device reads (the driver's
// request) and the part it writes (its reply). Every range was checked to lie
// in RAM when the chain was taken off the ring; the data moves through
// GuestMemory, so writes mark the dirty bitmap.
import type { GuestMemory } from "../../core/guest-memory.ts";

export interface GuestRange {
  readonly address: number;
  readonly length: number;
}

export interface DescriptorChainParts {
  queueIndex: number;
  head: number;
  readable: GuestRange[];
  writable: GuestRange[];
  /** Which enablement of the queue the chain belongs to; a reset makes it stale. */
  epoch: number;
}

function total(ranges: readonly GuestRange[]): number {
  return ranges.reduce((sum, range) => sum + range.length, 0);
}

export class DescriptorChain {
  readonly queueIndex: number;
  /** The head descriptor's index: the id the used ring reports. */
  readonly head: number;
  /** Device-readable buffers, in chain order. */
  readonly readable: readonly GuestRange[];
  /** Device-writable buffers, in chain order. */
  readonly writable: readonly GuestRange[];
  readonly readableLength: number;
  readonly writableLength: number;
  readonly epoch: number;
  private readonly memory: GuestMemory;
  private used = false;

  constructor(memory: GuestMemory, parts: DescriptorChainParts) {
    this.memory = memory;
    this.queueIndex = parts.queueIndex;
    this.head = parts.head;
    this.readable = Object.freeze(parts.readable.map((range) => Object.freeze({ ...range })));
    this.writable = Object.freeze(parts.writable.map((range) => Object.freeze({ ...range })));
    this.readableLength = total(this.readable);
    this.writableLength = total(this.writable);
    this.epoch = parts.epoch;
  }

  /** Whether the chain went back to the driver through the used ring. */
  get returned(): boolean {
    return this.used;
  }

  /** Marks the chain returned; a second return is a device-model bug. */
  markReturned(): void {
    if (this.used) {
      throw new Error(`virtqueue ${this.queueIndex}: chain ${this.head} was already returned`);
    }
    this.used = true;
  }

  /** Bytes [offset, offset + length) of the readable part, gathered across its buffers. */
  read(offset = 0, length = this.readableLength - offset): Uint8Array {
    checkSpan(offset, length, this.readableLength, "read", this.head);
    const out = new Uint8Array(length);
    let filled = 0;
    forEachPiece(this.readable, offset, length, (address, bytes) => {
      out.set(this.memory.read(address, bytes), filled);
      filled += bytes;
    });
    return out;
  }

  /** Writes `data` into the writable part from `offset` on, scattered across its buffers. */
  write(data: Uint8Array, offset = 0): void {
    checkSpan(offset, data.length, this.writableLength, "write", this.head);
    let taken = 0;
    forEachPiece(this.writable, offset, data.length, (address, bytes) => {
      this.memory.write(address, data.subarray(taken, taken + bytes));
      taken += bytes;
    });
  }
}

function checkSpan(offset: number, length: number, limit: number, what: string, head: number) {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > limit
  ) {
    throw new RangeError(
      `chain ${head}: cannot ${what} ${length} bytes at offset ${offset} of ${limit}`,
    );
  }
}

// Calls `visit` for each guest-physical piece of [offset, offset + length) across the ranges.
function forEachPiece(
  ranges: readonly GuestRange[],
  offset: number,
  length: number,
  visit: (address: number, bytes: number) => void,
): void {
  let skip = offset;
  let left = length;
  for (const range of ranges) {
    if (left === 0) return;
    if (skip >= range.length) {
      skip -= range.length;
      continue;
    }
    const bytes = Math.min(range.length - skip, left);
    visit(range.address + skip, bytes);
    skip = 0;
    left -= bytes;
  }
}
