// Saved state of PCI bus 0: every function's 256-byte configuration space
// (which holds BAR addresses, command bits and, in the status register, each
// INTx level) plus whatever a function keeps outside it.
import { expectBytes, expectInt, expectObject, expectVersion } from "../../platform/state-check.ts";
import { CONFIG_SPACE_SIZE, MAX_FUNCTIONS, MAX_SLOTS } from "./config-header.ts";

export const PCI_BUS_STATE_VERSION = 1;

export interface PciFunctionState {
  slot: number;
  function: number;
  config: number[];
  /** Device-specific state outside configuration space, when the function has any. */
  device?: unknown;
}

export interface PciBusState {
  version: typeof PCI_BUS_STATE_VERSION;
  /** Ordered by slot, then function. */
  functions: PciFunctionState[];
}

/** Checks the shape of a saved bus state; the functions check their own contents. */
export function parsePciBusState(value: unknown): PciBusState {
  const what = "PCI bus state";
  const fields = expectObject(value, what);
  expectVersion(fields, PCI_BUS_STATE_VERSION, what);
  const functions = fields.functions;
  if (!Array.isArray(functions)) throw new TypeError(`${what}.functions must be an array`);
  return {
    version: PCI_BUS_STATE_VERSION,
    functions: functions.map((entry: unknown, i) => {
      const where = `${what}.functions[${i}]`;
      const fn = expectObject(entry, where);
      const parsed: PciFunctionState = {
        slot: expectInt(fn, "slot", 0, MAX_SLOTS - 1, where),
        function: expectInt(fn, "function", 0, MAX_FUNCTIONS - 1, where),
        config: [...expectBytes(fn, "config", CONFIG_SPACE_SIZE, CONFIG_SPACE_SIZE, where)],
      };
      if (fn.device !== undefined) parsed.device = fn.device;
      return parsed;
    }),
  };
}
