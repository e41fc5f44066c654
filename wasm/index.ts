// The core's exports: lifecycle, the run loop and the host's handles on
// interrupts, dirty tracking and CPUID. Layout constants are re-exported so
// the TypeScript side reads the same offsets.
export * from "./layout";
import {
  STATE_BASE, S_EIP, S_FLAGS, S_SEGS, SEG_SIZE, SEG_SEL, SEG_BASE, SEG_LIMIT, SEG_ACCESS,
  S_GDTR_LIMIT, S_IDTR_LIMIT, S_CR0, S_DR, S_CPL, S_HALTED, S_INTR, S_NMI, S_ICOUNT, S_FAULT_VEC,
  S_FAULT_CODE, S_FAULT_DEPTH, S_DIRTY_ON, S_RAM_SIZE, S_ROM_START, S_ROM_END, S_ROM_SIZE,
  S_A20_MASK, S_TRIPLE_FAULTS, S_END, S_SHADOW, RAM_BASE, MAX_RAM, DIRTY_BASE, HARVEST_BASE,
  EXIT_BUDGET, EXIT_HALT, EXIT_TRIPLE_FAULT, EXIT_STOP, EXIT_HALT_NO_IF, EXIT_BREAKPOINT, S_PAT_LO,
  S_PAT_HI,
} from "./layout";
import {
  gEip, gFlags, gIcount, gRunEnd, gEvents, reg32, setReg32, ESP, EDX, F_IF, F_TF, EV_IRQ, EV_NMI,
  EV_INHIBIT, EV_HALTED, EV_STOP,
} from "./state";
import { ccOp } from "./flags";
import { insnEip, insnEsp } from "./fault";
import { syncModes, syncOut, csBase } from "./cpu";
import { memorySyncIn, markDirtyRange, tlbFlushAll, tlbDropWrites } from "./memory";
import { step } from "./exec";
import { deliverInterrupt } from "./transfer";
import { hostIntAck } from "./host";
import * as Cpuid from "./cpuid";

export function init(ramBytes: u32): u32 {
  if (ramBytes & 0xfff || ramBytes < 0x100000 || ramBytes > MAX_RAM) return 1;
  const needPages = <i32>((<u64>RAM_BASE + <u64>ramBytes + 0xffff) >> 16);
  const have = memory.size();
  if (needPages > have && memory.grow(needPages - have) < 0) return 2;
  // Grown memory is zero already: clearing it would touch (and commit) every page.
  const oldEnd = <u64>have << 16;
  if (oldEnd > <u64>RAM_BASE) memory.fill(RAM_BASE, 0, <u32>min<u64>(<u64>ramBytes, oldEnd - RAM_BASE));
  memory.fill(STATE_BASE, 0, S_END);
  memory.fill(DIRTY_BASE, 0, (ramBytes >> 15) + 1);
  store<u32>(STATE_BASE + S_RAM_SIZE, ramBytes);
  store<u32>(STATE_BASE + S_DIRTY_ON, 1);
  store<u32>(STATE_BASE + S_A20_MASK, 0xffffffff);
  store<u32>(STATE_BASE + S_ROM_START, 0);
  store<u32>(STATE_BASE + S_ROM_END, 0);
  store<u32>(STATE_BASE + S_ROM_SIZE, 0);
  Cpuid.cpuidReset();
  reset();
  return 0;
}

function setSeg(i: u32, sel: u32, base: u32, limit: u32, access: u32): void {
  const a = STATE_BASE + S_SEGS + i * SEG_SIZE;
  store<u32>(a + SEG_SEL, sel);
  store<u32>(a + SEG_BASE, base);
  store<u32>(a + SEG_LIMIT, limit);
  store<u32>(a + SEG_ACCESS, access);
}

