// Integer arithmetic with exact flags: the ALU group, shifts and rotates,
// multiply and divide, and the BCD adjustments.
import {
  gFlags, F_CF, F_OF, F_AF, F_ZF, F_SF, F_PF, F_ARITH, reg8, setReg8, reg16, setReg16, reg32,
  setReg32, EAX, EDX,
} from "./state";
import {
  setCC, getCF, getAF, materializeFlags, sizeMask, sizeSign, K_ADD, K_ADC, K_SUB, K_SBB, K_LOGIC,
  K_INC, K_DEC, K_SHIFT, ccOp,
} from "./flags";
import { raiseFault, NO_ERROR_CODE } from "./fault";

// op: 0 ADD, 1 OR, 2 ADC, 3 SBB, 4 AND, 5 SUB, 6 XOR, 7 CMP. Returns the masked result.
export function aluOp(op: u32, a: u32, b: u32, sz: u32): u32 {
  const m = sizeMask(sz);
  a &= m;
  b &= m;
  let r: u32;
  switch (op) {
    case 0: r = (a + b) & m; setCC(K_ADD, sz, r, a, b); break;
    case 1: r = a | b; setCC(K_LOGIC, sz, r, 0, 0); break;
    case 2: r = (a + b + getCF()) & m; setCC(K_ADC, sz, r, a, b); break;
    case 3: r = (a - b - getCF()) & m; setCC(K_SBB, sz, r, a, b); break;
    case 4: r = a & b; setCC(K_LOGIC, sz, r, 0, 0); break;
    case 6: r = a ^ b; setCC(K_LOGIC, sz, r, 0, 0); break;
    default: r = (a - b) & m; setCC(K_SUB, sz, r, a, b); break; // SUB, CMP
  }
  return r;
}

// INC/DEC leave CF alone, so the current CF is pinned into gFlags first.
// CF must be in gFlags before INC/DEC; it already is after INC/DEC/shifts.
@inline function pinCarry(): void {
  const kind = ccOp >> 2;
  if (kind >= K_ADD && kind <= K_LOGIC) gFlags = (gFlags & ~F_CF) | getCF();
}

export function incOp(a: u32, sz: u32): u32 {
  pinCarry();
  const r = (a + 1) & sizeMask(sz);
  setCC(K_INC, sz, r, a, 1);
  return r;
}

export function decOp(a: u32, sz: u32): u32 {
  pinCarry();
  const r = (a - 1) & sizeMask(sz);
  setCC(K_DEC, sz, r, a, 1);
  return r;
}

export function negOp(a: u32, sz: u32): u32 {
  const m = sizeMask(sz);
  const r = (0 - a) & m;
  setCC(K_SUB, sz, r, 0, a & m);
  return r;
}

// Sets CF, OF and AF explicitly; ZF, SF and PF follow the result lazily.
// Every arithmetic flag is overwritten, so the previous lazy state is dropped.
export function setShiftFlags(sz: u32, r: u32, cf: u32, ofv: u32, af: u32): void {
  gFlags = (gFlags & ~(F_CF | F_OF | F_AF)) | (cf ? F_CF : 0) | (ofv ? F_OF : 0) | (af ? F_AF : 0);
  setCC(K_SHIFT, sz, r, 0, 0);
}

// Rotates touch only CF and OF.
function setRotateFlags(cf: u32, ofv: u32): void {
  materializeFlags();
  gFlags = (gFlags & ~(F_CF | F_OF)) | (cf ? F_CF : 0) | (ofv ? F_OF : 0);
}

