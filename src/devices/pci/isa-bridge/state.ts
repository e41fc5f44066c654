// The PIIX3's state outside configuration space: the reset control register
// at port 0xCF9. (PIRQRC lives in configuration space, link levels follow
// from the functions' INTx bits.)
import { expectInt, expectObject, expectVersion } from "../../../platform/state-check.ts";

export const ISA_BRIDGE_STATE_VERSION = 1;
/** The only bit of the reset control register that holds a value (SRST, hard reset). */
export const RESET_CONTROL_STORED = 0x02;

export interface IsaBridgeState {
  version: typeof ISA_BRIDGE_STATE_VERSION;
  resetControl: number;
}

export function parseIsaBridgeState(value: unknown, what: string): IsaBridgeState {
  const fields = expectObject(value, what);
  expectVersion(fields, ISA_BRIDGE_STATE_VERSION, what);
  const resetControl = expectInt(fields, "resetControl", 0, 0xff, what);
  if (resetControl & ~RESET_CONTROL_STORED) {
    throw new RangeError(`${what}.resetControl may only have bit 1 set, got ${resetControl}`);
  }
  return { version: ISA_BRIDGE_STATE_VERSION, resetControl };
}
