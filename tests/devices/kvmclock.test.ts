// kvm-clock against the pvclock ABI as Linux reads it: the version protocol,
// the TSC-to-ns conversion agreeing with the machine clock, the wall clock at
// boot, GUEST_STOPPED after a pause, and refusal of addresses outside RAM.
import { describe, expect, it } from "vitest";
import { Core } from "../../src/core/core.ts";
import {
  hypervisorCpuid,
  KvmClock,
  MSR_KVM_SYSTEM_TIME_NEW,
  MSR_KVM_WALL_CLOCK_NEW,
} from "../../src/devices/kvmclock/device.ts";
import { scaleTicks, timeScaleFor } from "../../src/devices/kvmclock/time-scale.ts";
import { ManualClock } from "../../src/platform/clock.ts";
import { TimeStampCounter } from "../../src/platform/tsc.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const RAM = 4 * 1024 * 1024;
const TIME_INFO = 0x3000;
const WALL = 0x4000;

interface TimeInfo {
  version: number;
  tscTimestamp: bigint;
  systemTime: bigint;
  mul: number;
  shift: number;
  flags: number;
}

function readTimeInfo(core: Core, at = TIME_INFO): TimeInfo {
  const bytes = core.memory.read(at, 32);
  const view = new DataView(bytes.buffer);
  return {
    version: view.getUint32(0, true),
    tscTimestamp: view.getBigUint64(8, true),
    systemTime: view.getBigUint64(16, true),
    mul: view.getUint32(24, true),
    shift: view.getInt8(28),
    flags: view.getUint8(29),
  };
}

/** What Linux's pvclock_clocksource_read computes from the structure and a TSC value. */
function guestNanoseconds(info: TimeInfo, tsc: bigint): bigint {
  return info.systemTime + scaleTicks(tsc - info.tscTimestamp, info);
}

async function setup(tscHz = 1_000_000_000, wallMs = Date.UTC(2026, 5, 1, 12, 0, 0)) {
  const core = await Core.create({ ramBytes: RAM });
  const clock = new ManualClock();
  const tsc = new TimeStampCounter(clock, tscHz);
  const logs: string[] = [];
  let wall = wallMs;
  const kvmClock = new KvmClock({
    clock,
    tsc,
    memory: core.memory,
    wallTimeMs: () => wall,
    log: (m) => logs.push(m),
  });
  return { core, clock, tsc, kvmClock, logs, setWall: (ms: number) => (wall = ms) };
}

describe("pvclock time scale", () => {
  it.each([1_000_000_000, 2_400_000_000, 1_193_182, 3_000_000_000, 10_000_000_000])(
    "converts %d Hz ticks to nanoseconds within 1 ns per second",
    (hz) => {
      const scale = timeScaleFor(hz);
      expect(scale.mul).toBeGreaterThanOrEqual(2 ** 31);
      expect(scale.mul).toBeLessThan(2 ** 32);
      for (const seconds of [1n, 60n, 86_400n]) {
        const ns = scaleTicks(BigInt(hz) * seconds, scale);
        const error = ns - seconds * 1_000_000_000n;
        expect(error <= 0n && error >= -seconds).toBe(true);
      }
    },
  );
});

