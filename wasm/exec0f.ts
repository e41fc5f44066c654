// The two-byte opcode map (0F xx). exec.ts has fetched the 0F byte and the
// prefixes are decoded. Bit instructions are in ops-bits.ts, MSRs, the TSC and
// SYSENTER/SYSEXIT in msr.ts, descriptor-table and control-register
// instructions in system.ts.
import {
  gEip, reg32, setReg32, segSel, FS, GS, SS, EAX, ECX, EDX, EBX, F_ZF,
} from "./state";
import {
  protectedMode, v86Mode, opSize32, modReg, modIsReg, eaSeg, eaOff, fetch8, fetch16, fetch32,
  decodeModrm, rmRead, rmWrite, rmReadForWrite, regRead, regWrite, pushOp, readMem16, readMem32,
  writeMem32, probeWriteMem, opSz, stackPointer, setStackPointer, stackOffset, csLimit,
} from "./cpu";
import { cpl } from "./state";
import { aluOp, imulTrunc } from "./alu";
import { testCondition, setArithFlags } from "./flags";
import { raiseFault, NO_ERROR_CODE } from "./fault";
import { loadSegment } from "./transfer";
import { loadFarPointer } from "./exec";
import { cpuidLookup, cpuidA, cpuidB, cpuidC, cpuidD } from "./cpuid";
import { opGroup6, opGroup7, opLarLsl, opClts, opMovControl } from "./system";
import { bitTestReg, bitTestImm, bitScan, doubleShift, opBswap } from "./ops-bits";
import { opRdtsc, opRdpmc, opRdmsr, opWrmsr, opSysenter, opSysexit } from "./msr";

function undefinedOpcode(): void {
  raiseFault(6, NO_ERROR_CODE);
}

// CPL 0 outside virtual-8086 mode (real mode counts as CPL 0).
@inline function privileged(): bool {
  return !protectedMode || (!v86Mode && cpl() == 0);
}

function jumpRel(rel: u32): void {
  let target = gEip + rel;
  if (!opSize32) target &= 0xffff;
  if (target > csLimit) raiseFault(13, 0);
  gEip = target;
}

// POP FS / POP GS: the selector is loaded before ESP moves.
function popSegment(seg: u32): void {
  const sp = stackPointer();
  const sel = opSize32 ? readMem32(SS, sp) & 0xffff : readMem16(SS, sp);
  loadSegment(seg, sel);
  setStackPointer(stackOffset(opSize32 ? 4 : 2));
}

// 0F B0 / B1 CMPXCHG r/m, reg. Flags as CMP accumulator, destination. The
// destination is written either way (with its old value when not equal).
function cmpxchg(sz: u32): void {
  decodeModrm();
  const dest = rmReadForWrite(sz);
  const acc = regRead(EAX, sz);
  const src = regRead(modReg, sz);
  if (acc == dest) {
    rmWrite(sz, src);
  } else {
    rmWrite(sz, dest);
    regWrite(EAX, sz, dest);
  }
  aluOp(7, acc, dest, sz);
}

// 0F C0 / C1 XADD r/m, reg: temp = dest + src; src = dest; dest = temp.
function xadd(sz: u32): void {
  decodeModrm();
  const dest = rmReadForWrite(sz);
  const src = regRead(modReg, sz);
  const sum = aluOp(0, dest, src, sz);
  regWrite(modReg, sz, dest);
  rmWrite(sz, sum);
}

// 0F C7 /1 CMPXCHG8B m64. The old value is written back when not equal.
function cmpxchg8b(): void {
  decodeModrm();
  if (modReg != 1 || modIsReg) undefinedOpcode();
  const seg = eaSeg;
  const off = eaOff;
  probeWriteMem(seg, off, 8);
  const lo = readMem32(seg, off);
  const hi = readMem32(seg, off + 4);
  const eq = lo == reg32(EAX) && hi == reg32(EDX);
  if (eq) {
    writeMem32(seg, off, reg32(EBX));
    writeMem32(seg, off + 4, reg32(ECX));
  } else {
    writeMem32(seg, off, lo);
    writeMem32(seg, off + 4, hi);
    setReg32(EAX, lo);
    setReg32(EDX, hi);
  }
  setArithFlags(F_ZF, eq ? F_ZF : 0);
}

