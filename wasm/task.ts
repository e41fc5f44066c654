// Hardware task switches: JMP/CALL to a TSS or task gate, interrupts through
// a task gate, IRET with NT set. 32-bit and 16-bit TSS formats.
import {
  STATE_BASE, S_CR0, S_CR3, S_CPL, SEG_SEL, SEG_BASE, SEG_LIMIT, SEG_ACCESS, TLB_READ_SUPER,
  TLB_WRITE_SUPER,
} from "./layout";
import {
  gEip, gFlags, reg32, setReg32, segAddr, segSel, segBase, segLimit, segAccess, cpl, CS, SS, DS,
  ES, FS, GS, LDTR, TR, F_NT, F_VM, CR0_TS, CR0_PG,
} from "./state";
import { syncModes } from "./cpu";
import { linRead16With, linRead32With, linWriteWith, tlbFlushAll } from "./memory";
import { raiseFault, insnEip, insnEsp } from "./fault";
import { materializeFlags } from "./flags";
import { loadSegmentReal } from "./transfer";
import {
  fetchDescriptor, dLo, dHi, dAddr, descBase, descLimit, descAccess, loadNull, loadSegChecked,
  markAccessed,
} from "./protected";

export const TS_JMP: u32 = 0;
export const TS_CALL: u32 = 1;
export const TS_IRET: u32 = 2;
export const TS_INT: u32 = 3;

// New task's state read before anything is committed: EIP, EFLAGS, 8 registers,
// 6 selectors (ES CS SS DS FS GS), LDT selector, CR3. Derived scratch, not saved.
const TS_SCRATCH: u32 = STATE_BASE + 0x400;
const T_EIP: u32 = 0;
const T_FLAGS: u32 = 4;
const T_REGS: u32 = 8; // 8 u32
const T_SEGS: u32 = 40; // 6 u32
const T_LDT: u32 = 64;
const T_CR3: u32 = 68;

@inline function rd32(lin: u32): u32 {
  return linRead32With(lin, TLB_READ_SUPER);
}
@inline function rd16(lin: u32): u32 {
  return linRead16With(lin, TLB_READ_SUPER);
}
@inline function wr32(lin: u32, v: u32): void {
  linWriteWith(lin, 4, v, TLB_WRITE_SUPER);
}
@inline function wr16(lin: u32, v: u32): void {
  linWriteWith(lin, 2, v & 0xffff, TLB_WRITE_SUPER);
}
@inline function tput(off: u32, v: u32): void {
  store<u32>(TS_SCRATCH + off, v);
}
@inline function tget(off: u32): u32 {
  return load<u32>(TS_SCRATCH + off);
}

// Sets or clears the busy bit of the TSS descriptor sel names in the GDT.
function setBusy(sel: u32, busy: bool): void {
  if (!fetchDescriptor(sel & 0xfffb)) return;
  const hi = busy ? dHi | 0x200 : dHi & ~0x200;
  if (hi != dHi) wr32(dAddr + 4, hi);
}

