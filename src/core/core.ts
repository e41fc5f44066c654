// The TypeScript face of the wasm core: loads it, wires the exit boundary,
// and runs it, turning the core's fault traps back into ordinary control flow.
import { buildImports, completeHost, withoutStackTraces, type CoreHost } from "./core-host.ts";
import type { Stateful } from "../platform/stateful.ts";
import { prepareCpuRestore, saveCpuState, type CpuState, type StateBlock } from "./cpu-state.ts";
import { GuestMemory } from "./guest-memory.ts";
import { readLayout, type Layout } from "./layout.ts";
import {
  CONTROL_NAMES,
  registerSlot,
  segmentIndex,
  type ControlName,
  type RegisterName,
  type SegmentName,
  type SegmentRegister,
} from "./register-names.ts";
import { compileCore, type WasmSource } from "./wasm-source.ts";

export type ExitReason = "budget" | "halt" | "triple-fault" | "stop" | "halt-no-if";
/** Only from runToBreakpoint(). */
export type DebugExitReason = ExitReason | "breakpoint";

export interface CoreOptions {
  ramBytes: number;
  host?: Partial<CoreHost>;
  /** The core's wasm: bytes, or a URL. Defaults to build/hive86.wasm. */
  wasm?: WasmSource;
}

export interface CpuidEntry {
  leaf: number;
  subleaf: number;
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

interface CoreExports {
  memory: WebAssembly.Memory;
  init(ramBytes: number): number;
  reset(): void;
  run(budget: number): number;
  runDebug(budget: number, breakLinear: number): number;
  faultPending(): number;
  requestStop(): void;
  setIrq(level: number): void;
  setNmi(): void;
  getFlags(): number;
  setFlags(value: number): void;
  setRom(length: number): void;
  dirtyHarvest(): number;
  setDirtyTracking(on: number): void;
  markDirty(phys: number, length: number): void;
  cpuidSet(leaf: number, subleaf: number, a: number, b: number, c: number, d: number): void;
  cpuidReset(): void;
  cpuidCount(): number;
  cpuidClear(): void;
  cpuidQuery(leaf: number, subleaf: number, reg: number): number;
  tlbFlush(): void;
  /** Live instruction count, also valid while run() executes (the state block is not). */
  instructionsRetired(): number;
}

// prettier-ignore
const CORE_FUNCTIONS = [
  "init", "reset", "run", "runDebug", "faultPending", "requestStop", "setIrq", "setNmi", "getFlags",
  "setFlags", "setRom", "dirtyHarvest", "setDirtyTracking", "markDirty", "cpuidSet",
  "cpuidReset", "cpuidCount", "cpuidClear", "cpuidQuery", "tlbFlush", "instructionsRetired",
] as const;

function checkExports(exports: WebAssembly.Exports): CoreExports {
  if (!(exports.memory instanceof WebAssembly.Memory)) {
    throw new Error("hive86 core: the wasm module does not export its memory");
  }
  for (const name of CORE_FUNCTIONS) {
    if (typeof exports[name] !== "function") {
      throw new Error(`hive86 core: the wasm module does not export the function ${name}`);
    }
  }
  return exports as unknown as CoreExports;
}

export const MAX_ROM_BYTES = 256 * 1024;
const CPUID_ENTRY_BYTES = 24;
const ONE_MIB = 0x100000;
const RUN_BUDGET_LIMIT = 0xffffffff;

export class Core implements StateBlock, Stateful<CpuState> {
  readonly stateId = "cpu";
  readonly layout: Layout;
  readonly memory: GuestMemory;
  private readonly exports: CoreExports;
  private host: CoreHost;
  private readonly exitReasons: ReadonlyMap<number, DebugExitReason>;
  private stateView: DataView;
  private running = false;

  static async create(options: CoreOptions): Promise<Core> {
    const module = await compileCore(options.wasm);
    // The imports need the core (MSR results, default TSC), which needs the instance.
    const bound: { core?: Core } = {};
    const imports = buildImports(() => bound.core!.host, {
      storeMsrValue: (value) => bound.core!.storeMsrValue(value),
    });
    const instance = await WebAssembly.instantiate(module, imports);
    bound.core = new Core(checkExports(instance.exports), readLayout(instance.exports), options);
    return bound.core;
  }

