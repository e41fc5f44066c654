// Raising a CPU exception. The instruction is abandoned: EIP and ESP go back to
// their values at its start, the exception is recorded in the state block and
// the wasm stack unwinds through a trap. The host's run loop sees the trap,
// finds the pending fault and calls run() again, which delivers it first.
import {
  STATE_BASE, S_EIP, S_FLAGS, S_ICOUNT, S_FAULT_VEC, S_FAULT_CODE, S_INSN_EIP, S_INSN_ESP, S_REGS,
} from "./layout";
import { gEip, gIcount } from "./state";
import { materializeFlags } from "./flags";

export const NO_ERROR_CODE: i32 = -1;

export let insnEip: u32 = 0;
export let insnEsp: u32 = 0;

export function raiseFault(vector: u32, code: i32): void {
  store<u32>(STATE_BASE + S_FAULT_VEC, vector);
  store<i32>(STATE_BASE + S_FAULT_CODE, code);
  gEip = insnEip;
  store<u32>(STATE_BASE + S_EIP, insnEip);
  store<u32>(STATE_BASE + S_REGS + 16, insnEsp);
  store<u32>(STATE_BASE + S_FLAGS, materializeFlags());
  store<u64>(STATE_BASE + S_ICOUNT, gIcount);
  store<u32>(STATE_BASE + S_INSN_EIP, insnEip);
  store<u32>(STATE_BASE + S_INSN_ESP, insnEsp);
  unreachable();
}

// Helpers that read well at call sites.
export function faultGP(code: u32): void {
  raiseFault(13, <i32>code);
}
export function faultSS(code: u32): void {
  raiseFault(12, <i32>code);
}
export function faultUD(): void {
  raiseFault(6, NO_ERROR_CODE);
}
export function faultNP(code: u32): void {
  raiseFault(11, <i32>code);
}
export function faultTS(code: u32): void {
  raiseFault(10, <i32>code);
}
