// Decoder state, segmented memory access, instruction fetch, ModR/M decoding
// and the stack: the building blocks every instruction handler uses.
import { STATE_BASE, S_EIP, S_FLAGS, S_CPL } from "./layout";
import {
  gEip, gFlags, reg32, setReg32, reg16, setReg16, reg8, setReg8, segBase, segLimit, segAccess, CS,
  SS, DS, ESP, EBP, ESI, EDI, EBX, F_VM, cr0, CR0_PE,
} from "./state";
import {
  linRead8, linRead16, linRead32, linWrite8, linWrite16, linWrite32, linProbeWrite, linProbeRead,
  fetchPage, fetchDelta, fetchRefill, setUserMode,
} from "./memory";
import { raiseFault } from "./fault";
import { materializeFlags } from "./flags";

// ---- derived mode (recomputed by syncModes) ----
export let protectedMode: bool = false;
export let v86Mode: bool = false;
export let code32: bool = false;
export let stack32: bool = false;
export let csBase: u32 = 0;
export let csLimit: u32 = 0xffff;

// Per segment: allowed-access bits and expand-down, from the access rights.
const SEGX_READ: u32 = 1;
const SEGX_WRITE: u32 = 2;
const SEGX_EXPAND_DOWN: u32 = 4;
const SEGX_BIG: u32 = 8;
const SEG_CHECK_BASE: u32 = STATE_BASE + 0x200; // derived, 6 u32, not saved
// Per segment, u64: one past the last offset a plain expand-up access may touch
// (0 when every access must take the full check).
const SEG_FAST_READ: u32 = STATE_BASE + 0x240;
const SEG_FAST_WRITE: u32 = STATE_BASE + 0x270;

export function segmentChanged(seg: u32): void {
  const acc = segAccess(seg);
  let x: u32 = 0;
  const present = (acc & 0x80) != 0;
  if (present && (acc & 0x10) != 0) {
    if (acc & 8) {
      if (acc & 2) x |= SEGX_READ; // readable code
    } else {
      x |= SEGX_READ;
      if (acc & 2) x |= SEGX_WRITE;
      if (acc & 4) x |= SEGX_EXPAND_DOWN;
    }
  }
  if (acc & 0x4000) x |= SEGX_BIG;
  // Real and V86 mode check only limits: every segment, CS included, is readable and writable.
  if (!protectedMode || v86Mode) x |= SEGX_READ | SEGX_WRITE;
  store<u32>(SEG_CHECK_BASE + seg * 4, x);
  const end: u64 = (x & SEGX_EXPAND_DOWN) ? 0 : <u64>segLimit(seg) + 1;
  store<u64>(SEG_FAST_READ + seg * 8, (x & SEGX_READ) ? end : 0);
  store<u64>(SEG_FAST_WRITE + seg * 8, (x & SEGX_WRITE) ? end : 0);
  if (seg == CS) {
    code32 = (acc & 0x4000) != 0 && protectedMode && !v86Mode;
    prefixSeen = true; // the default operand and address sizes changed
    csBase = segBase(CS);
    csLimit = segLimit(CS);
  } else if (seg == SS) {
    stack32 = (acc & 0x4000) != 0 && protectedMode && !v86Mode;
  }
}

export function syncModes(): void {
  protectedMode = (cr0() & CR0_PE) != 0;
  v86Mode = protectedMode && (gFlags & F_VM) != 0;
  for (let s: u32 = 0; s < 6; s++) segmentChanged(s);
  setUserMode(load<u32>(STATE_BASE + S_CPL) == 3);
}

export function syncOut(): void {
  store<u32>(STATE_BASE + S_EIP, gEip);
  store<u32>(STATE_BASE + S_FLAGS, materializeFlags());
}

// ---- prefixes and the operand being decoded ----
export let opSize32: bool = false; // operand size after 0x66
export let addrSize32: bool = false; // address size after 0x67
export let segOverride: i32 = -1;
export let repPrefix: u32 = 0; // 0, 0xF2 or 0xF3
export let lockPrefix: bool = false;

export let modrm: u32 = 0;
export let modReg: u32 = 0; // bits 5..3
export let modRm: u32 = 0; // bits 2..0
export let modIsReg: bool = false;
export let eaSeg: u32 = 0;
export let eaOff: u32 = 0;

// ---- instruction fetch ----

function fetchFault(): void {
  raiseFault(13, 0);
}

@inline export function fetch8(): u32 {
  const eip = gEip;
  if (eip > csLimit) fetchFault();
  const lin = csBase + eip;
  let v: u32;
  if ((lin & 0xfffff000) == fetchPage) v = <u32>load<u8>(fetchDelta + lin);
  else v = fetchSlow(lin);
  gEip = eip + 1;
  return v;
}

function fetchSlow(lin: u32): u32 {
  fetchRefill(lin);
  if (fetchPage == (lin & 0xfffff000)) return <u32>load<u8>(fetchDelta + lin);
  return linRead8(lin);
}

export function fetch16(): u32 {
  const lo = fetch8();
  return lo | (fetch8() << 8);
}

