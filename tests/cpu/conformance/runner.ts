// Runs the SingleStepTests 80286 real-mode suite on one reused core.
// Setup, stop condition and comparison follow
// ../shared/conformance/80286-real/FORMAT.md ("Running a test", "Masking
// undefined flags"); 286-vs-386 differences are handled by the rules in
// exclusions.ts.
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { resolve, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Core } from "../../../src/core/core.ts";
import { decode, type Decoded } from "./decode";
import { RULES, type Expected } from "./exclusions";
import { FS_INIT, GS_INIT, type Regs, type SuiteTest, type TestRef } from "./types";

export const PROJECT_ROOT = resolve(fileURLToPath(new URL(".", import.meta.url)), "../../..");
export const SUITE_DIR = resolve(PROJECT_ROOT, "../shared/conformance/80286-real");
export const RAM_BYTES = 16 << 20;
export const BUDGET = 1000; // instructions; each REP iteration counts as one

const REG16 = ["ax", "cx", "dx", "bx", "sp", "bp", "si", "di"] as const; // x86 encoding order
const REG32 = ["eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"] as const;
const SEGS = ["es", "cs", "ss", "ds"] as const; // state-block order ES CS SS DS (FS GS follow)

export interface SuiteFile {
  base: string;
  tests: SuiteTest[];
  flagsMask: number;
}

export function loadSuite(dir = SUITE_DIR): SuiteFile[] {
  if (!existsSync(join(dir, "metadata.json"))) {
    throw new Error(
      `80286 real-mode suite not found: expected ${dir}/*.json.gz and metadata.json ` +
        `(../shared/conformance/80286-real relative to the project root)`,
    );
  }
  const meta = JSON.parse(readFileSync(join(dir, "metadata.json"), "utf8"));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".json.gz"))
    .sort();
  if (files.length === 0) throw new Error(`no *.json.gz test files in ${dir}`);
  return files.map((f) => {
    const base = f.slice(0, -".json.gz".length);
    const tests = JSON.parse(
      gunzipSync(readFileSync(join(dir, f))).toString("utf8"),
    ) as SuiteTest[];
    return { base, tests, flagsMask: flagsMaskFor(meta, base) };
  });
}

// metadata.json → opcodes[OP] or opcodes[OP].reg[N]; no mask means 0xFFFF.
interface OpcodeMeta {
  "flags-mask"?: number;
  reg?: Record<string, OpcodeMeta>;
}

export function flagsMaskFor(meta: { opcodes: Record<string, OpcodeMeta> }, base: string): number {
  const [op, sub] = base.split(".");
  let e: OpcodeMeta | undefined = meta.opcodes[op];
  if (e?.reg) e = e.reg[sub ?? "0"];
  const m = e?.["flags-mask"];
  return typeof m === "number" ? m : 0xffff;
}

export type Outcome =
  | { status: "pass"; adjusted: string[] }
  | { status: "fail"; adjusted: string[]; diffs: string[] }
  | { status: "excluded"; rule: string };

export interface Runner {
  run(file: SuiteFile, test: SuiteTest): Outcome;
}

