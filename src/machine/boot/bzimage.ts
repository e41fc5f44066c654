// The Linux/x86 boot protocol (Documentation/arch/x86/boot.rst), 32-bit entry:
// what a boot loader does after the real-mode setup code would have run. We
// parse the setup header, fill the zero page (boot_params) with the e820 map,
// command line and initrd, load the protected-mode kernel at 1 MiB and enter
// it in flat 32-bit protected mode with ESI pointing at boot_params.
import type { Core } from "../../core/core.ts";
import { enterFlatProtectedMode } from "./flat-entry.ts";
import { E820_RAM, LOW_RAM_END, type MemoryRegion } from "./memory-map.ts";

/** Where the loader puts its own structures, all in low RAM Linux reserves anyway. */
export const BOOT_GDT_ADDR = 0x1000;
export const BOOT_PARAMS_ADDR = 0x10000;
export const CMDLINE_ADDR = 0x20000;
const BOOT_CS = 0x10;
const BOOT_DS = 0x18;

const SETUP_HEADER_OFFSET = 0x1f1;
const HDRS_MAGIC = 0x53726448; // "HdrS"
const MIN_PROTOCOL = 0x0206; // cmdline_size, initrd_addr_max, 32-bit entry documented
const LOADED_HIGH = 0x01;
const CAN_USE_HEAP = 0x80;
const LOADER_TYPE_UNDEFINED = 0xff;
const ZERO_PAGE_BYTES = 4096;
const E820_TABLE_OFFSET = 0x2d0;
const E820_MAX_ENTRIES = 128;

export interface SetupHeader {
  setupSects: number;
  protocol: number;
  loadflags: number;
  code32Start: number;
  initrdAddrMax: number;
  kernelAlignment: number;
  relocatable: boolean;
  cmdlineSize: number;
  prefAddress: number;
  initSize: number;
  /** Bytes of the header to copy into boot_params (from 0x1F1). */
  headerBytes: number;
  /** Offset and length of the protected-mode kernel in the file. */
  kernelOffset: number;
  kernelLength: number;
  /** Kernel version string from the setup code, when present. */
  versionString: string | null;
}

export class KernelImageError extends Error {}