// Power-on / RESET state of a P6 CPU.
export function reset(): void {
  for (let r: u32 = 0; r < 8; r++) setReg32(r, 0);
  setReg32(EDX, 0x0652);
  store<u32>(STATE_BASE + S_EIP, 0xfff0);
  store<u32>(STATE_BASE + S_FLAGS, 2);
  for (let s: u32 = 0; s < 6; s++) setSeg(s, 0, 0, 0xffff, 0x93);
  setSeg(1, 0xf000, 0xffff0000, 0xffff, 0x9b);
  setSeg(6, 0, 0, 0xffff, 0x82);
  setSeg(7, 0, 0, 0xffff, 0x8b);
  store<u32>(STATE_BASE + S_GDTR_LIMIT - 4, 0);
  store<u32>(STATE_BASE + S_GDTR_LIMIT, 0xffff);
  store<u32>(STATE_BASE + S_IDTR_LIMIT - 4, 0);
  store<u32>(STATE_BASE + S_IDTR_LIMIT, 0xffff);
  store<u32>(STATE_BASE + S_CR0, 0x60000010);
  for (let i: u32 = 1; i < 4; i++) store<u32>(STATE_BASE + S_CR0 + i * 4, 0);
  for (let i: u32 = 0; i < 8; i++) store<u32>(STATE_BASE + S_DR + i * 4, 0);
  store<u32>(STATE_BASE + S_DR + 24, 0xffff0ff0);
  store<u32>(STATE_BASE + S_DR + 28, 0x400);
  store<u32>(STATE_BASE + S_CPL, 0);
  store<u32>(STATE_BASE + S_HALTED, 0);
  store<u32>(STATE_BASE + S_NMI, 0);
  store<u32>(STATE_BASE + S_SHADOW, 0);
  store<i32>(STATE_BASE + S_FAULT_VEC, -1);
  store<i32>(STATE_BASE + S_FAULT_CODE, -1);
  store<u32>(STATE_BASE + S_FAULT_DEPTH, 0);
  store<u32>(STATE_BASE + S_PAT_LO, 0x00070406);
  store<u32>(STATE_BASE + S_PAT_HI, 0x00070406);
  syncIn();
  tlbFlushAll();
}

// Reloads the hot mirrors from the state block (the host may have changed it).
function syncIn(): void {
  gEip = load<u32>(STATE_BASE + S_EIP);
  gFlags = load<u32>(STATE_BASE + S_FLAGS) | 2;
  ccOp = 0;
  memorySyncIn();
  syncModes();
  gIcount = load<u64>(STATE_BASE + S_ICOUNT);
  gEvents =
    (load<u32>(STATE_BASE + S_INTR) ? EV_IRQ : 0) |
    (load<u32>(STATE_BASE + S_NMI) ? EV_NMI : 0) |
    (load<u32>(STATE_BASE + S_SHADOW) ? EV_INHIBIT : 0) |
    (load<u32>(STATE_BASE + S_HALTED) ? EV_HALTED : 0);
}

function exitWith(reason: u32): u32 {
  syncOut();
  store<u32>(STATE_BASE + S_SHADOW, (gEvents & EV_INHIBIT) ? 1 : 0);
  store<u64>(STATE_BASE + S_ICOUNT, gIcount);
  return reason;
}

@inline function isContributory(v: i32): bool {
  return v == 0 || (v >= 10 && v <= 13);
}

// Delivers a recorded exception, escalating to #DF and to a triple fault
// when delivery itself faults. Returns false on a triple fault.
function deliverPendingFault(): bool {
  let vec = load<i32>(STATE_BASE + S_FAULT_VEC);
  let code = load<i32>(STATE_BASE + S_FAULT_CODE);
  store<i32>(STATE_BASE + S_FAULT_VEC, -1);
  const delivering = load<i32>(STATE_BASE + S_FAULT_DEPTH) - 1;
  if (delivering >= 0) {
    if (delivering == 8) {
      store<u32>(STATE_BASE + S_FAULT_DEPTH, 0);
      return false;
    }
    if ((isContributory(delivering) && isContributory(vec)) || (delivering == 14 && (isContributory(vec) || vec == 14))) {
      vec = 8;
      code = 0;
    }
  }
  store<i32>(STATE_BASE + S_FAULT_DEPTH, vec + 1);
  store<u32>(STATE_BASE + S_HALTED, 0);
  insnEip = gEip;
  insnEsp = reg32(ESP);
  deliverInterrupt(<u32>vec, code, false);
  store<u32>(STATE_BASE + S_FAULT_DEPTH, 0);
  return true;
}

