// The machine's saved state: its configuration and every stateful
// component's own state, keyed by the component's id (see
// platform/stateful.ts). Guest RAM is not in it: snapshots and migration move
// RAM by pages beside it. Plain data, JSON-friendly.
import { expectObject, expectVersion } from "../platform/state-check.ts";
import { configMismatch, parseMachineConfig, type MachineConfig } from "./machine-config.ts";

export const MACHINE_STATE_VERSION = 2;

export interface MachineState {
  version: typeof MACHINE_STATE_VERSION;
  config: MachineConfig;
  /** Each component's state by its id: clock, cpu, pic, pci, ... */
  components: Record<string, unknown>;
}

/**
 * Checks the envelope against the machine it is for: the same configuration
 * and exactly its components (each component checks its own part).
 */
export function parseMachineState(
  value: unknown,
  config: MachineConfig,
  componentIds: readonly string[],
): MachineState {
  const what = "machine state";
  const fields = expectObject(value, what);
  expectVersion(fields, MACHINE_STATE_VERSION, what);
  const theirs = parseMachineConfig(fields.config);
  const mismatch = configMismatch(theirs, config);
  if (mismatch) throw new RangeError(`${what} does not fit this machine: ${mismatch}`);
  const components = expectObject(fields.components, `${what}.components`);
  for (const id of componentIds) {
    if (!(id in components)) throw new TypeError(`${what}.components.${id} is missing`);
  }
  for (const id of Object.keys(components)) {
    if (!componentIds.includes(id)) {
      throw new RangeError(`${what}.components.${id} is a component this machine does not have`);
    }
  }
  return { version: MACHINE_STATE_VERSION, config: theirs, components };
}
