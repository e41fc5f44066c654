// Protected-mode segmentation, privilege and control transfer.
// PLACEHOLDER until the protected-mode work lands: every entry raises #UD.
import { raiseFault, NO_ERROR_CODE } from "./fault";

export function pmLoadSegment(seg: u32, sel: u32): void {
  raiseFault(6, NO_ERROR_CODE);
}
export function pmFarJump(sel: u32, off: u32): void {
  raiseFault(6, NO_ERROR_CODE);
}
export function pmFarCall(sel: u32, off: u32): void {
  raiseFault(6, NO_ERROR_CODE);
}
export function pmFarReturn(popBytes: u32): void {
  raiseFault(6, NO_ERROR_CODE);
}
export function pmInterruptReturn(): void {
  raiseFault(6, NO_ERROR_CODE);
}
export function pmDeliverInterrupt(vec: u32, code: i32, soft: bool): void {
  raiseFault(6, NO_ERROR_CODE);
}
export function pmArpl(): void {
  raiseFault(6, NO_ERROR_CODE);
}