// Group 2. op: 0 ROL 1 ROR 2 RCL 3 RCR 4 SHL 5 SHR 6 SAL(=SHL) 7 SAR.
// Returns the result; a count of zero leaves value and flags unchanged.
export function shiftOp(op: u32, a: u32, count: u32, sz: u32): u32 {
  const bits: u32 = 8 << sz;
  const m = sizeMask(sz);
  const sign = sizeSign(sz);
  a &= m;
  count &= 31;
  if (count == 0) return a;
  let r: u32 = a;
  switch (op) {
    case 0: {
      const c = count & (bits - 1);
      r = c ? ((a << c) | (a >> (bits - c))) & m : a;
      const cf = r & 1;
      setRotateFlags(cf, ((r & sign) != 0 ? 1 : 0) ^ cf);
      break;
    }
    case 1: {
      const c = count & (bits - 1);
      r = c ? ((a >> c) | (a << (bits - c))) & m : a;
      const msb: u32 = (r & sign) != 0 ? 1 : 0;
      const next: u32 = (r & (sign >> 1)) != 0 ? 1 : 0;
      setRotateFlags(msb, msb ^ next);
      break;
    }
    case 2: {
      const c = count % (bits + 1);
      let cf = getCF();
      let v: u64 = <u64>a | (<u64>cf << bits);
      // rotate (bits+1)-bit quantity left by c
      const w: u64 = (<u64>1 << (bits + 1)) - 1;
      v = ((v << c) | (v >> (bits + 1 - c))) & w;
      r = <u32>v & m;
      cf = <u32>(v >> bits) & 1;
      setRotateFlags(cf, ((r & sign) != 0 ? 1 : 0) ^ cf);
      break;
    }
    case 3: {
      const c = count % (bits + 1);
      let cf = getCF();
      let v: u64 = <u64>a | (<u64>cf << bits);
      const w: u64 = (<u64>1 << (bits + 1)) - 1;
      v = ((v >> c) | (v << (bits + 1 - c))) & w;
      r = <u32>v & m;
      cf = <u32>(v >> bits) & 1;
      const msb: u32 = (r & sign) != 0 ? 1 : 0;
      const next: u32 = (r & (sign >> 1)) != 0 ? 1 : 0;
      setRotateFlags(cf, msb ^ next);
      break;
    }
    case 5: {
      const cf = count <= bits ? (a >> (count - 1)) & 1 : 0;
      r = count < bits ? a >> count : 0;
      // OF as left by the last one-bit step: the operand's MSB for a count of 1, else 0
      // (the 286's result for other counts; Intel leaves it undefined).
      setShiftFlags(sz, r, cf, count == 1 && (a & sign) != 0 ? 1 : 0, 0);
      break;
    }
    case 7: {
      const sa: i64 = sz == 0 ? <i64>(<i8>a) : sz == 1 ? <i64>(<i16>a) : <i64>(<i32>a);
      const cf = <u32>(sa >> (count - 1)) & 1;
      r = <u32>(sa >> count) & m;
      setShiftFlags(sz, r, cf, 0, 0);
      break;
    }
    default: {
      const v: u64 = <u64>a << count;
      r = <u32>v & m;
      const cf = <u32>(v >> bits) & 1;
      setShiftFlags(sz, r, cf, ((r & sign) != 0 ? 1 : 0) ^ cf, 0);
      break;
    }
  }
  return r;
}

// SHLD/SHRD (count already masked to 0..31, nonzero).
export function shldOp(a: u32, b: u32, count: u32, sz: u32): u32 {
  const bits: u32 = 8 << sz;
  const m = sizeMask(sz);
  const sign = sizeSign(sz);
  let r: u32;
  let cf: u32;
  if (sz == 2) {
    const v: u64 = (<u64>a << 32) | <u64>b;
    r = <u32>((v << count) >> 32);
    cf = <u32>(v >> (64 - count)) & 1;
  } else {
    // 16-bit: a:b:a as a 48-bit quantity (counts above 16 behave as on P6)
    const v: u64 = (<u64>(a & m) << 32) | (<u64>(b & m) << 16) | <u64>(a & m);
    r = <u32>((v << count) >> 32) & m;
    cf = <u32>((v << (count - 1)) >> 47) & 1;
  }
  setShiftFlags(sz, r, cf, ((r ^ a) & sign) != 0 ? 1 : 0, 0);
  void bits;
  return r;
}

