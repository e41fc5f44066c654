// A small static decoder for the 16-bit real-mode instructions in the
// 80286 suite. The exclusion rules use it to recognise tests by what the
// instruction is (prefixes, opcode, ModR/M, the stack and memory offsets it
// touches), never by test id.
import type { Regs, SuiteTest } from "./types";

export interface Decoded {
  prefixes: number[];
  op: number;
  /** ModR/M byte, or -1 if the opcode has none. */
  modrm: number;
  reg: number;
  memOperand: boolean;
  /** Effective segment of the ModR/M memory operand: "ES" "CS" "SS" "DS", or null. */
  eaSeg: string | null;
  eaOff: number;
  /** Instruction length without the trailing HLT. */
  length: number;
}

const SEG_PREFIX: Record<number, string> = { 0x26: "ES", 0x2e: "CS", 0x36: "SS", 0x3e: "DS" };

export function hasModrm(op: number): boolean {
  if (op < 0x40) return (op & 7) < 4;
  return (
    op === 0x62 ||
    op === 0x63 ||
    op === 0x69 ||
    op === 0x6b ||
    (op >= 0x80 && op <= 0x8f) ||
    op === 0xc0 ||
    op === 0xc1 ||
    (op >= 0xc4 && op <= 0xc7) ||
    (op >= 0xd0 && op <= 0xd3) ||
    (op >= 0xd8 && op <= 0xdf) ||
    op === 0xf6 ||
    op === 0xf7 ||
    op === 0xfe ||
    op === 0xff
  );
}

export function decode(t: SuiteTest): Decoded {
  const b = t.bytes;
  const r = t.initial.regs;
  let i = 0;
  const prefixes: number[] = [];
  while (i < b.length && (b[i] in SEG_PREFIX || b[i] === 0xf0 || b[i] === 0xf2 || b[i] === 0xf3)) {
    prefixes.push(b[i]);
    i++;
  }
  const op = b[i++];
  let seg: string | null = null;
  for (const p of prefixes) if (p in SEG_PREFIX) seg = SEG_PREFIX[p];
  const d: Decoded = {
    prefixes,
    op,
    modrm: -1,
    reg: 0,
    memOperand: false,
    eaSeg: null,
    eaOff: 0,
    length: b.length - 1,
  };
  if (!hasModrm(op)) return d;
  const m = b[i++];
  d.modrm = m;
  d.reg = (m >> 3) & 7;
  const mod = m >> 6;
  const rm = m & 7;
  if (mod === 3) return d;
  d.memOperand = true;
  let off = 0;
  let def = "DS";
  switch (rm) {
    case 0:
      off = r.bx + r.si;
      break;
    case 1:
      off = r.bx + r.di;
      break;
    case 2:
      off = r.bp + r.si;
      def = "SS";
      break;
    case 3:
      off = r.bp + r.di;
      def = "SS";
      break;
    case 4:
      off = r.si;
      break;
    case 5:
      off = r.di;
      break;
    case 6:
      if (mod === 0) {
        off = b[i] | (b[i + 1] << 8);
        i += 2;
      } else {
        off = r.bp;
        def = "SS";
      }
      break;
    default:
      off = r.bx;
  }
  if (mod === 1) off += (b[i] << 24) >> 24;
  else if (mod === 2) off += b[i] | (b[i + 1] << 8);
  d.eaOff = off & 0xffff;
  d.eaSeg = seg ?? def;
  return d;
}

// 80386 §14.8.1 / SDM "LOCK": LOCK is allowed only on a memory-destination
// ADD ADC SUB SBB AND OR XOR INC DEC NOT NEG XCHG (and 0F BTx, absent here).
export function lockAllowedOn386(d: Decoded): boolean {
  const { op, reg, memOperand } = d;
  if (!memOperand) return false;
  if (op < 0x40) return (op & 7) < 2 && ((op >> 3) & 7) !== 7;
  if (op >= 0x80 && op <= 0x83) return reg !== 7;
  if (op === 0x86 || op === 0x87) return true;
  if (op === 0xf6 || op === 0xf7) return reg === 2 || reg === 3;
  if (op === 0xfe || op === 0xff) return reg < 2;
  return false;
}

// Whether the ModR/M memory operand is (at least) a word.
export function wordOperand(op: number): boolean {
  if (
    op < 0x40 ||
    (op >= 0x80 && op <= 0x8b) ||
    op === 0xc0 ||
    op === 0xc1 ||
    op === 0xc6 ||
    op === 0xc7 ||
    (op >= 0xd0 && op <= 0xd3) ||
    op === 0xf6 ||
    op === 0xf7 ||
    op === 0xfe ||
    op === 0xff
  ) {
    return (op & 1) === 1;
  }
  return true; // 62 63 69 6B 8C 8D 8E 8F C4 C5 D8-DF
}

// Offsets in SS at which the instruction makes a word access, as far as
// they can be known statically (implicit stack pops/pushes and SS-relative
// memory operands). Used to find stack-segment overruns at offset FFFF.
export function ssWordOffsets(t: SuiteTest, d: Decoded): number[] {
  const r: Regs = t.initial.regs;
  const out: number[] = [];
  const pops = (n: number, from = r.sp) => {
    for (let k = 0; k < n; k++) out.push((from + 2 * k) & 0xffff);
  };
  const pushes = (n: number) => {
    for (let k = 1; k <= n; k++) out.push((r.sp - 2 * k) & 0xffff);
  };
  const op = d.op;
  if (op === 0x07 || op === 0x17 || op === 0x1f || (op >= 0x58 && op <= 0x5f) || op === 0x9d)
    pops(1);
  else if (op === 0x8f) pops(1);
  else if (op === 0x61) pops(8);
  else if (op === 0xc2 || op === 0xc3) pops(1);
  else if (op === 0xca || op === 0xcb) pops(2);
  else if (op === 0xcf) pops(3);
  else if (op === 0xc9) pops(1, r.bp);
  else if (
    op === 0x06 ||
    op === 0x0e ||
    op === 0x16 ||
    op === 0x1e ||
    (op >= 0x50 && op <= 0x57) ||
    op === 0x68 ||
    op === 0x6a ||
    op === 0x9c ||
    op === 0xe8
  )
    pushes(1);
  else if (op === 0x60) pushes(8);
  else if (op === 0x9a || (op === 0xff && d.reg === 3)) pushes(2);
  else if (op === 0xcc || op === 0xcd || op === 0xce) pushes(3);
  const ssOverride = d.prefixes.filter((p) => p in SEG_PREFIX).pop() === 0x36;
  // word string ops reading DS:SI (ES:DI cannot be overridden), and MOV AX <-> moffs
  if (ssOverride && (op === 0x6f || op === 0xa5 || op === 0xa7 || op === 0xad)) out.push(r.si);
  if (ssOverride && (op === 0xa1 || op === 0xa3)) {
    const i = d.prefixes.length + 1;
    out.push(t.bytes[i] | (t.bytes[i + 1] << 8));
  }
  if (d.memOperand && d.eaSeg === "SS" && wordOperand(op)) {
    out.push(d.eaOff);
    // two-word operands: LES/LDS, BOUND, far CALL/JMP through memory
    if (
      op === 0xc4 ||
      op === 0xc5 ||
      op === 0x62 ||
      (op === 0xff && (d.reg === 3 || d.reg === 5))
    ) {
      out.push((d.eaOff + 2) & 0xffff);
    }
  }
  return out;
}
