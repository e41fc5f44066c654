// String instructions (MOVS CMPS STOS LODS SCAS INS OUTS) with REP prefixes.
// A repeated instruction runs in chunks: when the chunk ends with work left,
// EIP goes back to the instruction so interrupts can be taken in between.
import { gEip, gFlags, gIcount, reg32, setReg32, reg16, setReg16, ECX, ESI, EDI, EAX, ES, DS, F_DF } from "./state";
import {
  addrSize32, repPrefix, segOverride, readMem, writeMem, regRead, regWrite,
} from "./cpu";
import { aluOp } from "./alu";
import { getZF } from "./flags";
import { insnEip } from "./fault";
import { ioIn, ioOut, checkIoPermission } from "./io";

const CHUNK: u32 = 4096;


@inline function counter(): u32 {
  return addrSize32 ? reg32(ECX) : reg16(ECX);
}
@inline function setCounter(v: u32): void {
  if (addrSize32) setReg32(ECX, v);
  else setReg16(ECX, v);
}
@inline function index(r: u32): u32 {
  return addrSize32 ? reg32(r) : reg16(r);
}
@inline function advance(r: u32, step: u32): void {
  if (addrSize32) setReg32(r, reg32(r) + step);
  else setReg16(r, reg16(r) + step);
}

// kind: 0 MOVS 1 CMPS 2 STOS 3 LODS 4 SCAS 5 INS 6 OUTS; sz: 0 byte 1 word 2 dword
export function stringOp(kind: u32, sz: u32): void {
  const size: u32 = 1 << sz;
  const step: u32 = (gFlags & F_DF) ? 0 - size : size;
  const srcSeg: u32 = segOverride >= 0 ? <u32>segOverride : DS;
  if (kind >= 5) checkIoPermission(reg16(2), size);
  if (repPrefix == 0) {
    once(kind, sz, step, srcSeg);
    return;
  }
  let n: u32 = 0;
  while (counter() != 0) {
    if (n == CHUNK) {
      gEip = insnEip; // resume later
      break;
    }
    once(kind, sz, step, srcSeg);
    setCounter(counter() - 1);
    n++;
    if (kind == 1 || kind == 4) {
      const zf = getZF();
      if ((repPrefix == 0xf3 && zf == 0) || (repPrefix == 0xf2 && zf != 0)) break;
    }
  }
  // Each iteration counts as an instruction retired; the run loop adds one.
  if (n > 1) gIcount += <u64>(n - 1);
}

function once(kind: u32, sz: u32, step: u32, srcSeg: u32): void {
  switch (kind) {
    case 0: {
      const v = readMem(srcSeg, index(ESI), sz);
      writeMem(ES, index(EDI), sz, v);
      advance(ESI, step);
      advance(EDI, step);
      break;
    }
    case 1: {
      const a = readMem(srcSeg, index(ESI), sz);
      const b = readMem(ES, index(EDI), sz);
      aluOp(7, a, b, sz);
      advance(ESI, step);
      advance(EDI, step);
      break;
    }
    case 2:
      writeMem(ES, index(EDI), sz, regRead(EAX, sz));
      advance(EDI, step);
      break;
    case 3:
      regWrite(EAX, sz, readMem(srcSeg, index(ESI), sz));
      advance(ESI, step);
      break;
    case 4: {
      const b = readMem(ES, index(EDI), sz);
      aluOp(7, regRead(EAX, sz), b, sz);
      advance(EDI, step);
      break;
    }
    case 5: {
      // The destination is checked before the port is read: a fault must not lose input.
      const off = index(EDI);
      writeMem(ES, off, sz, readMem(ES, off, sz));
      writeMem(ES, off, sz, ioIn(reg16(2), 1 << sz));
      advance(EDI, step);
      break;
    }
    default: {
      ioOut(reg16(2), 1 << sz, readMem(srcSeg, index(ESI), sz));
      advance(ESI, step);
      break;
    }
  }
}