@inline export function fetch32(): u32 {
  const eip = gEip;
  const lin = csBase + eip;
  if ((lin & 0xfffff000) == fetchPage && (lin & 0xfff) <= 0xffc && eip + 3 <= csLimit && eip <= 0xfffffffc) {
    gEip = eip + 4;
    return load<u32>(fetchDelta + lin);
  }
  return fetch32Slow();
}

function fetch32Slow(): u32 {
  const b0 = fetch8();
  const b1 = fetch8();
  const b2 = fetch8();
  return b0 | (b1 << 8) | (b2 << 16) | (fetch8() << 24);
}

@inline export function fetchImm(sz: u32): u32 {
  if (sz == 0) return fetch8();
  if (sz == 1) return fetch16();
  return fetch32();
}

// ---- segment checks ----

// Linear address of a size-byte access at seg:off, or a #GP/#SS fault.
@inline export function segLinear(seg: u32, off: u32, size: u32, write: bool): u32 {
  const end = load<u64>((write ? SEG_FAST_WRITE : SEG_FAST_READ) + seg * 8);
  if (<u64>off + <u64>size <= end) return segBase(seg) + off;
  return segLinearChecked(seg, off, size, write);
}

// True when size bytes at seg:off pass the plain expand-up check; never faults.
@inline export function segRangeOk(seg: u32, off: u32, size: u32, write: bool): bool {
  return <u64>off + <u64>size <= load<u64>((write ? SEG_FAST_WRITE : SEG_FAST_READ) + seg * 8);
}

function segLinearChecked(seg: u32, off: u32, size: u32, write: bool): u32 {
  const x = load<u32>(SEG_CHECK_BASE + seg * 4);
  const need = write ? SEGX_WRITE : SEGX_READ;
  const limit = segLimit(seg);
  const last = off + size - 1;
  let bad = (x & need) == 0;
  if (x & SEGX_EXPAND_DOWN) {
    const upper: u32 = (x & SEGX_BIG) ? 0xffffffff : 0xffff;
    bad = bad || off <= limit || last > upper || last < off;
  } else {
    bad = bad || last > limit || last < off;
  }
  if (bad) segFault(seg, write);
  return segBase(seg) + off;
}

function segFault(seg: u32, write: bool): void {
  // A null or unusable selector in protected mode is #GP(0) even for SS, as is a limit violation
  // outside SS.
  const acc = segAccess(seg);
  if (seg == SS && (acc & 0x80) != 0) raiseFault(12, 0);
  raiseFault(13, 0);
}

// ---- memory operands ----

@inline export function readMem8(seg: u32, off: u32): u32 {
  return linRead8(segLinear(seg, off, 1, false));
}
@inline export function readMem16(seg: u32, off: u32): u32 {
  return linRead16(segLinear(seg, off, 2, false));
}
@inline export function readMem32(seg: u32, off: u32): u32 {
  return linRead32(segLinear(seg, off, 4, false));
}
@inline export function writeMem8(seg: u32, off: u32, v: u32): void {
  linWrite8(segLinear(seg, off, 1, true), v);
}
@inline export function writeMem16(seg: u32, off: u32, v: u32): void {
  linWrite16(segLinear(seg, off, 2, true), v);
}
@inline export function writeMem32(seg: u32, off: u32, v: u32): void {
  linWrite32(segLinear(seg, off, 4, true), v);
}

// sz: 0 = byte, 1 = word, 2 = dword
@inline export function readMem(seg: u32, off: u32, sz: u32): u32 {
  if (sz == 0) return readMem8(seg, off);
  if (sz == 1) return readMem16(seg, off);
  return readMem32(seg, off);
}
@inline export function writeMem(seg: u32, off: u32, sz: u32, v: u32): void {
  if (sz == 0) writeMem8(seg, off, v);
  else if (sz == 1) writeMem16(seg, off, v);
  else writeMem32(seg, off, v);
}
// Faults now if a write of the given size at seg:off could not complete.
export function probeWriteMem(seg: u32, off: u32, size: u32): void {
  linProbeWrite(segLinear(seg, off, size, true), size);
}
export function probeReadMem(seg: u32, off: u32, size: u32): void {
  linProbeRead(segLinear(seg, off, size, false), size);
}

// ---- ModR/M ----

@inline export function dataSeg(def: u32): u32 {
  return segOverride >= 0 ? <u32>segOverride : def;
}

@inline export function decodeModrm(): void {
  const m = fetch8();
  modrm = m;
  modReg = (m >> 3) & 7;
  modRm = m & 7;
  if (m >= 0xc0) modIsReg = true;
  else decodeMemoryOperand(m);
}

function decodeMemoryOperand(m: u32): void {
  const mod = m >> 6;
  modIsReg = false;
  if (addrSize32) decodeEa32(mod, m & 7);
  else decodeEa16(mod, m & 7);
}