function u8(image: Uint8Array, at: number): number {
  return image[at]!;
}
function u16(image: Uint8Array, at: number): number {
  return image[at]! | (image[at + 1]! << 8);
}
function u32(image: Uint8Array, at: number): number {
  return (u16(image, at) | (u16(image, at + 2) << 16)) >>> 0;
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

/** True when the image carries the boot protocol's "HdrS" signature. */
export function isBzImage(image: Uint8Array): boolean {
  return image.length >= 0x206 && u32(image, 0x202) === HDRS_MAGIC;
}

/** Parses and checks the setup header; throws KernelImageError saying what is wrong. */
export function parseSetupHeader(image: Uint8Array): SetupHeader {
  if (image.length < 0x270) {
    throw new KernelImageError(`kernel image is ${image.length} bytes: too short for a bzImage`);
  }
  if (u16(image, 0x1fe) !== 0xaa55) {
    throw new KernelImageError("not a bzImage: boot sector signature 0xAA55 missing at 0x1FE");
  }
  if (u32(image, 0x202) !== HDRS_MAGIC) {
    throw new KernelImageError('not a bzImage: setup header signature "HdrS" missing at 0x202');
  }
  const protocol = u16(image, 0x206);
  if (protocol < MIN_PROTOCOL) {
    const version = `${protocol >> 8}.${(protocol & 0xff).toString().padStart(2, "0")}`;
    throw new KernelImageError(`boot protocol ${version} is older than 2.06, which hive86 needs`);
  }
  const loadflags = u8(image, 0x211);
  if (!(loadflags & LOADED_HIGH)) {
    throw new KernelImageError("zImage (loaded low) kernels are not supported; use a bzImage");
  }
  const setupSects = u8(image, 0x1f1) || 4;
  const kernelOffset = (setupSects + 1) * 512;
  if (kernelOffset >= image.length) {
    throw new KernelImageError(
      `kernel image is truncated: ${setupSects} setup sectors end at ${kernelOffset}, ` +
        `but the file has ${image.length} bytes`,
    );
  }
  const syssize = u32(image, 0x1f4);
  const kernelLength = image.length - kernelOffset;
  // syssize counts 16-byte paragraphs, rounded up: a partial last one is fine.
  if (syssize > Math.ceil(kernelLength / 16)) {
    throw new KernelImageError(
      `kernel image is truncated: the header says ${syssize * 16} bytes of protected-mode code, ` +
        `the file has ${kernelLength}`,
    );
  }
  const headerBytes = 0x202 + u8(image, 0x201) - SETUP_HEADER_OFFSET;
  if (headerBytes < 0x202 - SETUP_HEADER_OFFSET || SETUP_HEADER_OFFSET + headerBytes > 0x280) {
    throw new KernelImageError(`setup header length ${headerBytes} is not plausible`);
  }
  const header: SetupHeader = {
    setupSects,
    protocol,
    loadflags,
    code32Start: u32(image, 0x214),
    initrdAddrMax: u32(image, 0x22c),
    kernelAlignment: u32(image, 0x230),
    relocatable: u8(image, 0x234) !== 0,
    cmdlineSize: u32(image, 0x238),
    prefAddress: protocol >= 0x020a ? u32(image, 0x258) : 0x100000,
    initSize: protocol >= 0x020a ? u32(image, 0x260) : 0,
    headerBytes,
    kernelOffset,
    kernelLength,
    versionString: readVersionString(image, setupSects),
  };
  return header;
}

// The header's kernel_version points (minus 0x200) at a NUL-terminated string in the setup code.
function readVersionString(image: Uint8Array, setupSects: number): string | null {
  const pointer = u16(image, 0x20e);
  if (pointer === 0) return null;
  const start = pointer + 0x200;
  const limit = Math.min(image.length, (setupSects + 1) * 512, start + 256);
  let end = start;
  while (end < limit && image[end] !== 0) end++;
  if (end >= limit) return null;
  return new TextDecoder().decode(image.subarray(start, end));
}

export interface LinuxBootOptions {
  cmdline: string;
  initrd?: Uint8Array;
  memoryMap: MemoryRegion[];
}

export interface LinuxBootInfo {
  header: SetupHeader;
  kernelAddr: number;
  kernelBytes: number;
  initrdAddr: number | null;
  initrdBytes: number;
  cmdline: string;
}

function usableRamTop(map: MemoryRegion[]): number {
  let top = 0;
  for (const region of map) {
    if (region.type === E820_RAM) top = Math.max(top, region.base + region.length);
  }
  return top;
}

function insideRam(map: MemoryRegion[], start: number, length: number): boolean {
  return map.some(
    (r) => r.type === E820_RAM && start >= r.base && start + length <= r.base + r.length,
  );
}

/**
 * Loads a bzImage (and initrd) into guest RAM and sets the CPU to the 32-bit
 * entry state. Everything is checked before the first byte is written.
 */
export function loadBzImage(
  image: Uint8Array,
  options: LinuxBootOptions,
  core: Core,
): LinuxBootInfo {
  const header = parseSetupHeader(image);
  const map = options.memoryMap;
  const ramTop = usableRamTop(map);
  // Checked here, not by the writes: a map claiming more RAM than the core has
  // would fail only after the kernel had been written.
  if (ramTop > core.memory.ramBytes) {
    throw new RangeError(
      `the memory map has RAM up to ${hex(ramTop)}, but the core has ${hex(core.memory.ramBytes)}`,
    );
  }
  if (map.length > E820_MAX_ENTRIES) throw new KernelImageError("too many memory map entries");
  const kernelAddr = 0x100000;
  if (header.code32Start !== kernelAddr) {
    throw new KernelImageError(`code32_start ${hex(header.code32Start)} is not 1 MiB`);
  }
  // The kernel decompresses itself into [its run address, + init_size). A
  // relocatable one also moves up to pref_address first (boot.rst, init_size).
  const alignment = Math.max(1, header.kernelAlignment);
  const runAddress = header.relocatable
    ? Math.max(Math.ceil(kernelAddr / alignment) * alignment, header.prefAddress)
    : Math.max(kernelAddr, header.prefAddress);
  const decompressEnd = Math.max(
    kernelAddr + header.kernelLength,
    runAddress + Math.max(header.initSize, header.kernelLength),
  );
  if (!insideRam(map, kernelAddr, decompressEnd - kernelAddr)) {
    throw new KernelImageError(
      `the kernel needs RAM up to ${hex(decompressEnd)} to decompress; ` +
        `the machine has ${hex(ramTop)}`,
    );
  }

  const cmdlineBytes = new TextEncoder().encode(options.cmdline);
  if (cmdlineBytes.length > header.cmdlineSize) {
    throw new KernelImageError(
      `command line is ${cmdlineBytes.length} bytes; this kernel takes at most ${header.cmdlineSize}`,
    );
  }
  // cmdline_size comes from the image: the line and its NUL must still end in low RAM.
  if (CMDLINE_ADDR + cmdlineBytes.length + 1 > LOW_RAM_END) {
    throw new KernelImageError(
      `command line is ${cmdlineBytes.length} bytes; at most ${LOW_RAM_END - CMDLINE_ADDR - 1} ` +
        `fit below ${hex(LOW_RAM_END)}`,
    );
  }

  const initrd = options.initrd;
  let initrdAddr: number | null = null;
  if (initrd && initrd.length > 0) {
    const ceiling = Math.min(ramTop, header.initrdAddrMax + 1);
    initrdAddr = Math.floor((ceiling - initrd.length) / 4096) * 4096;
    if (initrdAddr < decompressEnd || !insideRam(map, initrdAddr, initrd.length)) {
      throw new KernelImageError(
        `no room for a ${initrd.length}-byte initrd below ${hex(ceiling)} ` +
          `above the kernel (which needs up to ${hex(decompressEnd)}): give the machine more RAM`,
      );
    }
  }

  const memory = core.memory;
  memory.write(kernelAddr, image.subarray(header.kernelOffset));
  if (initrd && initrdAddr !== null) memory.write(initrdAddr, initrd);
  // Only the line and its NUL: zeroing cmdline_size + 1 bytes (an untrusted size)
  // could run over the kernel just written, or out of RAM.
  memory.write(CMDLINE_ADDR, cmdlineBytes);
  memory.write8(CMDLINE_ADDR + cmdlineBytes.length, 0);
  memory.write(
    BOOT_PARAMS_ADDR,
    buildZeroPage(image, header, map, initrdAddr, initrd?.length ?? 0),
  );
  enterKernel(core, kernelAddr);
  return {
    header,
    kernelAddr,
    kernelBytes: header.kernelLength,
    initrdAddr,
    initrdBytes: initrd?.length ?? 0,
    cmdline: options.cmdline,
  };
}

function buildZeroPage(
  image: Uint8Array,
  header: SetupHeader,
  map: MemoryRegion[],
  initrdAddr: number | null,
  initrdBytes: number,
): Uint8Array {
  const page = new Uint8Array(ZERO_PAGE_BYTES);
  const view = new DataView(page.buffer);
  page.set(
    image.subarray(SETUP_HEADER_OFFSET, SETUP_HEADER_OFFSET + header.headerBytes),
    SETUP_HEADER_OFFSET,
  );
  // screen_info stays zero: no VGA, the console is the serial port.
  const extendedKb = Math.floor((usableRamTop(map) - 0x100000) / 1024);
  view.setUint32(0x1e0, extendedKb, true); // alt_mem_k
  view.setUint8(0x1e8, map.length); // e820_entries (count checked before the first write)
  map.forEach((region, i) => {
    const at = E820_TABLE_OFFSET + i * 20;
    view.setBigUint64(at, BigInt(region.base), true);
    view.setBigUint64(at + 8, BigInt(region.length), true);
    view.setUint32(at + 16, region.type, true);
  });
  view.setUint16(0x1fa, 0xffff, true); // vid_mode: "normal"
  view.setUint8(0x210, LOADER_TYPE_UNDEFINED); // type_of_loader
  view.setUint8(0x211, header.loadflags | CAN_USE_HEAP); // loadflags (QUIET and KEEP_SEGMENTS clear)
  view.setUint16(0x224, 0xde00, true); // heap_end_ptr, as if the setup heap were there
  view.setUint32(0x218, initrdAddr ?? 0, true); // ramdisk_image
  view.setUint32(0x21c, initrdBytes, true); // ramdisk_size
  view.setUint32(0x228, CMDLINE_ADDR, true); // cmd_line_ptr
  view.setUint32(0x23c, 0, true); // hardware_subarch: a normal PC
  return page;
}

// The protocol's 32-bit entry: flat __BOOT_CS (0x10) and __BOOT_DS (0x18),
// ESI at boot_params, EBP, EDI and EBX zero.
function enterKernel(core: Core, entry: number): void {
  enterFlatProtectedMode(core, {
    gdtAddress: BOOT_GDT_ADDR,
    codeSelector: BOOT_CS,
    dataSelector: BOOT_DS,
    eip: entry,
    regs: { esi: BOOT_PARAMS_ADDR },
  });
}
