// The board: a core, the port and MMIO buses, the PC devices wired to them,
// the one machine clock, the boot loaders, and stepping with timers. The run
// loop (run-loop.ts) drives step() on the host's event loop; runUntilStop()
// drives it synchronously for tests and ROMs.
import { Core } from "../core/core.ts";
import type { WasmSource } from "../core/wasm-source.ts";
import { DebugPorts } from "../devices/debug-ports.ts";
import { KeyboardController } from "../devices/kbc/device.ts";
import { hypervisorCpuid, KvmClock } from "../devices/kvmclock/device.ts";
import { VirtioBalloon } from "../devices/virtio/balloon/device.ts";
import { VirtioPciTransport } from "../devices/virtio/pci-transport.ts";
import { createI440fx, type I440fx } from "../devices/pci/i440fx.ts";
import { DualPic } from "../devices/pic/device.ts";
import { Pit8254, PIT_IRQ } from "../devices/pit/device.ts";
import { CmosRtc, RTC_IRQ } from "../devices/rtc/device.ts";
import { attachSystemControlA } from "../devices/system-control-a.ts";
import { COM1_IRQ, Uart16550 } from "../devices/uart/device.ts";
import { isBzImage, KernelImageError, loadBzImage, type LinuxBootInfo } from "./boot/bzimage.ts";
import { pcMemoryMap, type MemoryRegion } from "./boot/memory-map.ts";
import { isMultiboot, loadMultiboot, type MultibootLoadResult } from "./boot/multiboot.ts";
import { setupPci, type PciSetupResult } from "./firmware/pci-setup.ts";
import type { TimedDevice } from "../platform/clock.ts";
import type { Stateful } from "../platform/stateful.ts";
import { CpuidTableState } from "../core/cpuid-state.ts";
import { RomMappingState } from "../core/rom-state.ts";
import { ClockComponent } from "./clock-state.ts";
import { DirtyLog } from "./dirty-log.ts";
import { configOf, type MachineConfig, type MachineShape } from "./machine-config.ts";
import { InstructionClock, RealtimeClock, type RunClock } from "./guest-clocks.ts";
import { IoBus } from "../platform/io-bus.ts";
import { MACHINE_STATE_VERSION, parseMachineState, type MachineState } from "./machine-state.ts";
import { MmioBus } from "../platform/mmio-bus.ts";
import { RunLoop, type LoopState, type StepOutcome, type Steppable } from "./run-loop.ts";
import { TimeStampCounter } from "../platform/tsc.ts";

export type StopReason = "debug-exit" | "triple-fault" | "halt" | "max-insns" | "reset";

/** Realtime: guest time is host time. A number: deterministic, that many ns per instruction. */
export type ClockMode = "realtime" | { nsPerInstruction: number };

/** The host's side of a machine: where its time and output come from and go. */
export interface MachineHostOptions {
  wasm?: WasmSource;
  clock?: ClockMode;
  /** Receives what devices refuse from the guest (bad descriptors, addresses outside RAM). */
  onDeviceLog?: (message: string) => void;
  /** The host's wall clock (epoch ms) the RTC and kvm-clock use; Date.now by default. */
  wallTimeMs?: () => number;
  /** Receives the bytes the guest writes to the debug console (port 0xE9). */
  onDebugconByte?: (byte: number) => void;
  /** Receives what the guest transmits on COM1, a batch per CPU slice. */
  onSerialOutput?: (bytes: Uint8Array) => void;
}

/**
 * ramBytes; tscHz; balloon: virtio-balloon in PCI slot 2 (default true), with
 * its statistics interval and features; kvmClock: kvm-clock and the KVM CPUID
 * signature (default true), false for bare hardware. See machine-config.ts.
 */
export type MachineOptions = MachineShape & MachineHostOptions;

export interface RunOptions {
  /** Stop after this many instructions (approximately: checked between slices). */
  maxInsns: number;
  /** Instructions per call into the core; smaller slices react sooner. */
  sliceInsns?: number;
}

export interface RunResult {
  reason: StopReason;
  /** The isa-debug-exit status, (value << 1) | 1, when reason is "debug-exit". */
  exitStatus?: number;
  /** Instructions retired during this call. */
  instructions: number;
}