function tripleFault(): u32 {
  store<u32>(STATE_BASE + S_TRIPLE_FAULTS, load<u32>(STATE_BASE + S_TRIPLE_FAULTS) + 1);
  store<u64>(STATE_BASE + S_ICOUNT, gIcount);
  reset();
  return exitWith(EXIT_TRIPLE_FAULT);
}

// Takes a pending NMI or external interrupt if the CPU accepts one now.
function serviceInterrupts(): void {
  if (gEvents & EV_NMI) {
    gEvents &= ~EV_NMI;
    store<u32>(STATE_BASE + S_NMI, 0);
    wake();
    deliverInterrupt(2, -1, false);
    return;
  }
  if ((gEvents & EV_IRQ) && (gFlags & F_IF)) {
    const vec = hostIntAck();
    if (vec < 0) return;
    wake();
    deliverInterrupt(<u32>vec, -1, false);
  }
}

function wake(): void {
  store<u32>(STATE_BASE + S_HALTED, 0);
  gEvents &= ~EV_HALTED;
  insnEip = gEip;
  insnEsp = reg32(ESP);
}

const KEEP_RUNNING: u32 = 0xffffffff;

// The slow part of an instruction boundary: interrupts, HLT, stop requests
// and single-stepping. Returns an exit reason, or KEEP_RUNNING.
function atBoundary(): u32 {
  if (gEvents & EV_STOP) {
    gEvents &= ~EV_STOP;
    return exitWith(EXIT_STOP);
  }
  if (gEvents & EV_INHIBIT) gEvents &= ~EV_INHIBIT;
  else if (gEvents & (EV_IRQ | EV_NMI)) serviceInterrupts();
  if (gEvents & EV_HALTED) return exitWith((gFlags & F_IF) ? EXIT_HALT : EXIT_HALT_NO_IF);
  if (gFlags & F_TF) {
    // Single-step: run one instruction here, then trap with DR6.BS.
    insnEip = gEip;
    insnEsp = reg32(ESP);
    step();
    gIcount++;
    const a = STATE_BASE + S_DR + 24;
    store<u32>(a, load<u32>(a) | 0x4000);
    insnEip = gEip;
    insnEsp = reg32(ESP);
    deliverInterrupt(1, -1, false);
  }
  return KEEP_RUNNING;
}

export function run(budget: u32): u32 {
  syncIn();
  if (load<i32>(STATE_BASE + S_FAULT_VEC) >= 0) {
    if (!deliverPendingFault()) return tripleFault();
  }
  const end: u64 = gIcount + <u64>budget;
  gRunEnd = end;
  while (gIcount < end) {
    if (gEvents | (gFlags & F_TF)) {
      const r = atBoundary();
      if (r != KEEP_RUNNING) return r;
      if (gIcount >= end) break;
    }
    insnEip = gEip;
    insnEsp = reg32(ESP);
    step();
    gIcount++;
  }
  return exitWith(EXIT_BUDGET);
}

