// Shapes of the SingleStepTests 80286 real-mode JSON (see
// ../shared/conformance/80286-real/FORMAT.md).
export interface Regs {
  ax: number;
  bx: number;
  cx: number;
  dx: number;
  cs: number;
  ss: number;
  ds: number;
  es: number;
  sp: number;
  bp: number;
  si: number;
  di: number;
  ip: number;
  flags: number;
}

export interface SuiteTest {
  idx: number;
  name: string;
  bytes: number[];
  initial: { regs: Regs; ram: [number, number][] };
  final: { regs: Partial<Regs>; ram: [number, number][] };
  exception?: { number: number; flag_address: number };
  hash: string;
}

/** One test of one file, as the rules and the known-failures list see it. */
export interface TestRef {
  file: string; // upstream base name: "00", "F6.6", ...
  test: SuiteTest;
}

// The 286 has no FS/GS. The harness gives them distinctive selectors so the
// 386 check of 8C/8E /4 /5 (MOV to/from FS/GS) can see them.
export const FS_INIT = 0x1f2e;
export const GS_INIT = 0x3c4d;
