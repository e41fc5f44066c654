// The 8254's saved state: plain, versioned, JSON-friendly data. Every counter
// is described as it stood just after input-clock edge `tick`; from there its
// motion is fully determined, so a restored PIT continues at the same phase.
import { accessOf, modeOf, modulusOf } from "./control.ts";
import {
  expectBool,
  expectInt,
  expectObject,
  expectVersion,
  type Fields,
} from "../../platform/state-check.ts";

export const PIT_STATE_VERSION = 1;
export const PIT_COUNTER_COUNT = 3;

/** What the counting element is doing. */
export type CountingPhase =
  /** Not counting (no count loaded yet, a two-byte mode 0 count half written, a mode 2/3 gate low). */
  | { kind: "held"; element: number; out: boolean }
  /** Modes 0, 1, 4, 5: counting down and wrapping; `armed` until terminal count acts on OUT. */
  | { kind: "countdown"; element: number; out: boolean; armed: boolean }
  /** Modes 2, 3 with the gate high: `position` clock pulses into a cycle of `period` pulses. */
  | { kind: "periodic"; period: number; position: number };

export interface PitCounterState {
  /** The low six bits of the last control word: RW1 RW0 M2 M1 M0 BCD. */
  control: number;
  /** The count register (CR) as written, in the counter's binary or BCD format. */
  countRegister: number;
  /** A complete count was written since the control word. */
  hasCount: boolean;
  /** The count last written has not reached the counting element yet. */
  nullCount: boolean;
  /** The next byte written is the MSB of a two-byte count. */
  writeMsbNext: boolean;
  /** The next byte read is the MSB of a two-byte count. */
  readMsbNext: boolean;
  /** The output latch while it holds a latched count, as the CPU will read it. */
  latchedCount: number | null;
  /** The status byte while a read-back command holds it. */
  latchedStatus: number | null;
  /** The count register moves into the counting element on the next clock pulse. */
  pendingLoad: boolean;
  phase: CountingPhase;
}

export interface PitState {
  version: typeof PIT_STATE_VERSION;
  /** The input-clock edge (1.193182 MHz ticks since the clock's zero) the counters stand at. */
  tick: number;
  /** Port 0x61 bits 0-3 as written (gate 2, speaker data, parity and channel check enables). */
  portB: number;
  counters: [PitCounterState, PitCounterState, PitCounterState];
}

function expectNullableInt(fields: Fields, key: string, max: number, what: string): number | null {
  return fields[key] === null ? null : expectInt(fields, key, 0, max, what);
}

function parsePhase(value: unknown, control: number, what: string): CountingPhase {
  const fields = expectObject(value, what);
  const modulus = modulusOf(control);
  const mode = modeOf(control);
  const periodicMode = mode === 2 || mode === 3;
  switch (fields.kind) {
    case "held":
      return {
        kind: "held",
        element: expectInt(fields, "element", 0, modulus - 1, what),
        out: expectBool(fields, "out", what),
      };
    case "countdown":
      if (periodicMode)
        throw new RangeError(`${what}.kind "countdown" is not a mode ${mode} phase`);
      return {
        kind: "countdown",
        element: expectInt(fields, "element", 0, modulus - 1, what),
        out: expectBool(fields, "out", what),
        armed: expectBool(fields, "armed", what),
      };
    case "periodic": {
      if (!periodicMode)
        throw new RangeError(`${what}.kind "periodic" is not a mode ${mode} phase`);
      const period = expectInt(fields, "period", 1, modulus, what);
      return {
        kind: "periodic",
        period,
        position: expectInt(fields, "position", 0, period - 1, what),
      };
    }
    default:
      throw new TypeError(`${what}.kind must be "held", "countdown" or "periodic"`);
  }
}

function parseCounter(value: unknown, what: string): PitCounterState {
  const fields = expectObject(value, what);
  const control = expectInt(fields, "control", 0, 0x3f, what);
  if (accessOf(control) === 0) {
    throw new RangeError(`${what}.control has RW = 00, which is the latch command, not a mode`);
  }
  return {
    control,
    countRegister: expectInt(fields, "countRegister", 0, 0xffff, what),
    hasCount: expectBool(fields, "hasCount", what),
    nullCount: expectBool(fields, "nullCount", what),
    writeMsbNext: expectBool(fields, "writeMsbNext", what),
    readMsbNext: expectBool(fields, "readMsbNext", what),
    latchedCount: expectNullableInt(fields, "latchedCount", 0xffff, what),
    latchedStatus: expectNullableInt(fields, "latchedStatus", 0xff, what),
    pendingLoad: expectBool(fields, "pendingLoad", what),
    phase: parsePhase(fields.phase, control, `${what}.phase`),
  };
}

/** Checks an untrusted value and returns a fresh PitState; throws TypeError/RangeError. */
export function parsePitState(value: unknown): PitState {
  const what = "PIT state";
  const fields = expectObject(value, what);
  expectVersion(fields, PIT_STATE_VERSION, what);
  const tick = expectInt(fields, "tick", 0, Number.MAX_SAFE_INTEGER, what);
  const portB = expectInt(fields, "portB", 0, 0x0f, what);
  const list = fields.counters;
  if (!Array.isArray(list)) throw new TypeError(`${what}.counters must be an array`);
  if (list.length !== PIT_COUNTER_COUNT) {
    throw new RangeError(
      `${what}.counters must hold ${PIT_COUNTER_COUNT} counters, got ${list.length}`,
    );
  }
  const counters = list.map((counter: unknown, i) =>
    parseCounter(counter, `${what}.counters[${i}]`),
  ) as PitState["counters"];
  // A mode 2/3 counter stops counting while its gate is low; only counter 2's gate moves.
  if (!(portB & 1) && counters[2].phase.kind === "periodic") {
    throw new RangeError(`${what}.counters[2].phase cannot be "periodic" with gate 2 low`);
  }
  return { version: PIT_STATE_VERSION, tick, portB, counters };
}
