// Bit instructions of the two-byte map: BT/BTS/BTR/BTC, BSF/BSR,
// SHLD/SHRD and BSWAP.
import { reg8, setReg16, reg32, setReg32, ECX } from "./state";
import {
  opSize32, addrSize32, modReg, modRm, modIsReg, eaSeg, eaOff, fetch8, decodeModrm, rmRead,
  rmWrite, rmReadForWrite, regRead, regWrite, readMem, writeMem, probeWriteMem, opSz,
} from "./cpu";
import { setCC, setCFValue, K_LOGIC } from "./flags";
import { shldOp, shrdOp } from "./alu";
import { raiseFault, NO_ERROR_CODE } from "./fault";

// kind: 0 BT, 1 BTS, 2 BTR, 3 BTC
@inline function bitApply(kind: u32, v: u32, bit: u32): u32 {
  const m: u32 = 1 << bit;
  if (kind == 1) return v | m;
  if (kind == 2) return v & ~m;
  return v ^ m;
}

// Register destination: the bit offset is taken modulo the operand size.
function bitOnReg(kind: u32, sz: u32, bit: u32): void {
  const v = regRead(modRm, sz);
  const cf = (v >> bit) & 1;
  if (kind != 0) regWrite(modRm, sz, bitApply(kind, v, bit));
  setCFValue(cf);
}

// Memory destination: the operand-sized unit at seg:off holds the bit.
function bitOnMem(kind: u32, seg: u32, off: u32, bit: u32, sz: u32): void {
  let v: u32;
  if (kind == 0) {
    v = readMem(seg, off, sz);
  } else {
    probeWriteMem(seg, off, 1 << sz);
    v = readMem(seg, off, sz);
    writeMem(seg, off, sz, bitApply(kind, v, bit));
  }
  setCFValue((v >> bit) & 1);
}

// 0F A3 / AB / B3 / BB: BTx r/m, reg. With a memory operand the register is a
// signed bit offset that may address memory outside the operand itself.
export function bitTestReg(kind: u32): void {
  const sz = opSz();
  decodeModrm();
  const src = regRead(modReg, sz);
  if (modIsReg) {
    bitOnReg(kind, sz, src & ((8 << sz) - 1));
    return;
  }
  let off: u32;
  let bit: u32;
  if (sz == 2) {
    off = eaOff + (<u32>(<i32>src >> 5) << 2);
    bit = src & 31;
  } else {
    off = eaOff + (<u32>(<i32>(<i16>src) >> 4) << 1);
    bit = src & 15;
  }
  if (!addrSize32) off &= 0xffff;
  bitOnMem(kind, eaSeg, off, bit, sz);
}

// 0F BA: group 8, BTx r/m, imm8 (/4 BT /5 BTS /6 BTR /7 BTC).
export function bitTestImm(): void {
  const sz = opSz();
  decodeModrm();
  if (modReg < 4) raiseFault(6, NO_ERROR_CODE);
  const bit = fetch8() & ((8 << sz) - 1);
  const kind = modReg - 4;
  if (modIsReg) bitOnReg(kind, sz, bit);
  else bitOnMem(kind, eaSeg, eaOff, bit, sz);
}

// 0F BC BSF / 0F BD BSR. A zero source sets ZF and leaves the destination alone.
// The other flags are undefined; they follow the source as after a logic op.
export function bitScan(reverse: bool): void {
  const sz = opSz();
  decodeModrm();
  const src = rmRead(sz);
  if (src != 0) {
    const idx: u32 = reverse ? 31 - clz<u32>(src) : ctz<u32>(src);
    regWrite(modReg, sz, idx);
  }
  setCC(K_LOGIC, sz, src, 0, 0);
}

// 0F A4/A5 SHLD, 0F AC/AD SHRD. The count is masked to 5 bits; 0 changes nothing.
export function doubleShift(right: bool, immCount: bool): void {
  const sz = opSz();
  decodeModrm();
  const a = rmReadForWrite(sz);
  const count = (immCount ? fetch8() : reg8(ECX)) & 31;
  if (count == 0) return;
  const b = regRead(modReg, sz);
  rmWrite(sz, right ? shrdOp(a, b, count, sz) : shldOp(a, b, count, sz));
}

// 0F C8+r BSWAP. With a 16-bit operand the result is undefined; P6-class
// parts leave zero in the low word, which is what this does.
export function opBswap(r: u32): void {
  if (opSize32) setReg32(r, bswap<u32>(reg32(r)));
  else setReg16(r, 0);
}