export interface KernelOptions {
  cmdline?: string;
  /** Linux: the initrd. */
  initrd?: Uint8Array;
  /** Multiboot: modules, in order. */
  modules?: { data: Uint8Array; cmdline: string }[];
}

export type BootInfo =
  | { protocol: "linux"; linux: LinuxBootInfo; pci: PciSetupResult }
  | { protocol: "multiboot"; multiboot: MultibootLoadResult; pci: PciSetupResult };

const MSR_TSC = 0x10;
const BALLOON_SLOT = 2;
const DEVICE_LOG_LIMIT = 100;
const DEFAULT_SLICE = 1_000_000;
const MAX_SLICE = 0xffffffff;
/** Realtime slices never get shorter than this, however close the next timer. */
const MIN_REALTIME_SLICE = 2_000;
/** Instructions per host ns assumed before the first measurement (30 MIPS). */
const INITIAL_RATE = 0.03;

export class Machine implements Steppable {
  readonly core: Core;
  readonly io: IoBus;
  readonly mmio: MmioBus;
  readonly clock: RunClock;
  readonly tsc: TimeStampCounter;
  readonly debugPorts: DebugPorts;
  readonly pic: DualPic;
  readonly uart: Uart16550;
  readonly pit: Pit8254;
  readonly rtc: CmosRtc;
  readonly pci: I440fx;
  readonly kbc: KeyboardController;
  /** virtio-balloon, unless the machine was made without it. */
  readonly balloon: VirtioBalloon | null;
  /** The latest device complaints about guest input, oldest first (at most 100). */
  readonly deviceLog: string[] = [];
  /** kvm-clock (pvclock), unless the machine was made without it. */
  readonly kvmClock: KvmClock | null;
  readonly memoryMap: MemoryRegion[] | null;
  readonly loop: RunLoop;
  /** What this machine is made of, as plain data (it opens every saved state). */
  readonly config: MachineConfig;
  /** Who wants to know which pages the guest writes (the migration, a memory view). */
  readonly dirtyLog: DirtyLog;
  /** Every part with state, in restore order: one list, so none is forgotten. */
  private readonly components: Stateful[];

  private readonly timedDevices: TimedDevice[] = [];
  private readonly serialOut: number[] = [];
  private readonly onSerialOutput: (bytes: Uint8Array) => void;
  private pendingStop: StopReason | null = null;
  /** The guest stops once the instruction count reaches this (null: never). */
  private instructionLimit: number | null = null;
  /** start() ran before: a later start() is a resume. */
  private hasRun = false;
  /** Measured guest instructions per host nanosecond (realtime slice sizing only). */
  private rate = INITIAL_RATE;

  /** A machine of this configuration (from a saved state or a migration), not yet running. */
  static fromConfig(config: MachineConfig, host: MachineHostOptions = {}): Promise<Machine> {
    return Machine.create({
      ...host,
      ramBytes: config.ramBytes,
      tscHz: config.tscHz,
      kvmClock: config.kvmClock,
      balloon: config.balloon ?? false,
    });
  }

  static async create(options: MachineOptions): Promise<Machine> {
    const io = new IoBus();
    const mmio = new MmioBus();
    // The host handlers need the devices, which need the core: bind late.
    const late: { machine?: Machine } = {};
    const core = await Core.create({
      ramBytes: options.ramBytes,
      wasm: options.wasm,
      host: {
        ioIn: (port, size) => io.read(port, size),
        ioOut: (port, size, value) => io.write(port, size, value),
        mmioRead: (addr, size) => mmio.read(addr, size),
        mmioWrite: (addr, size, value) => mmio.write(addr, size, value),
        intAck: () => late.machine!.pic.acknowledge(),
        readTsc: () => late.machine!.tsc.read(),
        msrRead: (index) => late.machine!.readMsr(index),
        msrWrite: (index, value) => late.machine!.writeMsr(index, value),
      },
    });
    late.machine = new Machine(core, io, mmio, options);
    return late.machine;
  }

