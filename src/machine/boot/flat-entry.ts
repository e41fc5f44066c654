// What every 32-bit boot protocol here asks for at entry: flat 4 GiB code and
// data segments from a GDT the loader provides, protected mode without
// paging, interrupts off, A20 open, and the protocol's registers.
import type { Core } from "../../core/core.ts";
import type { Reg32Name } from "../../core/register-names.ts";

const FLAT_CODE_ACCESS = 0xcf9b; // G, D/B, present, execute/read
const FLAT_DATA_ACCESS = 0xcf93; // G, D/B, present, read/write
const CR0_PE_ET = 0x11;
const EFLAGS_RESERVED_ONE = 0x2;

export interface FlatEntry {
  /** Where the GDT goes (guest-physical); the caller has checked it is free RAM. */
  gdtAddress: number;
  codeSelector: number;
  dataSelector: number;
  eip: number;
  /** Registers the protocol defines; every other general register is zero. */
  regs?: Partial<Record<Reg32Name, number>>;
  /** IDTR limit: 0 makes a stray exception before the kernel's IDT a visible triple fault. */
  idtLimit?: number;
}

/** The GDT with flat code and data descriptors at the given selectors. */
export function flatGdt(codeSelector: number, dataSelector: number): Uint8Array {
  const gdt = new Uint8Array(Math.max(codeSelector, dataSelector) + 8);
  const flat = (selector: number, access: number) => {
    // Base 0, limit 0xFFFFF pages; the access word is descriptor bytes 5 and 6.
    gdt.set([0xff, 0xff, 0, 0, 0, access & 0xff, access >> 8, 0], selector);
  };
  flat(codeSelector, FLAT_CODE_ACCESS);
  flat(dataSelector, FLAT_DATA_ACCESS);
  return gdt;
}

/** Resets the CPU into the flat 32-bit entry state and writes the GDT it uses. */
export function enterFlatProtectedMode(core: Core, entry: FlatEntry): void {
  core.reset();
  // reset() keeps the A20 gate as it was; the firmware we stand in for opens it.
  core.setA20(true);
  const gdt = flatGdt(entry.codeSelector, entry.dataSelector);
  core.memory.write(entry.gdtAddress, gdt);
  core.writeU32(core.layout.S_GDTR_BASE, entry.gdtAddress);
  core.writeU32(core.layout.S_GDTR_LIMIT, gdt.length - 1);
  if (entry.idtLimit !== undefined) core.writeU32(core.layout.S_IDTR_LIMIT, entry.idtLimit);
  const segment = (selector: number, access: number) => ({
    selector,
    base: 0,
    limit: 0xffffffff,
    access,
  });
  core.setSegment("cs", segment(entry.codeSelector, FLAT_CODE_ACCESS));
  for (const seg of ["ds", "es", "ss", "fs", "gs"] as const) {
    core.setSegment(seg, segment(entry.dataSelector, FLAT_DATA_ACCESS));
  }
  for (const reg of ["eax", "ebx", "ecx", "edx", "esp", "ebp", "esi", "edi"] as const) {
    core.setReg(reg, entry.regs?.[reg] ?? 0);
  }
  core.setReg("eip", entry.eip);
  core.setFlags(EFLAGS_RESERVED_ONE); // IF and VM clear
  core.setControl("cr0", CR0_PE_ET);
}
