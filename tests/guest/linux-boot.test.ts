// The project's Linux guest boots to a shell on the machine's own devices,
// and its commands see them: the CPU through CPUID, the PIC's interrupts,
// the PCI bus.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LinuxSession } from "../helpers/linux-guest.ts";

const BOOT_TIMEOUT_MS = 120_000;

describe("Linux guest (Node, realtime clock)", () => {
  let guest: LinuxSession;

  beforeAll(async () => {
    guest = await LinuxSession.boot();
    await guest.waitForPrompt(BOOT_TIMEOUT_MS);
  }, BOOT_TIMEOUT_MS + 10_000);

  afterAll(async () => {
    await guest?.close();
  });

  it("booted through the serial console and the kernel found our devices", () => {
    const log = guest.output;
    expect(log).toMatch(/Linux version 6\.1\.\d+/);
    expect(log).toContain("Kernel command line: console=ttyS0");
    expect(log).toMatch(/BIOS-e820: \[mem 0x0000000000100000-0x0000000007ffffff\] usable/);
    expect(log).toMatch(
      /serial8250: ttyS0 at I\/O 0x3f8 \(irq = 4, base_baud = 115200\) is a 16550A/,
    );
    expect(log).toMatch(/PIIX\/ICH IRQ router \[8086:7000\]/);
    expect(log).toMatch(/rtc_cmos rtc_cmos: registered as rtc0/);
    expect(log).toContain("Run /init as init process");
    expect(log).not.toMatch(/Kernel panic|BUG:|Oops/);
  });

  it("uname -a names the kernel and the i686 machine", async () => {
    const out = await guest.run("uname -a");
    expect(out).toMatch(/^Linux hive86 6\.1\.\d+ .* i686 GNU\/Linux\n$/);
  });

  it("/proc/cpuinfo shows the CPU our CPUID describes", async () => {
    const out = await guest.run("cat /proc/cpuinfo");
    expect(out).toMatch(/^vendor_id\s*: GenuineIntel$/m);
    expect(out).toMatch(/^cpu family\s*: 6$/m);
    expect(out).toMatch(/^model\s*: 5$/m);
    expect(out).toMatch(/^fpu\s*: no$/m);
    const flags = /^flags\s*: (.*)$/m.exec(out)?.[1]?.split(" ") ?? [];
    expect(flags).toEqual(expect.arrayContaining(["pse", "tsc", "msr", "cx8", "cmov"]));
    expect(flags).not.toContain("fxsr");
  });

  it("/proc/interrupts counts timer ticks on IRQ0 and serial interrupts on IRQ4", async () => {
    const out = await guest.run("cat /proc/interrupts");
    const count = (irq: number) =>
      Number(new RegExp(`^\\s*${irq}:\\s+(\\d+)\\s+XT-PIC`, "m").exec(out)?.[1]);
    expect(count(0)).toBeGreaterThan(100);
    expect(count(4)).toBeGreaterThan(0);
    expect(out).toMatch(/^\s*0:\s+\d+\s+XT-PIC\s+timer$/m);
    expect(out).toMatch(/^\s*4:\s+\d+\s+XT-PIC\s+ttyS0$/m);
    // The timer keeps ticking: a second look counts more.
    const later = await guest.run("sleep 1; cat /proc/interrupts");
    const ticks = Number(/^\s*0:\s+(\d+)/m.exec(later)?.[1]);
    expect(ticks - count(0)).toBeGreaterThanOrEqual(150); // HZ=250, at least a second later
  });

  it("ls /sys/bus/pci/devices lists the host bridge, the ISA bridge and the balloon", async () => {
    const out = await guest.run("ls /sys/bus/pci/devices");
    expect(out.split(/\s+/).filter(Boolean)).toEqual([
      "0000:00:00.0",
      "0000:00:01.0",
      "0000:00:02.0",
    ]);
    const ids = await guest.run(
      "cat /sys/bus/pci/devices/0000:00:01.0/vendor /sys/bus/pci/devices/0000:00:01.0/device",
    );
    expect(ids).toBe("0x8086\n0x7000\n");
  });

  it("Ctrl-C interrupts the foreground job: the shell has a controlling terminal", async () => {
    const from = guest.output.length;
    // The job says when it runs (the shell has handed it the terminal by then);
    // a ^C sent earlier would go to the shell's line editor instead.
    guest.type("sh -c 'echo job-$((40+2)); exec sleep 60'\r");
    await guest.waitFor(/^job-42\n/m, 10_000, from);
    const started = performance.now();
    guest.type("\x03");
    await guest.waitFor(/\^C\nhive86:\/# /, 10_000, from);
    expect(performance.now() - started).toBeLessThan(5_000);
    expect(await guest.run("echo $?")).toBe("130\n"); // killed by SIGINT
  });

  it("echo $((6*7)) prints 42", async () => {
    expect(await guest.run("echo $((6*7))")).toBe("42\n");
  });

  it("user space floating point works through the kernel's FPU emulation", async () => {
    expect(await guest.run("awk 'BEGIN { printf \"%.5f\\n\", 355/113 }'")).toBe("3.14159\n");
  });
});
