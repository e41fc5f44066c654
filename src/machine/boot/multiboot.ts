// Multiboot v1 (specification 0.6.96), the way GRUB or QEMU -kernel boots a
// small kernel: find the header, load the image (ELF32, or raw at the
// addresses the a.out kludge gives), build the boot information above it and
// enter it in flat 32-bit protected mode. Everything is planned and checked
// first; guest RAM and the CPU change only once the whole plan is known good.
import type { Core } from "../../core/core.ts";
import { ElfFormatError, isElf, parseElf32Executable, type Elf32Executable } from "./elf32.ts";
import { E820_RAM, ONE_MIB, type MemoryRegion } from "./memory-map.ts";
import { enterFlatProtectedMode, flatGdt } from "./flat-entry.ts";

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
/** What the kernel finds in EAX. */
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
/** The header must lie entirely within this many bytes from the start of the image. */
export const MULTIBOOT_SEARCH_BYTES = 8192;
export const BOOT_LOADER_NAME = "hive86";

// Header flags. Bits 0-15 are requirements the loader must honour or refuse.
const HEADER_PAGE_ALIGN_MODULES = 1 << 0;
const HEADER_MEMORY_INFO = 1 << 1;
const HEADER_VIDEO_MODE = 1 << 2;
const HEADER_ADDRESS_FIELDS = 1 << 16;
const HEADER_REQUIREMENT_BITS = 0xffff;
const HEADER_UNDERSTOOD = HEADER_PAGE_ALIGN_MODULES | HEADER_MEMORY_INFO | HEADER_VIDEO_MODE;
const HEADER_BASE_BYTES = 12;
const HEADER_ADDRESS_END = 32;
const HEADER_VIDEO_END = 48;

// Boot information (mbi) flags.
export const MBI_MEMORY = 1 << 0;
export const MBI_CMDLINE = 1 << 2;
export const MBI_MODULES = 1 << 3;
export const MBI_MEMORY_MAP = 1 << 6;
export const MBI_BOOT_LOADER_NAME = 1 << 9;

// Through the framebuffer fields of 0.6.96, so a kernel reading them sees zeros.
const MBI_BYTES = 116;
const MBI_FIELD = {
  flags: 0,
  memLower: 4,
  memUpper: 8,
  cmdline: 16,
  modsCount: 20,
  modsAddr: 24,
  mmapLength: 44,
  mmapAddr: 48,
  bootLoaderName: 64,
} as const;
const MODULE_ENTRY_BYTES = 16;
/** An e820-style entry with the 4-byte size field in front of it. */
const MMAP_ENTRY_BYTES = 24;
const PAGE_BYTES = 4096;
const LOWER_MEMORY_MAX = 640 * 1024;
const TWO_POW_32 = 2 ** 32;

/** The loader's GDT and the kernel's first stack, in low RAM, clear of everything else. */
export const BOOT_GDT_ADDR = 0x1000;
export const BOOT_STACK_TOP = 0x8000;
export const BOOT_CODE_SELECTOR = 0x08;
export const BOOT_DATA_SELECTOR = 0x10;
const LOADER_AREA: PhysicalRange = { start: BOOT_GDT_ADDR, end: BOOT_STACK_TOP };
// Descriptor bits 40..55: present, ring 0, 4 KiB granular, 32-bit, accessed.

export interface MultibootAddresses {
  headerAddr: number;
  loadAddr: number;
  loadEndAddr: number;
  bssEndAddr: number;
  entryAddr: number;
}

export interface MultibootHeader {
  /** File offset of the magic. */
  offset: number;
  flags: number;
  /** The a.out kludge fields, present when flags bit 16 is set. */
  addresses: MultibootAddresses | null;
}

export interface MultibootModule {
  data: Uint8Array;
  cmdline: string;
}

export interface MultibootOptions {
  cmdline: string;
  modules?: readonly MultibootModule[];
  /** What the firmware would report; E820_RAM regions must exist in the guest's RAM. */
  memoryMap: readonly MemoryRegion[];
}

export interface MultibootTarget {
  core: Core;
}

