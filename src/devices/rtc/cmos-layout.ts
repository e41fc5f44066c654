// The CMOS bytes a PC BIOS fills for the OS and bootloaders (IBM AT layout
// and its later extensions): equipment, memory sizes, and the checksum. Two-
// and three-byte values are little-endian except the checksum, which is
// stored high byte first.

export const CMOS_EQUIPMENT = 0x14;
/** Base memory in KiB, 0x15/0x16. */
export const CMOS_BASE_MEMORY_KB = 0x15;
/** Memory above 1 MiB in KiB, 0x17/0x18 (as configured). */
export const CMOS_EXTENDED_MEMORY_KB = 0x17;
/** Sum of the bytes 0x10-0x2D: high byte at 0x2E, low byte at 0x2F. */
export const CMOS_CHECKSUM = 0x2e;
/** Memory above 1 MiB in KiB, 0x30/0x31 (as found by POST). */
export const CMOS_EXTENDED_MEMORY_KB_POST = 0x30;
/** Memory above 16 MiB in 64 KiB units, 0x34/0x35. */
export const CMOS_MEMORY_ABOVE_16M = 0x34;
/** Memory above 4 GiB in 64 KiB units, 0x5B-0x5D. */
export const CMOS_MEMORY_ABOVE_4G = 0x5b;

export const CHECKSUM_FIRST = 0x10;
export const CHECKSUM_LAST = 0x2d;

const KIB = 1024;
const MIB = 1024 * KIB;
const CHUNK_64K = 64 * KIB;
const FOUR_GIB = 4096 * MIB;
const BASE_MEMORY_KB = 640;

/** A CMOS byte to set: [index, value]. */
export type CmosByte = readonly [index: number, value: number];

function littleEndian(index: number, value: number, bytes: number): CmosByte[] {
  return Array.from({ length: bytes }, (_, i) => [index + i, (value >>> (8 * i)) & 0xff] as const);
}

/**
 * The memory-size bytes for `ramBytes` of RAM mapped from address 0. Each
 * count is capped at what its bytes can hold (64 MiB - 1 KiB for the KiB
 * counts, as BIOSes do).
 */
export function memorySizeBytes(ramBytes: number): CmosByte[] {
  if (!Number.isSafeInteger(ramBytes) || ramBytes < 0) {
    throw new RangeError(`RAM size must be a whole number of bytes, got ${ramBytes}`);
  }
  const below4G = Math.min(ramBytes, FOUR_GIB);
  const baseKb = Math.min(BASE_MEMORY_KB, Math.floor(below4G / KIB));
  const extendedKb = Math.min(0xffff, Math.floor(Math.max(0, below4G - MIB) / KIB));
  const above16M = Math.min(0xffff, Math.floor(Math.max(0, below4G - 16 * MIB) / CHUNK_64K));
  const above4G = Math.min(0xffffff, Math.floor(Math.max(0, ramBytes - FOUR_GIB) / CHUNK_64K));
  return [
    ...littleEndian(CMOS_BASE_MEMORY_KB, baseKb, 2),
    ...littleEndian(CMOS_EXTENDED_MEMORY_KB, extendedKb, 2),
    ...littleEndian(CMOS_EXTENDED_MEMORY_KB_POST, extendedKb, 2),
    ...littleEndian(CMOS_MEMORY_ABOVE_16M, above16M, 2),
    ...littleEndian(CMOS_MEMORY_ABOVE_4G, above4G, 3),
  ];
}

export type PrimaryDisplay = "ega-vga" | "cga-40" | "cga-80" | "monochrome";

export interface Equipment {
  /** 0-4 */
  floppyDrives: number;
  mathCoprocessor: boolean;
  primaryDisplay: PrimaryDisplay;
}

const DISPLAY_BITS: Record<PrimaryDisplay, number> = {
  "ega-vga": 0b00, // the adapter has its own BIOS
  "cga-40": 0b01,
  "cga-80": 0b10,
  monochrome: 0b11,
};

/** The equipment byte (0x14): drives in bits 7-6 and 0, display in 5-4, FPU in 1. */
export function equipmentByte(equipment: Equipment): number {
  const { floppyDrives } = equipment;
  if (!Number.isInteger(floppyDrives) || floppyDrives < 0 || floppyDrives > 4) {
    throw new RangeError(`floppyDrives must be 0-4, got ${floppyDrives}`);
  }
  const display = DISPLAY_BITS[equipment.primaryDisplay];
  if (display === undefined) {
    throw new RangeError(`unknown primary display ${String(equipment.primaryDisplay)}`);
  }
  const floppyBits = floppyDrives > 0 ? ((floppyDrives - 1) << 6) | 0x01 : 0;
  return floppyBits | (display << 4) | (equipment.mathCoprocessor ? 0x02 : 0);
}

/** The checksum the BIOS keeps over the bytes 0x10-0x2D of the standard bank. */
export function cmosChecksum(bank: ArrayLike<number>): number {
  let sum = 0;
  for (let index = CHECKSUM_FIRST; index <= CHECKSUM_LAST; index++) sum += bank[index]!;
  return sum & 0xffff;
}
