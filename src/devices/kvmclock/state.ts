// kvm-clock's saved state: the two MSRs as the guest wrote them.
import { expectBool, expectInt, expectObject, expectVersion } from "../../platform/state-check.ts";

export const KVMCLOCK_STATE_VERSION = 1;

export interface KvmClockState {
  version: typeof KVMCLOCK_STATE_VERSION;
  /** MSR_KVM_SYSTEM_TIME_NEW, as two 32-bit halves. */
  systemTime: { lo: number; hi: number };
  /** MSR_KVM_WALL_CLOCK_NEW. */
  wallClock: { lo: number; hi: number };
  /** The pvclock_vcpu_time_info version counter last published. */
  timeInfoVersion: number;
  /** The guest must be told it was stopped when it next runs. */
  stoppedPending: boolean;
}

function msrHalves(value: unknown, what: string): { lo: number; hi: number } {
  const fields = expectObject(value, what);
  return {
    lo: expectInt(fields, "lo", 0, 0xffffffff, what),
    hi: expectInt(fields, "hi", 0, 0xffffffff, what),
  };
}

export function parseKvmClockState(value: unknown): KvmClockState {
  const what = "kvm-clock state";
  const fields = expectObject(value, what);
  expectVersion(fields, KVMCLOCK_STATE_VERSION, what);
  return {
    version: KVMCLOCK_STATE_VERSION,
    systemTime: msrHalves(fields.systemTime, `${what}.systemTime`),
    wallClock: msrHalves(fields.wallClock, `${what}.wallClock`),
    timeInfoVersion: expectInt(fields, "timeInfoVersion", 0, 0xffffffff, what),
    stoppedPending: expectBool(fields, "stoppedPending", what),
  };
}