/** Guest-physical [start, end). */
export interface PhysicalRange {
  start: number;
  end: number;
}

export interface MultibootLoadResult {
  format: "elf32" | "aout-kludge";
  entry: number;
  /** Each loaded piece of the kernel, its zero-filled bss included. */
  kernel: PhysicalRange[];
  /** Address of the boot information structure (EBX at entry). */
  mbi: number;
  /** The mbi, the memory map, the module list and all strings, in one block. */
  bootInfo: PhysicalRange;
  modules: Array<PhysicalRange & { cmdline: string }>;
  gdt: PhysicalRange;
  stackTop: number;
  /** Requests the loader chose to ignore, for the log. */
  notes: string[];
}

export class MultibootImageError extends Error {}

/** Bytes to put somewhere: `data` at `start`, then zeros up to `end`. */
interface Placement extends PhysicalRange {
  data: Uint8Array;
  what: string;
}

interface KernelLayout {
  format: MultibootLoadResult["format"];
  entry: number;
  pieces: Placement[];
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

function range(r: PhysicalRange): string {
  return `[${hex(r.start)}, ${hex(r.end)})`;
}

function u32(image: Uint8Array, at: number): number {
  return (
    (image[at]! | (image[at + 1]! << 8) | (image[at + 2]! << 16) | (image[at + 3]! << 24)) >>> 0
  );
}

function alignUp(value: number, alignment: number): number {
  return Math.ceil(value / alignment) * alignment;
}

function overlaps(a: PhysicalRange, b: PhysicalRange): boolean {
  return a.start < b.end && b.start < a.end;
}

type HeaderScan = { offset: number; flags: number } | { badChecksumAt: number } | null;

function scanForHeader(image: Uint8Array): HeaderScan {
  const window = Math.min(image.length, MULTIBOOT_SEARCH_BYTES);
  let badChecksumAt = -1;
  for (let offset = 0; offset + HEADER_BASE_BYTES <= window; offset += 4) {
    if (u32(image, offset) !== MULTIBOOT_HEADER_MAGIC) continue;
    const flags = u32(image, offset + 4);
    const checksum = u32(image, offset + 8);
    if ((MULTIBOOT_HEADER_MAGIC + flags + checksum) % TWO_POW_32 === 0) return { offset, flags };
    if (badChecksumAt < 0) badChecksumAt = offset;
  }
  return badChecksumAt >= 0 ? { badChecksumAt } : null;
}

/** True when the first 8 KiB hold a Multiboot header with a valid checksum. */
export function isMultiboot(image: Uint8Array): boolean {
  const scan = scanForHeader(image);
  return scan !== null && "flags" in scan;
}

/** Finds and reads the header; throws MultibootImageError saying what is wrong. */
export function findMultibootHeader(image: Uint8Array): MultibootHeader {
  const scan = scanForHeader(image);
  if (scan === null) {
    throw new MultibootImageError(
      `no Multiboot header: the magic ${hex(MULTIBOOT_HEADER_MAGIC)} does not appear at a ` +
        `4-byte aligned offset in the first ${MULTIBOOT_SEARCH_BYTES} bytes`,
    );
  }
  if (!("flags" in scan)) {
    throw new MultibootImageError(
      `the Multiboot header at offset ${hex(scan.badChecksumAt)} has a bad checksum ` +
        "(magic + flags + checksum must be 0 mod 2^32)",
    );
  }
  const { offset, flags } = scan;
  const fieldsEnd =
    flags & HEADER_VIDEO_MODE
      ? HEADER_VIDEO_END
      : flags & HEADER_ADDRESS_FIELDS
        ? HEADER_ADDRESS_END
        : HEADER_BASE_BYTES;
  const window = Math.min(image.length, MULTIBOOT_SEARCH_BYTES);
  if (offset + fieldsEnd > window) {
    const where = image.length < MULTIBOOT_SEARCH_BYTES ? "the file" : "the 8 KiB search window";
    throw new MultibootImageError(
      `the Multiboot header at offset ${hex(offset)} is truncated: its flags ${hex(flags)} ` +
        `need ${fieldsEnd} bytes of header, but ${where} ends at ${hex(window)}`,
    );
  }
  const field = (index: number) => u32(image, offset + 12 + index * 4);
  const addresses =
    flags & HEADER_ADDRESS_FIELDS
      ? {
          headerAddr: field(0),
          loadAddr: field(1),
          loadEndAddr: field(2),
          bssEndAddr: field(3),
          entryAddr: field(4),
        }
      : null;
  return { offset, flags, addresses };
}

function checkRequirements(flags: number): string[] {
  const unsupported = flags & HEADER_REQUIREMENT_BITS & ~HEADER_UNDERSTOOD;
  if (unsupported !== 0) {
    const bits = [...Array(16).keys()].filter((bit) => unsupported & (1 << bit));
    throw new MultibootImageError(
      `the kernel requires Multiboot features hive86 does not provide ` +
        `(header flags ${hex(flags)}, unknown requirement bit${bits.length > 1 ? "s" : ""} ` +
        `${bits.join(", ")})`,
    );
  }
  const notes: string[] = [];
  if (flags & HEADER_VIDEO_MODE) {
    notes.push(
      "the kernel asked for a video mode (header flags bit 2); there is no framebuffer to " +
        "offer, so the boot information has no video fields and the display stays in text mode",
    );
  }
  return notes;
}

function aoutLayout(
  image: Uint8Array,
  header: MultibootHeader,
  fields: MultibootAddresses,
): KernelLayout {
  const { headerAddr, loadAddr, loadEndAddr, bssEndAddr, entryAddr } = fields;
  const fail = (message: string): never => {
    throw new MultibootImageError(`a.out kludge (header flags bit 16): ${message}`);
  };
  if (loadAddr > headerAddr) {
    fail(`load_addr ${hex(loadAddr)} is above header_addr ${hex(headerAddr)}`);
  }
  const fileStart = header.offset - (headerAddr - loadAddr);
  if (fileStart < 0) {
    fail(
      `header_addr - load_addr is ${hex(headerAddr - loadAddr)}, but the header is only ` +
        `${hex(header.offset)} bytes into the file`,
    );
  }
  const loadEnd = loadEndAddr === 0 ? loadAddr + (image.length - fileStart) : loadEndAddr;
  if (loadEnd <= loadAddr) {
    fail(`load_end_addr ${hex(loadEndAddr)} is not above load_addr ${hex(loadAddr)}`);
  }
  if (loadEnd > TWO_POW_32) fail(`the image loaded at ${hex(loadAddr)} wraps past 4 GiB`);
  const loadBytes = loadEnd - loadAddr;
  if (fileStart + loadBytes > image.length) {
    fail(
      `load_end_addr ${hex(loadEnd)} needs ${hex(loadBytes)} bytes from file offset ` +
        `${hex(fileStart)}, but the file ends at ${hex(image.length)}: truncated?`,
    );
  }
  if (headerAddr + HEADER_BASE_BYTES > loadEnd) {
    const loaded = range({ start: loadAddr, end: loadEnd });
    fail(`header_addr ${hex(headerAddr)} is outside the loaded bytes ${loaded}`);
  }
  const bssEnd = bssEndAddr === 0 ? loadEnd : bssEndAddr;
  if (bssEnd < loadEnd) {
    fail(`bss_end_addr ${hex(bssEndAddr)} is below load_end_addr ${hex(loadEnd)}`);
  }
  const piece: Placement = {
    start: loadAddr,
    end: bssEnd,
    data: image.subarray(fileStart, fileStart + loadBytes),
    what: "the a.out kludge image",
  };
  return { format: "aout-kludge", entry: entryAddr, pieces: [piece] };
}

function parseElfKernel(image: Uint8Array): Elf32Executable {
  try {
    return parseElf32Executable(image);
  } catch (error) {
    if (error instanceof ElfFormatError) {
      throw new MultibootImageError(`ELF kernel: ${error.message}`);
    }
    throw error;
  }
}

function elfLayout(image: Uint8Array): KernelLayout {
  if (!isElf(image)) {
    throw new MultibootImageError(
      "the Multiboot header has no address fields (flags bit 16 clear), so the kernel must be " +
        "an ELF file, but the ELF magic is missing",
    );
  }
  const elf = parseElfKernel(image);
  const pieces = elf.loadSegments.map((segment) => ({
    start: segment.paddr,
    end: segment.paddr + segment.memSize,
    data: image.subarray(segment.offset, segment.offset + segment.fileSize),
    what: `ELF segment ${segment.index}`,
  }));
  // e_entry is virtual: a kernel linked high (p_vaddr != p_paddr) starts at its physical twin.
  const home = elf.loadSegments.find(
    (s) => elf.entry >= s.vaddr && elf.entry < s.vaddr + s.fileSize,
  );
  const entry = home ? elf.entry - home.vaddr + home.paddr : elf.entry;
  return { format: "elf32", entry, pieces };
}

/** The E820_RAM regions minus every other region, merged and sorted. */
function usableRam(memoryMap: readonly MemoryRegion[], ramBytes: number): PhysicalRange[] {
  const ram: PhysicalRange[] = [];
  const holes: PhysicalRange[] = [];
  memoryMap.forEach((region, index) => {
    const { base, length } = region;
    if (!Number.isSafeInteger(base) || !Number.isSafeInteger(length) || base < 0 || length < 0) {
      throw new RangeError(
        `memory map entry ${index} has base ${base} and length ${length}; both must be ` +
          "non-negative integers",
      );
    }
    const r = { start: base, end: base + length };
    if (region.type !== E820_RAM) {
      holes.push(r);
      return;
    }
    if (r.end > ramBytes) {
      throw new RangeError(
        `memory map entry ${index} claims RAM at ${range(r)}, beyond the guest's ` +
          `${hex(ramBytes)} bytes of RAM`,
      );
    }
    ram.push(r);
  });
  let usable = mergeRanges(ram);
  for (const hole of holes) usable = usable.flatMap((r) => subtractRange(r, hole));
  return usable;
}

function mergeRanges(ranges: PhysicalRange[]): PhysicalRange[] {
  const sorted = ranges.filter((r) => r.end > r.start).sort((a, b) => a.start - b.start);
  const merged: PhysicalRange[] = [];
  for (const r of sorted) {
    const last = merged[merged.length - 1];
    if (last && r.start <= last.end) last.end = Math.max(last.end, r.end);
    else merged.push({ ...r });
  }
  return merged;
}

function subtractRange(r: PhysicalRange, hole: PhysicalRange): PhysicalRange[] {
  if (!overlaps(r, hole)) return [r];
  const parts: PhysicalRange[] = [];
  if (r.start < hole.start) parts.push({ start: r.start, end: hole.start });
  if (hole.end < r.end) parts.push({ start: hole.end, end: r.end });
  return parts;
}

function checkKernelPlacement(pieces: Placement[], usable: PhysicalRange[]): void {
  const sorted = [...pieces].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const [a, b] = [sorted[i - 1]!, sorted[i]!];
    if (overlaps(a, b)) {
      throw new MultibootImageError(`${a.what} ${range(a)} and ${b.what} ${range(b)} overlap`);
    }
  }
  const usableList = usable.map(range).join(", ") || "none";
  for (const piece of sorted) {
    if (!usable.some((r) => piece.start >= r.start && piece.end <= r.end)) {
      throw new MultibootImageError(
        `${piece.what} ${range(piece)} is not in usable RAM (usable: ${usableList})`,
      );
    }
    if (overlaps(piece, LOADER_AREA)) {
      throw new MultibootImageError(
        `${piece.what} ${range(piece)} overlaps the loader's GDT and stack ${range(LOADER_AREA)}`,
      );
    }
  }
}

