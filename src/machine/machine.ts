// The board, minimal for now: a core, the port I/O bus and the debug ports,
// and a run loop that slices execution and decides when the guest is done.
import { Core } from "../core/core.ts";
import type { WasmSource } from "../core/wasm-source.ts";
import { DebugPorts } from "../devices/debug-ports.ts";
import { IoBus } from "./io-bus.ts";

export type StopReason = "debug-exit" | "triple-fault" | "halt" | "max-insns";

export interface MachineOptions {
  ramBytes: number;
  wasm?: WasmSource;
  /** Receives the bytes the guest writes to the debug console (port 0xE9). */
  onDebugconByte?: (byte: number) => void;
}

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

const DEFAULT_SLICE = 1_000_000;
const MAX_SLICE = 0xffffffff;

export class Machine {
  readonly core: Core;
  readonly io: IoBus;
  readonly debugPorts: DebugPorts;

  static async create(options: MachineOptions): Promise<Machine> {
    const io = new IoBus();
    const core = await Core.create({
      ramBytes: options.ramBytes,
      wasm: options.wasm,
      host: {
        ioIn: (port, size) => io.read(port, size),
        ioOut: (port, size, value) => io.write(port, size, value),
      },
    });
    return new Machine(core, io, options);
  }

  private constructor(core: Core, io: IoBus, options: MachineOptions) {
    this.core = core;
    this.io = io;
    this.debugPorts = new DebugPorts({
      onDebugconByte: options.onDebugconByte,
      onExit: () => core.requestStop(),
    });
    this.debugPorts.attach(io);
  }

  /** Maps a firmware image to end at 1 MiB (and below 4 GiB) and resets the CPU into it. */
  loadBios(image: Uint8Array): void {
    this.core.loadRom(image);
    this.core.reset();
  }

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
      if (this.debugPorts.exitStatus !== null) return result("debug-exit");
      const left = options.maxInsns - (this.core.instructionCount() - start);
      if (left <= 0) return result("max-insns");
      const exit = this.core.run(Math.min(slice, left));
      if (this.debugPorts.exitStatus !== null) return result("debug-exit");
      switch (exit) {
        case "budget":
        case "stop":
          continue;
        case "triple-fault":
          return result("triple-fault");
        case "halt-no-if":
          return result("halt");
        case "halt":
          if (!this.waitForInterrupt()) return result("halt");
          continue;
      }
    }
  }

  /**
   * HLT with interrupts enabled: the seam where timers and devices will
   * advance the clock and raise an interrupt. Nothing can wake the CPU yet.
   */
  private waitForInterrupt(): boolean {
    return false;
  }
}
