// One instruction: prefixes, then the one-byte opcode map. The two-byte map
// (0F xx) is in exec0f.ts.
import { STATE_BASE, S_CPL, S_HALTED, S_CR0 } from "./layout";
import {
  gEip, gFlags, gEvents, EV_INHIBIT, EV_HALTED, reg32, setReg32, reg16, setReg16, reg8, setReg8,
  segSel, ES, CS, SS, DS, FS, GS, EAX, ECX, EDX, EBX, ESP, EBP, F_CF, F_IF, F_DF, F_RF, F_VM,
  F_IOPL, CR0_EM, CR0_TS,
} from "./state";
import {
  code32, protectedMode, v86Mode, opSize32, addrSize32, segOverride, repPrefix, lockPrefix,
  modReg, modRm, modIsReg, eaSeg, eaOff, fetch8, fetch16, fetch32, fetchImm, decodeModrm, rmRead,
  rmWrite, rmReadForWrite, regRead, regWrite, push16, push32, pushOp, pop16, pop32, popOp, opSz,
  readMem, readMem8, readMem16, readMem32, writeMem, dataSeg, stackPointer, setStackPointer,
  stackOffset, stack32, segLinear, resetDecoder, csLimit, prefixSeen,
} from "./cpu";
import { pmArpl } from "./protected";
import {
  aluOp, incOp, decOp, negOp, shiftOp, mulOp, divOp, imulTrunc, daa, das, aaa, aas, aam, aad,
} from "./alu";
import { getCF, materializeFlags, testCondition } from "./flags";
import { raiseFault, NO_ERROR_CODE, insnEip } from "./fault";
import { stringOp } from "./strings";
import { ioIn, ioOut, checkIoPermission } from "./io";
import {
  loadSegment, farJump, farCall, farReturn, interruptReturn, deliverInterrupt, writeFlagsReal,
} from "./transfer";
import { exec0F } from "./exec0f";
import { pusha, popa, bound, enter } from "./ops-stack";

@inline export function step(): void {
  resetDecoder();
  execute(fetch8());
  // 16-bit code: IP wraps, so an instruction ending at offset FFFF continues at 0000.
  if (!code32) gEip &= 0xffff;
}

// After a prefix: the next byte is another prefix or the opcode.
function afterPrefix(): void {
  prefixSeen = true;
  if (gEip - insnEip >= 15) raiseFault(13, 0);
  const op = fetch8();
  if (lockPrefix) checkLock(op);
  execute(op);
}

// LOCK is valid only on a read-modify-write of memory by the listed instructions.
function checkLock(op: u32): void {
  if (isPrefix(op)) return; // checked when the opcode arrives
  const save = gEip;
  let ok = false;
  if (op == 0x0f) {
    const op2 = fetch8();
    const m = fetch8();
    const mem = (m >> 6) != 3;
    const r = (m >> 3) & 7;
    ok = mem && (op2 == 0xab || op2 == 0xb3 || op2 == 0xbb || (op2 == 0xba && r >= 5) ||
      op2 == 0xb0 || op2 == 0xb1 || op2 == 0xc0 || op2 == 0xc1 || (op2 == 0xc7 && r == 1));
  } else if ((op < 0x40 && (op & 7) < 2) || (op >= 0x80 && op <= 0x87) || op == 0xf6 || op == 0xf7 || op == 0xfe || op == 0xff) {
    const m = fetch8();
    const mem = (m >> 6) != 3;
    const r = (m >> 3) & 7;
    if (op < 0x40 && (op & 7) < 2) ok = mem && ((op >> 3) & 7) != 7;
    else if (op >= 0x80 && op <= 0x83) ok = mem && r != 7;
    else if (op == 0x86 || op == 0x87) ok = mem;
    else if (op == 0xf6 || op == 0xf7) ok = mem && (r == 2 || r == 3);
    else if (op == 0xfe || op == 0xff) ok = mem && r < 2;
  }
  gEip = save;
  if (!ok) raiseFault(6, NO_ERROR_CODE);
}

function isPrefix(op: u32): bool {
  return op == 0x26 || op == 0x2e || op == 0x36 || op == 0x3e || op == 0x64 || op == 0x65 ||
    op == 0x66 || op == 0x67 || op == 0xf0 || op == 0xf2 || op == 0xf3;
}

@inline function iopl(): u32 {
  return (gFlags & F_IOPL) >> 12;
}
@inline function curCpl(): u32 {
  return load<u32>(STATE_BASE + S_CPL);
}

