// Model-specific registers, the time-stamp counter and the fast system call
// pair of the two-byte map: RDMSR WRMSR RDTSC RDPMC SYSENTER SYSEXIT.
import {
  STATE_BASE, S_CPL, S_SYSENTER_CS, S_SYSENTER_ESP, S_SYSENTER_EIP, S_APIC_BASE, S_MISC_ENABLE,
  S_PAT_LO, S_PAT_HI, S_MSR_LO, S_MSR_HI, SEG_SEL, SEG_BASE, SEG_LIMIT, SEG_ACCESS,
} from "./layout";
import {
  gEip, gFlags, reg32, setReg32, segAddr, stateU32, setStateU32, cr4, cpl, CS, SS, EAX, ECX, EDX,
  ESP, F_VM, F_IF, F_RF, CR4_TSD,
} from "./state";
import { protectedMode, v86Mode, syncModes } from "./cpu";
import { hostMsrRead, hostMsrWrite, hostReadTsc } from "./host";
import { raiseFault } from "./fault";
import { fetchPage } from "./memory";

const MSR_TSC: u32 = 0x10;
const MSR_APIC_BASE: u32 = 0x1b;
const MSR_SYSENTER_CS: u32 = 0x174;
const MSR_SYSENTER_ESP: u32 = 0x175;
const MSR_SYSENTER_EIP: u32 = 0x176;
const MSR_MISC_ENABLE: u32 = 0x1a0;
const MSR_PAT: u32 = 0x277;

const CR4_PCE: u32 = 1 << 8;

// CPL 0 outside virtual-8086 mode (real mode counts as CPL 0).
@inline function privileged(): bool {
  return !protectedMode || (!v86Mode && cpl() == 0);
}

function readTsc(): u64 {
  const t = hostReadTsc();
  if (!(t > 0)) return 0;
  if (t >= 1.8446744073709552e19) return 0xffffffffffffffff;
  return <u64>t;
}

// 0F 31 RDTSC: CR4.TSD restricts it to CPL 0.
export function opRdtsc(): void {
  if ((cr4() & CR4_TSD) != 0 && !privileged()) raiseFault(13, 0);
  const t = readTsc();
  setReg32(EAX, <u32>t);
  setReg32(EDX, <u32>(t >> 32));
}

// 0F 33 RDPMC: counters 0 and 1 exist on P6; we count nothing, so they read 0.
export function opRdpmc(): void {
  if (reg32(ECX) > 1) raiseFault(13, 0);
  if ((cr4() & CR4_PCE) == 0 && !privileged()) raiseFault(13, 0);
  setReg32(EAX, 0);
  setReg32(EDX, 0);
}

// 0F 32 RDMSR: EDX:EAX = MSR[ECX].
export function opRdmsr(): void {
  if (!privileged()) raiseFault(13, 0);
  const idx = reg32(ECX);
  let lo: u32 = 0;
  let hi: u32 = 0;
  if (idx == MSR_TSC) {
    const t = readTsc();
    lo = <u32>t;
    hi = <u32>(t >> 32);
  } else if (idx == MSR_APIC_BASE) {
    lo = stateU32(S_APIC_BASE);
  } else if (idx == MSR_SYSENTER_CS) {
    lo = stateU32(S_SYSENTER_CS);
  } else if (idx == MSR_SYSENTER_ESP) {
    lo = stateU32(S_SYSENTER_ESP);
  } else if (idx == MSR_SYSENTER_EIP) {
    lo = stateU32(S_SYSENTER_EIP);
  } else if (idx == MSR_MISC_ENABLE) {
    lo = stateU32(S_MISC_ENABLE);
  } else if (idx == MSR_PAT) {
    lo = stateU32(S_PAT_LO);
    hi = stateU32(S_PAT_HI);
  } else {
    if (hostMsrRead(idx) == 0) raiseFault(13, 0);
    lo = stateU32(S_MSR_LO);
    hi = stateU32(S_MSR_HI);
  }
  setReg32(EAX, lo);
  setReg32(EDX, hi);
}

