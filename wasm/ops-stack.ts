// Stack-frame instructions of the one-byte map: PUSHA, POPA, ENTER, and
// BOUND (an array-bounds check that reads a pair from memory).
import { reg32, setReg32, reg16, setReg16, SS, ESP, EBP } from "./state";
import {
  opSize32, addrSize32, modReg, modIsReg, eaSeg, eaOff, fetch8, fetch16, decodeModrm, readMem,
  readMem16, readMem32, writeMem, regWrite, opSz, stackPointer, setStackPointer, stackOffset,
  stack32, probeWriteMem,
} from "./cpu";
import { raiseFault, NO_ERROR_CODE } from "./fault";

export function pusha(): void {
  const sz: u32 = opSize32 ? 4 : 2;
  const sp = stackPointer();
  const top = stack32 ? sp - 8 * sz : (sp - 8 * sz) & 0xffff;
  // Each push wraps at the 16-bit stack boundary on its own, so probe every slot.
  for (let r: u32 = 0; r < 8; r++) {
    probeWriteMem(SS, stack32 ? sp - (r + 1) * sz : (sp - (r + 1) * sz) & 0xffff, sz);
  }
  for (let r: u32 = 0; r < 8; r++) {
    const v = r == ESP ? sp : reg32(r);
    const off = stack32 ? sp - (r + 1) * sz : (sp - (r + 1) * sz) & 0xffff;
    writeMem(SS, off, opSize32 ? 2 : 1, v);
  }
  setStackPointer(top);
}

export function popa(): void {
  const sz: u32 = opSize32 ? 4 : 2;
  for (let r: i32 = 7; r >= 0; r--) {
    const off = stackOffset((7 - <u32>r) * sz);
    const v = readMem(SS, off, opSize32 ? 2 : 1);
    if (<u32>r != ESP) regWrite(<u32>r, opSz(), v);
  }
  setStackPointer(stackOffset(8 * sz));
}

export function bound(): void {
  decodeModrm();
  if (modIsReg) raiseFault(6, NO_ERROR_CODE);
  if (opSize32) {
    const idx = <i32>reg32(modReg);
    const lo = <i32>readMem32(eaSeg, eaOff);
    const hi = <i32>readMem32(eaSeg, eaOff + 4);
    if (idx < lo || idx > hi) raiseFault(5, NO_ERROR_CODE);
  } else {
    const idx = <i32>(<i16>reg16(modReg));
    const lo = <i32>(<i16>readMem16(eaSeg, eaOff));
    const hi = <i32>(<i16>readMem16(eaSeg, (eaOff + 2) & (addrSize32 ? 0xffffffff : 0xffff)));
    if (idx < lo || idx > hi) raiseFault(5, NO_ERROR_CODE);
  }
}

export function enter(): void {
  const size = fetch16();
  const level = fetch8() & 31;
  const w: u32 = opSize32 ? 4 : 2;
  const bp = stack32 ? reg32(EBP) : reg16(EBP);
  let sp = stackPointer();
  // Build the frame into temporaries; commit registers only when all writes succeeded.
  sp = stack32 ? sp - w : (sp - w) & 0xffff;
  writeMem(SS, sp, opSize32 ? 2 : 1, reg32(EBP));
  const frame = sp;
  let b = bp;
  if (level > 0) {
    for (let i: u32 = 1; i < level; i++) {
      b = stack32 ? b - w : (b - w) & 0xffff;
      const v = readMem(SS, b, opSize32 ? 2 : 1);
      sp = stack32 ? sp - w : (sp - w) & 0xffff;
      writeMem(SS, sp, opSize32 ? 2 : 1, v);
    }
    sp = stack32 ? sp - w : (sp - w) & 0xffff;
    writeMem(SS, sp, opSize32 ? 2 : 1, frame);
  }
  sp = stack32 ? sp - size : (sp - size) & 0xffff;
  if (size) probeWriteMem(SS, sp, 1);
  if (opSize32) setReg32(EBP, frame);
  else setReg16(EBP, frame);
  setStackPointer(sp);
}
