// The CPU's saved state: plain, versioned, JSON-friendly data, read from and
// written to the core's state block at the offsets the wasm module exports.
import { describeValue } from "../platform/state-check.ts";
import type { Layout } from "./layout.ts";
import {
  REG32_NAMES,
  SEGMENT_NAMES,
  type Reg32Name,
  type SegmentName,
  type SegmentRegister,
} from "./register-names.ts";

export const CPU_STATE_VERSION = 1;

export interface DescriptorTableRegister {
  base: number;
  limit: number;
}

export interface CpuState {
  version: typeof CPU_STATE_VERSION;
  regs: Record<Reg32Name, number>;
  eip: number;
  eflags: number;
  segments: Record<SegmentName, SegmentRegister>;
  gdtr: DescriptorTableRegister;
  idtr: DescriptorTableRegister;
  cr0: number;
  cr2: number;
  cr3: number;
  cr4: number;
  dr: number[];
  cpl: number;
  halted: boolean;
  intrLine: boolean;
  interruptShadow: boolean;
  nmiPending: boolean;
  /** Instructions retired: a number, or a decimal string beyond 2^53. */
  icount: number | string;
  msrs: {
    sysenterCs: number;
    sysenterEsp: number;
    sysenterEip: number;
    apicBase: number;
    miscEnable: number;
    pat: { lo: number; hi: number };
  };
  a20Mask: number;
}

/** What save/restore need from the core: the state block and three exports. */
export interface StateBlock {
  readonly layout: Layout;
  /** u32 at STATE_BASE + offset. */
  readU32(offset: number): number;
  writeU32(offset: number, value: number): void;
  /** Materializes the lazily computed flags and returns EFLAGS. */
  getFlags(): number;
  setFlags(value: number): void;
  tlbFlush(): void;
}

const TWO_POW_32 = 2 ** 32;

export function saveCpuState(block: StateBlock): CpuState {
  const L = block.layout;
  const u32 = (offset: number) => block.readU32(offset);
  const segment = (index: number): SegmentRegister => {
    const at = L.S_SEGS + index * L.SEG_SIZE;
    return {
      selector: u32(at + L.SEG_SEL),
      base: u32(at + L.SEG_BASE),
      limit: u32(at + L.SEG_LIMIT),
      access: u32(at + L.SEG_ACCESS),
    };
  };
  const icountBig = (BigInt(u32(L.S_ICOUNT + 4)) << 32n) | BigInt(u32(L.S_ICOUNT));
  return {
    version: CPU_STATE_VERSION,
    regs: Object.fromEntries(REG32_NAMES.map((name, i) => [name, u32(L.S_REGS + i * 4)])) as Record<
      Reg32Name,
      number
    >,
    eip: u32(L.S_EIP),
    eflags: block.getFlags() >>> 0,
    segments: Object.fromEntries(SEGMENT_NAMES.map((name, i) => [name, segment(i)])) as Record<
      SegmentName,
      SegmentRegister
    >,
    gdtr: { base: u32(L.S_GDTR_BASE), limit: u32(L.S_GDTR_LIMIT) },
    idtr: { base: u32(L.S_IDTR_BASE), limit: u32(L.S_IDTR_LIMIT) },
    cr0: u32(L.S_CR0),
    cr2: u32(L.S_CR2),
    cr3: u32(L.S_CR3),
    cr4: u32(L.S_CR4),
    dr: Array.from({ length: 8 }, (_, i) => u32(L.S_DR + i * 4)),
    cpl: u32(L.S_CPL),
    halted: u32(L.S_HALTED) !== 0,
    intrLine: u32(L.S_INTR) !== 0,
    interruptShadow: u32(L.S_SHADOW) !== 0,
    nmiPending: u32(L.S_NMI) !== 0,
    icount: icountBig <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(icountBig) : icountBig.toString(),
    msrs: {
      sysenterCs: u32(L.S_SYSENTER_CS),
      sysenterEsp: u32(L.S_SYSENTER_ESP),
      sysenterEip: u32(L.S_SYSENTER_EIP),
      apicBase: u32(L.S_APIC_BASE),
      miscEnable: u32(L.S_MISC_ENABLE),
      pat: { lo: u32(L.S_PAT_LO), hi: u32(L.S_PAT_HI) },
    },
    a20Mask: u32(L.S_A20_MASK),
  };
}

function fail(path: string, expected: string, got: unknown): never {
  throw new TypeError(`invalid CPU state: ${path} must be ${expected}, got ${describeValue(got)}`);
}

function field(parent: unknown, key: string, path: string): unknown {
  if (typeof parent !== "object" || parent === null) fail(path, "an object", parent);
  return (parent as Record<string, unknown>)[key];
}

function u32At(parent: unknown, key: string, path: string): number {
  const value = field(parent, key, path);
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= TWO_POW_32) {
    fail(`${path}.${key}`, "an integer in [0, 2^32)", value);
  }
  return value;
}

