// The two-byte opcode map (0F xx).
// PLACEHOLDER until the two-byte map lands: every opcode raises #UD.
import { raiseFault, NO_ERROR_CODE } from "./fault";
import { fetch8 } from "./cpu";

export function exec0F(): void {
  fetch8();
  raiseFault(6, NO_ERROR_CODE);
}
