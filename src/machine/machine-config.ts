// What a machine is made of, as plain data apart from the host's callbacks:
// its RAM, TSC rate and devices. It travels in every saved state and opens
// every migration, so a destination can build the same machine or say
// exactly why it cannot.
import { expectBool, expectInt, expectObject, expectVersion } from "../platform/state-check.ts";
import { DEFAULT_STATS_INTERVAL_MS } from "../devices/virtio/balloon/device.ts";
import { DEFAULT_TSC_HZ } from "../platform/tsc.ts";

export const MACHINE_CONFIG_VERSION = 1;
const MIB = 1024 * 1024;
/** The core's limit (wasm/layout.ts MAX_RAM). */
export const MAX_RAM_BYTES = 2048 * MIB;

export interface BalloonConfig {
  statsIntervalMs: number;
  freePageReporting: boolean;
}

export interface MachineConfig {
  version: typeof MACHINE_CONFIG_VERSION;
  ramBytes: number;
  tscHz: number;
  /** kvm-clock and the KVM CPUID leaves. */
  kvmClock: boolean;
  /** virtio-balloon at PCI 00:02.0, or null. */
  balloon: BalloonConfig | null;
}

/** The options Machine.create takes that shape the machine (the rest are host callbacks). */
export interface MachineShape {
  ramBytes: number;
  tscHz?: number;
  balloon?: boolean | { statsIntervalMs?: number; freePageReporting?: boolean };
  kvmClock?: boolean;
}

export function configOf(shape: MachineShape): MachineConfig {
  const balloon = shape.balloon ?? true;
  return {
    version: MACHINE_CONFIG_VERSION,
    ramBytes: shape.ramBytes,
    tscHz: shape.tscHz ?? DEFAULT_TSC_HZ,
    kvmClock: shape.kvmClock ?? true,
    balloon:
      balloon === false
        ? null
        : {
            statsIntervalMs:
              (balloon === true ? undefined : balloon.statsIntervalMs) ?? DEFAULT_STATS_INTERVAL_MS,
            freePageReporting: (balloon === true ? undefined : balloon.freePageReporting) ?? true,
          },
  };
}

/** Checks a configuration from a file or a peer; throws TypeError/RangeError naming the field. */
export function parseMachineConfig(value: unknown): MachineConfig {
  const what = "machine config";
  const fields = expectObject(value, what);
  expectVersion(fields, MACHINE_CONFIG_VERSION, what);
  const ramBytes = expectInt(fields, "ramBytes", MIB, MAX_RAM_BYTES, what);
  if (ramBytes % 4096 !== 0) throw new RangeError(`${what}.ramBytes must be whole 4 KiB pages`);
  const tscHz = expectInt(fields, "tscHz", 1_000_000, 10_000_000_000, what);
  const kvmClock = expectBool(fields, "kvmClock", what);
  let balloon: BalloonConfig | null = null;
  if (fields.balloon !== null) {
    const b = expectObject(fields.balloon, `${what}.balloon`);
    balloon = {
      statsIntervalMs: expectInt(b, "statsIntervalMs", 0, 86_400_000, `${what}.balloon`),
      freePageReporting: expectBool(b, "freePageReporting", `${what}.balloon`),
    };
  }
  return { version: MACHINE_CONFIG_VERSION, ramBytes, tscHz, kvmClock, balloon };
}

function describeRam(bytes: number): string {
  return bytes % MIB === 0 ? `${bytes / MIB} MiB` : `${bytes} bytes`;
}

/**
 * Why a state or guest made on `theirs` cannot run on `ours`, in words a
 * person understands; null when they match.
 */
export function configMismatch(theirs: MachineConfig, ours: MachineConfig): string | null {
  if (theirs.ramBytes !== ours.ramBytes) {
    return `RAM differs: the guest has ${describeRam(theirs.ramBytes)}, this machine ${describeRam(ours.ramBytes)}`;
  }
  if (theirs.tscHz !== ours.tscHz) {
    return `TSC rate differs: the guest's runs at ${theirs.tscHz} Hz, this machine's at ${ours.tscHz} Hz`;
  }
  if (theirs.kvmClock !== ours.kvmClock) {
    return `the guest was made ${theirs.kvmClock ? "with" : "without"} kvm-clock, this machine ${ours.kvmClock ? "has" : "has not"} it`;
  }
  if ((theirs.balloon === null) !== (ours.balloon === null)) {
    return `the guest was made ${theirs.balloon ? "with" : "without"} a virtio-balloon, this machine ${ours.balloon ? "has" : "has not"} one`;
  }
  if (theirs.balloon && ours.balloon) {
    if (theirs.balloon.freePageReporting !== ours.balloon.freePageReporting) {
      return "the balloons differ in free page reporting";
    }
  }
  return null;
}
