// Placeholder firmware for the page until real guests boot: a 64 KiB ROM
// whose reset vector jumps to a counting loop, so the page can show MIPS.

export function buildDemoRom(): Uint8Array {
  const rom = new Uint8Array(0x10000).fill(0xf4); // HLT everywhere else
  // F000:0000  l: inc eax ; add ebx, eax ; jmp l
  rom.set([0x66, 0x40, 0x66, 0x01, 0xc3, 0xeb, 0xf9], 0);
  rom.set([0xea, 0x00, 0x00, 0x00, 0xf0], 0xfff0); // reset vector: jmp far F000:0000
  return rom;
}