function boolAt(parent: unknown, key: string, path: string): boolean {
  const value = field(parent, key, path);
  if (typeof value !== "boolean") fail(`${path}.${key}`, "a boolean", value);
  return value;
}

function icountAt(parent: unknown): bigint {
  const value = field(parent, "icount", "state");
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  if (typeof value === "string" && /^\d{1,20}$/.test(value) && BigInt(value) < 1n << 64n) {
    return BigInt(value);
  }
  return fail("state.icount", "a non-negative integer or decimal string below 2^64", value);
}

/** Validates `state` completely; what it returns writes it into the state block. */
export function prepareCpuRestore(block: StateBlock, state: unknown): () => void {
  const version = field(state, "version", "state");
  if (version !== CPU_STATE_VERSION) {
    fail("state.version", String(CPU_STATE_VERSION), version);
  }
  // Collect every write first so a bad field leaves the CPU untouched.
  const L = block.layout;
  const writes: Array<[number, number]> = [];
  const put = (offset: number, value: number) => writes.push([offset, value]);
  const regs = field(state, "regs", "state");
  REG32_NAMES.forEach((name, i) => put(L.S_REGS + i * 4, u32At(regs, name, "state.regs")));
  put(L.S_EIP, u32At(state, "eip", "state"));
  const eflags = u32At(state, "eflags", "state");
  const segments = field(state, "segments", "state");
  SEGMENT_NAMES.forEach((name, i) => {
    const seg = field(segments, name, "state.segments");
    const path = `state.segments.${name}`;
    const at = L.S_SEGS + i * L.SEG_SIZE;
    put(at + L.SEG_SEL, u32At(seg, "selector", path));
    put(at + L.SEG_BASE, u32At(seg, "base", path));
    put(at + L.SEG_LIMIT, u32At(seg, "limit", path));
    put(at + L.SEG_ACCESS, u32At(seg, "access", path));
  });
  const gdtr = field(state, "gdtr", "state");
  put(L.S_GDTR_BASE, u32At(gdtr, "base", "state.gdtr"));
  put(L.S_GDTR_LIMIT, u32At(gdtr, "limit", "state.gdtr"));
  const idtr = field(state, "idtr", "state");
  put(L.S_IDTR_BASE, u32At(idtr, "base", "state.idtr"));
  put(L.S_IDTR_LIMIT, u32At(idtr, "limit", "state.idtr"));
  put(L.S_CR0, u32At(state, "cr0", "state"));
  put(L.S_CR2, u32At(state, "cr2", "state"));
  put(L.S_CR3, u32At(state, "cr3", "state"));
  put(L.S_CR4, u32At(state, "cr4", "state"));
  const dr = field(state, "dr", "state");
  if (!Array.isArray(dr) || dr.length !== 8) fail("state.dr", "an array of 8 numbers", dr);
  for (let i = 0; i < 8; i++) put(L.S_DR + i * 4, u32At(dr, String(i), "state.dr"));
  const cpl = u32At(state, "cpl", "state");
  if (cpl > 3) fail("state.cpl", "0..3", cpl);
  put(L.S_CPL, cpl);
  put(L.S_HALTED, boolAt(state, "halted", "state") ? 1 : 0);
  put(L.S_INTR, boolAt(state, "intrLine", "state") ? 1 : 0);
  put(L.S_SHADOW, boolAt(state, "interruptShadow", "state") ? 1 : 0);
  put(L.S_NMI, boolAt(state, "nmiPending", "state") ? 1 : 0);
  const icount = icountAt(state);
  put(L.S_ICOUNT, Number(icount & 0xffffffffn));
  put(L.S_ICOUNT + 4, Number(icount >> 32n));
  const msrs = field(state, "msrs", "state");
  put(L.S_SYSENTER_CS, u32At(msrs, "sysenterCs", "state.msrs"));
  put(L.S_SYSENTER_ESP, u32At(msrs, "sysenterEsp", "state.msrs"));
  put(L.S_SYSENTER_EIP, u32At(msrs, "sysenterEip", "state.msrs"));
  put(L.S_APIC_BASE, u32At(msrs, "apicBase", "state.msrs"));
  put(L.S_MISC_ENABLE, u32At(msrs, "miscEnable", "state.msrs"));
  const pat = field(msrs, "pat", "state.msrs");
  put(L.S_PAT_LO, u32At(pat, "lo", "state.msrs.pat"));
  put(L.S_PAT_HI, u32At(pat, "hi", "state.msrs.pat"));
  put(L.S_A20_MASK, u32At(state, "a20Mask", "state"));

  return () => {
    for (const [offset, value] of writes) block.writeU32(offset, value);
    // A saved CPU is never mid-exception: the host delivers faults before run() returns.
    block.writeU32(L.S_FAULT_VEC, 0xffffffff);
    block.writeU32(L.S_FAULT_CODE, 0xffffffff);
    block.writeU32(L.S_FAULT_DEPTH, 0);
    block.setFlags(eflags);
    block.tlbFlush();
  };
}
