// Protected-mode segmentation, privilege checks and control transfer:
// segment loads, far JMP/CALL/RETF, IRET, interrupt delivery through the IDT,
// ARPL. Task switches are in task.ts.
import {
  STATE_BASE, S_CPL, S_GDTR_BASE, S_GDTR_LIMIT, S_IDTR_BASE, S_IDTR_LIMIT, SEG_SEL, SEG_BASE,
  SEG_LIMIT, SEG_ACCESS, TLB_READ_SUPER, TLB_WRITE_SUPER, TLB_WRITE_USER,
} from "./layout";
import {
  gEip, gFlags, reg32, setReg32, reg16, segAddr, segSel, segBase, segLimit, segAccess, cpl,
  stateU32, CS, SS, DS, ES, FS, GS, LDTR, TR, ESP, F_IF, F_TF, F_NT, F_RF, F_VM, F_IOPL, F_ZF,
  F_VIF, F_VIP,
} from "./state";
import {
  v86Mode, syncModes, segmentChanged, opSize32, stack32, stackOffset, push16,
  push32, readMem16, readMem32, decodeModrm, rmReadForWrite, rmWrite, modReg,
} from "./cpu";
import { linRead16With, linRead32With, linWriteWith } from "./memory";
import { raiseFault } from "./fault";
import { materializeFlags, setArithFlags } from "./flags";
import { loadSegmentReal, writeFlagsReal } from "./transfer";
import { taskSwitch, TS_JMP, TS_CALL, TS_IRET, TS_INT } from "./task";

// ---- descriptors ----

// The descriptor found by the last fetchDescriptor(): its two dwords and linear address.
export let dLo: u32 = 0;
export let dHi: u32 = 0;
export let dAddr: u32 = 0;

// Reads the descriptor sel names (GDT or LDT by the TI bit). false: outside the table.
export function fetchDescriptor(sel: u32): bool {
  let base: u32, limit: u32;
  if (sel & 4) {
    if ((segSel(LDTR) & 0xfffc) == 0 || (segAccess(LDTR) & 0x80) == 0) return false;
    base = segBase(LDTR);
    limit = segLimit(LDTR);
  } else {
    base = stateU32(S_GDTR_BASE);
    limit = stateU32(S_GDTR_LIMIT);
  }
  const idx = sel & 0xfff8;
  if (idx + 7 > limit) return false;
  dAddr = base + idx;
  dLo = linRead32With(dAddr, TLB_READ_SUPER);
  dHi = linRead32With(dAddr + 4, TLB_READ_SUPER);
  return true;
}

@inline export function descBase(lo: u32, hi: u32): u32 {
  return (lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000);
}
@inline export function descLimit(lo: u32, hi: u32): u32 {
  const l = (lo & 0xffff) | (hi & 0xf0000);
  return (hi & 0x800000) ? (l << 12) | 0xfff : l;
}
// Access rights as stored in the segment cache (descriptor bits 40..55).
@inline export function descAccess(hi: u32): u32 {
  return (hi >> 8) & 0xf0ff;
}
@inline function descDpl(hi: u32): u32 {
  return (hi >> 13) & 3;
}

// Sets the accessed bit of a code/data descriptor in memory.
export function markAccessed(addr: u32, hi: u32): void {
  if (!(hi & 0x100)) linWriteWith(addr + 4, 4, hi | 0x100, TLB_WRITE_SUPER);
}

export function loadCacheFrom(seg: u32, sel: u32, lo: u32, hi: u32): void {
  const a = segAddr(seg);
  store<u32>(a + SEG_SEL, sel & 0xffff);
  store<u32>(a + SEG_BASE, descBase(lo, hi));
  store<u32>(a + SEG_LIMIT, descLimit(lo, hi));
  store<u32>(a + SEG_ACCESS, descAccess(hi));
  segmentChanged(seg);
}

// A null (unusable) segment: any access through it is #GP(0).
export function loadNull(seg: u32, sel: u32): void {
  const a = segAddr(seg);
  store<u32>(a + SEG_SEL, sel & 0xffff);
  store<u32>(a + SEG_BASE, 0);
  store<u32>(a + SEG_LIMIT, 0);
  store<u32>(a + SEG_ACCESS, 0);
  segmentChanged(seg);
}

