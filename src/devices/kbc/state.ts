// Saved state of the 8042 keyboard controller: plain, versioned data.
import { expectInt, expectObject, expectVersion, type Fields } from "../../platform/state-check.ts";

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

// Only commands that wait for a parameter on port 0x60 can be pending (0: none).
const PARAMETER_COMMANDS = [0, 0x60, 0xd1];

function expectPendingCommand(fields: Fields, what: string): number {
  const command = expectInt(fields, "pendingCommand", 0, 0xff, what);
  if (!PARAMETER_COMMANDS.includes(command)) {
    throw new RangeError(`${what}.pendingCommand 0x${command.toString(16)} takes no parameter`);
  }
  return command;
}

export function parseKbcState(value: unknown): KbcState {
  const what = "KBC state";
  const fields = expectObject(value, what);
  expectVersion(fields, KBC_STATE_VERSION, what);
  return {
    version: KBC_STATE_VERSION,
    commandByte: expectInt(fields, "commandByte", 0, 0xff, what),
    outputBuffer: expectInt(fields, "outputBuffer", -1, 0xff, what),
    pendingCommand: expectPendingCommand(fields, what),
    lastWriteWasCommand: expectInt(fields, "lastWriteWasCommand", 0, 1, what),
  };
}