describe("kvm-clock", () => {
  it("advertises KVM at 0x40000100 with CLOCKSOURCE2 and the stable bit, and the hypervisor bit", () => {
    const leaves = hypervisorCpuid({
      leaf: 1,
      subleaf: 0,
      eax: 0x652,
      ebx: 0,
      ecx: 0,
      edx: 0x8139,
    });
    const byLeaf = new Map(leaves.map((l) => [l.leaf, l]));
    expect(byLeaf.get(1)!.ecx >>> 31).toBe(1);
    expect(byLeaf.get(1)!.edx).toBe(0x8139);
    const kvm = byLeaf.get(0x40000100)!;
    const text = (...regs: number[]) =>
      Buffer.from(Uint32Array.from(regs).buffer).toString("latin1");
    expect(text(kvm.ebx, kvm.ecx, kvm.edx)).toBe("KVMKVMKVM\0\0\0");
    expect(kvm.eax).toBe(0x40000101);
    const own = byLeaf.get(0x40000000)!;
    expect(text(own.ebx, own.ecx, own.edx)).toBe("hive86hive86");
    const features = byLeaf.get(0x40000101)!.eax;
    expect(features).toBe((1 << 3) | (1 << 24));
  });

  it("publishes a time info whose conversion of the TSC equals the machine clock", async () => {
    for (const hz of [1_000_000_000, 2_400_000_000]) {
      const { core, clock, tsc, kvmClock } = await setup(hz);
      clock.advanceBy(1_234_567_891);
      kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO | 1));
      expect(kvmClock.enabled).toBe(true);
      expect(kvmClock.readMsr(MSR_KVM_SYSTEM_TIME_NEW)).toBe(BigInt(TIME_INFO | 1));
      const info = readTimeInfo(core);
      expect(info.version % 2).toBe(0);
      expect(info.version).toBeGreaterThan(0);
      expect(info.flags & 1).toBe(1); // PVCLOCK_TSC_STABLE_BIT
      expect(info.flags & 2).toBe(0);
      expect(info.systemTime).toBe(1_234_567_891n);
      // Later: what the guest computes from its TSC is the machine clock.
      clock.advanceBy(5_000_000_000);
      const guestNs = guestNanoseconds(info, BigInt(tsc.read()));
      expect(Number(guestNs) - clock.now()).toBeLessThanOrEqual(0);
      expect(Number(guestNs) - clock.now()).toBeGreaterThanOrEqual(-6);
    }
  });

  it("bumps the version by two on each publication and marks dirty pages", async () => {
    const { core, kvmClock } = await setup();
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO | 1));
    const first = readTimeInfo(core).version;
    core.harvestDirty();
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO | 1));
    expect(readTimeInfo(core).version).toBe(first + 2);
    expect(core.harvestDirty()).toEqual([TIME_INFO >> 12]);
  });

  it("does not publish while disabled (bit 0 clear)", async () => {
    const { core, kvmClock } = await setup();
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO));
    expect(kvmClock.enabled).toBe(false);
    expect(core.memory.read(TIME_INFO, 32).every((b) => b === 0)).toBe(true);
  });

  it("writes the wall time at system time 0", async () => {
    const wallMs = Date.UTC(2026, 11, 1, 8, 30, 15, 250);
    const { core, clock, kvmClock } = await setup(1_000_000_000, wallMs);
    clock.advanceBy(3_500_000_000); // the guest has run 3.5 s
    kvmClock.writeMsr(MSR_KVM_WALL_CLOCK_NEW, BigInt(WALL));
    const version = core.memory.read32(WALL);
    const sec = core.memory.read32(WALL + 4);
    const nsec = core.memory.read32(WALL + 8);
    expect(version % 2).toBe(0);
    expect(version).toBeGreaterThan(0);
    expect(BigInt(sec) * 1_000_000_000n + BigInt(nsec)).toBe(BigInt(wallMs - 3500) * 1_000_000n);
    expect(kvmClock.readMsr(MSR_KVM_WALL_CLOCK_NEW)).toBe(BigInt(WALL));
  });

  it("ignores (and logs) structures that would not lie in guest RAM, as KVM does", async () => {
    const { core, kvmClock, logs } = await setup();
    core.harvestDirty();
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt((RAM - 16) | 1));
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, (1n << 40n) | 1n);
    kvmClock.writeMsr(MSR_KVM_WALL_CLOCK_NEW, BigInt(RAM));
    expect(logs).toHaveLength(3);
    expect(logs[0]).toMatch(/outside guest RAM/);
    expect(core.harvestDirty()).toEqual([]);
    // The MSR still reads back what was written.
    expect(kvmClock.readMsr(MSR_KVM_SYSTEM_TIME_NEW)).toBe((1n << 40n) | 1n);
  });

  it("tells the guest it was stopped when it resumes, once", async () => {
    const { core, clock, kvmClock } = await setup();
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO | 1));
    clock.advanceBy(1000);
    kvmClock.resumed();
    const info = readTimeInfo(core);
    expect(info.flags & 2).toBe(2); // PVCLOCK_GUEST_STOPPED
    expect(info.systemTime).toBe(1000n);
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO | 1));
    expect(readTimeInfo(core).flags & 2).toBe(0);
  });

  it("saves and restores its MSRs; a restored clock republishes on resume", async () => {
    const a = await setup();
    a.kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO | 1));
    a.kvmClock.writeMsr(MSR_KVM_WALL_CLOCK_NEW, BigInt(WALL));
    const state = JSON.parse(JSON.stringify(a.kvmClock.save()));
    const b = await setup();
    b.core.memory.write(0, a.core.memory.read(0, RAM));
    b.clock.advanceBy(42);
    restoreComponent(b.kvmClock, state);
    expect(b.kvmClock.readMsr(MSR_KVM_SYSTEM_TIME_NEW)).toBe(BigInt(TIME_INFO | 1));
    expect(b.kvmClock.readMsr(MSR_KVM_WALL_CLOCK_NEW)).toBe(BigInt(WALL));
    b.kvmClock.resumed();
    const info = readTimeInfo(b.core);
    expect(info.version).toBe(readTimeInfo(a.core).version + 2);
    expect(info.systemTime).toBe(42n);
    expect(info.flags & 2).toBe(2);
  });

  it("rejects malformed state without changing anything", async () => {
    const { kvmClock } = await setup();
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO | 1));
    const before = kvmClock.save();
    expect(() => restoreComponent(kvmClock, { ...before, version: 2 })).toThrow(RangeError);
    expect(() => restoreComponent(kvmClock, { ...before, systemTime: { lo: -1, hi: 0 } })).toThrow(
      RangeError,
    );
    expect(() => restoreComponent(kvmClock, { ...before, stoppedPending: "yes" })).toThrow(
      TypeError,
    );
    expect(() => restoreComponent(kvmClock, null)).toThrow(TypeError);
    expect(kvmClock.save()).toEqual(before);
  });
});

