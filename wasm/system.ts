// System instructions of the two-byte map: descriptor tables, control and
// debug registers, task register, LAR/LSL/VERR/VERW, CLTS, INVLPG.
// Each handler decodes its own ModR/M (0F and the opcode byte are consumed).
import {
  STATE_BASE, S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT, S_CR0, S_CR2, S_CR3, S_CR4,
  S_DR, S_CPL, SEG_SEL, SEG_BASE, SEG_LIMIT, SEG_ACCESS,
} from "./layout";
import {
  reg32, setReg32, segAddr, segSel, segBase, cpl, cr0, cr4, LDTR, TR, F_ZF, CR0_PE, CR0_PG,
  CR0_WP, CR0_TS, CR0_ET, CR4_PSE, CR4_TSD, CR4_DE,
} from "./state";
import {
  protectedMode, v86Mode, opSize32, modReg, modRm, modIsReg, fetch8, eaSeg, eaOff, decodeModrm, rmRead,
  regWrite, opSz, readMem16, readMem32, writeMem16, writeMem32, probeWriteMem, syncModes,
} from "./cpu";
import { memorySyncIn, tlbFlushAll, tlbFlushPage } from "./memory";
import { raiseFault, NO_ERROR_CODE } from "./fault";
import { setArithFlags } from "./flags";
import {
  fetchDescriptor, dLo, dHi, dAddr, descBase, descLimit, descAccess, loadNull,
} from "./protected";
import { linWriteWith } from "./memory";
import { TLB_WRITE_SUPER } from "./layout";

function ud(): void {
  raiseFault(6, NO_ERROR_CODE);
}

// Privileged instructions: #GP(0) unless CPL 0 (V86 mode is CPL 3).
function requireCpl0(): void {
  if (protectedMode && (v86Mode || cpl() != 0)) raiseFault(13, 0);
}

// 0F 00: SLDT STR LLDT LTR VERR VERW
export function opGroup6(): void {
  if (!protectedMode || v86Mode) ud();
  decodeModrm();
  switch (modReg) {
    case 0: case 1: {
      const sel = segSel(modReg == 0 ? LDTR : TR);
      if (modIsReg) regWrite(modRm, opSz(), sel);
      else writeMem16(eaSeg, eaOff, sel);
      break;
    }
    case 2: {
      requireCpl0();
      const sel = rmRead(1);
      const code = sel & 0xfffc;
      if (code == 0) {
        loadNull(LDTR, sel);
        break;
      }
      if ((sel & 4) || !fetchDescriptor(sel)) raiseFault(13, <i32>code);
      if ((dHi & 0x1f00) != 0x0200) raiseFault(13, <i32>code);
      if (!(dHi & 0x8000)) raiseFault(11, <i32>code);
      setCache(LDTR, sel, dLo, dHi);
      break;
    }
    case 3: {
      requireCpl0();
      const sel = rmRead(1);
      const code = sel & 0xfffc;
      if (code == 0) raiseFault(13, 0);
      if ((sel & 4) || !fetchDescriptor(sel)) raiseFault(13, <i32>code);
      const type = (dHi >> 8) & 0x1f;
      if (type != 0x01 && type != 0x09) raiseFault(13, <i32>code);
      if (!(dHi & 0x8000)) raiseFault(11, <i32>code);
      const hi = dHi | 0x200;
      linWriteWith(dAddr + 4, 4, hi, TLB_WRITE_SUPER);
      setCache(TR, sel, dLo, hi);
      break;
    }
    case 4: case 5: {
      const sel = rmRead(1);
      setArithFlags(F_ZF, verify(sel, modReg == 5) ? F_ZF : 0);
      break;
    }
    default: ud();
  }
}

function setCache(seg: u32, sel: u32, lo: u32, hi: u32): void {
  const a = segAddr(seg);
  store<u32>(a + SEG_SEL, sel & 0xffff);
  store<u32>(a + SEG_BASE, descBase(lo, hi));
  store<u32>(a + SEG_LIMIT, descLimit(lo, hi));
  store<u32>(a + SEG_ACCESS, descAccess(hi));
}

// VERR/VERW: would a load into a data segment register allow the read/write?
function verify(sel: u32, write: bool): bool {
  if ((sel & 0xfffc) == 0 || !fetchDescriptor(sel)) return false;
  const acc = (dHi >> 8) & 0xff;
  if (!(acc & 0x10)) return false;
  const dpl = (acc >> 5) & 3;
  const code = (acc & 8) != 0;
  const conforming = code && (acc & 4) != 0;
  if (!conforming && (dpl < cpl() || dpl < (sel & 3))) return false;
  if (write) return !code && (acc & 2) != 0;
  return !code || (acc & 2) != 0;
}