// run() with a host breakpoint: returns EXIT_BREAKPOINT before executing the
// instruction at linear address breakLinear (CS base + EIP). A separate loop,
// so the check costs nothing when nobody debugs.
export function runDebug(budget: u32, breakLinear: u32): u32 {
  syncIn();
  if (load<i32>(STATE_BASE + S_FAULT_VEC) >= 0) {
    if (!deliverPendingFault()) return tripleFault();
  }
  const end: u64 = gIcount + <u64>budget;
  gRunEnd = end;
  let first = true;
  while (gIcount < end) {
    if (gEvents | (gFlags & F_TF)) {
      const r = atBoundary();
      if (r != KEEP_RUNNING) return r;
      if (gIcount >= end) break;
    }
    if (!first && csBase + gEip == breakLinear) return exitWith(EXIT_BREAKPOINT);
    first = false;
    insnEip = gEip;
    insnEsp = reg32(ESP);
    step();
    gIcount++;
  }
  return exitWith(EXIT_BUDGET);
}

export function faultPending(): u32 {
  return load<i32>(STATE_BASE + S_FAULT_VEC) >= 0 ? 1 : 0;
}

export function requestStop(): void {
  gEvents |= EV_STOP;
}

export function setIrq(level: u32): void {
  store<u32>(STATE_BASE + S_INTR, level ? 1 : 0);
  if (level) gEvents |= EV_IRQ;
  else gEvents &= ~EV_IRQ;
}

export function setNmi(): void {
  store<u32>(STATE_BASE + S_NMI, 1);
  gEvents |= EV_NMI;
}

export function getFlags(): u32 {
  return load<u32>(STATE_BASE + S_FLAGS);
}

export function setFlags(v: u32): void {
  store<u32>(STATE_BASE + S_FLAGS, v | 2);
}

export function setRom(len: u32): void {
  store<u32>(STATE_BASE + S_ROM_START, 0x100000 - len);
  store<u32>(STATE_BASE + S_ROM_END, 0x100000);
  store<u32>(STATE_BASE + S_ROM_SIZE, len);
  memorySyncIn();
  tlbFlushAll();
}

export function dirtyHarvest(): u32 {
  const bytes = (load<u32>(STATE_BASE + S_RAM_SIZE) + 0x7fff) >> 15;
  memory.copy(HARVEST_BASE, DIRTY_BASE, bytes);
  memory.fill(DIRTY_BASE, 0, bytes);
  tlbDropWrites();
  let n: u32 = 0;
  for (let i: u32 = 0; i < bytes; i += 4) n += popcnt<u32>(load<u32>(HARVEST_BASE + i));
  return n;
}

export function setDirtyTracking(on: u32): void {
  store<u32>(STATE_BASE + S_DIRTY_ON, on ? 1 : 0);
  memorySyncIn();
  tlbFlushAll();
}

export function markDirty(phys: u32, len: u32): void {
  const size = load<u32>(STATE_BASE + S_RAM_SIZE);
  if (phys >= size) return;
  markDirtyRange(phys, min(len, size - phys));
}

export function cpuidSet(leaf: u32, subleaf: u32, a: u32, b: u32, c: u32, d: u32): void {
  Cpuid.cpuidSet(leaf, subleaf, a, b, c, d);
}

// What CPUID(leaf, subleaf) answers now; reg 0-3 = EAX, EBX, ECX, EDX.
export function cpuidQuery(leaf: u32, subleaf: u32, reg: u32): u32 {
  Cpuid.cpuidLookup(leaf, subleaf);
  if (reg == 0) return Cpuid.cpuidA;
  if (reg == 1) return Cpuid.cpuidB;
  if (reg == 2) return Cpuid.cpuidC;
  return Cpuid.cpuidD;
}

export function cpuidCount(): u32 {
  return Cpuid.cpuidCount();
}

export function cpuidClear(): void {
  Cpuid.cpuidClear();
}

export function cpuidReset(): void {
  Cpuid.cpuidReset();
}

export function tlbFlush(): void {
  memorySyncIn();
  tlbFlushAll();
}

// Instructions retired so far, valid also while run() is executing (for a
// host callback such as readTsc in deterministic mode).
export function instructionsRetired(): f64 {
  return <f64>gIcount;
}