  private constructor(core: Core, io: IoBus, mmio: MmioBus, options: MachineOptions) {
    this.core = core;
    this.io = io;
    this.mmio = mmio;
    this.config = configOf(options);
    const mode = options.clock ?? "realtime";
    this.clock =
      mode === "realtime"
        ? new RealtimeClock()
        : new InstructionClock(() => core.liveInstructionCount(), mode.nsPerInstruction);
    this.tsc = new TimeStampCounter(this.clock, this.config.tscHz);
    this.memoryMap = options.ramBytes >= 2 * 1024 * 1024 ? pcMemoryMap(options.ramBytes) : null;
    this.onSerialOutput = options.onSerialOutput ?? (() => {});

    this.debugPorts = new DebugPorts({
      onDebugconByte: options.onDebugconByte,
      onExit: () => this.stopGuest("debug-exit"),
    });
    this.debugPorts.attach(io);

    this.pic = new DualPic();
    this.pic.onIntr = (level) => core.setIrq(level);
    this.pic.attach(io);

    this.uart = new Uart16550({
      irq: this.pic.line(COM1_IRQ),
      onTransmit: (byte) => this.serialOut.push(byte),
    });
    this.uart.attach(io);

    this.pit = new Pit8254({ clock: this.clock, irq0: this.pic.line(PIT_IRQ) });
    this.pit.attach(io);
    this.timedDevices.push(this.pit);

    this.rtc = new CmosRtc({
      clock: this.clock,
      irq: this.pic.line(RTC_IRQ),
      wallTimeMs: options.wallTimeMs,
    });
    this.rtc.attach(io);
    this.rtc.setMemorySize(options.ramBytes);
    this.timedDevices.push(this.rtc);

    this.pci = createI440fx({
      io,
      mmio,
      isaIrq: (irq) => this.pic.line(irq),
      onReset: () => this.stopGuest("reset"),
    });

    const resetLines = {
      onReset: () => this.stopGuest("reset"),
      setA20: (enabled: boolean) => core.setA20(enabled),
      a20Enabled: () => core.a20Enabled(),
    };
    this.kbc = new KeyboardController(resetLines);
    this.kbc.attach(io);
    attachSystemControlA(io, resetLines);

    const log = (message: string) => {
      this.deviceLog.push(message);
      if (this.deviceLog.length > DEVICE_LOG_LIMIT) this.deviceLog.shift();
      options.onDeviceLog?.(message);
    };

    this.balloon = null;
    if (this.config.balloon) {
      this.balloon = new VirtioBalloon({
        ramBytes: options.ramBytes,
        clock: this.clock,
        ...this.config.balloon,
      });
      const transport = new VirtioPciTransport({ model: this.balloon, memory: core.memory, log });
      this.pci.bus.add(transport, BALLOON_SLOT);
      this.timedDevices.push(this.balloon);
    }

    this.kvmClock = null;
    if (this.config.kvmClock) {
      this.kvmClock = new KvmClock({
        clock: this.clock,
        tsc: this.tsc,
        memory: core.memory,
        wallTimeMs: options.wallTimeMs,
        log,
      });
      for (const entry of hypervisorCpuid(core.cpuid(1))) core.setCpuid(entry);
    }

    this.loop = new RunLoop(this);
    this.dirtyLog = new DirtyLog(core, this.balloon?.ballooned ?? null);
    // Restore order: time first (devices read it), the CPU before the PIC drives INTR.
    this.components = [
      new ClockComponent(this.clock),
      this.tsc,
      core,
      new CpuidTableState(core),
      new RomMappingState(core),
      this.pic,
      this.pit,
      this.rtc,
      this.uart,
      this.kbc,
      this.debugPorts,
      this.pci.bus,
      ...(this.kvmClock ? [this.kvmClock] : []),
    ];
  }

  /** The ids of this machine's stateful components, in restore order. */
  get componentIds(): string[] {
    return this.components.map((component) => component.stateId);
  }

  /** "running"; "paused" (not started yet, or paused); "stopped" (the guest stopped by itself). */
  get runState(): LoopState {
    return this.loop.current;
  }

  get realtime(): boolean {
    return this.clock.kind === "realtime";
  }

  now(): number {
    return this.clock.now();
  }

  /** Maps a firmware image to end at 1 MiB (and below 4 GiB) and resets the CPU into it. */
  loadBios(image: Uint8Array): void {
    this.core.loadRom(image);
    this.core.reset();
  }

