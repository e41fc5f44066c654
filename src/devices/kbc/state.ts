// Saved state of the 8042 keyboard controller: plain, versioned data.
import { expectInt, expectObject, expectVersion } from "../state-check.ts";

export const KBC_STATE_VERSION = 1;

export interface KbcState {
  version: typeof KBC_STATE_VERSION;
  commandByte: number;
  /** The byte waiting in the output buffer, or -1 when it is empty. */
  outputBuffer: number;
  /** A command that expects its parameter on port 0x60, or 0. */
  pendingCommand: number;
  /** Status bit 3: the last write went to the command port. */
  lastWriteWasCommand: number;
}

export function parseKbcState(value: unknown): KbcState {
  const what = "KBC state";
  const fields = expectObject(value, what);
  expectVersion(fields, KBC_STATE_VERSION, what);
  return {
    version: KBC_STATE_VERSION,
    commandByte: expectInt(fields, "commandByte", 0, 0xff, what),
    outputBuffer: expectInt(fields, "outputBuffer", -1, 0xff, what),
    pendingCommand: expectInt(fields, "pendingCommand", 0, 0xff, what),
    lastWriteWasCommand: expectInt(fields, "lastWriteWasCommand", 0, 1, what),
  };
}
