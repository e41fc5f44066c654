import { describe, expect, it } from "vitest";
import { Machine } from "../../src/machine/machine.ts";
import { buildHelloRom } from "../fixtures/hello-rom.ts";
import { buildRealModeRom } from "../fixtures/real-mode-rom.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const RAM = 4 * 1024 * 1024;

async function machineWith(rom: Uint8Array) {
  let text = "";
  const machine = await Machine.create({
    ramBytes: RAM,
    onDebugconByte: (byte) => (text += String.fromCharCode(byte)),
  });
  machine.loadBios(rom);
  return { machine, output: () => text };
}

describe("Machine.runUntilStop", () => {
  it("stops at isa-debug-exit in the middle of a slice", async () => {
    const { machine, output } = await machineWith(buildHelloRom("hello, hive86\n", 0x21));
    const result = machine.runUntilStop({ maxInsns: 1e6 });
    expect(result.reason).toBe("debug-exit");
    expect(result.exitStatus).toBe(67);
    expect(output()).toBe("hello, hive86\n");
    expect(machine.core.getReg("eip")).toBeLessThan(0x20); // the trailing hlt never ran
  });

  it("stops after about maxInsns, across several slices", async () => {
    const { machine } = await machineWith(buildRealModeRom([0xeb, 0xfe])); // jmp $
    const result = machine.runUntilStop({ maxInsns: 25_000, sliceInsns: 10_000 });
    expect(result).toEqual({ reason: "max-insns", instructions: 25_000 });
  });

  it("reports a halt when nothing can wake the CPU", async () => {
    const withIf = await machineWith(buildRealModeRom([0xfb, 0xf4])); // sti; hlt
    expect(withIf.machine.runUntilStop({ maxInsns: 1e6 }).reason).toBe("halt");
    const withoutIf = await machineWith(buildRealModeRom([0xfa, 0xf4])); // cli; hlt
    expect(withoutIf.machine.runUntilStop({ maxInsns: 1e6 }).reason).toBe("halt");
  });

  it("reports a triple fault", async () => {
    // With an empty IVT, int3 cannot be delivered (#GP), nor can #GP (#DF), nor #DF.
    const { machine } = await machineWith(buildRealModeRom([0xcc])); // int3
    restoreComponent(machine.core, { ...machine.core.save(), idtr: { base: 0, limit: 0 } });
    expect(machine.runUntilStop({ maxInsns: 1e6 }).reason).toBe("triple-fault");
  });
});