// ext: 1 when caused by an exception or external interrupt (EXT bit of error codes).
export function taskSwitch(sel: u32, kind: u32, ext: u32): void {
  const code = (sel & 0xfffc) | ext;
  const badVec: u32 = kind == TS_IRET ? 10 : 13;
  if (sel & 4) raiseFault(badVec, <i32>code);
  if (!fetchDescriptor(sel)) raiseFault(badVec, <i32>code);
  const lo = dLo, hi = dHi;
  const type = (hi >> 8) & 0x1f;
  if (kind == TS_IRET) {
    if (type != 0x03 && type != 0x0b) raiseFault(10, <i32>code);
  } else if (type != 0x01 && type != 0x09) raiseFault(13, <i32>code);
  if (!(hi & 0x8000)) raiseFault(11, <i32>code);
  const is32 = (type & 8) != 0;
  const nb = descBase(lo, hi);
  const nlimit = descLimit(lo, hi);
  const minLimit: u32 = is32 ? 0x67 : 0x2b;
  if (nlimit < minLimit) raiseFault(10, <i32>code);

  // Read the new task's state.
  if (is32) {
    tput(T_CR3, rd32(nb + 0x1c));
    tput(T_EIP, rd32(nb + 0x20));
    tput(T_FLAGS, rd32(nb + 0x24));
    for (let r: u32 = 0; r < 8; r++) tput(T_REGS + r * 4, rd32(nb + 0x28 + r * 4));
    for (let s: u32 = 0; s < 6; s++) tput(T_SEGS + s * 4, rd16(nb + 0x48 + s * 4));
    tput(T_LDT, rd16(nb + 0x60));
  } else {
    tput(T_EIP, rd16(nb + 0x0e));
    tput(T_FLAGS, rd16(nb + 0x10));
    for (let r: u32 = 0; r < 8; r++) tput(T_REGS + r * 4, rd16(nb + 0x12 + r * 2));
    for (let s: u32 = 0; s < 4; s++) tput(T_SEGS + s * 4, rd16(nb + 0x22 + s * 2));
    tput(T_SEGS + 16, 0);
    tput(T_SEGS + 20, 0);
    tput(T_LDT, rd16(nb + 0x2a));
  }

  // Save the current state in the old TSS.
  const oldSel = segSel(TR);
  const ob = segBase(TR);
  const old32 = (segAccess(TR) & 8) != 0;
  let fl = materializeFlags();
  if (kind == TS_IRET) fl &= ~F_NT;
  if (old32) {
    wr32(ob + 0x20, gEip);
    wr32(ob + 0x24, fl);
    for (let r: u32 = 0; r < 8; r++) wr32(ob + 0x28 + r * 4, reg32(r));
    for (let s: u32 = 0; s < 6; s++) wr16(ob + 0x48 + s * 4, segSel(s));
  } else {
    wr16(ob + 0x0e, gEip);
    wr16(ob + 0x10, fl);
    for (let r: u32 = 0; r < 8; r++) wr16(ob + 0x12 + r * 2, reg32(r));
    for (let s: u32 = 0; s < 4; s++) wr16(ob + 0x22 + s * 2, segSel(s));
  }
  if (kind == TS_JMP || kind == TS_IRET) setBusy(oldSel, false);

  let nfl = tget(T_FLAGS);
  if (kind == TS_CALL || kind == TS_INT) {
    wr16(nb, oldSel);
    nfl |= F_NT;
  }
  if (kind != TS_IRET) setBusy(sel, true);

  // Commit: the new task's TR, CR3, registers and flags.
  const tr = segAddr(TR);
  store<u32>(tr + SEG_SEL, sel & 0xffff);
  store<u32>(tr + SEG_BASE, nb);
  store<u32>(tr + SEG_LIMIT, nlimit);
  store<u32>(tr + SEG_ACCESS, descAccess(hi) | 0x200);
  store<u32>(STATE_BASE + S_CR0, load<u32>(STATE_BASE + S_CR0) | CR0_TS);
  if (is32 && (load<u32>(STATE_BASE + S_CR0) & CR0_PG)) {
    store<u32>(STATE_BASE + S_CR3, tget(T_CR3));
    tlbFlushAll();
  }
  for (let r: u32 = 0; r < 8; r++) setReg32(r, tget(T_REGS + r * 4));
  gEip = tget(T_EIP);
  materializeFlags();
  gFlags = (is32 ? nfl : nfl & 0xffff) | 2;
  // Faults from here on belong to the new task.
  insnEip = gEip;
  insnEsp = reg32(4);

  // Selectors first, unusable until validated.
  for (let s: u32 = 0; s < 6; s++) loadNull(s, tget(T_SEGS + s * 4));
  const ldt = tget(T_LDT);
  loadNull(LDTR, ldt);
  if (gFlags & F_VM) {
    store<u32>(STATE_BASE + S_CPL, 3);
    syncModes();
    for (let s: u32 = 0; s < 6; s++) loadSegmentReal(s, tget(T_SEGS + s * 4));
  } else {
    const csSel = tget(T_SEGS + CS * 4);
    store<u32>(STATE_BASE + S_CPL, csSel & 3);
    syncModes();
    // LDT
    if ((ldt & 0xfffc) != 0) {
      if ((ldt & 4) || !fetchDescriptor(ldt)) raiseFault(10, <i32>((ldt & 0xfffc) | ext));
      if ((dHi & 0x1f00) != 0x0200) raiseFault(10, <i32>((ldt & 0xfffc) | ext));
      if (!(dHi & 0x8000)) raiseFault(10, <i32>((ldt & 0xfffc) | ext));
      const a = segAddr(LDTR);
      store<u32>(a + SEG_BASE, descBase(dLo, dHi));
      store<u32>(a + SEG_LIMIT, descLimit(dLo, dHi));
      store<u32>(a + SEG_ACCESS, descAccess(dHi));
    }
    // CS
    const csCode = (csSel & 0xfffc) | ext;
    if ((csSel & 0xfffc) == 0 || !fetchDescriptor(csSel)) raiseFault(10, <i32>csCode);
    const dpl = (dHi >> 13) & 3;
    if ((dHi & 0x1800) != 0x1800) raiseFault(10, <i32>csCode);
    if ((dHi & 0x400) ? dpl > (csSel & 3) : dpl != (csSel & 3)) raiseFault(10, <i32>csCode);
    if (!(dHi & 0x8000)) raiseFault(11, <i32>csCode);
    markAccessed(dAddr, dHi);
    const a = segAddr(CS);
    store<u32>(a + SEG_BASE, descBase(dLo, dHi));
    store<u32>(a + SEG_LIMIT, descLimit(dLo, dHi));
    store<u32>(a + SEG_ACCESS, descAccess(dHi) | 0x100);
    syncModes();
    loadSegChecked(SS, tget(T_SEGS + SS * 4), 10);
    loadSegChecked(DS, tget(T_SEGS + DS * 4), 10);
    loadSegChecked(ES, tget(T_SEGS + ES * 4), 10);
    loadSegChecked(FS, tget(T_SEGS + FS * 4), 10);
    loadSegChecked(GS, tget(T_SEGS + GS * 4), 10);
  }
  if (gEip > segLimit(CS)) raiseFault(13, 0);
  void cpl;
}
