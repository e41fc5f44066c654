// Lazy arithmetic flags: the last flag-setting operation is remembered and
// CF/PF/AF/ZF/SF/OF are computed only when something reads them.
import { gFlags, F_CF, F_PF, F_AF, F_ZF, F_SF, F_OF, F_ARITH } from "./state";

// Operation kinds; ccOp = kind << 2 | size index (0: 8-bit, 1: 16, 2: 32)
export const K_NONE: u32 = 0; // gFlags holds the truth
export const K_ADD: u32 = 1;
export const K_ADC: u32 = 2;
export const K_SUB: u32 = 3;
export const K_SBB: u32 = 4;
export const K_LOGIC: u32 = 5;
export const K_INC: u32 = 6; // CF lives in gFlags
export const K_DEC: u32 = 7;
export const K_SHIFT: u32 = 8; // CF, OF and AF live in gFlags; ZF SF PF follow the result

export let ccOp: u32 = 0;
export let ccRes: u32 = 0;
export let ccA: u32 = 0;
export let ccB: u32 = 0;

@inline export function sizeMask(sz: u32): u32 {
  return sz == 0 ? 0xff : sz == 1 ? 0xffff : 0xffffffff;
}
@inline export function sizeSign(sz: u32): u32 {
  return sz == 0 ? 0x80 : sz == 1 ? 0x8000 : 0x80000000;
}

@inline export function setCC(kind: u32, sz: u32, res: u32, a: u32, b: u32): void {
  ccOp = (kind << 2) | sz;
  ccRes = res;
  ccA = a;
  ccB = b;
}

export function getCF(): u32 {
  const kind = ccOp >> 2;
  const m = sizeMask(ccOp & 3);
  switch (kind) {
    case K_ADD: return (ccRes & m) < (ccA & m) ? 1 : 0;
    case K_ADC: {
      const r = ccRes & m, a = ccA & m;
      const cin = (ccRes - ccA - ccB) & m;
      return (cin ? r <= a : r < a) ? 1 : 0;
    }
    case K_SUB: return (ccA & m) < (ccB & m) ? 1 : 0;
    case K_SBB: {
      const a = ccA & m, b = ccB & m;
      const cin = (ccA - ccB - ccRes) & m;
      return (cin ? a <= b : a < b) ? 1 : 0;
    }
    case K_LOGIC: return 0;
    default: return gFlags & F_CF;
  }
}

export function getZF(): u32 {
  if (ccOp == 0) return (gFlags >> 6) & 1;
  return (ccRes & sizeMask(ccOp & 3)) == 0 ? 1 : 0;
}

export function getSF(): u32 {
  if (ccOp == 0) return (gFlags >> 7) & 1;
  return (ccRes & sizeSign(ccOp & 3)) != 0 ? 1 : 0;
}

export function getPF(): u32 {
  if (ccOp == 0) return (gFlags >> 2) & 1;
  return (popcnt<u32>(ccRes & 0xff) & 1) ^ 1;
}

export function getAF(): u32 {
  if (ccOp == 0) return (gFlags >> 4) & 1;
  const kind = ccOp >> 2;
  if (kind == K_LOGIC) return 0;
  if (kind == K_SHIFT) return (gFlags >> 4) & 1;
  return ((ccA ^ ccB ^ ccRes) >> 4) & 1;
}

export function getOF(): u32 {
  const kind = ccOp >> 2;
  const s = sizeSign(ccOp & 3);
  switch (kind) {
    case K_ADD:
    case K_ADC:
    case K_INC:
      return ((ccA ^ ccRes) & (ccB ^ ccRes) & s) != 0 ? 1 : 0;
    case K_SUB:
    case K_SBB:
    case K_DEC:
      return ((ccA ^ ccB) & (ccA ^ ccRes) & s) != 0 ? 1 : 0;
    case K_LOGIC: return 0;
    default: return (gFlags >> 11) & 1;
  }
}