export function setCpl(n: u32): void {
  store<u32>(STATE_BASE + S_CPL, n);
  syncModes();
}

// Loads CS from the descriptor (lo, hi, addr) with RPL = newCpl and makes newCpl current.
function commitCS(sel: u32, lo: u32, hi: u32, addr: u32, newCpl: u32): void {
  markAccessed(addr, hi);
  const a = segAddr(CS);
  store<u32>(a + SEG_SEL, (sel & 0xfffc) | newCpl);
  store<u32>(a + SEG_BASE, descBase(lo, hi));
  store<u32>(a + SEG_LIMIT, descLimit(lo, hi));
  store<u32>(a + SEG_ACCESS, descAccess(hi) | 0x100);
  store<u32>(STATE_BASE + S_CPL, newCpl);
  syncModes();
}

// Checked load of a data segment register or SS. vec: 13 (#GP) for
// instructions, 10 (#TS) inside a task switch.
export function loadSegChecked(seg: u32, sel: u32, vec: u32): void {
  const c = cpl();
  const rpl = sel & 3;
  const code = sel & 0xfffc;
  if (code == 0) {
    if (seg == SS) raiseFault(vec, 0);
    loadNull(seg, sel);
    return;
  }
  if (!fetchDescriptor(sel)) raiseFault(vec, <i32>code);
  const hi = dHi;
  const acc = (hi >> 8) & 0xff;
  const dpl = descDpl(hi);
  if (seg == SS) {
    if ((acc & 0x1a) != 0x12 || rpl != c || dpl != c) raiseFault(vec, <i32>code);
    if (!(acc & 0x80)) raiseFault(12, <i32>code);
  } else {
    // Data, or readable code; conforming code skips the privilege check.
    if ((acc & 0x10) == 0 || (acc & 0x0a) == 0x08) raiseFault(vec, <i32>code);
    if ((acc & 0x0c) != 0x0c && (dpl < c || dpl < rpl)) raiseFault(vec, <i32>code);
    if (!(acc & 0x80)) raiseFault(11, <i32>code);
  }
  markAccessed(dAddr, hi);
  loadCacheFrom(seg, sel, dLo, hi | 0x100);
}

export function pmLoadSegment(seg: u32, sel: u32): void {
  loadSegChecked(seg, sel, 13);
}

// After a return to an outer level: data segments the new CPL may not use become null.
function nullInaccessibleSegments(): void {
  const c = cpl();
  for (let s: u32 = 0; s < 6; s++) {
    if (s == CS || s == SS) continue;
    const acc = segAccess(s);
    const conformingCode = (acc & 0x1c) == 0x1c;
    if (!conformingCode && ((acc >> 5) & 3) < c) loadNull(s, 0);
  }
}

// ---- stack builder for pushes onto a stack that is not loaded yet ----

let sbBase: u32 = 0;
let sbLimit: u32 = 0;
let sbExpandDown: bool = false;
let sbBig: bool = false;
let sbEsp: u32 = 0;
let sbCode: u32 = 0;
let sbBit: u32 = 0;

function sbInit(lo: u32, hi: u32, esp: u32, faultCode: u32, newCpl: u32): void {
  sbBase = descBase(lo, hi);
  sbLimit = descLimit(lo, hi);
  sbExpandDown = (hi & 0x400) != 0;
  sbBig = (hi & 0x400000) != 0;
  sbEsp = sbBig ? esp : esp & 0xffff;
  sbCode = faultCode;
  sbBit = newCpl == 3 ? TLB_WRITE_USER : TLB_WRITE_SUPER;
}

function sbPush(v: u32, size: u32): void {
  const esp = sbBig ? sbEsp - size : (sbEsp - size) & 0xffff;
  const last = esp + size - 1;
  let bad: bool;
  if (sbExpandDown) bad = esp <= sbLimit || last > (sbBig ? 0xffffffff : 0xffff) || last < esp;
  else bad = last > sbLimit || last < esp;
  if (bad) raiseFault(12, <i32>sbCode);
  linWriteWith(sbBase + esp, size, size == 4 ? v : v & 0xffff, sbBit);
  sbEsp = esp;
}