export function shrdOp(a: u32, b: u32, count: u32, sz: u32): u32 {
  const m = sizeMask(sz);
  const sign = sizeSign(sz);
  let r: u32;
  let cf: u32;
  if (sz == 2) {
    const v: u64 = (<u64>b << 32) | <u64>a;
    r = <u32>(v >> count);
    cf = <u32>(v >> (count - 1)) & 1;
  } else {
    // a is the low part being shifted right; b fills from the top
    const w: u64 = (<u64>(a & m)) | (<u64>(b & m) << 16) | (<u64>(a & m) << 32);
    r = <u32>(w >> count) & m;
    cf = <u32>(w >> (count - 1)) & 1;
  }
  setShiftFlags(sz, r, cf, ((r ^ a) & sign) != 0 ? 1 : 0, 0);
  return r;
}

// ---- multiply and divide (F6/F7 /4../7) ----

export function mulOp(sz: u32, src: u32, signed: bool): void {
  let overflow: bool;
  let low: u32;
  if (sz == 0) {
    const a = reg8(EAX);
    let r: u32;
    if (signed) {
      r = <u32>(<i32>(<i8>a) * <i32>(<i8>src)) & 0xffff;
      overflow = <i32>(<i16>r) != <i32>(<i8>r);
    } else {
      r = (a * (src & 0xff)) & 0xffff;
      overflow = (r >> 8) != 0;
    }
    setReg16(EAX, r);
    low = r & 0xff;
  } else if (sz == 1) {
    const a = reg16(EAX);
    let r: u32;
    if (signed) {
      r = <u32>(<i32>(<i16>a) * <i32>(<i16>src));
      overflow = <i32>r != <i32>(<i16>r);
    } else {
      r = a * (src & 0xffff);
      overflow = (r >> 16) != 0;
    }
    setReg16(EAX, r);
    setReg16(EDX, r >> 16);
    low = r & 0xffff;
  } else {
    const a = reg32(EAX);
    let r: u64;
    if (signed) {
      r = <u64>(<i64>(<i32>a) * <i64>(<i32>src));
      overflow = <i64>r != <i64>(<i32>r);
    } else {
      r = <u64>a * <u64>src;
      overflow = (r >> 32) != 0;
    }
    setReg32(EAX, <u32>r);
    setReg32(EDX, <u32>(r >> 32));
    low = <u32>r;
  }
  setShiftFlags(sz, low, overflow ? 1 : 0, overflow ? 1 : 0, 0);
}

// IMUL r, r/m(, imm): truncated signed product with CF=OF=overflow.
export function imulTrunc(a: u32, b: u32, sz: u32): u32 {
  let r: u32;
  let overflow: bool;
  if (sz == 1) {
    const p = <i32>(<i16>a) * <i32>(<i16>b);
    r = <u32>p & 0xffff;
    overflow = p != <i32>(<i16>p);
  } else {
    const p = <i64>(<i32>a) * <i64>(<i32>b);
    r = <u32>p;
    overflow = p != <i64>(<i32>p);
  }
  setShiftFlags(sz, r, overflow ? 1 : 0, overflow ? 1 : 0, 0);
  return r;
}

function divideError(): void {
  raiseFault(0, NO_ERROR_CODE);
}

export function divOp(sz: u32, src: u32, signed: bool): void {
  if (sz == 0) {
    const d = src & 0xff;
    if (d == 0) divideError();
    const n = reg16(EAX);
    if (signed) {
      const sn = <i32>(<i16>n), sd = <i32>(<i8>d);
      const q = sn / sd, rem = sn % sd;
      if (q > 127 || q < -128) divideError();
      setReg16(EAX, (<u32>q & 0xff) | ((<u32>rem & 0xff) << 8));
    } else {
      const q = n / d;
      if (q > 0xff) divideError();
      setReg16(EAX, q | ((n % d) << 8));
    }
  } else if (sz == 1) {
    const d = src & 0xffff;
    if (d == 0) divideError();
    const n = (reg16(EDX) << 16) | reg16(EAX);
    if (signed) {
      const sn = <i32>n, sd = <i32>(<i16>d);
      if (sn == i32.MIN_VALUE && sd == -1) divideError();
      const q = sn / sd, rem = sn % sd;
      if (q > 32767 || q < -32768) divideError();
      setReg16(EAX, <u32>q);
      setReg16(EDX, <u32>rem);
    } else {
      const q = n / d;
      if (q > 0xffff) divideError();
      setReg16(EAX, q);
      setReg16(EDX, n % d);
    }
  } else {
    const d = src;
    if (d == 0) divideError();
    const n: u64 = (<u64>reg32(EDX) << 32) | <u64>reg32(EAX);
    if (signed) {
      const sn = <i64>n, sd = <i64>(<i32>d);
      if (sn == i64.MIN_VALUE && sd == -1) divideError();
      const q = sn / sd, rem = sn % sd;
      if (q > 0x7fffffff || q < -0x80000000) divideError();
      setReg32(EAX, <u32>q);
      setReg32(EDX, <u32>rem);
    } else {
      const q = n / <u64>d;
      if (q > 0xffffffff) divideError();
      setReg32(EAX, <u32>q);
      setReg32(EDX, <u32>(n % <u64>d));
    }
  }
}