  /**
   * Does what firmware and a boot loader would: sets up PCI (BARs, IRQ
   * routing, the $PIR table), then loads a Linux bzImage or a Multiboot
   * kernel and sets the CPU at its entry point. A malformed image throws
   * KernelImageError or MultibootImageError before anything is written.
   */
  loadKernel(image: Uint8Array, options: KernelOptions = {}): BootInfo {
    if (!this.memoryMap) throw new KernelImageError("a kernel needs at least 2 MiB of RAM");
    const cmdline = options.cmdline ?? "";
    if (isBzImage(image)) {
      const linux = loadBzImage(
        image,
        { cmdline, initrd: options.initrd, memoryMap: this.memoryMap },
        this.core,
      );
      return { protocol: "linux", linux, pci: this.setupFirmware() };
    }
    if (isMultiboot(image)) {
      const multiboot = loadMultiboot(
        image,
        { cmdline, modules: options.modules, memoryMap: this.memoryMap },
        this,
      );
      return { protocol: "multiboot", multiboot, pci: this.setupFirmware() };
    }
    throw new KernelImageError(
      "the kernel image is neither a Linux bzImage (no HdrS setup header) " +
        "nor a Multiboot kernel (no header with a valid checksum in its first 8 KiB)",
    );
  }

  private setupFirmware(): PciSetupResult {
    return setupPci({ io: this.io, memory: this.core.memory });
  }

  /** Host input for COM1 (a keyboard, a paste); wakes a halted guest. */
  sendSerial(bytes: ArrayLike<number>): void {
    this.uart.receive(bytes);
    this.loop.kick();
  }

  /**
   * Starts (or resumes) the guest on the host's event loop. `downtimeNs` moves
   * a paused guest's clock forward first: a migrated guest's clock counts the
   * time it was on the wire, as the real world's did.
   */
  start(options: { downtimeNs?: number } = {}): void {
    if (this.loop.current !== "paused") return;
    const downtime = options.downtimeNs ?? 0;
    if (downtime > 0) {
      this.clock.pause();
      this.clock.set(this.clock.now() + downtime);
    }
    this.clock.resume();
    // After a pause (or a restore) the guest is told it was stopped.
    if (this.hasRun) this.kvmClock?.resumed();
    this.hasRun = true;
    this.loop.start();
  }

  /** Pauses the guest at the next slice boundary; its clock stops too. */
  async pause(): Promise<void> {
    await this.loop.pause();
    this.clock.pause();
  }

  /** The fraction of host time the guest runs (1: full speed). */
  get throttle(): number {
    return this.loop.throttle;
  }

  /** Runs the guest for only `fraction` of the host's time (1: full speed); see RunLoop. */
  setThrottle(fraction: number): void {
    this.loop.setThrottle(fraction);
  }

  /** Stops the guest ("max-insns") once `total` instructions have retired since power-on. */
  setInstructionLimit(total: number | null): void {
    this.instructionLimit = total;
  }

  /** Why the guest stopped by itself, or null while it can still run. */
  get stopReason(): StopReason | null {
    return this.pendingStop;
  }

  // ---- stepping ----

  private stopGuest(reason: StopReason): void {
    this.pendingStop ??= reason;
    this.core.requestStop();
  }

  private advanceDevices(now: number): void {
    for (const device of this.timedDevices) device.advance(now);
  }

  private nextDeadline(): number {
    let deadline = Infinity;
    for (const device of this.timedDevices) deadline = Math.min(deadline, device.nextDeadline());
    return deadline;
  }

  private budgetFor(deadline: number, now: number, limit: number): number {
    if (deadline === Infinity) return limit;
    if (this.clock instanceof InstructionClock) {
      return Math.min(limit, this.clock.instructionsUntil(deadline));
    }
    const wanted = Math.ceil((deadline - now) * this.rate);
    return Math.min(limit, Math.max(MIN_REALTIME_SLICE, wanted));
  }

  private flushSerial(): void {
    if (this.serialOut.length === 0) return;
    const bytes = Uint8Array.from(this.serialOut);
    this.serialOut.length = 0;
    this.onSerialOutput(bytes);
  }

