// String instructions (MOVS CMPS STOS LODS SCAS INS OUTS) with REP prefixes.
// A repeated instruction runs in chunks: when the chunk ends with work left,
// EIP goes back to the instruction so interrupts can be taken in between.
import { gEip, gFlags, gIcount, gRunEnd, reg32, setReg32, reg16, setReg16, ECX, ESI, EDI, EAX, ES, DS, F_DF } from "./state";
import {
  addrSize32, repPrefix, segOverride, readMem, writeMem, regRead, regWrite, segLinear,
  segRangeOk,
} from "./cpu";
import { hostAddressForRead, hostAddressForWrite } from "./memory";
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
  // Iterations count as instructions, so a chunk also ends with run()'s budget.
  const left: u64 = gRunEnd > gIcount ? gRunEnd - gIcount : 1;
  const chunk: u32 = left < <u64>CHUNK ? <u32>left : CHUNK;
  let n: u32 = 0;
  if ((kind == 0 || kind == 2) && addrSize32 && step == size) n = bulkForward(kind, sz, srcSeg, chunk);
  while (counter() != 0) {
    if (n >= chunk) {
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

// REP MOVS / REP STOS going up with 32-bit addressing: whole runs inside one
// source page and one destination page of RAM are copied or filled at once.
// Returns the iterations done; the element loop finishes whatever is left
// (page-crossing elements, MMIO, overlapping copies, the last few).
function bulkForward(kind: u32, sz: u32, srcSeg: u32, chunk: u32): u32 {
  const size: u32 = 1 << sz;
  let done: u32 = 0;
  while (done < chunk) {
    const count = reg32(ECX);
    const edi = reg32(EDI);
    const dstLin = segLinear(ES, edi, size, true);
    let n = min(count, min(chunk - done, (0x1000 - (dstLin & 0xfff)) >> sz));
    let srcLin: u32 = 0;
    const esi = reg32(ESI);
    if (kind == 0) {
      srcLin = segLinear(srcSeg, esi, size, false);
      n = min(n, (0x1000 - (srcLin & 0xfff)) >> sz);
    }
    if (n < 2) break;
    const bytes = n << sz;
    // Whole-range segment checks; a failure leaves the rest to the element loop.
    if (!segRangeOk(ES, edi, bytes, true)) break;
    if (kind == 0 && !segRangeOk(srcSeg, esi, bytes, false)) break;
    const src = kind == 0 ? hostAddressForRead(srcLin) : 0;
    if (kind == 0 && src == 0) break;
    const dst = hostAddressForWrite(dstLin);
    if (dst == 0) break;
    if (kind == 0) {
      if (dst > src && dst < src + bytes) break; // forward overlap: element semantics differ
      memory.copy(dst, src, bytes);
      setReg32(ESI, esi + bytes);
    } else {
      const v = regRead(EAX, sz);
      if (sz == 0) memory.fill(dst, <u8>v, bytes);
      else if (sz == 1) for (let i: u32 = 0; i < bytes; i += 2) store<u16>(dst + i, <u16>v);
      else for (let i: u32 = 0; i < bytes; i += 4) store<u32>(dst + i, v);
    }
    setReg32(EDI, edi + bytes);
    setReg32(ECX, count - n);
    done += n;
  }
  return done;
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
