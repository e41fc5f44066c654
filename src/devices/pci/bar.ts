// Base address registers: what a function asks for (an I/O or 32-bit memory
// window of a power-of-two size) and where software has put it.
import type { AccessSize } from "../../core/core-host.ts";
import { BAR_MEMORY_PREFETCHABLE, BAR_SPACE_IO } from "./config-header.ts";

export type BarKind = "io" | "memory";

/** Accesses within a BAR's window, by offset from its base. */
export interface BarHandler {
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
}

export interface BarDefinition {
  kind: BarKind;
  /** Bytes decoded; a power of two (I/O: 4..256, memory: 16 and up, at most 2 GiB). */
  size: number;
  prefetchable?: boolean;
  handler: BarHandler;
}

/** A BAR window a function decodes right now. */
export interface BarWindow {
  readonly index: number;
  readonly kind: BarKind;
  readonly base: number;
  readonly size: number;
  readonly handler: BarHandler;
}

// PCI 3.0, 6.2.5.1: I/O BARs ask for at most 256 bytes; memory for at least 16.
const IO_SIZES = { min: 4, max: 256 } as const;
const MEMORY_SIZES = { min: 16, max: 2 ** 31 } as const;
const IO_SPACE_END = 0x10000;
const MEMORY_SPACE_END = 2 ** 32;

export function checkBarDefinition(bar: BarDefinition, what: string): void {
  const limits = bar.kind === "io" ? IO_SIZES : bar.kind === "memory" ? MEMORY_SIZES : undefined;
  if (!limits) throw new TypeError(`${what}: BAR kind must be "io" or "memory"`);
  const size = bar.size;
  if (
    !Number.isInteger(size) ||
    size < limits.min ||
    size > limits.max ||
    (size & (size - 1)) !== 0
  ) {
    throw new RangeError(
      `${what}: a ${bar.kind} BAR size must be a power of two in [${limits.min}, ${limits.max}], got ${size}`,
    );
  }
  if (bar.kind === "io" && bar.prefetchable) {
    throw new RangeError(`${what}: an I/O BAR cannot be prefetchable`);
  }
}

/** The read-only low bits that tell software what kind of BAR this is. */
export function barTypeBits(bar: BarDefinition): number {
  if (bar.kind === "io") return BAR_SPACE_IO;
  return bar.prefetchable ? BAR_MEMORY_PREFETCHABLE : 0;
}

/** The address bits software can write: everything above the size, so sizing reads ~(size - 1). */
export function barWriteMask(bar: BarDefinition): number {
  return ~(bar.size - 1) >>> 0;
}

/**
 * Whether a window at `base` can be decoded. Address 0 is what an unassigned
 * BAR holds, and I/O beyond 64 KiB cannot be reached by IN/OUT.
 */
export function isDecodable(kind: BarKind, base: number, size: number): boolean {
  const end = kind === "io" ? IO_SPACE_END : MEMORY_SPACE_END;
  return base !== 0 && base + size <= end;
}