function checkEntry(layout: KernelLayout): void {
  const { entry, pieces } = layout;
  const loaded = pieces.map((p) => ({ start: p.start, end: p.start + p.data.length }));
  if (!loaded.some((r) => entry >= r.start && entry < r.end)) {
    throw new MultibootImageError(
      `the entry point ${hex(entry)} is outside the loaded image (${loaded.map(range).join(", ")})`,
    );
  }
}

/** Hands out addresses upwards from `cursor`, each block inside one free range. */
class Allocator {
  private cursor: number;
  private readonly free: PhysicalRange[];

  constructor(free: PhysicalRange[], cursor: number) {
    this.free = free;
    this.cursor = cursor;
  }

  take(bytes: number, alignment: number, what: string): number {
    for (const r of this.free) {
      const start = alignUp(Math.max(this.cursor, r.start), alignment);
      if (start + bytes <= r.end) {
        this.cursor = start + bytes;
        return start;
      }
    }
    throw new MultibootImageError(
      `no room for ${what} (${hex(bytes)} bytes) in usable RAM above ${hex(this.cursor)}`,
    );
  }
}

function cString(text: string, what: string): Uint8Array {
  if (text.includes("\0")) throw new MultibootImageError(`${what} contains a NUL character`);
  return new TextEncoder().encode(text + "\0");
}