// Each PAT entry must name a memory type: 0 UC, 1 WC, 4 WT, 5 WP, 6 WB, 7 UC-.
function patValid(v: u32): bool {
  for (let i: u32 = 0; i < 4; i++) {
    const t = (v >> (i * 8)) & 0xff;
    if (t > 7 || t == 2 || t == 3) return false;
  }
  return true;
}

// 0F 30 WRMSR: MSR[ECX] = EDX:EAX.
export function opWrmsr(): void {
  if (!privileged()) raiseFault(13, 0);
  const idx = reg32(ECX);
  const lo = reg32(EAX);
  const hi = reg32(EDX);
  if (idx == MSR_TSC) {
    // P6 writes only bits 31:0 of the TSC and clears the upper half.
    // Writing the TSC is always legal, so a host that ignores it is no fault.
    hostMsrWrite(MSR_TSC, lo, 0);
  } else if (idx == MSR_APIC_BASE) {
    // No local APIC: the value stays as it is, but reserved bits still fault.
    if ((lo & 0x6ff) != 0 || (hi & 0xfffffff0) != 0) raiseFault(13, 0);
  } else if (idx == MSR_SYSENTER_CS) {
    setStateU32(S_SYSENTER_CS, lo);
  } else if (idx == MSR_SYSENTER_ESP) {
    setStateU32(S_SYSENTER_ESP, lo);
  } else if (idx == MSR_SYSENTER_EIP) {
    setStateU32(S_SYSENTER_EIP, lo);
  } else if (idx == MSR_MISC_ENABLE) {
    setStateU32(S_MISC_ENABLE, lo);
  } else if (idx == MSR_PAT) {
    if (!patValid(lo) || !patValid(hi)) raiseFault(13, 0);
    setStateU32(S_PAT_LO, lo);
    setStateU32(S_PAT_HI, hi);
  } else {
    if (hostMsrWrite(idx, lo, hi) == 0) raiseFault(13, 0);
  }
}

// Flat 4 GiB segment; access = descriptor bits 40..55 (G, D/B, limit 19:16 set).
function setFlatSegment(seg: u32, sel: u32, access: u32): void {
  const a = segAddr(seg);
  store<u32>(a + SEG_SEL, sel & 0xffff);
  store<u32>(a + SEG_BASE, 0);
  store<u32>(a + SEG_LIMIT, 0xffffffff);
  store<u32>(a + SEG_ACCESS, access);
}

// CPL changed: recompute the derived modes and drop the cached fetch page,
// whose user/supervisor permission was checked for the old CPL.
function privilegeChanged(newCpl: u32): void {
  store<u32>(STATE_BASE + S_CPL, newCpl);
  syncModes();
  fetchPage = 1;
}

// 0F 34 SYSENTER: to CPL 0 with flat CS = SYSENTER_CS, SS = SYSENTER_CS + 8.
export function opSysenter(): void {
  const base = stateU32(S_SYSENTER_CS) & 0xfffc;
  if (!protectedMode || base == 0) raiseFault(13, 0);
  gFlags &= ~(F_VM | F_IF | F_RF);
  setFlatSegment(CS, base, 0xcf9b);
  setFlatSegment(SS, base + 8, 0xcf93);
  setReg32(ESP, stateU32(S_SYSENTER_ESP));
  gEip = stateU32(S_SYSENTER_EIP);
  privilegeChanged(0);
}

// 0F 35 SYSEXIT: to CPL 3 with CS = SYSENTER_CS + 16, SS = SYSENTER_CS + 24,
// ESP = ECX, EIP = EDX.
export function opSysexit(): void {
  const base = stateU32(S_SYSENTER_CS) & 0xfffc;
  if (!protectedMode || v86Mode || cpl() != 0 || base == 0) raiseFault(13, 0);
  setFlatSegment(CS, (base + 16) | 3, 0xcffb);
  setFlatSegment(SS, (base + 24) | 3, 0xcff3);
  setReg32(ESP, reg32(ECX));
  gEip = reg32(EDX);
  privilegeChanged(3);
}