function jumpRel(rel: u32): void {
  let target = gEip + rel;
  if (!opSize32) target &= 0xffff;
  if (target > csLimit) raiseFault(13, 0);
  gEip = target;
}

function jumpNear(target: u32): void {
  if (!opSize32) target &= 0xffff;
  if (target > csLimit) raiseFault(13, 0);
  gEip = target;
}

@inline function rel8(): u32 {
  return <u32>(<i32>(<i8>fetch8()));
}

@inline function relOp(): u32 {
  return opSize32 ? fetch32() : <u32>(<i32>(<i16>fetch16()));
}

@inline function countReg(): u32 {
  return addrSize32 ? reg32(ECX) : reg16(ECX);
}

// Flags POPF may change, given mode and privilege.
function popfMask(): u32 {
  let mask: u32 = 0x3f7fd5 & ~(F_VM | (1 << 19) | (1 << 20)); // no VM, VIF, VIP
  if (!opSize32) mask &= 0xffff;
  if (protectedMode) {
    if (curCpl() > 0) mask &= ~F_IOPL;
    if (curCpl() > iopl()) mask &= ~F_IF;
  }
  return mask;
}

function pushFlags(): void {
  if (v86Mode && iopl() < 3) raiseFault(13, 0);
  const f = materializeFlags() & ~(F_VM | F_RF);
  if (opSize32) push32(f);
  else push16(f);
}

function popFlags(): void {
  if (v86Mode && iopl() < 3) raiseFault(13, 0);
  const v = opSize32 ? pop32() : pop16();
  writeFlagsReal(v, popfMask());
}