// Stack pointer for privilege level n from the current TSS.
let tsEsp: u32 = 0;
let tsSs: u32 = 0;

function tssStack(n: u32, ext: u32): void {
  const type = segAccess(TR) & 0xf;
  const base = segBase(TR);
  const limit = segLimit(TR);
  const trCode = (segSel(TR) & 0xfffc) | ext;
  if (type & 8) {
    const off: u32 = 4 + n * 8;
    if (off + 5 > limit) raiseFault(10, <i32>trCode);
    tsEsp = linRead32With(base + off, TLB_READ_SUPER);
    tsSs = linRead16With(base + off + 4, TLB_READ_SUPER);
  } else {
    const off: u32 = 2 + n * 4;
    if (off + 3 > limit) raiseFault(10, <i32>trCode);
    tsEsp = linRead16With(base + off, TLB_READ_SUPER);
    tsSs = linRead16With(base + off + 2, TLB_READ_SUPER);
  }
}

// Validates the inner stack segment tsSs for level n; leaves its descriptor in dLo/dHi/dAddr.
function checkInnerStack(n: u32, ext: u32): void {
  const code = tsSs & 0xfffc;
  if (code == 0) raiseFault(10, <i32>ext);
  if (!fetchDescriptor(tsSs)) raiseFault(10, <i32>(code | ext));
  const acc = (dHi >> 8) & 0xff;
  if ((tsSs & 3) != n || descDpl(dHi) != n || (acc & 0x1a) != 0x12) raiseFault(10, <i32>(code | ext));
  if (!(acc & 0x80)) raiseFault(12, <i32>(code | ext));
}

function commitNewStack(ssLo: u32, ssHi: u32, ssAddr: u32, tssEsp: u32): void {
  markAccessed(ssAddr, ssHi);
  loadCacheFrom(SS, tsSs, ssLo, ssHi | 0x100);
  setReg32(ESP, sbBig ? sbEsp : (tssEsp & 0xffff0000) | sbEsp);
}

// ---- far JMP / CALL ----

// Validates a code segment descriptor (in dLo/dHi) as the direct target of JMP/CALL.
function checkDirectCode(sel: u32): void {
  const code = sel & 0xfffc;
  const c = cpl();
  const dpl = descDpl(dHi);
  if ((dHi & 0x1800) != 0x1800) raiseFault(13, <i32>code);
  if (dHi & 0x400) {
    if (dpl > c) raiseFault(13, <i32>code);
  } else if ((sel & 3) > c || dpl != c) raiseFault(13, <i32>code);
  if (!(dHi & 0x8000)) raiseFault(11, <i32>code);
}

@inline function gateOffset(lo: u32, hi: u32): u32 {
  return (hi & 0x800) ? (lo & 0xffff) | (hi & 0xffff0000) : lo & 0xffff;
}

// Checks a system descriptor used by JMP/CALL (gate or TSS): privilege and presence.
function checkGateDpl(sel: u32): void {
  const dpl = descDpl(dHi);
  if (dpl < cpl() || dpl < (sel & 3)) raiseFault(13, <i32>(sel & 0xfffc));
  if (!(dHi & 0x8000)) raiseFault(11, <i32>(sel & 0xfffc));
}

export function pmFarJump(sel: u32, off: u32): void {
  if ((sel & 0xfffc) == 0) raiseFault(13, 0);
  if (!fetchDescriptor(sel)) raiseFault(13, <i32>(sel & 0xfffc));
  if (dHi & 0x1000) {
    checkDirectCode(sel);
    if (off > descLimit(dLo, dHi)) raiseFault(13, 0);
    commitCS(sel, dLo, dHi, dAddr, cpl());
    gEip = off;
    return;
  }
  const type = (dHi >> 8) & 0xf;
  if (type == 1 || type == 9) {
    checkGateDpl(sel);
    taskSwitch(sel, TS_JMP, 0);
    return;
  }
  if (type == 5) {
    checkGateDpl(sel);
    taskSwitch(dLo >>> 16, TS_JMP, 0);
    return;
  }
  if (type != 4 && type != 0xc) raiseFault(13, <i32>(sel & 0xfffc));
  checkGateDpl(sel);
  const target = dLo >>> 16;
  const eip = gateOffset(dLo, dHi);
  const tcode = target & 0xfffc;
  if (tcode == 0) raiseFault(13, 0);
  if (!fetchDescriptor(target)) raiseFault(13, <i32>tcode);
  const c = cpl();
  const dpl = descDpl(dHi);
  if ((dHi & 0x1800) != 0x1800) raiseFault(13, <i32>tcode);
  if ((dHi & 0x400) ? dpl > c : dpl != c) raiseFault(13, <i32>tcode);
  if (!(dHi & 0x8000)) raiseFault(11, <i32>tcode);
  if (eip > descLimit(dLo, dHi)) raiseFault(13, 0);
  commitCS(target, dLo, dHi, dAddr, c);
  gEip = eip;
}

