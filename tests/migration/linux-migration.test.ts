// The Linux guest moved live between two machines in one process, over a
// link as slow as a browser's data channel: what the guest sees of the move
// (its processes, boot id, uptime and clock), the balloon's effect on the
// bytes sent, and a guest that outruns the link converging by throttling.
import { afterEach, describe, expect, it } from "vitest";
import { receiveMigration } from "../../src/migration/destination.ts";
import { migrateOut, type SourceOptions } from "../../src/migration/source.ts";
import type { MigrationTrace } from "../../src/migration/trace.ts";
import { memoryTransportPair } from "../../src/migration/transports/memory.ts";
import { LinuxSession } from "../helpers/linux-guest.ts";
import { WORKLOADS } from "../reliability/soak.ts";
import { sharedCodec, sleep } from "./helpers.ts";

/** The data channel's rate measured here (../shared/browser.md: 11-20 MB/s). */
const LINK = { bytesPerSecond: 15e6, latencyMs: 0.5 };
const sessions: LinuxSession[] = [];
afterEach(async () => {
  for (const session of sessions.splice(0)) await session.close();
});

async function bootedGuest(
  options: Parameters<typeof LinuxSession.boot>[0] = {},
): Promise<LinuxSession> {
  const guest = await LinuxSession.boot(options);
  sessions.push(guest);
  await guest.waitForPrompt(120_000);
  return guest;
}

async function migrate(
  from: LinuxSession,
  options: Partial<SourceOptions> = {},
): Promise<{ to: LinuxSession; trace: MigrationTrace }> {
  const codec = await sharedCodec();
  const [a, b] = memoryTransportPair(LINK);
  const { session, create } = LinuxSession.forIncoming();
  const incoming = receiveMigration(b, { codec, createMachine: create });
  const trace = await migrateOut(from.machine, a, { codec, ...options });
  const arrived = await incoming;
  expect(trace.outcome, trace.reason ?? "").toBe("completed");
  expect(arrived.machine).not.toBeNull();
  sessions.push(session);
  return { to: session, trace };
}

const uptime = async (guest: LinuxSession) =>
  Number((await guest.run("cat /proc/uptime")).split(" ")[0]);

describe("the Linux guest, moved live", () => {
  it("keeps its processes, boot id, uptime and clock; kvm-clock stays, no watchdog complaints", async () => {
    const source = await bootedGuest();
    source.type("(i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done) &\r");
    const bootId = await source.run("cat /proc/sys/kernel/random/boot_id");
    await sleep(500);
    const before = {
      uptime: await uptime(source),
      count: Number(await source.run("cat /tmp/count")),
    };
    const hostBefore = performance.now();

    const { to, trace } = await migrate(source, { verify: true });
    expect(trace.verify?.match).toBe(true);
    expect(trace.downtimeMs).toBeGreaterThan(0);
    expect(trace.clockAdvanceMs).toBeGreaterThan(0);

    expect(await to.run("cat /proc/sys/kernel/random/boot_id")).toBe(bootId);
    const after = { uptime: await uptime(to), count: Number(await to.run("cat /tmp/count")) };
    const hostSeconds = (performance.now() - hostBefore) / 1000;
    // Guest time went on with the host's: no jump back, no time lost in the move.
    expect(after.uptime).toBeGreaterThan(before.uptime);
    expect(Math.abs(after.uptime - before.uptime - hostSeconds)).toBeLessThan(1);
    expect(after.count).toBeGreaterThan(before.count);
    await sleep(300);
    expect(Number(await to.run("cat /tmp/count"))).toBeGreaterThan(after.count);
    const date = Number(await to.run("date +%s"));
    expect(Math.abs(date - Date.now() / 1000)).toBeLessThan(2);
    expect(
      await to.run("cat /sys/devices/system/clocksource/clocksource0/current_clocksource"),
    ).toBe("kvm-clock\n");
    const dmesg = await to.run("dmesg");
    expect(dmesg).not.toMatch(/unstable|soft lockup|watchdog|hung task/i);
    expect(dmesg.match(/Switched to clocksource/g)).toEqual(["Switched to clocksource"]); // at boot only
    // The source is stopped for good, where it left off.
    expect(source.machine.runState).toBe("paused");
  }, 180_000);

  it("sends fewer bytes with the balloon inflated by 64 MiB", async () => {
    // Free page reporting would zero the freed data by itself 2 s later (it is
    // on by default): off here, the balloon alone decides what is sent.
    const guest = await bootedGuest({ balloon: { freePageReporting: false } });
    // ~40 MB of data written and freed: stale, non-zero free memory.
    await guest.run(
      "i=0; while [ $i -lt 20 ]; do cat /bin/busybox >> /dev/shm/fill; i=$((i+1)); done; rm /dev/shm/fill",
    );
    const { to, trace: plain } = await migrate(guest);
    to.machine.balloon!.setTargetBytes(64 * 2 ** 20);
    for (let i = 0; i < 100 && to.machine.balloon!.info().balloonedPages < 16384; i++)
      await sleep(100);
    expect(to.machine.balloon!.info().balloonedPages).toBe(16384);
    const { trace: ballooned } = await migrate(to);
    expect(ballooned.totals.balloonedPages).toBeGreaterThanOrEqual(16384);
    const bytes = (t: MigrationTrace) => t.totals.wireBytes + t.totals.stateBytes;
    expect(bytes(plain)).toBeGreaterThan(20e6);
    expect(bytes(ballooned)).toBeLessThan(bytes(plain) * 0.7);
  }, 180_000);

  it("a guest that dirties memory faster than the link drains is throttled until it fits the downtime limit", async () => {
    const guest = await bootedGuest();
    guest.type(`${WORKLOADS.fast}\r`);
    await sleep(1500);
    const { to, trace } = await migrate(guest, { verify: true });
    expect(Math.min(...trace.rounds.map((r) => r.throttle))).toBeLessThan(1);
    expect(trace.downtimeMs).toBeLessThanOrEqual(trace.settings.downtimeLimitMs);
    expect(trace.verify?.match).toBe(true);
    expect(to.machine.throttle).toBe(1); // the destination runs at full speed
    expect(await to.run("echo fine-$((1+1))")).toBe("fine-2\n");
  }, 180_000);
});
