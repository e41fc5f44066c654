// The 16550A's saved state: plain, versioned, JSON-friendly data.
import {
  expectBool,
  expectInt,
  expectIntArray,
  expectObject,
  expectVersion,
} from "../../platform/state-check.ts";

export const UART_STATE_VERSION = 1;
export const RX_FIFO_SIZE = 16;
export const RX_TRIGGER_LEVELS = [1, 4, 8, 14] as const;
export type RxTriggerLevel = (typeof RX_TRIGGER_LEVELS)[number];

/**
 * A received character in rxFifo/pendingInput: a byte 0-255, or BREAK, the
 * all-zero character a break condition loads, which carries LSR.BI with it.
 */
export const BREAK = 0x100;

/** LSR error bits a state may hold: OE, PE, FE, BI. */
export const LSR_ERROR_MASK = 0x1e;
const MCR_LOOPBACK = 0x10;
const IER_THR_EMPTY = 0x02;

export interface UartState {
  version: typeof UART_STATE_VERSION;
  divisorLatch: number;
  ier: number;
  lcr: number;
  mcr: number;
  scratch: number;
  fifoEnabled: boolean;
  rxTriggerLevel: RxTriggerLevel;
  /** LSR error bits (OE, PE, FE, BI) not yet read by the guest. */
  lineErrors: number;
  /** A THR-empty interrupt is pending (cleared by reading IIR or writing THR). */
  thrEmptyInterrupt: boolean;
  /** MSR delta bits (DCTS, DDSR, TERI, DDCD) not yet read by the guest. */
  modemDeltas: number;
  /** Characters in the receiver FIFO (at most 1 with the FIFO off), oldest first. */
  rxFifo: number[];
  /** Host input waiting for room in the receiver, oldest first. */
  pendingInput: number[];
}

/** Checks an untrusted value and returns it as a UartState; throws TypeError/RangeError. */
export function parseUartState(value: unknown): UartState {
  const what = "UART state";
  const fields = expectObject(value, what);
  expectVersion(fields, UART_STATE_VERSION, what);
  const fifoEnabled = expectBool(fields, "fifoEnabled", what);
  const rxTriggerLevel = expectInt(fields, "rxTriggerLevel", 1, 14, what);
  if (!(RX_TRIGGER_LEVELS as readonly number[]).includes(rxTriggerLevel)) {
    throw new RangeError(`${what}.rxTriggerLevel must be 1, 4, 8 or 14, got ${rxTriggerLevel}`);
  }
  const lineErrors = expectInt(fields, "lineErrors", 0, 0xff, what);
  if (lineErrors & ~LSR_ERROR_MASK) {
    throw new RangeError(`${what}.lineErrors may hold only OE, PE, FE and BI, got ${lineErrors}`);
  }
  const ier = expectInt(fields, "ier", 0, 0x0f, what);
  const thrEmptyInterrupt = expectBool(fields, "thrEmptyInterrupt", what);
  if (thrEmptyInterrupt && !(ier & IER_THR_EMPTY)) {
    throw new RangeError(`${what}.thrEmptyInterrupt is set while IER.ETBEI is clear`);
  }
  const mcr = expectInt(fields, "mcr", 0, 0x1f, what);
  const capacity = fifoEnabled ? RX_FIFO_SIZE : 1;
  const rxFifo = expectIntArray(fields, "rxFifo", 0, BREAK, 0, capacity, what, "characters");
  const pendingInput = expectIntArray(
    fields,
    "pendingInput",
    0,
    BREAK,
    0,
    Number.MAX_SAFE_INTEGER,
    what,
    "characters",
  );
  // The device moves host input in as soon as there is room, unless loopback cuts it off.
  if (pendingInput.length > 0 && rxFifo.length < capacity && !(mcr & MCR_LOOPBACK)) {
    throw new RangeError(`${what}.pendingInput must be empty while rxFifo has room`);
  }
  return {
    version: UART_STATE_VERSION,
    divisorLatch: expectInt(fields, "divisorLatch", 0, 0xffff, what),
    ier,
    lcr: expectInt(fields, "lcr", 0, 0xff, what),
    mcr,
    scratch: expectInt(fields, "scratch", 0, 0xff, what),
    fifoEnabled,
    rxTriggerLevel: rxTriggerLevel as RxTriggerLevel,
    lineErrors,
    thrEmptyInterrupt,
    modemDeltas: expectInt(fields, "modemDeltas", 0, 0x0f, what),
    rxFifo: [...rxFifo],
    pendingInput: [...pendingInput],
  };
}