  private constructor(exports: CoreExports, layout: Layout, options: CoreOptions) {
    this.exports = exports;
    this.layout = layout;
    // The default TSC is read during run(), when only the live count is current.
    this.host = completeHost(options.host ?? {}, () => this.liveInstructionCount());
    this.exitReasons = new Map<number, DebugExitReason>([
      [layout.EXIT_BREAKPOINT, "breakpoint"],
      [layout.EXIT_BUDGET, "budget"],
      [layout.EXIT_HALT, "halt"],
      [layout.EXIT_TRIPLE_FAULT, "triple-fault"],
      [layout.EXIT_STOP, "stop"],
      [layout.EXIT_HALT_NO_IF, "halt-no-if"],
    ]);
    const ramBytes = options.ramBytes;
    const status = Number.isSafeInteger(ramBytes) && ramBytes >= 0 ? exports.init(ramBytes) : 1;
    if (status !== 0) {
      throw new RangeError(
        `hive86 core: cannot set up ${ramBytes} bytes of RAM (needs a multiple of 4096 ` +
          `between 1 MiB and ${layout.MAX_RAM} bytes; init returned ${status})`,
      );
    }
    this.stateView = new DataView(exports.memory.buffer);
    this.memory = new GuestMemory({
      memory: exports.memory,
      ramBase: layout.RAM_BASE,
      ramBytes,
      markDirty: (phys, length) => exports.markDirty(phys, length),
    });
  }

  /** Replaces some of the exit handlers; the others stay as they are. */
  setHost(host: Partial<CoreHost>): void {
    this.host = { ...this.host, ...host };
  }

  /**
   * Runs up to `budget` instructions. A guest exception traps out of wasm
   * (the core's longjmp); we catch it and call run() again, which delivers
   * the exception first. V8 builds a RuntimeError for each trap; stack
   * capture is off while the core runs (see withoutStackTraces), which
   * halves the cost (tests/core/core-run.test.ts prints it).
   */
  run(budget: number): ExitReason {
    return this.runSlice(budget, false) as ExitReason;
  }

  /**
   * Like run(), but returns "fault" at the first guest exception instead of
   * delivering it. The exception stays pending (pendingFault() says which)
   * and the next run() delivers it.
   */
  runUntilFault(budget: number): ExitReason | "fault" {
    return this.runSlice(budget, true) as ExitReason | "fault";
  }

  /**
   * A debugging aid: like run(), but stops before executing the instruction
   * at linear address `linear` (CS base + EIP), unless it is the first one.
   */
  runToBreakpoint(budget: number, linear: number): DebugExitReason {
    return this.runSlice(budget, false, linear >>> 0) as DebugExitReason;
  }

  /** Vector of the exception waiting for delivery, or -1. */
  pendingFault(): number {
    return this.readU32(this.layout.S_FAULT_VEC) | 0;
  }

  private runSlice(
    budget: number,
    stopOnFault: boolean,
    breakLinear?: number,
  ): DebugExitReason | "fault" {
    if (!Number.isSafeInteger(budget) || budget < 0 || budget > RUN_BUDGET_LIMIT) {
      throw new RangeError(`run budget must be an integer in [0, 2^32), got ${budget}`);
    }
    if (this.running) throw new Error("hive86 core: run() called from inside run()");
    this.running = true;
    try {
      return this.runTrapping(budget, stopOnFault, breakLinear);
    } finally {
      this.running = false;
    }
  }

  private runTrapping(
    budget: number,
    stopOnFault: boolean,
    breakLinear: number | undefined,
  ): DebugExitReason | "fault" {
    const enter =
      breakLinear === undefined
        ? (n: number) => this.exports.run(n)
        : (n: number) => this.exports.runDebug(n, breakLinear);
    const start = this.instructionCount();
    let traps = 0;
    let remaining = budget;
    for (;;) {
      try {
        return this.exitReason(withoutStackTraces(() => enter(remaining)));
      } catch (error) {
        if (!(error instanceof WebAssembly.RuntimeError) || this.exports.faultPending() === 0) {
          throw error;
        }
        if (stopOnFault) return "fault";
        // Each trap also uses one unit of budget so a guest that faults in a
        // loop without retiring anything still returns to the host.
        traps++;
        const retired = this.instructionCount() - start;
        remaining = Math.max(0, budget - retired - traps);
      }
    }
  }

  reset(): void {
    this.exports.reset();
  }

  requestStop(): void {
    this.exports.requestStop();
  }

  setIrq(level: boolean): void {
    this.exports.setIrq(level ? 1 : 0);
  }

  setNmi(): void {
    this.exports.setNmi();
  }

