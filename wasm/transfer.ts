// Segment loads and far control transfers. Real and virtual-8086 mode are
// handled here; protected-mode rules (descriptors, gates, privilege, tasks)
// live in protected.ts.
import { STATE_BASE, SEG_SEL, SEG_BASE, SEG_LIMIT, SEG_ACCESS, S_IDTR_BASE, S_IDTR_LIMIT } from "./layout";
import { gEip, gFlags, segAddr, CS, F_IF, F_TF, F_AC, F_RF, F_VM } from "./state";
import {
  protectedMode, v86Mode, segmentChanged, push16, push32, pop16, pop32, opSize32, stackOffset,
  setStackPointer,
} from "./cpu";
import { materializeFlags } from "./flags";
import { linRead16With } from "./memory";
import { TLB_READ_SUPER } from "./layout";
import { raiseFault } from "./fault";
import {
  pmLoadSegment, pmFarJump, pmFarCall, pmFarReturn, pmInterruptReturn, pmDeliverInterrupt,
} from "./protected";

// Loads a segment register the way real mode does: base = selector << 4.
export function loadSegmentReal(seg: u32, sel: u32): void {
  const a = segAddr(seg);
  store<u32>(a + SEG_SEL, sel & 0xffff);
  store<u32>(a + SEG_BASE, (sel & 0xffff) << 4);
  if (v86Mode) {
    store<u32>(a + SEG_LIMIT, 0xffff);
    store<u32>(a + SEG_ACCESS, seg == CS ? 0xfb : 0xf3);
  }
  segmentChanged(seg);
}

// MOV/POP Sreg, LDS/LES/LSS/LFS/LGS.
export function loadSegment(seg: u32, sel: u32): void {
  if (protectedMode && !v86Mode) pmLoadSegment(seg, sel & 0xffff);
  else loadSegmentReal(seg, sel);
}

export function farJump(sel: u32, off: u32): void {
  if (protectedMode && !v86Mode) {
    pmFarJump(sel & 0xffff, off);
    return;
  }
  const target = opSize32 ? off : off & 0xffff;
  checkRealLimit(target);
  loadSegmentReal(CS, sel);
  gEip = target;
}

export function farCall(sel: u32, off: u32): void {
  if (protectedMode && !v86Mode) {
    pmFarCall(sel & 0xffff, off);
    return;
  }
  const target = opSize32 ? off : off & 0xffff;
  const oldCs = load<u32>(segAddr(CS) + SEG_SEL);
  if (opSize32) {
    push32(oldCs);
    push32(gEip);
  } else {
    push16(oldCs);
    push16(gEip);
  }
  loadSegmentReal(CS, sel);
  gEip = target;
}

// RETF imm16
export function farReturn(popBytes: u32): void {
  if (protectedMode && !v86Mode) {
    pmFarReturn(popBytes);
    return;
  }
  let ip: u32, sel: u32;
  if (opSize32) {
    ip = pop32();
    sel = pop32() & 0xffff;
  } else {
    ip = pop16();
    sel = pop16();
  }
  loadSegmentReal(CS, sel);
  gEip = ip;
  setStackPointer(stackOffset(popBytes));
}

function checkRealLimit(eip: u32): void {
  if (eip > load<u32>(segAddr(CS) + SEG_LIMIT)) raiseFault(13, 0);
}

// Flags an IRET/POPF may change in real mode.
export function writeFlagsReal(v: u32, mask: u32): void {
  materializeFlags();
  gFlags = ((gFlags & ~mask) | (v & mask)) | 2;
}

export function interruptReturn(): void {
  if (protectedMode) {
    pmInterruptReturn();
    return;
  }
  let ip: u32, sel: u32, fl: u32;
  if (opSize32) {
    ip = pop32();
    sel = pop32() & 0xffff;
    fl = pop32();
  } else {
    ip = pop16();
    sel = pop16();
    fl = pop16();
  }
  loadSegmentReal(CS, sel);
  gEip = ip;
  const mask: u32 = opSize32 ? 0x257fd5 & ~F_VM : 0x7fd5;
  writeFlagsReal(fl, mask);
}

// Delivers interrupt vec. code < 0: no error code. soft: INT n / INT3 / INTO.
export function deliverInterrupt(vec: u32, code: i32, soft: bool): void {
  if (protectedMode) {
    pmDeliverInterrupt(vec, code, soft);
    return;
  }
  // Real mode: the IVT at IDTR.base, 4 bytes per vector.
  const idtBase = load<u32>(STATE_BASE + S_IDTR_BASE);
  const idtLimit = load<u32>(STATE_BASE + S_IDTR_LIMIT);
  if (vec * 4 + 3 > idtLimit) raiseFault(13, <i32>(vec * 8 + 2));
  const ip = linRead16With(idtBase + vec * 4, TLB_READ_SUPER);
  const sel = linRead16With(idtBase + vec * 4 + 2, TLB_READ_SUPER);
  const fl = materializeFlags();
  push16(fl);
  push16(load<u32>(segAddr(CS) + SEG_SEL));
  push16(gEip);
  gFlags = fl & ~(F_IF | F_TF | F_AC | F_RF);
  loadSegmentReal(CS, sel);
  gEip = ip;
}
