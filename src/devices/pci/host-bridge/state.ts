// The 440FX host bridge's state outside configuration space: the address
// register of configuration mechanism #1.
import { expectInt, expectObject, expectVersion } from "../../../platform/state-check.ts";
import { CONFIG_ADDRESS_MASK } from "../config-ports.ts";

export const HOST_BRIDGE_STATE_VERSION = 1;

export interface HostBridgeState {
  version: typeof HOST_BRIDGE_STATE_VERSION;
  /** The dword last written to 0xCF8 (reserved bits zero). */
  configAddress: number;
}

export function parseHostBridgeState(value: unknown, what: string): HostBridgeState {
  const fields = expectObject(value, what);
  expectVersion(fields, HOST_BRIDGE_STATE_VERSION, what);
  const configAddress = expectInt(fields, "configAddress", 0, 0xffffffff, what);
  if ((configAddress & ~CONFIG_ADDRESS_MASK) !== 0) {
    throw new RangeError(
      `${what}.configAddress has reserved bits set: 0x${configAddress.toString(16)}`,
    );
  }
  return { version: HOST_BRIDGE_STATE_VERSION, configAddress };
}
