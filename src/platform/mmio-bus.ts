// Guest-physical accesses outside RAM: devices map regions (PCI memory BARs)
// and get the offset within their region. Like an undriven bus, unmapped
// reads are all-ones and unmapped writes vanish.
import { allOnes, type AccessSize } from "../core/core-host.ts";

export interface MmioHandler {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}

/** A mapped region; pass it to MmioBus.unmap to remove it. */
export interface MmioRegion {
  readonly base: number;
  readonly size: number;
  readonly handler: MmioHandler;
}

const ADDRESS_SPACE = 2 ** 32;

function hex(value: number): string {
  return "0x" + value.toString(16);
}

export class MmioBus {
  // Sorted by base and never overlapping, so a binary search finds the region.
  private regions: MmioRegion[] = [];
  // Consecutive accesses mostly hit the same device.
  private lastHit: MmioRegion | undefined;

  /** Maps [base, base + size); overlapping a mapped region is an error. */
  map(base: number, size: number, handler: MmioHandler): MmioRegion {
    checkRange(base, size);
    const clash = this.regions.find((r) => base < r.base + r.size && r.base < base + size);
    if (clash) {
      throw new Error(
        `MMIO [${hex(base)}, ${hex(base + size)}) overlaps the region at ${hex(clash.base)}+${hex(clash.size)}`,
      );
    }
    const region: MmioRegion = Object.freeze({ base, size, handler });
    this.regions = [...this.regions, region].sort((a, b) => a.base - b.base);
    return region;
  }

  /** Removes a region returned by map; removing one twice is an error. */
  unmap(region: MmioRegion): void {
    if (!this.regions.includes(region)) {
      throw new Error(`no MMIO region mapped at ${hex(region.base)}+${hex(region.size)}`);
    }
    this.regions = this.regions.filter((r) => r !== region);
    if (this.lastHit === region) this.lastHit = undefined;
  }

  /** Whether [base, base + size) is clear of every mapped region. */
  isFree(base: number, size: number): boolean {
    checkRange(base, size);
    return !this.regions.some((r) => base < r.base + r.size && r.base < base + size);
  }

  read(addr: number, size: AccessSize): number {
    const region = this.find(addr);
    if (region && addr + size <= region.base + region.size) {
      return (region.handler.read(addr - region.base, size) & allOnes(size)) >>> 0;
    }
    // Unmapped, or straddling a region edge: each byte goes to whoever decodes it.
    let value = 0;
    for (let i = 0; i < size; i++) value |= this.readByte(addr + i) << (8 * i);
    return value >>> 0;
  }

  write(addr: number, size: AccessSize, value: number): void {
    const region = this.find(addr);
    if (region && addr + size <= region.base + region.size) {
      region.handler.write(addr - region.base, size, (value & allOnes(size)) >>> 0);
      return;
    }
    for (let i = 0; i < size; i++) this.writeByte(addr + i, (value >>> (8 * i)) & 0xff);
  }

  private readByte(addr: number): number {
    const region = this.find(addr);
    return region ? region.handler.read(addr - region.base, 1) & 0xff : 0xff;
  }

  private writeByte(addr: number, value: number): void {
    const region = this.find(addr);
    region?.handler.write(addr - region.base, 1, value);
  }

  private find(addr: number): MmioRegion | undefined {
    const last = this.lastHit;
    if (last && addr >= last.base && addr < last.base + last.size) return last;
    const regions = this.regions;
    let low = 0;
    let high = regions.length - 1;
    while (low <= high) {
      const middle = (low + high) >>> 1;
      const region = regions[middle]!;
      if (addr < region.base) high = middle - 1;
      else if (addr >= region.base + region.size) low = middle + 1;
      else return (this.lastHit = region);
    }
    return undefined;
  }
}

function checkRange(base: number, size: number): void {
  if (
    !Number.isInteger(base) ||
    !Number.isInteger(size) ||
    size <= 0 ||
    base < 0 ||
    base + size > ADDRESS_SPACE
  ) {
    throw new RangeError(`invalid MMIO range ${base}+${size}`);
  }
}