  step(maxInstructions: number): StepOutcome {
    if (this.pendingStop) return { kind: "stopped", reason: this.pendingStop };
    let limit = maxInstructions;
    if (this.instructionLimit !== null) {
      // Not a stop of the guest's own: a raised limit lets it run on.
      const left = this.instructionLimit - this.core.instructionCount();
      if (left <= 0) return { kind: "stopped", reason: "max-insns" };
      limit = Math.min(limit, left);
    }
    this.clock.resume();
    const now = this.clock.now();
    this.advanceDevices(now);
    const budget = this.budgetFor(this.nextDeadline(), now, limit);
    const startCount = this.core.instructionCount();
    const startMs = this.realtime ? performance.now() : 0;
    const exit = this.core.run(budget);
    if (this.realtime) {
      this.measureRate(this.core.instructionCount() - startCount, performance.now() - startMs);
    }
    this.flushSerial();
    if (this.pendingStop) return { kind: "stopped", reason: this.pendingStop };
    switch (exit) {
      case "budget":
      case "stop":
        return { kind: "ran" };
      case "triple-fault":
        return { kind: "stopped", reason: "triple-fault" };
      case "halt-no-if":
        return { kind: "stopped", reason: "halt" };
      case "halt":
        return this.idle();
    }
  }

  // HLT with interrupts enabled: sleep until the next timer, unless one is due now.
  private idle(): StepOutcome {
    this.advanceDevices(this.clock.now());
    if (this.pic.intr) return { kind: "ran" };
    const deadline = this.nextDeadline();
    if (deadline !== Infinity && this.clock.skipTo(deadline)) return { kind: "ran" };
    return { kind: "idle", until: deadline };
  }

  private measureRate(instructions: number, ms: number): void {
    if (instructions < 10_000 || ms <= 0) return;
    const measured = instructions / (ms * 1e6);
    this.rate = this.rate * 0.7 + measured * 0.3;
  }

  /**
   * Runs synchronously until the guest stops or `maxInsns` instructions
   * retired. A halted guest waits for its timers (spinning, on a realtime
   * clock); with no timer and no interrupt it has stopped for good.
   */
  runUntilStop(options: RunOptions): RunResult {
    const start = this.core.instructionCount();
    const slice = Math.min(options.sliceInsns ?? DEFAULT_SLICE, MAX_SLICE);
    const result = (reason: StopReason): RunResult => {
      const instructions = this.core.instructionCount() - start;
      const exitStatus = this.debugPorts.exitStatus;
      return reason === "debug-exit" && exitStatus !== null
        ? { reason, exitStatus, instructions }
        : { reason, instructions };
    };
    for (;;) {
      const left = options.maxInsns - (this.core.instructionCount() - start);
      if (left <= 0 && !this.pendingStop) return result("max-insns");
      const outcome = this.step(Math.max(1, Math.min(slice, left)));
      if (outcome.kind === "stopped") return result(outcome.reason as StopReason);
      if (outcome.kind === "idle" && outcome.until === Infinity) return result("halt");
    }
  }

  // ---- save and restore ----

  /** The state tree of a paused machine (RAM excluded: see machine-state.ts). */
  saveState(): MachineState {
    this.requirePaused("save");
    const components: Record<string, unknown> = {};
    for (const component of this.components) components[component.stateId] = component.save();
    return { version: MACHINE_STATE_VERSION, config: structuredClone(this.config), components };
  }

  /**
   * Restores a state tree into this paused machine (its RAM must be restored
   * separately). Every component checks its part before any changes: a state
   * that one refuses leaves the machine as it was.
   */
  restoreState(value: unknown): void {
    this.requirePaused("restore");
    const state = parseMachineState(value, this.config, this.componentIds);
    const commits = this.components.map((component) => {
      try {
        return component.prepareRestore(state.components[component.stateId]);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        const Kind = error instanceof TypeError ? TypeError : RangeError;
        throw new Kind(`${component.stateId}: ${reason}`);
      }
    });
    for (const commit of commits) commit();
    // The restored guest resumes as after a pause (kvm-clock says it was stopped).
    this.hasRun = true;
  }

  private requirePaused(what: string): void {
    if (this.loop.current === "running") {
      throw new Error(`cannot ${what} the state of a running machine: pause it first`);
    }
    this.clock.pause();
  }

  // ---- MSRs the core leaves to the machine ----

  private readMsr(index: number): bigint | undefined {
    if (this.kvmClock?.handles(index)) return this.kvmClock.readMsr(index);
    return undefined;
  }

  private writeMsr(index: number, value: bigint): boolean {
    if (index === MSR_TSC) {
      this.tsc.write(value);
      return true;
    }
    if (this.kvmClock?.handles(index)) {
      this.kvmClock.writeMsr(index, value);
      return true;
    }
    return false;
  }
}
