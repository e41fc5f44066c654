// Architectural state lives in the state block (see layout.ts) so the host can
// save it; the few hot values below are mirrored in wasm globals during run().
import {
  STATE_BASE, S_REGS, S_SEGS, SEG_SIZE, SEG_BASE, SEG_LIMIT, SEG_ACCESS, SEG_SEL,
  S_CR0, S_CR4, S_CPL,
} from "./layout";

export const EAX: u32 = 0;
export const ECX: u32 = 1;
export const EDX: u32 = 2;
export const EBX: u32 = 3;
export const ESP: u32 = 4;
export const EBP: u32 = 5;
export const ESI: u32 = 6;
export const EDI: u32 = 7;

export const ES: u32 = 0;
export const CS: u32 = 1;
export const SS: u32 = 2;
export const DS: u32 = 3;
export const FS: u32 = 4;
export const GS: u32 = 5;
export const LDTR: u32 = 6;
export const TR: u32 = 7;

// EFLAGS bits
export const F_CF: u32 = 1 << 0;
export const F_PF: u32 = 1 << 2;
export const F_AF: u32 = 1 << 4;
export const F_ZF: u32 = 1 << 6;
export const F_SF: u32 = 1 << 7;
export const F_TF: u32 = 1 << 8;
export const F_IF: u32 = 1 << 9;
export const F_DF: u32 = 1 << 10;
export const F_OF: u32 = 1 << 11;
export const F_IOPL: u32 = 3 << 12;
export const F_NT: u32 = 1 << 14;
export const F_RF: u32 = 1 << 16;
export const F_VM: u32 = 1 << 17;
export const F_AC: u32 = 1 << 18;
export const F_VIF: u32 = 1 << 19;
export const F_VIP: u32 = 1 << 20;
export const F_ID: u32 = 1 << 21;
export const F_ARITH: u32 = F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF;

export const CR0_PE: u32 = 1;
export const CR0_MP: u32 = 2;
export const CR0_EM: u32 = 4;
export const CR0_TS: u32 = 8;
export const CR0_ET: u32 = 16;
export const CR0_NE: u32 = 32;
export const CR0_WP: u32 = 1 << 16;
export const CR0_AM: u32 = 1 << 18;
export const CR0_PG: u32 = 1 << 31;
export const CR4_VME: u32 = 1;
export const CR4_PVI: u32 = 2;
export const CR4_TSD: u32 = 4;
export const CR4_DE: u32 = 8;
export const CR4_PSE: u32 = 16;

// Hot mirrors (valid inside run(); synced by run() in index.ts)
export let gEip: u32 = 0;
export let gFlags: u32 = 2;
export let gIcount: u64 = 0; // instructions retired, mirrored at S_ICOUNT
export let gRunEnd: u64 = 0; // run() returns when gIcount reaches this

// Things the run loop must look at before the next instruction. The loop
// tests this one word (and EFLAGS.TF) instead of each condition.
export let gEvents: u32 = 0;
export const EV_IRQ: u32 = 1; // INTR line asserted
export const EV_NMI: u32 = 2;
export const EV_INHIBIT: u32 = 4; // STI / MOV SS: no interrupt before the next instruction
export const EV_HALTED: u32 = 8; // HLT executed, waiting for an interrupt
export const EV_STOP: u32 = 16; // the host asked run() to return

@inline export function reg32(r: u32): u32 {
  return load<u32>(STATE_BASE + S_REGS + (r << 2));
}
@inline export function setReg32(r: u32, v: u32): void {
  store<u32>(STATE_BASE + S_REGS + (r << 2), v);
}
@inline export function reg16(r: u32): u32 {
  return <u32>load<u16>(STATE_BASE + S_REGS + (r << 2));
}
@inline export function setReg16(r: u32, v: u32): void {
  store<u16>(STATE_BASE + S_REGS + (r << 2), <u16>v);
}
// 8-bit registers: AL CL DL BL AH CH DH BH
@inline export function reg8(r: u32): u32 {
  return <u32>load<u8>(STATE_BASE + S_REGS + ((r & 3) << 2) + (r >> 2));
}
@inline export function setReg8(r: u32, v: u32): void {
  store<u8>(STATE_BASE + S_REGS + ((r & 3) << 2) + (r >> 2), <u8>v);
}

@inline export function segAddr(seg: u32): u32 {
  return STATE_BASE + S_SEGS + seg * SEG_SIZE;
}
@inline export function segSel(seg: u32): u32 {
  return load<u32>(segAddr(seg) + SEG_SEL);
}
@inline export function segBase(seg: u32): u32 {
  return load<u32>(segAddr(seg) + SEG_BASE);
}
@inline export function segLimit(seg: u32): u32 {
  return load<u32>(segAddr(seg) + SEG_LIMIT);
}
@inline export function segAccess(seg: u32): u32 {
  return load<u32>(segAddr(seg) + SEG_ACCESS);
}
@inline export function stateU32(off: u32): u32 {
  return load<u32>(STATE_BASE + off);
}
@inline export function setStateU32(off: u32, v: u32): void {
  store<u32>(STATE_BASE + off, v);
}
@inline export function cr0(): u32 {
  return load<u32>(STATE_BASE + S_CR0);
}
@inline export function cr4(): u32 {
  return load<u32>(STATE_BASE + S_CR4);
}
@inline export function cpl(): u32 {
  return load<u32>(STATE_BASE + S_CPL);
}