export function pmFarCall(sel: u32, off: u32): void {
  if ((sel & 0xfffc) == 0) raiseFault(13, 0);
  if (!fetchDescriptor(sel)) raiseFault(13, <i32>(sel & 0xfffc));
  const oldCs = segSel(CS);
  if (dHi & 0x1000) {
    checkDirectCode(sel);
    if (off > descLimit(dLo, dHi)) raiseFault(13, 0);
    const lo = dLo, hi = dHi, addr = dAddr;
    if (opSize32) {
      push32(oldCs);
      push32(gEip);
    } else {
      push16(oldCs);
      push16(gEip);
    }
    commitCS(sel, lo, hi, addr, cpl());
    gEip = off;
    return;
  }
  const type = (dHi >> 8) & 0xf;
  if (type == 1 || type == 9) {
    checkGateDpl(sel);
    taskSwitch(sel, TS_CALL, 0);
    return;
  }
  if (type == 5) {
    checkGateDpl(sel);
    taskSwitch(dLo >>> 16, TS_CALL, 0);
    return;
  }
  if (type != 4 && type != 0xc) raiseFault(13, <i32>(sel & 0xfffc));
  checkGateDpl(sel);
  const gateHi = dHi;
  const w: u32 = (gateHi & 0x800) ? 4 : 2;
  const params = gateHi & 0x1f;
  const target = dLo >>> 16;
  const eip = gateOffset(dLo, dHi);
  const tcode = target & 0xfffc;
  if (tcode == 0) raiseFault(13, 0);
  if (!fetchDescriptor(target)) raiseFault(13, <i32>tcode);
  const c = cpl();
  const dpl = descDpl(dHi);
  if ((dHi & 0x1800) != 0x1800 || dpl > c) raiseFault(13, <i32>tcode);
  if (!(dHi & 0x8000)) raiseFault(11, <i32>tcode);
  if (eip > descLimit(dLo, dHi)) raiseFault(13, 0);
  const csLo = dLo, csHi = dHi, csAddr = dAddr;
  if ((csHi & 0x400) == 0 && dpl < c) {
    // More privileged: switch to the stack for level dpl from the TSS.
    tssStack(dpl, 0);
    const newEsp = tsEsp;
    checkInnerStack(dpl, 0);
    const ssLo = dLo, ssHi = dHi | 0x100, ssAddr = dAddr;
    markAccessed(csAddr, csHi);
    markAccessed(ssAddr, dHi);
    sbInit(ssLo, ssHi, newEsp, tsSs & 0xfffc, dpl);
    const oldEsp = reg32(ESP);
    sbPush(segSel(SS), w);
    sbPush(stack32 ? oldEsp : oldEsp & 0xffff, w);
    for (let i = <i32>params - 1; i >= 0; i--) {
      const o = stackOffset(<u32>i * w);
      sbPush(w == 4 ? readMem32(SS, o) : readMem16(SS, o), w);
    }
    sbPush(oldCs, w);
    sbPush(gEip, w);
    commitNewStack(ssLo, ssHi, ssAddr, newEsp);
    commitCS(target, csLo, csHi | 0x100, csAddr, dpl);
  } else {
    markAccessed(csAddr, csHi);
    if (w == 4) {
      push32(oldCs);
      push32(gEip);
    } else {
      push16(oldCs);
      push16(gEip);
    }
    commitCS(target, csLo, csHi | 0x100, csAddr, c);
  }
  gEip = eip;
}

// ---- returns ----