function decodeEa16(mod: u32, rm: u32): void {
  let off: u32 = 0;
  let seg = DS;
  switch (rm) {
    case 0: off = reg16(EBX) + reg16(ESI); break;
    case 1: off = reg16(EBX) + reg16(EDI); break;
    case 2: off = reg16(EBP) + reg16(ESI); seg = SS; break;
    case 3: off = reg16(EBP) + reg16(EDI); seg = SS; break;
    case 4: off = reg16(ESI); break;
    case 5: off = reg16(EDI); break;
    case 6:
      if (mod == 0) off = fetch16();
      else { off = reg16(EBP); seg = SS; }
      break;
    default: off = reg16(EBX); break;
  }
  if (mod == 1) off += <u32>(<i32>(<i8>fetch8()));
  else if (mod == 2) off += fetch16();
  eaOff = off & 0xffff;
  eaSeg = dataSeg(seg);
}

function decodeEa32(mod: u32, rm: u32): void {
  let off: u32 = 0;
  let seg = DS;
  if (rm == 4) {
    const sib = fetch8();
    const base = sib & 7;
    const index = (sib >> 3) & 7;
    const scale = sib >> 6;
    if (base == 5 && mod == 0) off = fetch32();
    else {
      off = reg32(base);
      if (base == ESP || base == EBP) seg = SS;
    }
    if (index != 4) off += reg32(index) << scale;
  } else if (rm == 5 && mod == 0) {
    off = fetch32();
  } else {
    off = reg32(rm);
    if (rm == EBP) seg = SS;
  }
  if (mod == 1) off += <u32>(<i32>(<i8>fetch8()));
  else if (mod == 2) off += fetch32();
  eaOff = off;
  eaSeg = dataSeg(seg);
}

// Operand of size sz named by the r/m field.
@inline export function rmRead(sz: u32): u32 {
  if (modIsReg) {
    if (sz == 0) return reg8(modRm);
    if (sz == 1) return reg16(modRm);
    return reg32(modRm);
  }
  return readMem(eaSeg, eaOff, sz);
}

@inline export function rmWrite(sz: u32, v: u32): void {
  if (modIsReg) {
    if (sz == 0) setReg8(modRm, v);
    else if (sz == 1) setReg16(modRm, v);
    else setReg32(modRm, v);
  } else writeMem(eaSeg, eaOff, sz, v);
}

// Read for read-modify-write: the write is probed first so it cannot fault later.
export function rmReadForWrite(sz: u32): u32 {
  if (modIsReg) return rmRead(sz);
  probeWriteMem(eaSeg, eaOff, 1 << sz);
  return readMem(eaSeg, eaOff, sz);
}

@inline export function regRead(r: u32, sz: u32): u32 {
  if (sz == 0) return reg8(r);
  if (sz == 1) return reg16(r);
  return reg32(r);
}

@inline export function regWrite(r: u32, sz: u32, v: u32): void {
  if (sz == 0) setReg8(r, v);
  else if (sz == 1) setReg16(r, v);
  else setReg32(r, v);
}

// ---- stack ----

@inline export function stackPointer(): u32 {
  return stack32 ? reg32(ESP) : reg16(ESP);
}

@inline export function setStackPointer(v: u32): void {
  if (stack32) setReg32(ESP, v);
  else setReg16(ESP, v);
}

// Stack-relative offset n bytes from the current top (for multi-value pops).
@inline export function stackOffset(n: u32): u32 {
  return stack32 ? reg32(ESP) + n : (reg16(ESP) + n) & 0xffff;
}

export function push16(v: u32): void {
  const sp = stack32 ? reg32(ESP) - 2 : (reg16(ESP) - 2) & 0xffff;
  writeMem16(SS, sp, v);
  setStackPointer(sp);
}

export function push32(v: u32): void {
  const sp = stack32 ? reg32(ESP) - 4 : (reg16(ESP) - 4) & 0xffff;
  writeMem32(SS, sp, v);
  setStackPointer(sp);
}

@inline export function pushOp(v: u32): void {
  if (opSize32) push32(v);
  else push16(v);
}

export function pop16(): u32 {
  const sp = stackPointer();
  const v = readMem16(SS, sp);
  setStackPointer(stack32 ? sp + 2 : (sp + 2) & 0xffff);
  return v;
}

export function pop32(): u32 {
  const sp = stackPointer();
  const v = readMem32(SS, sp);
  setStackPointer(stack32 ? sp + 4 : (sp + 4) & 0xffff);
  return v;
}

@inline export function popOp(): u32 {
  return opSize32 ? pop32() : pop16();
}

// Operand size index (1 = 16-bit, 2 = 32-bit) of the current instruction.
@inline export function opSz(): u32 {
  return opSize32 ? 2 : 1;
}

// True once a prefix changed the decoder state; only then must it be reset.
export let prefixSeen: bool = true;

@inline export function resetDecoder(): void {
  if (prefixSeen) resetPrefixes();
}

export function resetPrefixes(): void {
  prefixSeen = false;
  opSize32 = code32;
  addrSize32 = code32;
  segOverride = -1;
  repPrefix = 0;
  lockPrefix = false;
}