// Writes the computed arithmetic flags into gFlags and forgets the lazy op.
// Computed in one pass (no getter calls): rotates, PUSHF and CLC/STC call this often.
export function materializeFlags(): u32 {
  const op = ccOp;
  if (op == 0) return gFlags;
  const kind = op >> 2;
  const sz = op & 3;
  const m = sizeMask(sz);
  const sign = sizeSign(sz);
  const res = ccRes & m;
  const a = ccA & m;
  const b = ccB & m;
  let f: u32 = (res == 0 ? F_ZF : 0) | ((res & sign) != 0 ? F_SF : 0) |
    ((popcnt<u32>(res & 0xff) & 1) != 0 ? 0 : F_PF);
  let cf: u32 = 0;
  let ovf: bool = false;
  let af: bool = ((a ^ b ^ res) & 0x10) != 0;
  switch (kind) {
    case K_ADD:
      cf = res < a ? 1 : 0;
      ovf = ((a ^ res) & (b ^ res) & sign) != 0;
      break;
    case K_ADC: {
      const cin = (res - a - b) & m;
      cf = (cin ? res <= a : res < a) ? 1 : 0;
      ovf = ((a ^ res) & (b ^ res) & sign) != 0;
      break;
    }
    case K_SUB:
      cf = a < b ? 1 : 0;
      ovf = ((a ^ b) & (a ^ res) & sign) != 0;
      break;
    case K_SBB: {
      const cin = (a - b - res) & m;
      cf = (cin ? a <= b : a < b) ? 1 : 0;
      ovf = ((a ^ b) & (a ^ res) & sign) != 0;
      break;
    }
    case K_LOGIC:
      af = false;
      break;
    case K_INC:
      cf = gFlags & F_CF;
      ovf = ((a ^ res) & (b ^ res) & sign) != 0;
      break;
    case K_DEC:
      cf = gFlags & F_CF;
      ovf = ((a ^ b) & (a ^ res) & sign) != 0;
      break;
    default: // K_SHIFT: CF, OF and AF are already in gFlags
      cf = gFlags & F_CF;
      ovf = (gFlags & F_OF) != 0;
      af = (gFlags & F_AF) != 0;
      break;
  }
  f |= cf | (ovf ? F_OF : 0) | (af ? F_AF : 0);
  gFlags = (gFlags & ~F_ARITH) | f;
  ccOp = 0;
  return gFlags;
}

// Sets some arithmetic flags explicitly and keeps the rest as they are.
export function setArithFlags(mask: u32, values: u32): void {
  materializeFlags();
  gFlags = (gFlags & ~mask) | (values & mask);
}

export function setCFValue(cf: u32): void {
  setArithFlags(F_CF, cf ? F_CF : 0);
}

// Condition codes 0..15 as in Jcc/SETcc/CMOVcc. After CMP/SUB and after
// logic ops (the usual producers for a branch) the answer comes straight from
// the operands.
export function testCondition(cc: u32): bool {
  const op = ccOp;
  if (op != 0) {
    const kind = op >> 2;
    const sz = op & 3;
    const m = sizeMask(sz);
    const sub = cc >> 1;
    let r: bool;
    if (sub == 2) {
      r = (ccRes & m) == 0; // ZF follows the result for every lazy kind
    } else if (sub == 4) {
      r = (ccRes & sizeSign(sz)) != 0;
    } else if (kind == K_SUB) {
      const a = ccA & m;
      const b = ccB & m;
      const sh: u32 = 32 - (8 << sz);
      switch (sub) {
        case 1: r = a < b; break;
        case 3: r = a <= b; break;
        case 6: r = <i32>(a << sh) < <i32>(b << sh); break;
        case 7: r = <i32>(a << sh) <= <i32>(b << sh); break;
        default: return testConditionSlow(cc);
      }
    } else if (kind == K_LOGIC) {
      const res = ccRes & m;
      const neg = (res & sizeSign(sz)) != 0;
      switch (sub) {
        case 0: case 1: r = false; break;
        case 3: r = res == 0; break;
        case 6: r = neg; break;
        case 7: r = res == 0 || neg; break;
        default: return testConditionSlow(cc);
      }
    } else return testConditionSlow(cc);
    return (cc & 1) ? !r : r;
  }
  return testConditionSlow(cc);
}

function testConditionSlow(cc: u32): bool {
  let r: bool;
  switch (cc >> 1) {
    case 0: r = getOF() != 0; break;
    case 1: r = getCF() != 0; break;
    case 2: r = getZF() != 0; break;
    case 3: r = (getCF() | getZF()) != 0; break;
    case 4: r = getSF() != 0; break;
    case 5: r = getPF() != 0; break;
    case 6: r = getSF() != getOF(); break;
    default: r = getZF() != 0 || getSF() != getOF(); break;
  }
  return (cc & 1) ? !r : r;
}

export const ALL_ARITH: u32 = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;
