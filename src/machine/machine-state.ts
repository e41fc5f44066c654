// The machine's saved state: a versioned tree of every component's own state
// (CPU, clock, TSC, each device). Guest RAM is not in it: snapshots and
// migration move RAM by pages beside it. Plain data, JSON-friendly.
import { expectInt, expectNumber, expectObject, expectVersion } from "../devices/state-check.ts";

export const MACHINE_STATE_VERSION = 1;

export interface MachineState {
  version: typeof MACHINE_STATE_VERSION;
  ramBytes: number;
  /** Machine-clock time (ns) when the state was taken; the restored clock starts there. */
  clockNs: number;
  tsc: unknown;
  cpu: unknown;
  devices: {
    pic: unknown;
    pit: unknown;
    rtc: unknown;
    uart: unknown;
    kbc: unknown;
    pci: unknown;
    /** null on a machine without kvm-clock. */
    kvmClock: unknown;
  };
}

const DEVICE_NAMES = ["pic", "pit", "rtc", "uart", "kbc", "pci", "kvmClock"] as const;

/** Checks the envelope (the components check their own parts). */
export function parseMachineState(value: unknown, ramBytes: number): MachineState {
  const what = "machine state";
  const fields = expectObject(value, what);
  expectVersion(fields, MACHINE_STATE_VERSION, what);
  const savedRam = expectInt(fields, "ramBytes", 0, 2 ** 32, what);
  if (savedRam !== ramBytes) {
    throw new RangeError(`${what} is for ${savedRam} bytes of RAM; this machine has ${ramBytes}`);
  }
  const clockNs = expectNumber(fields, "clockNs", 0, Number.MAX_SAFE_INTEGER, what);
  const devices = expectObject(fields.devices, `${what}.devices`);
  for (const name of DEVICE_NAMES) {
    if (!(name in devices)) throw new TypeError(`${what}.devices.${name} is missing`);
  }
  if (!("cpu" in fields)) throw new TypeError(`${what}.cpu is missing`);
  if (!("tsc" in fields)) throw new TypeError(`${what}.tsc is missing`);
  return {
    version: MACHINE_STATE_VERSION,
    ramBytes,
    clockNs,
    tsc: fields.tsc,
    cpu: fields.cpu,
    devices: {
      pic: devices.pic,
      pit: devices.pit,
      rtc: devices.rtc,
      uart: devices.uart,
      kbc: devices.kbc,
      pci: devices.pci,
      kvmClock: devices.kvmClock,
    },
  };
}