// Validates the code segment selector popped by RETF/IRET; leaves the descriptor in dLo/dHi.
function checkReturnCode(sel: u32): void {
  const code = sel & 0xfffc;
  if (code == 0) raiseFault(13, 0);
  if (!fetchDescriptor(sel)) raiseFault(13, <i32>code);
  const rpl = sel & 3;
  const dpl = descDpl(dHi);
  if ((dHi & 0x1800) != 0x1800 || rpl < cpl()) raiseFault(13, <i32>code);
  if ((dHi & 0x400) ? dpl > rpl : dpl != rpl) raiseFault(13, <i32>code);
  if (!(dHi & 0x8000)) raiseFault(11, <i32>code);
}

// Validates the outer SS popped by RETF/IRET for level rpl; descriptor in dLo/dHi.
function checkReturnStack(sel: u32, rpl: u32): void {
  const code = sel & 0xfffc;
  if (code == 0) raiseFault(13, 0);
  if (!fetchDescriptor(sel)) raiseFault(13, <i32>code);
  const acc = (dHi >> 8) & 0xff;
  if ((sel & 3) != rpl || (acc & 0x1a) != 0x12 || descDpl(dHi) != rpl) raiseFault(13, <i32>code);
  if (!(acc & 0x80)) raiseFault(12, <i32>code);
}

export function pmFarReturn(popBytes: u32): void {
  const w: u32 = opSize32 ? 4 : 2;
  const eipRaw = w == 4 ? readMem32(SS, stackOffset(0)) : readMem16(SS, stackOffset(0));
  const sel = readMem16(SS, stackOffset(w));
  checkReturnCode(sel);
  const csLo = dLo, csHi = dHi, csAddr = dAddr;
  const rpl = sel & 3;
  if (eipRaw > descLimit(csLo, csHi)) raiseFault(13, 0);
  if (rpl == cpl()) {
    commitCS(sel, csLo, csHi, csAddr, rpl);
    setSp(stackOffset(2 * w + popBytes));
    gEip = eipRaw;
    return;
  }
  const newEspRaw = w == 4 ? readMem32(SS, stackOffset(2 * w + popBytes)) : readMem16(SS, stackOffset(2 * w + popBytes));
  const ssSel = readMem16(SS, stackOffset(3 * w + popBytes));
  checkReturnStack(ssSel, rpl);
  const ssLo = dLo, ssHi = dHi, ssAddr = dAddr;
  markAccessed(ssAddr, ssHi);
  markAccessed(csAddr, csHi);
  commitCS(sel, csLo, csHi | 0x100, csAddr, rpl);
  loadCacheFrom(SS, ssSel, ssLo, ssHi | 0x100);
  const newEsp = newEspRaw + popBytes;
  if (stack32) setReg32(ESP, newEsp);
  else setReg32(ESP, (reg32(ESP) & 0xffff0000) | (newEsp & 0xffff));
  gEip = eipRaw;
  nullInaccessibleSegments();
}

@inline function setSp(v: u32): void {
  if (stack32) setReg32(ESP, v);
  else setReg32(ESP, (reg32(ESP) & 0xffff0000) | (v & 0xffff));
}

// Flags IRET may load in protected mode, given the CPL before the return.
function iretFlagMask(w: u32, oldCpl: u32): u32 {
  let mask: u32 = 0x4dd5; // CF PF AF ZF SF TF DF OF NT
  if (w == 4) mask |= F_RF | (1 << 18) | (1 << 21); // RF AC ID
  const iopl = (gFlags & F_IOPL) >> 12;
  if (oldCpl <= iopl) mask |= F_IF;
  if (oldCpl == 0) {
    mask |= F_IOPL;
    if (w == 4) mask |= F_VIF | F_VIP;
  }
  return mask;
}