  /**
   * Instructions retired, exact also while run() is executing (host
   * callbacks such as a deterministic clock read it mid-slice).
   */
  liveInstructionCount(): number {
    return this.running ? this.exports.instructionsRetired() : this.instructionCount();
  }

  /** Gate A20 (port 0x92, the keyboard controller): off wraps addresses at 1 MiB. */
  setA20(enabled: boolean): void {
    this.writeU32(this.layout.S_A20_MASK, enabled ? 0xffffffff : 0xffefffff);
    this.exports.tlbFlush();
  }

  a20Enabled(): boolean {
    return this.readU32(this.layout.S_A20_MASK) === 0xffffffff;
  }

  instructionCount(): number {
    const L = this.layout;
    return this.readU32(L.S_ICOUNT) + this.readU32(L.S_ICOUNT + 4) * 2 ** 32;
  }

  getReg(name: RegisterName): number {
    const slot = registerSlot(name);
    const offset = slot.index < 0 ? this.layout.S_EIP : this.layout.S_REGS + slot.index * 4;
    const value = this.readU32(offset) >>> slot.shift;
    return slot.bits === 32 ? value : value & ((1 << slot.bits) - 1);
  }

  setReg(name: RegisterName, value: number): void {
    const slot = registerSlot(name);
    const offset = slot.index < 0 ? this.layout.S_EIP : this.layout.S_REGS + slot.index * 4;
    if (slot.bits === 32) {
      this.writeU32(offset, value);
      return;
    }
    const mask = ((1 << slot.bits) - 1) << slot.shift;
    const merged = (this.readU32(offset) & ~mask) | ((value << slot.shift) & mask);
    this.writeU32(offset, merged);
  }

  getFlags(): number {
    return this.exports.getFlags() >>> 0;
  }

  setFlags(value: number): void {
    this.exports.setFlags(value >>> 0);
  }

  getSegment(name: SegmentName): SegmentRegister {
    const at = this.segmentOffset(name);
    const L = this.layout;
    return {
      selector: this.readU32(at + L.SEG_SEL),
      base: this.readU32(at + L.SEG_BASE),
      limit: this.readU32(at + L.SEG_LIMIT),
      access: this.readU32(at + L.SEG_ACCESS),
    };
  }

  setSegment(name: SegmentName, segment: SegmentRegister): void {
    const at = this.segmentOffset(name);
    const L = this.layout;
    this.writeU32(at + L.SEG_SEL, segment.selector & 0xffff);
    this.writeU32(at + L.SEG_BASE, segment.base);
    this.writeU32(at + L.SEG_LIMIT, segment.limit);
    this.writeU32(at + L.SEG_ACCESS, segment.access);
  }

  /** Loads a segment the way real mode does: base = selector * 16, 64 KiB limit. */
  setRealModeSegment(name: SegmentName, selector: number): void {
    const access = name === "cs" ? 0x9b : 0x93; // present code / present writable data
    this.setSegment(name, { selector, base: (selector & 0xffff) << 4, limit: 0xffff, access });
  }

  getControl(name: ControlName): number {
    return this.readU32(this.controlOffset(name));
  }

  setControl(name: ControlName, value: number): void {
    this.writeU32(this.controlOffset(name), value);
    this.exports.tlbFlush(); // paging mode or page tables may have changed
  }

  /** Copies a ROM image to end at guest-physical 1 MiB, read-only, aliased below 4 GiB. */
  loadRom(image: Uint8Array): void {
    const length = image.length;
    if (length === 0 || length % 4096 !== 0 || length > MAX_ROM_BYTES) {
      throw new RangeError(
        `ROM image is ${length} bytes; it must be a non-zero multiple of 4 KiB up to 256 KiB`,
      );
    }
    this.memory.write(ONE_MIB - length, image);
    this.exports.setRom(length);
  }

  setDirtyTracking(on: boolean): void {
    this.exports.setDirtyTracking(on ? 1 : 0);
  }

  /**
   * The pages written since the last harvest, as bitmap words (bit p % 32 of
   * word p / 32), and clears the bitmap; null when none were. The view is the
   * core's own harvest buffer: valid until the next harvest.
   */
  harvestDirtyWords(): Uint32Array | null {
    if (this.exports.dirtyHarvest() === 0) return null;
    const words = Math.ceil(this.memory.ramBytes / 4096 / 32);
    return new Uint32Array(this.exports.memory.buffer, this.layout.HARVEST_BASE, words);
  }

