// The debug ports test programs and firmware use to talk to the host:
// Bochs/QEMU debugcon (0xE9), the POST code port (0x80) and QEMU's
// isa-debug-exit (0xF4).
import { allOnes, type AccessSize } from "../core/core-host.ts";
import type { IoBus } from "../platform/io-bus.ts";
import { expectObject, expectVersion } from "../platform/state-check.ts";
import type { Stateful } from "../platform/stateful.ts";

export const DEBUGCON_PORT = 0xe9;
export const POST_CODE_PORT = 0x80;
export const DEBUG_EXIT_PORT = 0xf4;

export interface DebugPortsOptions {
  /** Receives each byte written to the debug console. */
  onDebugconByte?: (byte: number) => void;
  /** Called once the guest writes the debug-exit port; the status is (value << 1) | 1. */
  onExit?: (exitStatus: number) => void;
}

export const DEBUG_PORTS_STATE_VERSION = 1;

export interface DebugPortsState {
  version: typeof DEBUG_PORTS_STATE_VERSION;
  /** What port 0x80 reads back: the last POST code, or null before the first. */
  lastPostCode: number | null;
}

export class DebugPorts implements Stateful<DebugPortsState> {
  readonly stateId = "debug-ports";
  /** Last byte written to port 0x80, or null before the first. */
  lastPostCode: number | null = null;
  postCodeCount = 0;
  /** Set once the guest asked to exit. */
  exitStatus: number | null = null;

  private readonly options: DebugPortsOptions;

  constructor(options: DebugPortsOptions = {}) {
    this.options = options;
  }

  attach(bus: IoBus): void {
    bus.register(DEBUGCON_PORT, 1, {
      // Bochs' port E9 hack reads back 0xE9 so guests can detect it.
      read: () => DEBUGCON_PORT,
      // A wider OUT still sends only its low byte, as QEMU's debugcon does.
      write: (_port, _size, value) => this.options.onDebugconByte?.(value & 0xff),
    });
    bus.register(POST_CODE_PORT, 1, {
      read: () => this.lastPostCode ?? 0xff,
      write: (_port, _size, value) => {
        this.lastPostCode = value & 0xff;
        this.postCodeCount++;
      },
    });
    bus.register(DEBUG_EXIT_PORT, 1, {
      read: (_port: number, size: AccessSize) => allOnes(size),
      write: (_port, _size, value) => {
        // QEMU's isa-debug-exit: the process exits with (value << 1) | 1.
        this.exitStatus = (((value << 1) | 1) & 0xffffffff) >>> 0;
        this.options.onExit?.(this.exitStatus);
      },
    });
  }

  save(): DebugPortsState {
    return { version: DEBUG_PORTS_STATE_VERSION, lastPostCode: this.lastPostCode };
  }

  prepareRestore(state: unknown): () => void {
    const what = "debug ports state";
    const fields = expectObject(state, what);
    expectVersion(fields, DEBUG_PORTS_STATE_VERSION, what);
    const code = fields.lastPostCode;
    if (
      code !== null &&
      (typeof code !== "number" || !Number.isInteger(code) || code < 0 || code > 0xff)
    ) {
      throw new RangeError(`${what}.lastPostCode must be a byte or null`);
    }
    return () => {
      this.lastPostCode = code;
    };
  }
}