export function exec0F(): void {
  const op = fetch8();
  switch (op) {
    case 0x00: opGroup6(); break;
    case 0x01: opGroup7(); break;
    case 0x02: opLarLsl(false); break;
    case 0x03: opLarLsl(true); break;
    case 0x06: opClts(); break;
    case 0x08: case 0x09: // INVD, WBINVD: there are no caches to manage
      if (!privileged()) raiseFault(13, 0);
      break;
    case 0x0b: undefinedOpcode(); break; // UD2

    // Hint NOPs: ModR/M is decoded, memory is not accessed.
    case 0x18: case 0x19: case 0x1a: case 0x1b: case 0x1c: case 0x1d: case 0x1e: case 0x1f:
      decodeModrm();
      break;

    case 0x20: case 0x21: case 0x22: case 0x23: opMovControl(op); break;

    case 0x30: opWrmsr(); break;
    case 0x31: opRdtsc(); break;
    case 0x32: opRdmsr(); break;
    case 0x33: opRdpmc(); break;
    case 0x34: opSysenter(); break;
    case 0x35: opSysexit(); break;

    case 0x40: case 0x41: case 0x42: case 0x43: case 0x44: case 0x45: case 0x46: case 0x47:
    case 0x48: case 0x49: case 0x4a: case 0x4b: case 0x4c: case 0x4d: case 0x4e: case 0x4f: {
      // CMOVcc: the source is read (and may fault) whatever the condition.
      const sz = opSz();
      decodeModrm();
      const v = rmRead(sz);
      if (testCondition(op & 15)) regWrite(modReg, sz, v);
      break;
    }

    case 0x80: case 0x81: case 0x82: case 0x83: case 0x84: case 0x85: case 0x86: case 0x87:
    case 0x88: case 0x89: case 0x8a: case 0x8b: case 0x8c: case 0x8d: case 0x8e: case 0x8f: {
      const rel = opSize32 ? fetch32() : <u32>(<i32>(<i16>fetch16()));
      if (testCondition(op & 15)) jumpRel(rel);
      break;
    }

    case 0x90: case 0x91: case 0x92: case 0x93: case 0x94: case 0x95: case 0x96: case 0x97:
    case 0x98: case 0x99: case 0x9a: case 0x9b: case 0x9c: case 0x9d: case 0x9e: case 0x9f:
      decodeModrm();
      rmWrite(0, testCondition(op & 15) ? 1 : 0);
      break;

    case 0xa0: pushOp(segSel(FS)); break;
    case 0xa1: popSegment(FS); break;
    case 0xa2:
      cpuidLookup(reg32(EAX), reg32(ECX));
      setReg32(EAX, cpuidA);
      setReg32(EBX, cpuidB);
      setReg32(ECX, cpuidC);
      setReg32(EDX, cpuidD);
      break;
    case 0xa3: bitTestReg(0); break;
    case 0xa4: doubleShift(false, true); break;
    case 0xa5: doubleShift(false, false); break;
    case 0xa8: pushOp(segSel(GS)); break;
    case 0xa9: popSegment(GS); break;
    case 0xab: bitTestReg(1); break;
    case 0xac: doubleShift(true, true); break;
    case 0xad: doubleShift(true, false); break;
    case 0xaf: {
      const sz = opSz();
      decodeModrm();
      const b = rmRead(sz);
      regWrite(modReg, sz, imulTrunc(regRead(modReg, sz), b, sz));
      break;
    }

    case 0xb0: cmpxchg(0); break;
    case 0xb1: cmpxchg(opSz()); break;
    case 0xb2: loadFarPointer(SS); break;
    case 0xb3: bitTestReg(2); break;
    case 0xb4: loadFarPointer(FS); break;
    case 0xb5: loadFarPointer(GS); break;
    case 0xb6: case 0xb7: case 0xbe: case 0xbf: {
      // MOVZX / MOVSX
      const sz = opSz();
      decodeModrm();
      const srcSz: u32 = (op & 1) ? 1 : 0;
      let v = rmRead(srcSz);
      if (op >= 0xbe) v = srcSz == 0 ? <u32>(<i32>(<i8>v)) : <u32>(<i32>(<i16>v));
      regWrite(modReg, sz, v);
      break;
    }
    case 0xba: bitTestImm(); break;
    case 0xbb: bitTestReg(3); break;
    case 0xbc: bitScan(false); break;
    case 0xbd: bitScan(true); break;

    case 0xc0: xadd(0); break;
    case 0xc1: xadd(opSz()); break;
    case 0xc7: cmpxchg8b(); break;
    case 0xc8: case 0xc9: case 0xca: case 0xcb: case 0xcc: case 0xcd: case 0xce: case 0xcf:
      opBswap(op & 7);
      break;

    // Everything else, including UD1 (B9), UD0 (FF) and the x87/MMX/SSE rows
    // this CPU does not report in CPUID.
    default: undefinedOpcode();
  }
}