// ---- BCD ----

export function daa(): void {
  const oldAl = reg8(EAX);
  const oldCf = getCF();
  const af = getAF();
  let al = oldAl;
  let cf: u32 = 0;
  let newAf: u32 = 0;
  if ((al & 0xf) > 9 || af) {
    al = (al + 6) & 0xff;
    newAf = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al + 0x60) & 0xff;
    cf = 1;
  }
  setReg8(EAX, al);
  setBcdFlags(al, cf, newAf, ((oldAl ^ al) & al & 0x80) != 0 ? 1 : 0);
}

export function das(): void {
  const oldAl = reg8(EAX);
  const oldCf = getCF();
  const af = getAF();
  let al = oldAl;
  let cf: u32 = 0;
  let newAf: u32 = 0;
  if ((al & 0xf) > 9 || af) {
    if (al < 6) cf = 1; // borrow out of AL - 6
    al = (al - 6) & 0xff;
    newAf = 1;
  }
  if (oldAl > 0x99 || oldCf) {
    al = (al - 0x60) & 0xff;
    cf = 1;
  }
  setReg8(EAX, al);
  setBcdFlags(al, cf, newAf, ((oldAl ^ al) & oldAl & 0x80) != 0 ? 1 : 0);
}

function setBcdFlags(al: u32, cf: u32, af: u32, ofv: u32): void {
  setShiftFlags(0, al, cf, ofv, af);
}

export function aaa(): void {
  const ax = reg16(EAX);
  const al = ax & 0xff;
  if ((al & 0xf) > 9 || getAF()) {
    const r = (ax + 0x106) & 0xffff;
    setReg16(EAX, r & 0xff0f);
    setShiftFlags(0, r & 0xff, 1, 0, 1);
  } else {
    setReg16(EAX, ax & 0xff0f);
    setShiftFlags(0, al, 0, 0, 0);
  }
}

export function aas(): void {
  const ax = reg16(EAX);
  const al = ax & 0xff;
  if ((al & 0xf) > 9 || getAF()) {
    const r = (ax - 6) & 0xffff;
    const ah = ((r >> 8) - 1) & 0xff;
    setReg16(EAX, (ah << 8) | (r & 0x0f));
    setShiftFlags(0, r & 0xff, 1, 0, 1);
  } else {
    setReg16(EAX, ax & 0xff0f);
    setShiftFlags(0, al, 0, 0, 0);
  }
}

export function aam(base: u32): void {
  if (base == 0) divideError();
  const al = reg8(EAX);
  const r = al % base;
  setReg16(EAX, ((al / base) << 8) | r);
  setCC(K_LOGIC, 0, r, 0, 0);
}

export function aad(base: u32): void {
  const ax = reg16(EAX);
  const al = ax & 0xff;
  const prod = ((ax >> 8) * base) & 0xff;
  const r = (al + prod) & 0xff;
  setReg16(EAX, r);
  setCC(K_ADD, 0, r, al, prod);
}

export const ARITH_FLAGS: u32 = F_ARITH | F_ZF | F_SF | F_PF;
