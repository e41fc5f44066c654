// virtio-balloon, validated by the Linux guest's own virtio_balloon driver:
// it binds to our device, gives back the memory we ask for and takes it
// back, and its statistics follow what the guest really does.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinuxSession } from "../helpers/linux-guest.ts";
import { until } from "../helpers/wait.ts";

const RAM = 128 * 1024 * 1024;
const MIB = 1024 * 1024;
const BOOT_TIMEOUT_MS = 120_000;

describe("virtio-balloon in the Linux guest", () => {
  let guest: LinuxSession;

  beforeAll(async () => {
    guest = await LinuxSession.boot({ ramBytes: RAM });
    await guest.waitForPrompt(BOOT_TIMEOUT_MS);
  }, BOOT_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    await guest?.close();
  });

  const meminfo = async (field: string) => {
    const line = await guest.run(`grep ^${field}: /proc/meminfo`);
    return Number(/(\d+) kB/.exec(line)![1]) * 1024;
  };

  it("the guest sees device 0x0005 on the virtio bus, bound to virtio_balloon", async () => {
    expect(await guest.run("cat /sys/bus/virtio/devices/*/device")).toBe("0x0005\n");
    const driver = await guest.run("basename $(readlink /sys/bus/virtio/devices/virtio0/driver)");
    expect(driver).toBe("virtio_balloon\n");
    expect(await guest.run("cat /sys/bus/pci/devices/0000:00:02.0/vendor")).toBe("0x1af4\n");
  });

  it("a target 64 MiB below RAM takes 64 MiB from the guest; the full target gives it back", async () => {
    const balloon = guest.machine.balloon!;
    const availableBefore = await meminfo("MemAvailable");
    balloon.setTargetBytes(RAM - 64 * MIB);
    await until(
      () => balloon.info().actualBytes === RAM - 64 * MIB,
      30_000,
      "actual to reach the target",
    );
    expect(balloon.info().balloonedPages).toBe((64 * MIB) / 4096);
    const availableInflated = await meminfo("MemAvailable");
    const taken = availableBefore - availableInflated;
    expect(taken).toBeGreaterThan(60 * MIB);
    expect(taken).toBeLessThan(68 * MIB);

    balloon.setTargetBytes(RAM);
    await until(() => balloon.info().actualBytes === RAM, 30_000, "actual to return to RAM");
    expect(balloon.info().balloonedPages).toBe(0);
    const availableAfter = await meminfo("MemAvailable");
    expect(Math.abs(availableAfter - availableBefore)).toBeLessThan(4 * MIB);
    expect(guest.machine.deviceLog).toEqual([]);
  }, 90_000);

  it("the guest reports its free memory (free page reporting) and the device discards it", async () => {
    const features = (await guest.run("cat /sys/bus/virtio/devices/virtio0/features")).trim();
    expect(features[5]).toBe("1"); // VIRTIO_BALLOON_F_REPORTING negotiated
    expect(await guest.run("cat /sys/module/page_reporting/parameters/page_reporting_order")).toBe(
      "5\n",
    );
    const balloon = guest.machine.balloon!;
    // Linux reports 2 s after memory is freed, in chunks of 32 pages or more.
    await guest.run("dd if=/dev/zero of=/tmp/fill bs=1M count=16 2>/dev/null; rm /tmp/fill");
    await until(
      () => balloon.info().reportedPages > (32 * MIB) / 4096,
      20_000,
      "free page reports",
    );
    expect(guest.machine.deviceLog).toEqual([]);
    expect(await guest.run("echo still-$((2+3))")).toBe("still-5\n");
  }, 60_000);

  it("the statistics change when a guest process allocates and frees memory", async () => {
    const balloon = guest.machine.balloon!;
    balloon.setStatsInterval(300);
    const fresh = async () => {
      // Wait for a set of statistics taken after this moment.
      const since = guest.machine.now();
      await until(
        () => balloon.info().statsAgeSeconds !== null && guest.machine.now() - since > 0.7e9,
        10_000,
        "fresh statistics",
      );
      return balloon.info().stats;
    };
    const before = await fresh();
    expect(before.totalMemory).toBeGreaterThan(120 * MIB);
    expect(before.totalMemory).toBeLessThanOrEqual(RAM);
    await guest.run("dd if=/dev/zero of=/tmp/fill bs=1M count=32 2>/dev/null");
    const filled = await fresh();
    expect(before.freeMemory! - filled.freeMemory!).toBeGreaterThan(30 * MIB);
    expect(filled.minorFaults!).toBeGreaterThan(before.minorFaults!);
    await guest.run("rm /tmp/fill");
    const freed = await fresh();
    expect(freed.freeMemory! - filled.freeMemory!).toBeGreaterThan(30 * MIB);
    expect(Math.abs(freed.freeMemory! - before.freeMemory!)).toBeLessThan(4 * MIB);
  }, 60_000);
});