export function execute(op: u32): void {
  switch (op) {
    // ---- prefixes ----
    case 0x26: segOverride = <i32>ES; afterPrefix(); break;
    case 0x2e: segOverride = <i32>CS; afterPrefix(); break;
    case 0x36: segOverride = <i32>SS; afterPrefix(); break;
    case 0x3e: segOverride = <i32>DS; afterPrefix(); break;
    case 0x64: segOverride = <i32>FS; afterPrefix(); break;
    case 0x65: segOverride = <i32>GS; afterPrefix(); break;
    case 0x66: opSize32 = !code32; afterPrefix(); break;
    case 0x67: addrSize32 = !code32; afterPrefix(); break;
    case 0xf0: lockPrefix = true; afterPrefix(); break;
    case 0xf2: case 0xf3: repPrefix = op; afterPrefix(); break;

    // ---- ALU: ADD OR ADC SBB AND SUB XOR CMP ----
    case 0x00: case 0x08: case 0x10: case 0x18: case 0x20: case 0x28: case 0x30: case 0x38:
    case 0x01: case 0x09: case 0x11: case 0x19: case 0x21: case 0x29: case 0x31: case 0x39: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      const aop = (op >> 3) & 7;
      decodeModrm();
      const b = regRead(modReg, sz);
      if (aop == 7) aluOp(7, rmRead(sz), b, sz);
      else {
        const a = rmReadForWrite(sz);
        rmWrite(sz, aluOp(aop, a, b, sz));
      }
      break;
    }
    case 0x02: case 0x0a: case 0x12: case 0x1a: case 0x22: case 0x2a: case 0x32: case 0x3a:
    case 0x03: case 0x0b: case 0x13: case 0x1b: case 0x23: case 0x2b: case 0x33: case 0x3b: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      const aop = (op >> 3) & 7;
      decodeModrm();
      const b = rmRead(sz);
      const r = aluOp(aop, regRead(modReg, sz), b, sz);
      if (aop != 7) regWrite(modReg, sz, r);
      break;
    }
    case 0x04: case 0x0c: case 0x14: case 0x1c: case 0x24: case 0x2c: case 0x34: case 0x3c:
    case 0x05: case 0x0d: case 0x15: case 0x1d: case 0x25: case 0x2d: case 0x35: case 0x3d: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      const aop = (op >> 3) & 7;
      const b = fetchImm(sz);
      const r = aluOp(aop, regRead(EAX, sz), b, sz);
      if (aop != 7) regWrite(EAX, sz, r);
      break;
    }
    case 0x06: pushOp(segSel(ES)); break;
    case 0x0e: pushOp(segSel(CS)); break;
    case 0x16: pushOp(segSel(SS)); break;
    case 0x1e: pushOp(segSel(DS)); break;
    case 0x07: popSegment(ES); break;
    case 0x17: popSegment(SS); gEvents |= EV_INHIBIT; break;
    case 0x1f: popSegment(DS); break;
    case 0x0f: exec0F(); break;
    case 0x27: daa(); break;
    case 0x2f: das(); break;
    case 0x37: aaa(); break;
    case 0x3f: aas(); break;

    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47: {
      const sz = opSz();
      regWrite(op & 7, sz, incOp(regRead(op & 7, sz), sz));
      break;
    }
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      const sz = opSz();
      regWrite(op & 7, sz, decOp(regRead(op & 7, sz), sz));
      break;
    }
    case 0x50: case 0x51: case 0x52: case 0x53: case 0x54: case 0x55: case 0x56: case 0x57:
      if (opSize32) push32(reg32(op & 7));
      else push16(reg16(op & 7));
      break;
    case 0x58: case 0x59: case 0x5a: case 0x5b: case 0x5c: case 0x5d: case 0x5e: case 0x5f: {
      // POP ESP loads the popped value, not the incremented pointer.
      const v = popOp();
      regWrite(op & 7, opSz(), v);
      break;
    }
    case 0x60: pusha(); break;
    case 0x61: popa(); break;
    case 0x62: bound(); break;
    case 0x63:
      if (!protectedMode || v86Mode) raiseFault(6, NO_ERROR_CODE);
      pmArpl();
      break;
    case 0x68: pushOp(opSize32 ? fetch32() : fetch16()); break;
    case 0x6a: pushOp(rel8()); break;
    case 0x69: case 0x6b: {
      const sz = opSz();
      decodeModrm();
      const a = rmRead(sz);
      const b = op == 0x6b ? rel8() : fetchImm(sz);
      regWrite(modReg, sz, imulTrunc(a, b, sz));
      break;
    }
    case 0x6c: stringOp(5, 0); break;
    case 0x6d: stringOp(5, opSz()); break;
    case 0x6e: stringOp(6, 0); break;
    case 0x6f: stringOp(6, opSz()); break;

    case 0x70: case 0x71: case 0x72: case 0x73: case 0x74: case 0x75: case 0x76: case 0x77:
    case 0x78: case 0x79: case 0x7a: case 0x7b: case 0x7c: case 0x7d: case 0x7e: case 0x7f: {
      const rel = rel8();
      if (testCondition(op & 15)) jumpRel(rel);
      break;
    }

    case 0x80: case 0x81: case 0x82: case 0x83: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      decodeModrm();
      const aop = modReg;
      if (aop == 7) {
        const a = rmRead(sz);
        const b = op == 0x83 ? rel8() : fetchImm(sz);
        aluOp(7, a, b, sz);
      } else {
        const a = rmReadForWrite(sz);
        const b = op == 0x83 ? rel8() : fetchImm(sz);
        rmWrite(sz, aluOp(aop, a, b, sz));
      }
      break;
    }
    case 0x84: case 0x85: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      decodeModrm();
      aluOp(4, rmRead(sz), regRead(modReg, sz), sz);
      break;
    }
    case 0x86: case 0x87: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      decodeModrm();
      const a = rmReadForWrite(sz);
      const b = regRead(modReg, sz);
      rmWrite(sz, b);
      regWrite(modReg, sz, a);
      break;
    }
    case 0x88: case 0x89: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      decodeModrm();
      rmWrite(sz, regRead(modReg, sz));
      break;
    }
    case 0x8a: case 0x8b: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      decodeModrm();
      regWrite(modReg, sz, rmRead(sz));
      break;
    }
    case 0x8c: {
      decodeModrm();
      if (modReg > 5) raiseFault(6, NO_ERROR_CODE);
      const sel = segSel(modReg);
      if (modIsReg) regWrite(modRm, opSz(), sel);
      else writeMem(eaSeg, eaOff, 1, sel);
      break;
    }
    case 0x8d: {
      decodeModrm();
      if (modIsReg) raiseFault(6, NO_ERROR_CODE);
      regWrite(modReg, opSz(), eaOff);
      break;
    }
    case 0x8e: {
      decodeModrm();
      if (modReg > 5 || modReg == CS) raiseFault(6, NO_ERROR_CODE);
      const sel = rmRead(1);
      loadSegment(modReg, sel);
      if (modReg == SS) gEvents |= EV_INHIBIT;
      break;
    }
    case 0x8f: {
      // The destination address uses ESP after the pop.
      const sz = opSz();
      const v = popOp();
      decodeModrm();
      if (modReg != 0) raiseFault(6, NO_ERROR_CODE);
      rmWrite(sz, v);
      break;
    }
    case 0x90:
      break;
    case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97: {
      const sz = opSz();
      const a = regRead(EAX, sz);
      regWrite(EAX, sz, regRead(op & 7, sz));
      regWrite(op & 7, sz, a);
      break;
    }
    case 0x98:
      if (opSize32) setReg32(EAX, <u32>(<i32>(<i16>reg16(EAX))));
      else setReg16(EAX, <u32>(<i32>(<i8>reg8(EAX))));
      break;
    case 0x99:
      if (opSize32) setReg32(EDX, (reg32(EAX) & 0x80000000) ? 0xffffffff : 0);
      else setReg16(EDX, (reg16(EAX) & 0x8000) ? 0xffff : 0);
      break;
    case 0x9a: {
      const off = opSize32 ? fetch32() : fetch16();
      const sel = fetch16();
      farCall(sel, off);
      break;
    }
    case 0x9b: // WAIT: no FPU, so nothing to wait for
      if ((load<u32>(STATE_BASE + S_CR0) & (CR0_TS | 2)) == (CR0_TS | 2)) raiseFault(7, NO_ERROR_CODE);
      break;
    case 0x9c: pushFlags(); break;
    case 0x9d: popFlags(); break;
    case 0x9e: {
      const ah = reg8(4);
      materializeFlags();
      gFlags = (gFlags & ~0xd5) | (ah & 0xd5) | 2;
      break;
    }
    case 0x9f: setReg8(4, (materializeFlags() & 0xd5) | 2); break;

    case 0xa0: case 0xa1: case 0xa2: case 0xa3: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      const off = addrSize32 ? fetch32() : fetch16();
      const seg = dataSeg(DS);
      if (op < 0xa2) regWrite(EAX, sz, readMem(seg, off, sz));
      else writeMem(seg, off, sz, regRead(EAX, sz));
      break;
    }
    case 0xa4: stringOp(0, 0); break;
    case 0xa5: stringOp(0, opSz()); break;
    case 0xa6: stringOp(1, 0); break;
    case 0xa7: stringOp(1, opSz()); break;
    case 0xa8: aluOp(4, reg8(EAX), fetch8(), 0); break;
    case 0xa9: { const sz = opSz(); aluOp(4, regRead(EAX, sz), fetchImm(sz), sz); break; }
    case 0xaa: stringOp(2, 0); break;
    case 0xab: stringOp(2, opSz()); break;
    case 0xac: stringOp(3, 0); break;
    case 0xad: stringOp(3, opSz()); break;
    case 0xae: stringOp(4, 0); break;
    case 0xaf: stringOp(4, opSz()); break;

    case 0xb0: case 0xb1: case 0xb2: case 0xb3: case 0xb4: case 0xb5: case 0xb6: case 0xb7:
      setReg8(op & 7, fetch8());
      break;
    case 0xb8: case 0xb9: case 0xba: case 0xbb: case 0xbc: case 0xbd: case 0xbe: case 0xbf:
      if (opSize32) setReg32(op & 7, fetch32());
      else setReg16(op & 7, fetch16());
      break;

    case 0xc0: case 0xc1: case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      decodeModrm();
      const a = rmReadForWrite(sz);
      const count = op <= 0xc1 ? fetch8() : op <= 0xd1 ? 1 : reg8(ECX);
      if (count & 31) rmWrite(sz, shiftOp(modReg, a, count, sz));
      break;
    }
    case 0xc2: case 0xc3: {
      const n = op == 0xc2 ? fetch16() : 0;
      const ip = popOp();
      jumpNear(ip);
      if (n) setStackPointer(stackOffset(n));
      break;
    }
    case 0xc4: loadFarPointer(ES); break;
    case 0xc5: loadFarPointer(DS); break;
    case 0xc6: case 0xc7: {
      const sz: u32 = (op & 1) ? opSz() : 0;
      decodeModrm();
      if (modReg != 0) raiseFault(6, NO_ERROR_CODE);
      rmWrite(sz, fetchImm(sz));
      break;
    }
    case 0xc8: enter(); break;
    case 0xc9: {
      // LEAVE: ESP = EBP, then pop EBP
      const w: u32 = opSize32 ? 4 : 2;
      const bp = stack32 ? reg32(EBP) : reg16(EBP);
      const v = opSize32 ? readMem32(SS, bp) : readMem16(SS, bp);
      setStackPointer(stack32 ? bp + w : (bp + w) & 0xffff);
      regWrite(EBP, opSz(), v);
      break;
    }
    case 0xca: farReturn(fetch16()); break;
    case 0xcb: farReturn(0); break;
    case 0xcc: softInterrupt(3, true); break;
    case 0xcd: softInterrupt(fetch8(), false); break;
    case 0xce:
      materializeFlags();
      if (gFlags & (1 << 11)) softInterrupt(4, true);
      break;
    case 0xcf:
      if (v86Mode && iopl() < 3) raiseFault(13, 0);
      interruptReturn();
      break;

    case 0xd4: aam(fetch8()); break;
    case 0xd5: aad(fetch8()); break;
    case 0xd6: setReg8(EAX, getCF() ? 0xff : 0); break;
    case 0xd7: {
      const off = (addrSize32 ? reg32(EBX) : reg16(EBX)) + reg8(EAX);
      setReg8(EAX, readMem8(dataSeg(DS), addrSize32 ? off : off & 0xffff));
      break;
    }
    case 0xd8: case 0xd9: case 0xda: case 0xdb: case 0xdc: case 0xdd: case 0xde: case 0xdf: {
      // x87 escape: no FPU is present. With EM or TS set the kernel emulates it (#NM).
      const cr0v = load<u32>(STATE_BASE + S_CR0);
      if (cr0v & (CR0_EM | CR0_TS)) raiseFault(7, NO_ERROR_CODE);
      decodeModrm();
      if (!modIsReg) segLinear(eaSeg, eaOff, 2, false);
      break;
    }

    case 0xe0: case 0xe1: case 0xe2: {
      const rel = rel8();
      const c = countReg() - 1;
      if (addrSize32) setReg32(ECX, c);
      else setReg16(ECX, c);
      const nz = addrSize32 ? c != 0 : (c & 0xffff) != 0;
      let take = nz;
      if (op == 0xe0) take = nz && testCondition(5);
      else if (op == 0xe1) take = nz && testCondition(4);
      if (take) jumpRel(rel);
      break;
    }
    case 0xe3: {
      const rel = rel8();
      if (countReg() == 0) jumpRel(rel);
      break;
    }
    case 0xe4: case 0xe5: {
      const port = fetch8();
      const size: u32 = op == 0xe4 ? 1 : opSize32 ? 4 : 2;
      checkIoPermission(port, size);
      regWrite(EAX, op == 0xe4 ? 0 : opSz(), ioIn(port, size));
      break;
    }
    case 0xe6: case 0xe7: {
      const port = fetch8();
      const size: u32 = op == 0xe6 ? 1 : opSize32 ? 4 : 2;
      checkIoPermission(port, size);
      ioOut(port, size, regRead(EAX, op == 0xe6 ? 0 : opSz()));
      break;
    }
    case 0xe8: {
      const rel = relOp();
      let target = gEip + rel;
      if (!opSize32) target &= 0xffff;
      if (target > csLimit) raiseFault(13, 0);
      pushOp(gEip);
      gEip = target;
      break;
    }
    case 0xe9: jumpRel(relOp()); break;
    case 0xea: {
      const off = opSize32 ? fetch32() : fetch16();
      const sel = fetch16();
      farJump(sel, off);
      break;
    }
    case 0xeb: jumpRel(rel8()); break;
    case 0xec: case 0xed: {
      const size: u32 = op == 0xec ? 1 : opSize32 ? 4 : 2;
      checkIoPermission(reg16(EDX), size);
      regWrite(EAX, op == 0xec ? 0 : opSz(), ioIn(reg16(EDX), size));
      break;
    }
    case 0xee: case 0xef: {
      const size: u32 = op == 0xee ? 1 : opSize32 ? 4 : 2;
      checkIoPermission(reg16(EDX), size);
      ioOut(reg16(EDX), size, regRead(EAX, op == 0xee ? 0 : opSz()));
      break;
    }
    case 0xf1: deliverInterrupt(1, NO_ERROR_CODE, false); break; // ICEBP
    case 0xf4:
      if (protectedMode && curCpl() != 0) raiseFault(13, 0);
      store<u32>(STATE_BASE + S_HALTED, 1);
      gEvents |= EV_HALTED;
      break;
    case 0xf5: materializeFlags(); gFlags ^= F_CF; break;
    case 0xf6: case 0xf7: group3(op == 0xf6 ? 0 : opSz()); break;
    case 0xf8: materializeFlags(); gFlags &= ~F_CF; break;
    case 0xf9: materializeFlags(); gFlags |= F_CF; break;
    case 0xfa:
      if (protectedMode && (v86Mode ? iopl() < 3 : curCpl() > iopl())) raiseFault(13, 0);
      gFlags &= ~F_IF;
      break;
    case 0xfb:
      if (protectedMode && (v86Mode ? iopl() < 3 : curCpl() > iopl())) raiseFault(13, 0);
      if (!(gFlags & F_IF)) gEvents |= EV_INHIBIT;
      gFlags |= F_IF;
      break;
    case 0xfc: gFlags &= ~F_DF; break;
    case 0xfd: gFlags |= F_DF; break;
    case 0xfe: {
      decodeModrm();
      if (modReg > 1) raiseFault(6, NO_ERROR_CODE);
      const a = rmReadForWrite(0);
      rmWrite(0, modReg == 0 ? incOp(a, 0) : decOp(a, 0));
      break;
    }
    case 0xff: group5(); break;
    default:
      raiseFault(6, NO_ERROR_CODE);
  }
}