describe("kvm-clock info for a host's display", () => {
  it("gives the guest's wall time from its structure, and the flags as the guest left them", async () => {
    const { core, clock, kvmClock, setWall } = await setup();
    expect(kvmClock.info().guestWallMs).toBeNull(); // before the guest asks
    clock.advanceBy(5e9);
    kvmClock.writeMsr(MSR_KVM_WALL_CLOCK_NEW, BigInt(WALL));
    kvmClock.writeMsr(MSR_KVM_SYSTEM_TIME_NEW, BigInt(TIME_INFO | 1));
    clock.advanceBy(2_500_000); // 2.5 ms later
    setWall(Date.UTC(2026, 5, 1, 12, 0, 0) + 2.5);
    const info = kvmClock.info();
    expect(info.enabled).toBe(true);
    // Boot time (wall at the MSR write minus 5 s) plus system time: the host's wall time now.
    expect(info.guestWallMs).toBeCloseTo(Date.UTC(2026, 5, 1, 12, 0, 0) + 2.5, 3);
    expect(info.systemTimeNs).toBe(5_002_500_000);
    expect(info.flags).toBe(1); // TSC_STABLE
    kvmClock.resumed();
    expect(kvmClock.info().flags).toBe(3); // GUEST_STOPPED published
    core.memory.write8(TIME_INFO + 29, 1); // the guest saw it and cleared it
    expect(kvmClock.info().flags).toBe(1);
    expect(kvmClock.info().version).toBe(readTimeInfo(core).version);
  });
});
