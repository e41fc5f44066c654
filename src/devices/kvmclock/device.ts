// kvm-clock (pvclock), as KVM presents it: a CPUID signature at 0x40000100
// and two MSRs through which the guest hands us guest-physical addresses to
// publish the boot wall time and a TSC-to-nanoseconds conversion. Everything
// comes from the one machine clock, so the TSC, system time and wall clock
// agree, stop while paused and travel with a snapshot.
import type { CpuidEntry } from "../../core/core.ts";
import type { GuestMemory } from "../../core/guest-memory.ts";
import type { MachineClock } from "../../platform/clock.ts";
import type { Stateful } from "../../platform/stateful.ts";
import type { TimeStampCounter } from "../../platform/tsc.ts";
import { KVMCLOCK_STATE_VERSION, parseKvmClockState, type KvmClockState } from "./state.ts";
import { timeScaleFor, type TimeScale } from "./time-scale.ts";

export const MSR_KVM_WALL_CLOCK_NEW = 0x4b564d00;
export const MSR_KVM_SYSTEM_TIME_NEW = 0x4b564d01;

const KVM_CPUID_BASE = 0x40000100;
const KVM_FEATURE_CLOCKSOURCE2 = 1 << 3;
const KVM_FEATURE_CLOCKSOURCE_STABLE_BIT = 1 << 24;
const CPUID_HYPERVISOR_PRESENT = 1 << 31; // leaf 1 ECX

const PVCLOCK_TSC_STABLE_BIT = 1 << 0;
const PVCLOCK_GUEST_STOPPED = 1 << 1;
const TIME_INFO_BYTES = 32;
/** pvclock_vcpu_time_info.flags: after version, pad, tsc_timestamp, system_time, mul, shift. */
const FLAGS_OFFSET = 29;
const WALL_CLOCK_BYTES = 12;

/** Four ASCII characters as the little-endian u32 a CPUID register holds. */
function fourcc(text: string): number {
  let value = 0;
  for (let i = 0; i < 4; i++) value |= (text.charCodeAt(i) || 0) << (8 * i);
  return value >>> 0;
}

/** The hypervisor CPUID leaves: hive86's own at 0x40000000, KVM's at 0x40000100. */
export function hypervisorCpuid(leaf1: CpuidEntry): CpuidEntry[] {
  const signature = (text: string, leaf: number, maxLeaf: number): CpuidEntry => ({
    leaf,
    subleaf: 0xffffffff,
    eax: maxLeaf,
    ebx: fourcc(text.slice(0, 4)),
    ecx: fourcc(text.slice(4, 8)),
    edx: fourcc(text.slice(8, 12)),
  });
  return [
    { ...leaf1, subleaf: 0xffffffff, ecx: (leaf1.ecx | CPUID_HYPERVISOR_PRESENT) >>> 0 },
    signature("hive86hive86", 0x40000000, 0x40000000),
    signature("KVMKVMKVM\0\0\0", KVM_CPUID_BASE, KVM_CPUID_BASE + 1),
    {
      leaf: KVM_CPUID_BASE + 1,
      subleaf: 0xffffffff,
      // No invariant TSC is advertised (CPUID 0x80000007): Linux would then prefer the TSC.
      eax: (KVM_FEATURE_CLOCKSOURCE2 | KVM_FEATURE_CLOCKSOURCE_STABLE_BIT) >>> 0,
      ebx: 0,
      ecx: 0,
      edx: 0,
    },
  ];
}

export interface KvmClockOptions {
  clock: MachineClock;
  tsc: TimeStampCounter;
  memory: GuestMemory;
  /** The host's wall clock, epoch milliseconds. */
  wallTimeMs?: () => number;
  /** Told about guest requests we refuse (an address outside RAM). */
  log?: (message: string) => void;
}

function toHalves(value: bigint): { lo: number; hi: number } {
  return { lo: Number(value & 0xffffffffn), hi: Number((value >> 32n) & 0xffffffffn) };
}

function fromHalves({ lo, hi }: { lo: number; hi: number }): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** What kvm-clock shows the guest now, for a host's display. */
export interface PvclockInfo {
  /** The guest switched kvm-clock on (its system-time MSR's enable bit). */
  enabled: boolean;
  /** The time info structure's version (odd while an update is in progress). */
  version: number;
  /** TSC to nanoseconds: ns = (tsc << shift or >> -shift) * mul >> 32. */
  mul: number;
  shift: number;
  /** PVCLOCK_TSC_STABLE_BIT (1), PVCLOCK_GUEST_STOPPED (2), as the guest's structure holds them. */
  flags: number;
  /** The guest's TSC now. */
  tsc: number;
  /** The guest's system time now (ns since power-on). */
  systemTimeNs: number;
  /** The guest's wall-clock time now (epoch ms): its boot time plus system time; null before it asked. */
  guestWallMs: number | null;
}

export class KvmClock implements Stateful<KvmClockState> {
  readonly stateId = "kvm-clock";
  private systemTime = 0n;
  private wallClock = 0n;
  private timeInfoVersion = 0;
  private stoppedPending = false;
  private lastFlags = 0;
  private readonly scale: TimeScale;
  private readonly wallTimeMs: () => number;
  private readonly log: (message: string) => void;

  constructor(private readonly options: KvmClockOptions) {
    this.scale = timeScaleFor(options.tsc.hz);
    this.wallTimeMs = options.wallTimeMs ?? (() => Date.now());
    this.log = options.log ?? (() => {});
  }

  /** The guest's current system-time MSR says kvm-clock is on. */
  get enabled(): boolean {
    return (this.systemTime & 1n) === 1n;
  }