// 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG
export function opGroup7(): void {
  decodeModrm();
  switch (modReg) {
    case 0: case 1: {
      if (modIsReg) ud();
      const base = stateU(modReg == 0 ? S_GDTR_BASE : S_IDTR_BASE);
      const limit = stateU(modReg == 0 ? S_GDTR_LIMIT : S_IDTR_LIMIT);
      probeWriteMem(eaSeg, eaOff, 6);
      writeMem16(eaSeg, eaOff, limit);
      writeMem32(eaSeg, eaOff + 2, opSize32 ? base : base & 0xffffff);
      break;
    }
    case 2: case 3: {
      if (modIsReg) ud();
      requireCpl0();
      const limit = readMem16(eaSeg, eaOff);
      let base = readMem32(eaSeg, eaOff + 2);
      if (!opSize32) base &= 0xffffff;
      store<u32>(STATE_BASE + (modReg == 2 ? S_GDTR_BASE : S_IDTR_BASE), base);
      store<u32>(STATE_BASE + (modReg == 2 ? S_GDTR_LIMIT : S_IDTR_LIMIT), limit);
      break;
    }
    case 4: {
      const v = cr0();
      if (modIsReg) regWrite(modRm, opSz(), v);
      else writeMem16(eaSeg, eaOff, v);
      break;
    }
    case 6: {
      requireCpl0();
      const v = rmRead(1);
      const old = cr0();
      // LMSW writes PE MP EM TS and can set PE but not clear it.
      setCr0((old & ~0xe) | (v & 0xf) | (old & CR0_PE));
      break;
    }
    case 7: {
      if (modIsReg) ud();
      requireCpl0();
      tlbFlushPage(segBase(eaSeg) + eaOff);
      break;
    }
    default: ud();
  }
}

@inline function stateU(off: u32): u32 {
  return load<u32>(STATE_BASE + off);
}

function setCr0(v: u32): void {
  const old = cr0();
  v |= CR0_ET;
  store<u32>(STATE_BASE + S_CR0, v);
  if ((old ^ v) & (CR0_PE | CR0_PG | CR0_WP)) {
    if (!(v & CR0_PE)) store<u32>(STATE_BASE + S_CPL, 0); // real mode is CPL 0
    memorySyncIn();
    tlbFlushAll();
    syncModes();
  }
}

// 0F 02 LAR / 0F 03 LSL
export function opLarLsl(isLsl: bool): void {
  if (!protectedMode || v86Mode) ud();
  decodeModrm();
  const sel = rmRead(1);
  let ok = (sel & 0xfffc) != 0 && fetchDescriptor(sel);
  if (ok) {
    const acc = (dHi >> 8) & 0xff;
    const dpl = (acc >> 5) & 3;
    if (acc & 0x10) {
      const conforming = (acc & 0x0c) == 0x0c;
      if (!conforming && (dpl < cpl() || dpl < (sel & 3))) ok = false;
    } else {
      const t = acc & 0xf;
      // LSL: TSS and LDT only; LAR also gates.
      ok = t == 1 || t == 2 || t == 3 || t == 9 || t == 0xb ||
        (!isLsl && (t == 4 || t == 5 || t == 0xc));
      if (ok && (dpl < cpl() || dpl < (sel & 3))) ok = false;
    }
  }
  if (ok) {
    const v = isLsl ? descLimit(dLo, dHi) : dHi & 0x00f0ff00;
    regWrite(modReg, opSz(), v);
  }
  setArithFlags(F_ZF, ok ? F_ZF : 0);
}

// 0F 06 CLTS
export function opClts(): void {
  requireCpl0();
  store<u32>(STATE_BASE + S_CR0, cr0() & ~CR0_TS);
}

const CR4_SUPPORTED: u32 = CR4_PSE | CR4_TSD | CR4_DE;

// 0F 20..23: MOV r32, CRn / MOV CRn, r32 / MOV r32, DRn / MOV DRn, r32
export function opMovControl(op: u32): void {
  // The mod field is ignored: the operand is always a register, with no displacement.
  const m = fetch8();
  requireCpl0();
  const n = (m >> 3) & 7;
  const modRm = m & 7;
  if (op == 0x20) {
    if (n == 0) setReg32(modRm, cr0());
    else if (n == 2) setReg32(modRm, stateU(S_CR2));
    else if (n == 3) setReg32(modRm, stateU(S_CR3));
    else if (n == 4) setReg32(modRm, cr4());
    else ud();
  } else if (op == 0x22) {
    const v = reg32(modRm);
    if (n == 0) {
      if ((v & CR0_PG) && !(v & CR0_PE)) raiseFault(13, 0);
      if ((v & (1 << 29)) && !(v & (1 << 30))) raiseFault(13, 0); // NW without CD
      setCr0(v);
    } else if (n == 2) {
      store<u32>(STATE_BASE + S_CR2, v);
    } else if (n == 3) {
      store<u32>(STATE_BASE + S_CR3, v);
      tlbFlushAll();
    } else if (n == 4) {
      if (v & ~CR4_SUPPORTED) raiseFault(13, 0);
      const old = cr4();
      store<u32>(STATE_BASE + S_CR4, v);
      if ((old ^ v) & CR4_PSE) {
        memorySyncIn();
        tlbFlushAll();
      }
    } else ud();
  } else {
    let r = n;
    if (r == 4 || r == 5) {
      if (cr4() & CR4_DE) ud();
      r += 2;
    }
    if (op == 0x21) {
      setReg32(modRm, stateU(S_DR + r * 4));
    } else {
      let v = reg32(modRm);
      if (r == 6) v = (v & 0xe00f) | 0xffff0ff0;
      else if (r == 7) v = (v & ~0xd800) | 0x400;
      store<u32>(STATE_BASE + S_DR + r * 4, v);
    }
  }
}
