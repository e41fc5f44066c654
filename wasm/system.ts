// System instructions of the two-byte map: descriptor tables, control and
// debug registers, task register, LAR/LSL/VERR/VERW, CLTS, INVLPG.
// PLACEHOLDER until the protected-mode work lands: every entry raises #UD.
import { raiseFault, NO_ERROR_CODE } from "./fault";

// 0F 00: SLDT STR LLDT LTR VERR VERW
export function opGroup6(): void {
  raiseFault(6, NO_ERROR_CODE);
}
// 0F 01: SGDT SIDT LGDT LIDT SMSW LMSW INVLPG
export function opGroup7(): void {
  raiseFault(6, NO_ERROR_CODE);
}
// 0F 02 LAR / 0F 03 LSL
export function opLarLsl(isLsl: bool): void {
  raiseFault(6, NO_ERROR_CODE);
}
// 0F 06 CLTS
export function opClts(): void {
  raiseFault(6, NO_ERROR_CODE);
}
// 0F 20..23: MOV r32, CRn / MOV CRn, r32 / MOV r32, DRn / MOV DRn, r32
export function opMovControl(op: u32): void {
  raiseFault(6, NO_ERROR_CODE);
}