  handles(index: number): boolean {
    return index === MSR_KVM_SYSTEM_TIME_NEW || index === MSR_KVM_WALL_CLOCK_NEW;
  }

  readMsr(index: number): bigint {
    return index === MSR_KVM_SYSTEM_TIME_NEW ? this.systemTime : this.wallClock;
  }

  /**
   * Like KVM, a write is accepted whatever the address; an address whose
   * structure would not lie entirely in guest RAM is logged and nothing is
   * written (KVM's guest write fails the same way, without a #GP).
   */
  writeMsr(index: number, value: bigint): void {
    if (index === MSR_KVM_WALL_CLOCK_NEW) {
      this.wallClock = value;
      this.publishWallClock();
    } else {
      this.systemTime = value;
      this.publishTimeInfo();
    }
  }

  /** The machine resumes after a pause, a snapshot restore or a migration. */
  resumed(): void {
    if (!this.enabled) return;
    this.stoppedPending = true;
    this.publishTimeInfo();
  }

  private structureAddress(value: bigint, bytes: number, what: string): number | null {
    const address = value & ~1n;
    if (address + BigInt(bytes) > BigInt(this.options.memory.ramBytes)) {
      this.log(`kvm-clock: ${what} at 0x${address.toString(16)} is outside guest RAM; ignored`);
      return null;
    }
    return Number(address);
  }

  private publishWallClock(): void {
    const address = this.structureAddress(this.wallClock, WALL_CLOCK_BYTES, "wall clock");
    if (address === null) return;
    const memory = this.options.memory;
    // The wall time at system time 0: now on the host minus the guest's system time.
    // Epoch nanoseconds exceed 2^53: build them from whole milliseconds exactly.
    const wallMs = this.wallTimeMs();
    const wholeMs = Math.floor(wallMs);
    const wallNs = BigInt(wholeMs) * 1_000_000n + BigInt(Math.round((wallMs - wholeMs) * 1e6));
    const bootNs = wallNs - BigInt(Math.floor(this.options.clock.now()));
    const clamped = bootNs < 0n ? 0n : bootNs;
    const version = (memory.read32(address) | 1) >>> 0;
    memory.write32(address, version); // odd: an update is in progress
    memory.write32(address + 4, Number((clamped / 1_000_000_000n) & 0xffffffffn));
    memory.write32(address + 8, Number(clamped % 1_000_000_000n));
    memory.write32(address, (version + 1) >>> 0);
  }

  private publishTimeInfo(): void {
    if (!this.enabled) return;
    const address = this.structureAddress(this.systemTime, TIME_INFO_BYTES, "time info");
    if (address === null) return;
    const memory = this.options.memory;
    const now = this.options.clock.now();
    const tsc = BigInt(this.options.tsc.readAt(now));
    const systemNs = BigInt(Math.floor(now));
    let flags = PVCLOCK_TSC_STABLE_BIT;
    if (this.stoppedPending) flags |= PVCLOCK_GUEST_STOPPED;
    this.lastFlags = flags;
    this.stoppedPending = false;
    const odd = (this.timeInfoVersion | 1) >>> 0;
    memory.write32(address, odd);
    const body = new DataView(new ArrayBuffer(TIME_INFO_BYTES - 4));
    body.setUint32(0, 0, true); // pad0
    body.setBigUint64(4, tsc, true); // tsc_timestamp
    body.setBigUint64(12, systemNs, true); // system_time
    body.setUint32(20, this.scale.mul, true); // tsc_to_system_mul
    body.setInt8(24, this.scale.shift); // tsc_shift
    body.setUint8(25, flags);
    memory.write(address + 4, new Uint8Array(body.buffer));
    this.timeInfoVersion = (odd + 1) >>> 0;
    memory.write32(address, this.timeInfoVersion);
  }

  /** What the guest reads of kvm-clock now; the wall time comes from the structure in its RAM. */
  info(): PvclockInfo {
    const now = this.options.clock.now();
    let guestWallMs: number | null = null;
    const address = Number(this.wallClock & ~1n);
    const memory = this.options.memory;
    if (this.wallClock !== 0n && address + WALL_CLOCK_BYTES <= memory.ramBytes) {
      const bootMs = memory.read32(address + 4) * 1000 + memory.read32(address + 8) / 1e6;
      guestWallMs = bootMs + now / 1e6;
    }
    // The flags as the guest has them now: it clears GUEST_STOPPED once it has seen it.
    const timeInfo = Number(this.systemTime & ~1n);
    const flags =
      this.enabled && timeInfo + TIME_INFO_BYTES <= memory.ramBytes
        ? memory.read8(timeInfo + FLAGS_OFFSET)
        : this.lastFlags;
    return {
      enabled: this.enabled,
      version: this.timeInfoVersion,
      mul: this.scale.mul,
      shift: this.scale.shift,
      flags,
      tsc: this.options.tsc.readAt(now),
      systemTimeNs: now,
      guestWallMs,
    };
  }

  save(): KvmClockState {
    return {
      version: KVMCLOCK_STATE_VERSION,
      systemTime: toHalves(this.systemTime),
      wallClock: toHalves(this.wallClock),
      timeInfoVersion: this.timeInfoVersion,
      stoppedPending: this.stoppedPending,
    };
  }

  /** Takes the MSRs back; the guest's structures are republished on resumed(). */
  prepareRestore(state: unknown): () => void {
    const s = parseKvmClockState(state);
    return () => {
      this.systemTime = fromHalves(s.systemTime);
      this.wallClock = fromHalves(s.wallClock);
      this.timeInfoVersion = s.timeInfoVersion;
      this.stoppedPending = s.stoppedPending;
    };
  }
}