function popSegment(seg: u32): void {
  // The selector is loaded before ESP moves, so a failed load leaves ESP alone.
  const sp = stackPointer();
  const sel = opSize32 ? readMem32(SS, sp) & 0xffff : readMem16(SS, sp);
  loadSegment(seg, sel);
  setStackPointer(stackOffset(opSize32 ? 4 : 2));
}

function loadFarPointer(seg: u32): void {
  decodeModrm();
  if (modIsReg) raiseFault(6, NO_ERROR_CODE);
  const off = opSize32 ? readMem32(eaSeg, eaOff) : readMem16(eaSeg, eaOff);
  const sel = readMem16(eaSeg, eaOff + (opSize32 ? 4 : 2));
  loadSegment(seg, sel);
  regWrite(modReg, opSz(), off);
}
export { loadFarPointer };

function softInterrupt(vec: u32, trapLike: bool): void {
  // In V86 mode INT n needs IOPL 3; INT3 and INTO do not (SDM INT pseudo-code:
  // "VM = 1 and IOPL < 3 and INT n"): they go through the IDT, gate DPL 3 required.
  if (v86Mode && iopl() < 3 && !trapLike) raiseFault(13, 0);
  deliverInterrupt(vec, NO_ERROR_CODE, true);
}

function group3(sz: u32): void {
  decodeModrm();
  switch (modReg) {
    case 0: case 1: {
      const a = rmRead(sz);
      aluOp(4, a, fetchImm(sz), sz);
      break;
    }
    case 2: {
      const a = rmReadForWrite(sz);
      rmWrite(sz, ~a);
      break;
    }
    case 3: {
      const a = rmReadForWrite(sz);
      rmWrite(sz, negOp(a, sz));
      break;
    }
    case 4: mulOp(sz, rmRead(sz), false); break;
    case 5: mulOp(sz, rmRead(sz), true); break;
    case 6: divOp(sz, rmRead(sz), false); break;
    default: divOp(sz, rmRead(sz), true); break;
  }
}

function group5(): void {
  decodeModrm();
  const sz = opSz();
  switch (modReg) {
    case 0: {
      const a = rmReadForWrite(sz);
      rmWrite(sz, incOp(a, sz));
      break;
    }
    case 1: {
      const a = rmReadForWrite(sz);
      rmWrite(sz, decOp(a, sz));
      break;
    }
    case 2: {
      const target = rmRead(sz);
      const t = opSize32 ? target : target & 0xffff;
      if (t > csLimit) raiseFault(13, 0);
      pushOp(gEip);
      gEip = t;
      break;
    }
    case 3: case 5: {
      if (modIsReg) raiseFault(6, NO_ERROR_CODE);
      const off = opSize32 ? readMem32(eaSeg, eaOff) : readMem16(eaSeg, eaOff);
      const sel = readMem16(eaSeg, eaOff + (opSize32 ? 4 : 2));
      if (modReg == 3) farCall(sel, off);
      else farJump(sel, off);
      break;
    }
    case 4: jumpNear(rmRead(sz)); break;
    case 6: pushOp(rmRead(sz)); break;
    default: raiseFault(6, NO_ERROR_CODE);
  }
}