export async function createRunner(): Promise<Runner> {
  const core = await Core.create({
    ramBytes: RAM_BYTES,
    host: {
      ioIn: (_port, size) => (size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff),
      ioOut: () => {},
    },
  });
  const L = core.layout;

  const setupState = (r: Regs) => {
    for (let i = 0; i < 8; i++) core.setReg(REG32[i], r[REG16[i]]); // bits 16-31 = 0
    core.setReg("eip", r.ip);
    core.setFlags((r.flags & 0x0fff) | 2); // FORMAT step 2: bits 12-15 are the LOADALL image
    for (const s of SEGS) core.setRealModeSegment(s, r[s]);
    core.setRealModeSegment("fs", FS_INIT);
    core.setRealModeSegment("gs", GS_INIT);
    core.writeU32(L.S_IDTR_BASE, 0);
    core.writeU32(L.S_IDTR_LIMIT, 0xffff);
    core.writeU32(L.S_CPL, 0);
    core.writeU32(L.S_A20_MASK, 0xffffffff);
    core.writeU32(L.S_HALTED, 0);
    core.writeU32(L.S_SHADOW, 0);
    core.writeU32(L.S_INTR, 0);
    core.writeU32(L.S_NMI, 0);
    core.writeU32(L.S_FAULT_VEC, 0xffffffff);
    core.writeU32(L.S_FAULT_CODE, 0xffffffff);
    core.writeU32(L.S_FAULT_DEPTH, 0);
    core.setControl("cr0", 0x60000010); // PE=0; also flushes the TLB and re-syncs
  };

  const readRegs = (): Regs => {
    const r = {} as Regs;
    for (let i = 0; i < 8; i++) r[REG16[i]] = core.getReg(REG16[i]);
    for (const s of SEGS) r[s] = core.getSegment(s).selector & 0xffff;
    r.ip = core.getReg("ip");
    r.flags = core.getFlags() & 0xffff;
    return r;
  };

  // Clears what the last test touched: the bytes it listed and every page the core wrote.
  let touched: number[] = [];
  const cleanup = (written: number[]) => {
    for (const a of touched) core.memory.write8(a, 0);
    touched = [];
    for (const page of written) core.memory.fill(page * 4096, 4096, 0);
  };

  return {
    run(file: SuiteFile, test: SuiteTest): Outcome {
      const ref: TestRef = { file: file.base, test };
      const d: Decoded = decode(test);
      const exp = buildExpected(file, test);
      const adjusted: string[] = [];
      for (const rule of RULES) {
        if (!rule.matches(ref, d)) continue;
        if (rule.kind === "exclude" || !rule.adjust!(ref, d, exp))
          return { status: "excluded", rule: rule.id };
        adjusted.push(rule.id);
      }

      setupState(test.initial.regs);
      for (const [a, v] of test.initial.ram) {
        core.memory.write8(a, v);
        touched.push(a);
      }
      for (const [a] of test.final.ram) touched.push(a);
      for (const [a, v] of exp.extraInit) {
        core.memory.write8(a, v);
        touched.push(a);
      }
      core.harvestDirty(); // forget the harness's own writes: what is dirty after run() is the core's

      const diffs: string[] = [];
      let exit: string;
      try {
        exit = core.run(BUDGET);
      } catch (e) {
        exit = `error: ${(e as Error).message}`;
      }
      if (exit !== "halt" && exit !== "halt-no-if") diffs.push(`run ended with ${exit}`);

      const got = readRegs();
      for (const name of Object.keys(exp.regs) as (keyof Regs)[]) {
        const want = exp.regs[name];
        if (name === "flags") {
          if ((got.flags & exp.flagsMask) !== (want & exp.flagsMask)) {
            diffs.push(
              `flags: got ${hex(got.flags)} want ${hex(want)} (mask ${hex(exp.flagsMask)})`,
            );
          }
        } else if (got[name] !== want) {
          diffs.push(`${name}: got ${hex(got[name])} want ${hex(want)}`);
        }
      }

      // 386 detail the 286 cannot show: 16-bit code leaves bits 16-31 of the registers,
      // EIP and EFLAGS alone (all start at 0).
      for (const name of [...REG32, "eip"] as const) {
        const hi = core.getReg(name) >>> 16;
        if (hi) diffs.push(`${name} bits 16-31: got ${hex(hi)} want 0000`);
      }
      if (core.getFlags() >>> 16) {
        diffs.push(`eflags bits 16-31: got ${hex(core.getFlags() >>> 16)} want 0000`);
      }
      for (const [name, want] of Object.entries(exp.newSegs)) {
        const have = core.getSegment(name as "fs" | "gs").selector & 0xffff;
        if (have !== want) diffs.push(`${name}: got ${hex(have)} want ${hex(want)}`);
      }
      for (const [a, want] of exp.ram) {
        const m = exp.byteMask.get(a) ?? 0xff;
        const have = core.memory.read8(a);
        if ((have & m) !== (want & m)) {
          diffs.push(`[${hex(a, 6)}]: got ${hex(have, 2)} want ${hex(want, 2)}`);
        }
      }
      // Writes the 286 did not make: any nonzero byte outside the listed ones.
      const written = core.harvestDirty();
      let stray = 0;
      for (const page of written) {
        const start = page * 4096;
        const bytes = core.memory.read(start, 4096);
        for (let i = 0; i < 4096; i++) {
          if (bytes[i] !== 0 && !exp.ram.has(start + i) && stray++ < 4) {
            diffs.push(`[${hex(start + i, 6)}]: stray write ${hex(bytes[i]!, 2)}`);
          }
        }
      }
      cleanup(written);
      return diffs.length ? { status: "fail", adjusted, diffs } : { status: "pass", adjusted };
    },
  };
}

function buildExpected(file: SuiteFile, t: SuiteTest): Expected {
  const regs = { ...t.initial.regs, ...t.final.regs } as Regs;
  const ram = new Map<number, number>();
  for (const [a, v] of t.initial.ram) ram.set(a, v);
  for (const [a, v] of t.final.ram) ram.set(a, v);
  const byteMask = new Map<number, number>();
  if (t.exception) {
    // The FLAGS word pushed for the exception, located from the final SS:SP (FORMAT quirk).
    const base = regs.ss << 4;
    byteMask.set(base + ((regs.sp + 4) & 0xffff), file.flagsMask & 0xff);
    byteMask.set(base + ((regs.sp + 5) & 0xffff), file.flagsMask >> 8);
  }
  return { regs, ram, flagsMask: file.flagsMask, byteMask, newSegs: {}, extraInit: [] };
}

export function hex(v: number, width = 4): string {
  return v.toString(16).toUpperCase().padStart(width, "0");
}
