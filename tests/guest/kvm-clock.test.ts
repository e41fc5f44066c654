// kvm-clock, validated by the Linux guest's own driver: it finds the KVM
// signature and MSRs, picks kvm-clock as its clocksource, keeps time with the
// host, and stays calm across pauses.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinuxSession } from "../helpers/linux-guest.ts";

const BOOT_TIMEOUT_MS = 120_000;
const MEASURE_SECONDS = 30;

describe("kvm-clock in the Linux guest (realtime clock, no special command line)", () => {
  let guest: LinuxSession;

  beforeAll(async () => {
    guest = await LinuxSession.boot({ cmdline: "console=ttyS0" });
    await guest.waitForPrompt(BOOT_TIMEOUT_MS);
  }, BOOT_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    await guest?.close();
  });

  it("the kernel detects KVM and uses the kvm-clock MSRs", () => {
    expect(guest.output).toContain("Hypervisor detected: KVM");
    expect(guest.output).toContain("kvm-clock: Using msrs 4b564d01 and 4b564d00");
    // The TSC rate comes from pvclock, not from a PIT calibration.
    expect(guest.output).toMatch(/tsc: Detected 1000\.000 MHz processor/);
  });

  it("kvm-clock is the current clocksource", async () => {
    const current = await guest.run(
      "cat /sys/devices/system/clocksource/clocksource0/current_clocksource",
    );
    expect(current).toBe("kvm-clock\n");
  });

  it("date +%s is within 2 s of the host", async () => {
    const guestSeconds = Number((await guest.run("date +%s")).trim());
    expect(Math.abs(guestSeconds - Date.now() / 1000)).toBeLessThan(2);
  });

  it(
    `CLOCK_MONOTONIC advances ${MEASURE_SECONDS} s ± 1 % over ${MEASURE_SECONDS} s of host time`,
    async () => {
      const uptime = async () => {
        const text = await guest.run("cat /proc/uptime");
        return { guest: Number(text.split(" ")[0]), host: performance.now() / 1000 };
      };
      const start = await uptime();
      await new Promise((resolve) => setTimeout(resolve, MEASURE_SECONDS * 1000));
      const end = await uptime();
      const hostElapsed = end.host - start.host;
      const guestElapsed = end.guest - start.guest;
      expect(hostElapsed).toBeGreaterThanOrEqual(MEASURE_SECONDS);
      expect(Math.abs(guestElapsed / hostElapsed - 1)).toBeLessThan(0.01);
    },
    (MEASURE_SECONDS + 30) * 1000,
  );

  it("pause/resume cycles leave no TSC or watchdog complaints in dmesg", async () => {
    for (let i = 0; i < 3; i++) {
      await guest.machine.pause();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      guest.machine.start();
      await guest.run("sleep 1");
    }
    const dmesg = await guest.run("dmesg");
    expect(dmesg).toContain("kvm-clock");
    expect(dmesg).not.toMatch(/TSC unstable|Marking TSC unstable/i);
    expect(dmesg).not.toMatch(/soft lockup|clocksource watchdog|timekeeping watchdog/i);
    expect(
      await guest.run("cat /sys/devices/system/clocksource/clocksource0/current_clocksource"),
    ).toBe("kvm-clock\n");
  }, 60_000);
});
