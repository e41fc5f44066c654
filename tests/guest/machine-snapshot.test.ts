// The whole machine saves and restores exactly: a Linux guest snapshotted in
// the middle of its boot and restored into a fresh machine finishes the boot
// exactly as the original does. Deterministic clock, so "exactly" is
// byte-for-byte. Also: pausing freezes guest time.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/machine/machine.ts";
import { guestFiles, LinuxSession } from "../helpers/linux-guest.ts";

const RAM = 128 * 1024 * 1024;
const WALL_TIME = Date.UTC(2026, 0, 2, 3, 4, 5);
const CLOCK = { nsPerInstruction: 10 };

async function deterministicMachine(console: { text: string }): Promise<Machine> {
  return Machine.create({
    ramBytes: RAM,
    clock: CLOCK,
    wallTimeMs: () => WALL_TIME,
    onSerialOutput: (bytes) => (console.text += Buffer.from(bytes).toString("latin1")),
  });
}

function ramHash(machine: Machine): string {
  return createHash("sha256").update(machine.core.memory.read(0, RAM)).digest("hex");
}

function runTo(machine: Machine, total: number): void {
  machine.setInstructionLimit(total);
  machine.runUntilStop({ maxInsns: Number.MAX_SAFE_INTEGER });
}

describe("machine snapshot (deterministic clock)", () => {
  it("a restored copy finishes the boot byte for byte like the original", async () => {
    const { kernel, initrd } = guestFiles();
    const originalConsole = { text: "" };
    const original = await deterministicMachine(originalConsole);
    original.loadKernel(kernel, { cmdline: "console=ttyS0", initrd });

    // Mid-boot: devices programmed, timer ticking, the kernel unpacking initramfs.
    runTo(original, 60_000_000);
    const state = original.saveState();
    const ram = original.core.memory.read(0, RAM);
    const consoleAtSnapshot = originalConsole.text.length;
    expect(originalConsole.text).toContain("Linux version");
    expect(originalConsole.text).not.toContain("hive86:/# ");

    // Through JSON, as a snapshot file or a migration stream would carry it.
    const copyConsole = { text: "" };
    const copy = await deterministicMachine(copyConsole);
    copy.core.memory.write(0, ram);
    copy.restoreState(JSON.parse(JSON.stringify(state)));
    expect(copy.core.instructionCount()).toBe(original.core.instructionCount());

    const end = 220_000_000;
    runTo(original, end);
    runTo(copy, end);
    const originalRest = originalConsole.text.slice(consoleAtSnapshot);
    expect(originalRest).toContain("hive86:/# ");
    expect(copyConsole.text).toBe(originalRest);
    expect(copy.core.save()).toEqual(original.core.save());
    expect(copy.saveState()).toEqual(original.saveState());
    expect(ramHash(copy)).toBe(ramHash(original));
  }, 120_000);

  it("two boots on the deterministic clock print the same console, timestamps included", async () => {
    const { kernel, initrd } = guestFiles();
    const outputs: string[] = [];
    for (let i = 0; i < 2; i++) {
      const log = { text: "" };
      const machine = await deterministicMachine(log);
      machine.loadKernel(kernel, { cmdline: "console=ttyS0", initrd });
      runTo(machine, 200_000_000);
      outputs.push(log.text);
    }
    expect(outputs[0]).toMatch(/\[\s+\d+\.\d{6}\] Run \/init as init process/);
    expect(outputs[1]).toBe(outputs[0]);
  }, 120_000);

  it("refuses a state for another RAM size, and a broken one, without changing the machine", async () => {
    const { kernel, initrd } = guestFiles();
    const machine = await deterministicMachine({ text: "" });
    machine.loadKernel(kernel, { cmdline: "console=ttyS0", initrd });
    runTo(machine, 20_000_000);
    const before = machine.saveState();
    const otherRam = { ...before, config: { ...before.config, ramBytes: RAM / 2 } };
    expect(() => machine.restoreState(otherRam)).toThrow(/RAM differs: the guest has 64 MiB/);
    const broken = JSON.parse(JSON.stringify(before));
    broken.components.pit.counters[0].countRegister = -1; // checked after the CPU's part
    broken.components.cpu.eip = 0x1234;
    expect(() => machine.restoreState(broken)).toThrow(/^pit: /);
    expect(machine.saveState()).toEqual(before);
    const withoutRtc = { ...before.components };
    delete withoutRtc.rtc;
    expect(() => machine.restoreState({ ...before, components: withoutRtc })).toThrow(
      /components\.rtc is missing/,
    );
    const extra = { ...before, components: { ...before.components, floppy: {} } };
    expect(() => machine.restoreState(extra)).toThrow(
      /floppy is a component this machine does not have/,
    );
    expect(machine.saveState()).toEqual(before);
  }, 60_000);
});

describe("pause (realtime clock)", () => {
  it("freezes guest time: a pause does not show up in the guest's uptime", async () => {
    const guest = await LinuxSession.boot();
    try {
      await guest.waitForPrompt(120_000);
      const uptime = async () => Number((await guest.run("cat /proc/uptime")).split(" ")[0]);
      const before = await uptime();
      const hostBefore = performance.now();
      await guest.machine.pause();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      guest.machine.start();
      const after = await uptime();
      const hostSeconds = (performance.now() - hostBefore) / 1000;
      expect(hostSeconds).toBeGreaterThan(2);
      // The guest saw only the time it ran, not the 2 s it was paused.
      expect(after - before).toBeLessThan(hostSeconds - 1.5);
      expect(after).toBeGreaterThan(before);
    } finally {
      await guest.close();
    }
  }, 180_000);
});