/** Lower memory from 0 and upper memory from 1 MiB, in KiB, as far as RAM runs unbroken. */
function memorySizes(usable: PhysicalRange[]): { lower: number; upper: number } {
  const runFrom = (address: number) =>
    usable.find((r) => r.start <= address && address < r.end)?.end ?? address;
  return {
    lower: Math.floor(Math.min(runFrom(0), LOWER_MEMORY_MAX) / 1024),
    upper: Math.floor((runFrom(ONE_MIB) - ONE_MIB) / 1024),
  };
}

interface BootInfoPlan {
  block: Placement;
  mbi: number;
  modules: Array<Placement & { cmdline: string }>;
}

function planBootInfo(
  options: MultibootOptions,
  usable: PhysicalRange[],
  kernelEnd: number,
): BootInfoPlan {
  const modules = options.modules ?? [];
  const cmdline = cString(options.cmdline, "the kernel command line");
  const loaderName = cString(BOOT_LOADER_NAME, "the boot loader name");
  const moduleCmdlines = modules.map((m, i) => cString(m.cmdline, `module ${i}'s command line`));
  const mmapAt = alignUp(MBI_BYTES, 8);
  const modsAt = mmapAt + options.memoryMap.length * MMAP_ENTRY_BYTES;
  let stringAt = modsAt + modules.length * MODULE_ENTRY_BYTES;
  const strings = [cmdline, loaderName, ...moduleCmdlines].map((bytes) => {
    const at = stringAt;
    stringAt += bytes.length;
    return { at, bytes };
  });
  const blockBytes = stringAt;

  const free = usable
    .flatMap((r) => subtractRange(r, LOADER_AREA))
    .map((r) => ({ start: r.start, end: Math.min(r.end, TWO_POW_32) }));
  const allocator = new Allocator(free, kernelEnd);
  const base = allocator.take(blockBytes, 8, "the boot information");
  const placedModules = modules.map((module, i) => {
    const start = allocator.take(module.data.length, PAGE_BYTES, `module ${i}`);
    const end = start + module.data.length;
    return { start, end, data: module.data, what: `module ${i}`, cmdline: module.cmdline };
  });

  const bytes = new Uint8Array(blockBytes);
  const view = new DataView(bytes.buffer);
  const put = (at: number, value: number) => view.setUint32(at, value >>> 0, true);
  for (const s of strings) bytes.set(s.bytes, s.at);
  const { lower, upper } = memorySizes(usable);
  const flags = MBI_MEMORY | MBI_CMDLINE | MBI_MODULES | MBI_MEMORY_MAP | MBI_BOOT_LOADER_NAME;
  put(MBI_FIELD.flags, flags);
  put(MBI_FIELD.memLower, lower);
  put(MBI_FIELD.memUpper, upper);
  put(MBI_FIELD.cmdline, base + strings[0]!.at);
  put(MBI_FIELD.modsCount, modules.length);
  put(MBI_FIELD.modsAddr, base + modsAt);
  put(MBI_FIELD.mmapLength, options.memoryMap.length * MMAP_ENTRY_BYTES);
  put(MBI_FIELD.mmapAddr, base + mmapAt);
  put(MBI_FIELD.bootLoaderName, base + strings[1]!.at);
  options.memoryMap.forEach((region, i) => {
    const at = mmapAt + i * MMAP_ENTRY_BYTES;
    put(at, MMAP_ENTRY_BYTES - 4); // size, not counting itself
    put(at + 4, region.base % TWO_POW_32);
    put(at + 8, Math.floor(region.base / TWO_POW_32));
    put(at + 12, region.length % TWO_POW_32);
    put(at + 16, Math.floor(region.length / TWO_POW_32));
    put(at + 20, region.type);
  });
  placedModules.forEach((module, i) => {
    const at = modsAt + i * MODULE_ENTRY_BYTES;
    put(at, module.start);
    put(at + 4, module.end);
    put(at + 8, base + strings[2 + i]!.at);
  });
  const block = { start: base, end: base + blockBytes, data: bytes, what: "the boot information" };
  return { block, mbi: base, modules: placedModules };
}

