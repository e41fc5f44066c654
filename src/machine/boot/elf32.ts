// Reads the parts of a 32-bit little-endian ELF executable a boot loader
// needs: the entry point and the PT_LOAD program headers. Everything is
// bounds-checked against the file, so a truncated or lying header is an
// ElfFormatError, never an out-of-range read.

export const ELF_HEADER_BYTES = 52;
export const ELF_PROGRAM_HEADER_BYTES = 32;
export const ELFCLASS32 = 1;
export const ELFDATA2LSB = 1;
export const ET_EXEC = 2;
export const EM_386 = 3;
export const PT_LOAD = 1;

const EV_CURRENT = 1;
const TWO_POW_32 = 2 ** 32;

export interface Elf32Segment {
  /** Index of the program header in the table. */
  index: number;
  offset: number;
  vaddr: number;
  paddr: number;
  fileSize: number;
  memSize: number;
  flags: number;
}

export interface Elf32Executable {
  entry: number;
  /** The PT_LOAD segments that occupy memory (p_memsz > 0), in table order. */
  loadSegments: Elf32Segment[];
}

export class ElfFormatError extends Error {}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

function u16(image: Uint8Array, at: number): number {
  return image[at]! | (image[at + 1]! << 8);
}

function u32(image: Uint8Array, at: number): number {
  return (u16(image, at) | (u16(image, at + 2) << 16)) >>> 0;
}

/** True when the image starts with the ELF magic (0x7F "ELF"). */
export function isElf(image: Uint8Array): boolean {
  return (
    image.length >= 4 &&
    image[0] === 0x7f &&
    image[1] === 0x45 &&
    image[2] === 0x4c &&
    image[3] === 0x46
  );
}

/** Parses an i386 ET_EXEC image; throws ElfFormatError saying what is wrong. */
export function parseElf32Executable(image: Uint8Array): Elf32Executable {
  if (!isElf(image)) throw new ElfFormatError("not an ELF file: the 0x7F 'ELF' magic is missing");
  if (image.length < ELF_HEADER_BYTES) {
    throw new ElfFormatError(
      `truncated ELF header: the file is ${image.length} bytes, ` +
        `the header needs ${ELF_HEADER_BYTES}`,
    );
  }
  const elfClass = image[4]!;
  if (elfClass !== ELFCLASS32) {
    const name = elfClass === 2 ? " (64-bit)" : "";
    throw new ElfFormatError(`ELF class ${elfClass}${name} is not supported: only ELFCLASS32`);
  }
  if (image[5] !== ELFDATA2LSB) {
    throw new ElfFormatError(`ELF data encoding ${image[5]} is not little-endian (ELFDATA2LSB)`);
  }
  if (image[6] !== EV_CURRENT || u32(image, 20) !== EV_CURRENT) {
    throw new ElfFormatError(`ELF version ${image[6]}/${u32(image, 20)} is not 1 (EV_CURRENT)`);
  }
  const type = u16(image, 16);
  if (type !== ET_EXEC) {
    throw new ElfFormatError(`ELF type ${type} is not an executable (ET_EXEC = ${ET_EXEC})`);
  }
  const machine = u16(image, 18);
  if (machine !== EM_386) {
    throw new ElfFormatError(`ELF machine ${machine} is not i386 (EM_386 = ${EM_386})`);
  }
  const entry = u32(image, 24);
  const tableOffset = u32(image, 28);
  const entrySize = u16(image, 42);
  const count = u16(image, 44);
  if (count === 0) throw new ElfFormatError("the ELF file has no program headers");
  if (entrySize < ELF_PROGRAM_HEADER_BYTES) {
    throw new ElfFormatError(
      `ELF program headers are ${entrySize} bytes each; they need ${ELF_PROGRAM_HEADER_BYTES}`,
    );
  }
  const tableEnd = tableOffset + count * entrySize;
  if (tableEnd > image.length) {
    throw new ElfFormatError(
      `the ELF program header table [${hex(tableOffset)}, ${hex(tableEnd)}) runs past the ` +
        `end of the file (${hex(image.length)} bytes): truncated?`,
    );
  }
  const loadSegments: Elf32Segment[] = [];
  for (let index = 0; index < count; index++) {
    const at = tableOffset + index * entrySize;
    if (u32(image, at) !== PT_LOAD) continue;
    const segment: Elf32Segment = {
      index,
      offset: u32(image, at + 4),
      vaddr: u32(image, at + 8),
      paddr: u32(image, at + 12),
      fileSize: u32(image, at + 16),
      memSize: u32(image, at + 20),
      flags: u32(image, at + 24),
    };
    checkSegment(segment, image.length);
    if (segment.memSize > 0) loadSegments.push(segment);
  }
  if (loadSegments.length === 0) throw new ElfFormatError("the ELF file has no PT_LOAD segments");
  return { entry, loadSegments };
}

function checkSegment(segment: Elf32Segment, fileLength: number): void {
  const { index, offset, paddr, vaddr, fileSize, memSize } = segment;
  if (fileSize > memSize) {
    throw new ElfFormatError(
      `ELF segment ${index}: p_filesz ${hex(fileSize)} is larger than p_memsz ${hex(memSize)}`,
    );
  }
  if (offset + fileSize > fileLength) {
    throw new ElfFormatError(
      `ELF segment ${index}: file bytes [${hex(offset)}, ${hex(offset + fileSize)}) run past ` +
        `the end of the file (${hex(fileLength)} bytes): truncated?`,
    );
  }
  if (paddr + memSize > TWO_POW_32 || vaddr + memSize > TWO_POW_32) {
    throw new ElfFormatError(
      `ELF segment ${index}: ${hex(memSize)} bytes at ${hex(paddr)} wrap past 4 GiB`,
    );
  }
}