  /** Page numbers written since the last harvest; clears the bitmap. */
  harvestDirty(): number[] {
    const words = this.harvestDirtyWords();
    const pages: number[] = [];
    if (!words) return pages;
    for (let i = 0; i < words.length; i++) {
      for (let word = words[i]!; word !== 0; word &= word - 1) {
        pages.push(i * 32 + 31 - Math.clz32(word & -word));
      }
    }
    return pages;
  }

  setCpuid(entry: CpuidEntry): void {
    const { leaf, subleaf, eax, ebx, ecx, edx } = entry;
    this.exports.cpuidSet(leaf >>> 0, subleaf >>> 0, eax >>> 0, ebx >>> 0, ecx >>> 0, edx >>> 0);
  }

  /** What the guest's CPUID(leaf, subleaf) returns now. */
  cpuid(leaf: number, subleaf = 0): CpuidEntry {
    const q = (reg: number) => this.exports.cpuidQuery(leaf >>> 0, subleaf >>> 0, reg) >>> 0;
    return { leaf, subleaf, eax: q(0), ebx: q(1), ecx: q(2), edx: q(3) };
  }

  resetCpuid(): void {
    this.exports.cpuidReset();
  }

  /** Every entry of the CPUID table, in table order (subleaf 0xFFFFFFFF matches any). */
  cpuidTable(): CpuidEntry[] {
    const count = this.exports.cpuidCount();
    const view = this.state();
    const entries: CpuidEntry[] = [];
    for (let i = 0; i < count; i++) {
      const at = this.layout.CPUID_BASE + i * CPUID_ENTRY_BYTES;
      const u32 = (offset: number) => view.getUint32(at + offset, true);
      entries.push({
        leaf: u32(0),
        subleaf: u32(4),
        eax: u32(8),
        ebx: u32(12),
        ecx: u32(16),
        edx: u32(20),
      });
    }
    return entries;
  }

  /** Replaces the whole CPUID table (at most layout.CPUID_MAX entries). */
  replaceCpuidTable(entries: readonly CpuidEntry[]): void {
    if (entries.length > this.layout.CPUID_MAX) {
      throw new RangeError(`a CPUID table holds at most ${this.layout.CPUID_MAX} entries`);
    }
    this.exports.cpuidClear();
    for (const entry of entries) this.setCpuid(entry);
  }

  /** Size of the firmware image mapped below 1 MiB and 4 GiB (0: none). */
  romBytes(): number {
    return this.readU32(this.layout.S_ROM_SIZE);
  }

  /** Maps the last `bytes` below 1 MiB read-only and aliased below 4 GiB; 0 unmaps. */
  setRomMapping(bytes: number): void {
    this.exports.setRom(bytes);
  }

  tlbFlush(): void {
    this.exports.tlbFlush();
  }

  save(): CpuState {
    return saveCpuState(this);
  }

  prepareRestore(state: unknown): () => void {
    return prepareCpuRestore(this, state);
  }

  /** u32 at STATE_BASE + offset. */
  readU32(offset: number): number {
    return this.state().getUint32(this.layout.STATE_BASE + offset, true);
  }

  writeU32(offset: number, value: number): void {
    this.state().setUint32(this.layout.STATE_BASE + offset, value >>> 0, true);
  }

  private storeMsrValue(value: bigint): void {
    this.writeU32(this.layout.S_MSR_LO, Number(value & 0xffffffffn));
    this.writeU32(this.layout.S_MSR_HI, Number((value >> 32n) & 0xffffffffn));
  }

  private exitReason(code: number): DebugExitReason {
    const reason = this.exitReasons.get(code);
    if (reason === undefined) throw new Error(`hive86 core: unknown exit code ${code}`);
    return reason;
  }

  private segmentOffset(name: SegmentName): number {
    return this.layout.S_SEGS + segmentIndex(name) * this.layout.SEG_SIZE;
  }

  private controlOffset(name: ControlName): number {
    if (!CONTROL_NAMES.includes(name)) throw new Error(`unknown control register: ${name}`);
    return this.layout[`S_${name.toUpperCase()}` as "S_CR0"];
  }

  // memory.grow() replaces the buffer, so the view is re-derived when stale.
  private state(): DataView {
    if (this.stateView.buffer !== this.exports.memory.buffer) {
      this.stateView = new DataView(this.exports.memory.buffer);
    }
    return this.stateView;
  }
}
