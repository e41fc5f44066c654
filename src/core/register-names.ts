// Register names the TypeScript API accepts and where each one lives.

export const REG32_NAMES = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;
export const REG16_NAMES = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] as const;
// x86 encoding order: al cl dl bl are low bytes of regs 0-3, ah ch dh bh their high bytes.
export const REG8_NAMES = ["al", "cl", "dl", "bl", "ah", "ch", "dh", "bh"] as const;
export const SEGMENT_NAMES = ["es", "cs", "ss", "ds", "fs", "gs", "ldtr", "tr"] as const;
export const CONTROL_NAMES = ["cr0", "cr2", "cr3", "cr4"] as const;

export type Reg32Name = (typeof REG32_NAMES)[number];
export type Reg16Name = (typeof REG16_NAMES)[number];
export type Reg8Name = (typeof REG8_NAMES)[number];
export type RegisterName = Reg32Name | Reg16Name | Reg8Name | "eip" | "ip";
export type SegmentName = (typeof SEGMENT_NAMES)[number];
export type ControlName = (typeof CONTROL_NAMES)[number];

export interface SegmentRegister {
  selector: number;
  base: number;
  limit: number;
  /** Descriptor bits 40..55 (as LAR returns them, shifted right by 8). */
  access: number;
}

/** Where a general register name points: the 32-bit slot, bit shift and width. */
export interface RegisterSlot {
  /** Index into eax..edi, or -1 for eip. */
  index: number;
  shift: 0 | 8;
  bits: 8 | 16 | 32;
}

export function registerSlot(name: RegisterName): RegisterSlot {
  if (name === "eip") return { index: -1, shift: 0, bits: 32 };
  if (name === "ip") return { index: -1, shift: 0, bits: 16 };
  let index = (REG32_NAMES as readonly string[]).indexOf(name);
  if (index >= 0) return { index, shift: 0, bits: 32 };
  index = (REG16_NAMES as readonly string[]).indexOf(name);
  if (index >= 0) return { index, shift: 0, bits: 16 };
  index = (REG8_NAMES as readonly string[]).indexOf(name);
  if (index >= 0) return { index: index & 3, shift: index >= 4 ? 8 : 0, bits: 8 };
  throw new Error(`unknown register name: ${String(name)}`);
}

export function segmentIndex(name: SegmentName): number {
  const index = (SEGMENT_NAMES as readonly string[]).indexOf(name);
  if (index < 0) throw new Error(`unknown segment register: ${String(name)}`);
  return index;
}
