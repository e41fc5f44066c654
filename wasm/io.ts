// Port I/O: permission checks (IOPL and the TSS I/O bitmap) and the host exit.
import { STATE_BASE, S_CPL, TLB_READ_SUPER } from "./layout";
import { gFlags, F_IOPL, segBase, segLimit, segAccess, TR } from "./state";
import { protectedMode, v86Mode } from "./cpu";
import { hostIoIn, hostIoOut } from "./host";
import { linRead16With, linRead8With } from "./memory";
import { raiseFault } from "./fault";

export function checkIoPermission(port: u32, size: u32): void {
  if (!protectedMode) return;
  const iopl = (gFlags & F_IOPL) >> 12;
  if (!v86Mode && load<u32>(STATE_BASE + S_CPL) <= iopl) return;
  // Consult the I/O permission bitmap of a 32-bit TSS.
  const type = segAccess(TR) & 0xf;
  if (type != 0x9 && type != 0xb) raiseFault(13, 0);
  const limit = segLimit(TR);
  if (limit < 0x67) raiseFault(13, 0);
  const base = segBase(TR);
  const mapOff = linRead16With(base + 0x66, TLB_READ_SUPER);
  const byteOff = mapOff + (port >> 3);
  if (byteOff + 1 > limit) raiseFault(13, 0);
  const bits = linRead8With(base + byteOff, TLB_READ_SUPER) | (linRead8With(base + byteOff + 1, TLB_READ_SUPER) << 8);
  const mask: u32 = ((1 << size) - 1) << (port & 7);
  if (bits & mask) raiseFault(13, 0);
}

export function ioIn(port: u32, size: u32): u32 {
  const v = hostIoIn(port & 0xffff, size);
  return size == 1 ? v & 0xff : size == 2 ? v & 0xffff : v;
}

export function ioOut(port: u32, size: u32, v: u32): void {
  hostIoOut(port & 0xffff, size, size == 1 ? v & 0xff : size == 2 ? v & 0xffff : v);
}
