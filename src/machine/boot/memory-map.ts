// The guest-physical memory map a firmware would report (BIOS e820 types).
// Boot loaders hand it to the kernel: Linux in boot_params, Multiboot in mmap.

export const E820_RAM = 1;
export const E820_RESERVED = 2;

export interface MemoryRegion {
  base: number;
  length: number;
  type: typeof E820_RAM | typeof E820_RESERVED;
}

/** Conventional memory ends where the extended BIOS data area would start. */
export const LOW_RAM_END = 0x9fc00;
/** The BIOS area at 0xF0000-0xFFFFF holds firmware tables (e.g. $PIR). */
export const BIOS_AREA_START = 0xf0000;
export const ONE_MIB = 0x100000;

/**
 * The PC map for `ramBytes` of RAM: low RAM, the EBDA and BIOS area reserved,
 * the VGA/option-ROM hole (0xA0000-0xEFFFF) absent, extended RAM from 1 MiB.
 */
export function pcMemoryMap(ramBytes: number): MemoryRegion[] {
  if (!Number.isSafeInteger(ramBytes) || ramBytes < 2 * ONE_MIB) {
    throw new RangeError(`a PC memory map needs at least 2 MiB of RAM, got ${ramBytes}`);
  }
  return [
    { base: 0, length: LOW_RAM_END, type: E820_RAM },
    { base: LOW_RAM_END, length: 0xa0000 - LOW_RAM_END, type: E820_RESERVED },
    { base: BIOS_AREA_START, length: ONE_MIB - BIOS_AREA_START, type: E820_RESERVED },
    { base: ONE_MIB, length: ramBytes - ONE_MIB, type: E820_RAM },
  ];
}
