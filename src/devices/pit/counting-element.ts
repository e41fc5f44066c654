// How an 8254 counting element moves with the input clock, in closed form so
// that any number of clock pulses costs the same. Between two accesses by the
// CPU the mode, gate and count register are constant, which is all the
// functions here assume.
import type { CounterMode } from "./control.ts";
import type { CountingPhase } from "./state.ts";

/** What the counter is programmed with while the element runs. */
export interface CountingContext {
  mode: CounterMode;
  /** 65536 binary, 10000 BCD. */
  modulus: number;
  /** Clock pulses the count register stands for (1..modulus). */
  reloadCount: number;
  gate: boolean;
}

export interface Elapsed {
  phase: CountingPhase;
  /** The count register reached the element (a mode 2/3 cycle or half-cycle began). */
  reloaded: boolean;
}

type Countdown = Extract<CountingPhase, { kind: "countdown" }>;
type Periodic = Extract<CountingPhase, { kind: "periodic" }>;

/** Modes 4 and 5 pulse OUT low for one clock at terminal count instead of raising it. */
function strobes(mode: CounterMode): boolean {
  return mode === 4 || mode === 5;
}

/** Modes 1 and 5 use the gate only as a trigger; modes 0 and 4 stop counting while it is low. */
function counts(ctx: CountingContext): boolean {
  return ctx.mode === 1 || ctx.mode === 5 || ctx.gate;
}

/** Clock pulses in the high half of a mode 3 cycle: odd counts are high one pulse longer. */
function highHalf(period: number): number {
  return (period + 1) >> 1;
}

/** Pulses until a loaded element reaches zero; an element of 0 was loaded as the full modulus. */
function pulsesToZero(element: number, modulus: number): number {
  return element === 0 ? modulus : element;
}

/** The element mode 3 holds at the start of a half-cycle: the count rounded down to even. */
function squareWaveStart(count: number): number {
  return count - (count & 1);
}

/** The element and OUT on the clock pulse that moves the count register in. */
export function loadedPhase(ctx: CountingContext): CountingPhase {
  const count = ctx.reloadCount;
  switch (ctx.mode) {
    case 0:
    case 1:
      // Mode 0 was low since the count was written; mode 1 starts its one-shot here.
      return { kind: "countdown", element: count % ctx.modulus, out: false, armed: true };
    case 4:
    case 5:
      return { kind: "countdown", element: count % ctx.modulus, out: true, armed: true };
    case 2:
    case 3:
      if (ctx.gate) return { kind: "periodic", period: count, position: 0 };
      {
        const start = ctx.mode === 3 ? squareWaveStart(count) : count;
        return { kind: "held", element: start % ctx.modulus, out: true };
      }
  }
}

export function outputOf(phase: CountingPhase, ctx: CountingContext): boolean {
  if (phase.kind !== "periodic") return phase.out;
  if (ctx.mode === 2) return phase.position !== phase.period - 1;
  return phase.position < highHalf(phase.period);
}

/** The counting element's value (0..modulus-1). */
export function elementOf(phase: CountingPhase, ctx: CountingContext): number {
  if (phase.kind !== "periodic") return phase.element;
  const { period, position } = phase;
  if (ctx.mode === 2) return (period - position) % ctx.modulus;
  // Mode 3 counts down by two through each half-cycle.
  const half = highHalf(period);
  const intoHalf = position < half ? position : position - half;
  return (squareWaveStart(period) - 2 * intoHalf) % ctx.modulus;
}

/** The phase `pulses` (>= 1) clock pulses later. */
export function elapse(phase: CountingPhase, ctx: CountingContext, pulses: number): Elapsed {
  switch (phase.kind) {
    case "held":
      return { phase, reloaded: false };
    case "countdown":
      return { phase: elapseCountdown(phase, ctx, pulses), reloaded: false };
    case "periodic":
      return ctx.mode === 2
        ? elapseRateGenerator(phase, ctx, pulses)
        : elapseSquareWave(phase, ctx, pulses);
  }
}

function elapseCountdown(phase: Countdown, ctx: CountingContext, pulses: number): Countdown {
  let { element, out, armed } = phase;
  // A strobe lasts one clock pulse.
  if (strobes(ctx.mode) && !out) out = true;
  if (counts(ctx)) {
    const toZero = pulsesToZero(element, ctx.modulus);
    if (armed && pulses >= toZero) {
      armed = false;
      out = !strobes(ctx.mode) || pulses > toZero;
    }
    element = (((element - pulses) % ctx.modulus) + ctx.modulus) % ctx.modulus;
  }
  return { kind: "countdown", element, out, armed };
}

function elapseRateGenerator(phase: Periodic, ctx: CountingContext, pulses: number): Elapsed {
  const toReload = phase.period - phase.position;
  if (pulses < toReload) {
    return { phase: { ...phase, position: phase.position + pulses }, reloaded: false };
  }
  // Every later cycle uses the count register as it is now.
  const period = ctx.reloadCount;
  return {
    phase: { kind: "periodic", period, position: (pulses - toReload) % period },
    reloaded: true,
  };
}

function elapseSquareWave(phase: Periodic, ctx: CountingContext, pulses: number): Elapsed {
  const half = highHalf(phase.period);
  // Mode 3 reloads at the end of each half-cycle; a count of 1 has no low half.
  const midCycle = phase.position < half && half < phase.period;
  const boundary = midCycle ? half : phase.period;
  const toBoundary = boundary - phase.position;
  if (pulses < toBoundary) {
    return { phase: { ...phase, position: phase.position + pulses }, reloaded: false };
  }
  const period = ctx.reloadCount;
  let start = midCycle ? highHalf(period) : 0;
  if (start >= period) start = 0;
  return {
    phase: { kind: "periodic", period, position: (start + pulses - toBoundary) % period },
    reloaded: true,
  };
}

/** Clock pulses until OUT next goes from low to high (Infinity if it never will). */
export function pulsesToRisingEdge(phase: CountingPhase, ctx: CountingContext): number {
  switch (phase.kind) {
    case "held":
      return Infinity;
    case "countdown": {
      if (strobes(ctx.mode)) {
        if (!phase.out) return 1;
        if (!phase.armed || !counts(ctx)) return Infinity;
        return pulsesToZero(phase.element, ctx.modulus) + 1;
      }
      if (phase.out || !phase.armed || !counts(ctx)) return Infinity;
      return pulsesToZero(phase.element, ctx.modulus);
    }
    case "periodic":
      return ctx.mode === 2 ? rateGeneratorRise(phase, ctx) : squareWaveRise(phase, ctx);
  }
}

function rateGeneratorRise(phase: Periodic, ctx: CountingContext): number {
  // OUT rises at each reload unless the new count is 1, whose single pulse is all low.
  return ctx.reloadCount >= 2 ? phase.period - phase.position : Infinity;
}

function squareWaveRise(phase: Periodic, ctx: CountingContext): number {
  const half = highHalf(phase.period);
  if (phase.position >= half) return phase.period - phase.position;
  const next = ctx.reloadCount;
  // A count of 1 keeps OUT high for good.
  if (next === 1) return Infinity;
  // From here: the rest of this high half (a whole cycle of 1), then the next low half.
  if (phase.period === 1) return 1 + next;
  return half - phase.position + (next - highHalf(next));
}