function writePlacement(core: Core, placement: Placement): void {
  core.memory.write(placement.start, placement.data);
  const zeros = placement.end - placement.start - placement.data.length;
  core.memory.fill(placement.start + placement.data.length, zeros, 0);
}

/** The machine state the specification promises at entry, with a GDT that matches it. */
function enterKernel(core: Core, entry: number, mbi: number): void {
  enterFlatProtectedMode(core, {
    gdtAddress: BOOT_GDT_ADDR,
    codeSelector: BOOT_CODE_SELECTOR,
    dataSelector: BOOT_DATA_SELECTOR,
    eip: entry,
    regs: { eax: MULTIBOOT_BOOTLOADER_MAGIC, ebx: mbi, esp: BOOT_STACK_TOP },
    idtLimit: 0,
  });
}

/**
 * Loads a Multiboot kernel into target.core's RAM with its modules and boot
 * information, and points the CPU at its entry. Throws MultibootImageError
 * (bad image) or RangeError (bad memory map) before touching anything.
 */
export function loadMultiboot(
  image: Uint8Array,
  options: MultibootOptions,
  target: MultibootTarget,
): MultibootLoadResult {
  const { core } = target;
  const header = findMultibootHeader(image);
  const notes = checkRequirements(header.flags);
  const usable = usableRam(options.memoryMap, core.memory.ramBytes);
  if (!usable.some((r) => r.start <= LOADER_AREA.start && LOADER_AREA.end <= r.end)) {
    throw new RangeError(
      `the loader's GDT and stack need usable RAM at ${range(LOADER_AREA)}, which the memory ` +
        "map does not provide",
    );
  }
  const layout = header.addresses ? aoutLayout(image, header, header.addresses) : elfLayout(image);
  checkEntry(layout);
  checkKernelPlacement(layout.pieces, usable);
  const kernelEnd = Math.max(...layout.pieces.map((p) => p.end));
  const bootInfo = planBootInfo(options, usable, kernelEnd);
  for (const placement of [...layout.pieces, bootInfo.block, ...bootInfo.modules]) {
    writePlacement(core, placement);
  }
  enterKernel(core, layout.entry, bootInfo.mbi);
  const gdtBytes = flatGdt(BOOT_CODE_SELECTOR, BOOT_DATA_SELECTOR).length;
  return {
    format: layout.format,
    entry: layout.entry,
    kernel: layout.pieces.map(({ start, end }) => ({ start, end })),
    mbi: bootInfo.mbi,
    bootInfo: { start: bootInfo.block.start, end: bootInfo.block.end },
    modules: bootInfo.modules.map(({ start, end, cmdline }) => ({ start, end, cmdline })),
    gdt: { start: BOOT_GDT_ADDR, end: BOOT_GDT_ADDR + gdtBytes },
    stackTop: BOOT_STACK_TOP,
    notes,
  };
}
