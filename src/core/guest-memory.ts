// The only way TypeScript touches guest RAM. Every access is bounds-checked
// against the guest-physical RAM size and every write marks the dirty bitmap,
// so device DMA is never missed by live migration.

export interface GuestMemoryBacking {
  /** The core's linear memory; its buffer changes when the memory grows. */
  memory: WebAssembly.Memory;
  /** Offset of guest-physical 0 in the linear memory. */
  ramBase: number;
  ramBytes: number;
  /** Sets the dirty bits of the pages covering [phys, phys + length). */
  markDirty(phys: number, length: number): void;
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

export class GuestMemory {
  readonly ramBytes: number;
  private readonly backing: GuestMemoryBacking;
  private buffer: ArrayBuffer | SharedArrayBuffer | null = null;
  private bytes = new Uint8Array(0);
  private view = new DataView(new ArrayBuffer(0));

  constructor(backing: GuestMemoryBacking) {
    this.backing = backing;
    this.ramBytes = backing.ramBytes;
  }

  read(phys: number, length: number): Uint8Array {
    const offset = this.locate(phys, length);
    return this.bytes.slice(offset, offset + length);
  }

  /**
   * Lends `use` a view of [phys, phys + length) without copying, for reading
   * large ranges (scanning, hashing, sending pages). The view is valid only
   * during the call; writing through it would bypass the dirty bitmap.
   */
  withView<T>(phys: number, length: number, use: (bytes: Uint8Array) => T): T {
    const offset = this.locate(phys, length);
    return use(this.bytes.subarray(offset, offset + length));
  }

  write(phys: number, data: Uint8Array): void {
    const offset = this.locate(phys, data.length);
    this.bytes.set(data, offset);
    this.dirty(phys, data.length);
  }

  fill(phys: number, length: number, value: number): void {
    const offset = this.locate(phys, length);
    this.bytes.fill(value & 0xff, offset, offset + length);
    this.dirty(phys, length);
  }

  read8(phys: number): number {
    const offset = this.locate(phys, 1); // first: it may replace the views
    return this.bytes[offset]!;
  }

  read16(phys: number): number {
    const offset = this.locate(phys, 2);
    return this.view.getUint16(offset, true);
  }

  read32(phys: number): number {
    const offset = this.locate(phys, 4);
    return this.view.getUint32(offset, true);
  }

  write8(phys: number, value: number): void {
    const offset = this.locate(phys, 1);
    this.bytes[offset] = value & 0xff;
    this.dirty(phys, 1);
  }

  write16(phys: number, value: number): void {
    const offset = this.locate(phys, 2);
    this.view.setUint16(offset, value & 0xffff, true);
    this.dirty(phys, 2);
  }

  write32(phys: number, value: number): void {
    const offset = this.locate(phys, 4);
    this.view.setUint32(offset, value >>> 0, true);
    this.dirty(phys, 4);
  }

  /** Checks [phys, phys + length) lies in RAM; returns its offset in linear memory. */
  private locate(phys: number, length: number): number {
    if (
      !Number.isSafeInteger(phys) ||
      !Number.isSafeInteger(length) ||
      phys < 0 ||
      length < 0 ||
      phys + length > this.ramBytes
    ) {
      throw new RangeError(
        `guest-physical range [${hex(phys)}, ${hex(phys + length)}) is outside RAM ` +
          `[0x0, ${hex(this.ramBytes)})`,
      );
    }
    this.refreshViews();
    return this.backing.ramBase + phys;
  }

  // memory.grow() replaces the ArrayBuffer; views on the old one are dead.
  private refreshViews(): void {
    const current = this.backing.memory.buffer;
    if (current === this.buffer) return;
    this.buffer = current;
    this.bytes = new Uint8Array(current);
    this.view = new DataView(current);
  }

  private dirty(phys: number, length: number): void {
    if (length > 0) this.backing.markDirty(phys, length);
  }
}