export function pmInterruptReturn(): void {
  const w: u32 = opSize32 ? 4 : 2;
  if (v86Mode) {
    // IOPL is 3 here (exec.ts checked): a real-mode style return that keeps IOPL and VM.
    const eipRaw = w == 4 ? readMem32(SS, stackOffset(0)) : readMem16(SS, stackOffset(0));
    const sel = readMem16(SS, stackOffset(w));
    const fl = w == 4 ? readMem32(SS, stackOffset(2 * w)) : readMem16(SS, stackOffset(2 * w));
    if (eipRaw > 0xffff) raiseFault(13, 0);
    setSp(stackOffset(3 * w));
    loadSegmentReal(CS, sel);
    gEip = eipRaw;
    const mask: u32 = (w == 4 ? 0x257fd5 : 0x7fd5) & ~(F_IOPL | F_VM);
    writeFlagsReal(fl, mask);
    return;
  }
  materializeFlags();
  if (gFlags & F_NT) {
    const link = linRead16With(segBase(TR), TLB_READ_SUPER);
    taskSwitch(link, TS_IRET, 0);
    return;
  }
  const eipRaw = w == 4 ? readMem32(SS, stackOffset(0)) : readMem16(SS, stackOffset(0));
  const sel = readMem16(SS, stackOffset(w));
  const fl = w == 4 ? readMem32(SS, stackOffset(2 * w)) : readMem16(SS, stackOffset(2 * w));
  const oldCpl = cpl();
  if (w == 4 && (fl & F_VM) && oldCpl == 0) {
    returnToV86(eipRaw, sel, fl);
    return;
  }
  checkReturnCode(sel);
  const csLo = dLo, csHi = dHi, csAddr = dAddr;
  const rpl = sel & 3;
  if (eipRaw > descLimit(csLo, csHi)) raiseFault(13, 0);
  const mask = iretFlagMask(w, oldCpl);
  if (rpl == oldCpl) {
    markAccessed(csAddr, csHi);
    writeFlagsReal(fl, mask);
    commitCS(sel, csLo, csHi | 0x100, csAddr, rpl);
    setSp(stackOffset(3 * w));
    gEip = eipRaw;
    return;
  }
  const newEspRaw = w == 4 ? readMem32(SS, stackOffset(3 * w)) : readMem16(SS, stackOffset(3 * w));
  const ssSel = readMem16(SS, stackOffset(4 * w));
  checkReturnStack(ssSel, rpl);
  const ssLo = dLo, ssHi = dHi, ssAddr = dAddr;
  markAccessed(ssAddr, ssHi);
  markAccessed(csAddr, csHi);
  writeFlagsReal(fl, mask);
  commitCS(sel, csLo, csHi | 0x100, csAddr, rpl);
  loadCacheFrom(SS, ssSel, ssLo, ssHi | 0x100);
  if (stack32) setReg32(ESP, newEspRaw);
  else setReg32(ESP, (reg32(ESP) & 0xffff0000) | (newEspRaw & 0xffff));
  gEip = eipRaw;
  nullInaccessibleSegments();
}

// IRETD at CPL 0 with VM set in the popped EFLAGS: the stack also holds ESP SS ES DS FS GS.
function returnToV86(eipRaw: u32, sel: u32, fl: u32): void {
  const newEsp = readMem32(SS, stackOffset(12));
  const ss = readMem32(SS, stackOffset(16)) & 0xffff;
  const es = readMem32(SS, stackOffset(20)) & 0xffff;
  const ds = readMem32(SS, stackOffset(24)) & 0xffff;
  const fs = readMem32(SS, stackOffset(28)) & 0xffff;
  const gs = readMem32(SS, stackOffset(32)) & 0xffff;
  if (eipRaw > 0xffff) raiseFault(13, 0);
  materializeFlags();
  gFlags = (fl & 0x3f7fd7) | 2 | F_VM;
  store<u32>(STATE_BASE + S_CPL, 3);
  syncModes();
  loadSegmentReal(CS, sel);
  loadSegmentReal(SS, ss);
  loadSegmentReal(ES, es);
  loadSegmentReal(DS, ds);
  loadSegmentReal(FS, fs);
  loadSegmentReal(GS, gs);
  setReg32(ESP, newEsp);
  gEip = eipRaw;
}

// ---- interrupts and exceptions ----

