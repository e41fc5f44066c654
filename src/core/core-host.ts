// The exit boundary seen from TypeScript: what the core asks of the host
// (port I/O, MMIO outside RAM/ROM, MSRs it does not own, interrupt
// acknowledge, the guest TSC) and the defaults used when nobody answers.

export type AccessSize = 1 | 2 | 4;

export interface CoreHost {
  /** IN from a port; the value is truncated to `size` bytes. */
  ioIn(port: number, size: AccessSize): number;
  ioOut(port: number, size: AccessSize, value: number): void;
  /** Guest-physical access outside RAM and ROM. */
  mmioRead(addr: number, size: AccessSize): number;
  mmioWrite(addr: number, size: AccessSize, value: number): void;
  /** The 64-bit MSR value, or undefined when the host does not know it (the guest gets #GP). */
  msrRead(index: number): bigint | undefined;
  /** true when handled; false makes the core raise #GP. */
  msrWrite(index: number, value: bigint): boolean;
  /** Vector of the interrupt asserted on INTR, or -1 when it went away. */
  intAck(): number;
  /** The guest's time-stamp counter. */
  readTsc(): number;
}

/** All-ones, the way an undriven ISA bus reads. */
export function allOnes(size: number): number {
  return size === 1 ? 0xff : size === 2 ? 0xffff : 0xffffffff;
}

/**
 * Fills in the handlers a caller left out. readTsc defaults to the
 * instruction count so runs without a clock are deterministic.
 */
export function completeHost(host: Partial<CoreHost>, instructionCount: () => number): CoreHost {
  return {
    ioIn: host.ioIn ?? ((_port, size) => allOnes(size)),
    ioOut: host.ioOut ?? (() => {}),
    mmioRead: host.mmioRead ?? ((_addr, size) => allOnes(size)),
    mmioWrite: host.mmioWrite ?? (() => {}),
    msrRead: host.msrRead ?? (() => undefined),
    msrWrite: host.msrWrite ?? (() => false),
    intAck: host.intAck ?? (() => -1),
    readTsc: host.readTsc ?? instructionCount,
  };
}

function asAccessSize(size: number): AccessSize {
  if (size === 1 || size === 2 || size === 4) return size;
  throw new Error(`hive86 core: access size ${size} is not 1, 2 or 4`);
}

export interface MsrResultSlot {
  /** Where msrRead's answer goes: two u32 halves in the state block. */
  storeMsrValue(value: bigint): void;
}

/**
 * Error.stackTraceLimit while wasm runs: a guest exception unwinds the core by
 * a trap, and V8 builds a RuntimeError for it; without a stack that costs
 * about 6 µs per exception instead of 13 µs. Host code called from the core
 * gets the normal limit back, so its own errors keep their stacks.
 */
export const CORE_STACK_TRACE_LIMIT = 0;
let hostStackTraceLimit = Error.stackTraceLimit;

/** Runs fn (a call into the core) with stack capture off; returns its result. */
export function withoutStackTraces<T>(fn: () => T): T {
  const saved = Error.stackTraceLimit;
  hostStackTraceLimit = saved;
  Error.stackTraceLimit = CORE_STACK_TRACE_LIMIT;
  try {
    return fn();
  } finally {
    Error.stackTraceLimit = saved;
  }
}

// Wraps a host handler so errors it throws have stacks even inside a core call.
function withHostStacks<A extends unknown[], R>(handler: (...args: A) => R): (...args: A) => R {
  return (...args: A): R => {
    const saved = Error.stackTraceLimit;
    Error.stackTraceLimit = hostStackTraceLimit;
    try {
      return handler(...args);
    } finally {
      Error.stackTraceLimit = saved;
    }
  };
}

/**
 * The "env" import object of the wasm module. It reads `current()` on every
 * call so the host can be swapped after the module is instantiated.
 */
export function buildImports(current: () => CoreHost, slot: MsrResultSlot): WebAssembly.Imports {
  const env = buildEnv(current, slot);
  for (const name of Object.keys(env)) {
    if (name !== "abort") env[name] = withHostStacks(env[name]!);
  }
  return { env };
}

type ImportFunction = (...args: number[]) => number | void;

function buildEnv(current: () => CoreHost, slot: MsrResultSlot): Record<string, ImportFunction> {
  return {
    ioIn: (port: number, size: number) => current().ioIn(port >>> 0, asAccessSize(size)) >>> 0,
    ioOut: (port: number, size: number, value: number) =>
      current().ioOut(port >>> 0, asAccessSize(size), value >>> 0),
    mmioRead: (addr: number, size: number) =>
      current().mmioRead(addr >>> 0, asAccessSize(size)) >>> 0,
    mmioWrite: (addr: number, size: number, value: number) =>
      current().mmioWrite(addr >>> 0, asAccessSize(size), value >>> 0),
    msrRead: (index: number) => {
      const value = current().msrRead(index >>> 0);
      if (value === undefined) return 0;
      slot.storeMsrValue(value);
      return 1;
    },
    msrWrite: (index: number, lo: number, hi: number) => {
      const value = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
      return current().msrWrite(index >>> 0, value) ? 1 : 0;
    },
    intAck: () => current().intAck() | 0,
    readTsc: () => current().readTsc(),
    // AssemblyScript's runtime abort (only reachable in builds with assertions).
    abort: (msg: number, file: number, line: number, column: number) => {
      throw new Error(
        `hive86 core aborted (message @${msg}, file @${file}, line ${line}, column ${column})`,
      );
    },
  };
}