export function pmDeliverInterrupt(vec: u32, code: i32, soft: bool): void {
  const ext: u32 = soft ? 0 : 1;
  const idtCode = vec * 8 + 2 + ext;
  const idtBase = stateU32(S_IDTR_BASE);
  const idtLimit = stateU32(S_IDTR_LIMIT);
  if (vec * 8 + 7 > idtLimit) raiseFault(13, <i32>idtCode);
  const lo = linRead32With(idtBase + vec * 8, TLB_READ_SUPER);
  const hi = linRead32With(idtBase + vec * 8 + 4, TLB_READ_SUPER);
  const type = (hi >> 8) & 0x1f;
  if (type != 5 && type != 6 && type != 7 && type != 0xe && type != 0xf) raiseFault(13, <i32>idtCode);
  if (soft && descDpl(hi) < cpl()) raiseFault(13, <i32>idtCode);
  if (!(hi & 0x8000)) raiseFault(11, <i32>idtCode);
  if (type == 5) {
    taskSwitch(lo >>> 16, TS_INT, ext);
    if (code >= 0) {
      if (segAccess(TR) & 8) push32(<u32>code);
      else push16(<u32>code);
    }
    return;
  }
  const w: u32 = (type & 8) ? 4 : 2;
  const target = lo >>> 16;
  const eip = gateOffset(lo, hi);
  const tcode = (target & 0xfffc) | ext;
  if ((target & 0xfffc) == 0) raiseFault(13, <i32>ext);
  if (!fetchDescriptor(target)) raiseFault(13, <i32>tcode);
  const c = cpl();
  const dpl = descDpl(dHi);
  if ((dHi & 0x1800) != 0x1800 || dpl > c) raiseFault(13, <i32>tcode);
  if (!(dHi & 0x8000)) raiseFault(11, <i32>tcode);
  if (eip > descLimit(dLo, dHi)) raiseFault(13, <i32>ext);
  const csLo = dLo, csHi = dHi, csAddr = dAddr;
  const fl = materializeFlags();
  const fromV86 = v86Mode;
  const oldCs = segSel(CS);
  if ((csHi & 0x400) == 0 && dpl < c) {
    if (fromV86 && dpl != 0) raiseFault(13, <i32>tcode);
    tssStack(dpl, ext);
    const newEsp = tsEsp;
    checkInnerStack(dpl, ext);
    const ssLo = dLo, ssHi = dHi | 0x100, ssAddr = dAddr;
    markAccessed(csAddr, csHi);
    markAccessed(ssAddr, dHi);
    sbInit(ssLo, ssHi, newEsp, (tsSs & 0xfffc) | ext, dpl);
    if (fromV86) {
      sbPush(segSel(GS), w);
      sbPush(segSel(FS), w);
      sbPush(segSel(DS), w);
      sbPush(segSel(ES), w);
    }
    sbPush(segSel(SS), w);
    sbPush(reg32(ESP), w);
    sbPush(fl, w);
    sbPush(oldCs, w);
    sbPush(gEip, w);
    if (code >= 0) sbPush(<u32>code, w);
    // Everything is on the new stack: commit.
    gFlags = fl & ~(F_TF | F_NT | F_RF | F_VM | ((type & 1) ? 0 : F_IF));
    commitNewStack(ssLo, ssHi, ssAddr, newEsp);
    commitCS(target, csLo, csHi | 0x100, csAddr, dpl);
    if (fromV86) {
      loadNull(ES, 0);
      loadNull(DS, 0);
      loadNull(FS, 0);
      loadNull(GS, 0);
    }
  } else {
    if (fromV86) raiseFault(13, <i32>tcode);
    markAccessed(csAddr, csHi);
    if (w == 4) {
      push32(fl);
      push32(oldCs);
      push32(gEip);
      if (code >= 0) push32(<u32>code);
    } else {
      push16(fl);
      push16(oldCs);
      push16(gEip);
      if (code >= 0) push16(<u32>code);
    }
    gFlags = fl & ~(F_TF | F_NT | F_RF | F_VM | ((type & 1) ? 0 : F_IF));
    commitCS(target, csLo, csHi | 0x100, csAddr, c);
  }
  gEip = eip;
}

// ---- ARPL r/m16, r16 ----

export function pmArpl(): void {
  decodeModrm();
  const dest = rmReadForWrite(1);
  const src = reg16(modReg);
  if ((dest & 3) < (src & 3)) {
    rmWrite(1, (dest & 0xfffc) | (src & 3));
    setArithFlags(F_ZF, F_ZF);
  } else {
    setArithFlags(F_ZF, 0);
  }
}
