import { describe, expect, it } from "vitest";
import { Core } from "../../src/core/core.ts";
import type { CoreHost } from "../../src/core/core-host.ts";
import { buildRealModeRom } from "../fixtures/real-mode-rom.ts";

const RAM = 1024 * 1024;

async function coreWithRom(code: number[], host: Partial<CoreHost> = {}): Promise<Core> {
  const core = await Core.create({ ramBytes: RAM, host });
  core.loadRom(buildRealModeRom(code));
  core.reset();
  return core;
}

// Real-mode #DE handler at F000:0100 that skips the 2-byte DIV and counts in DI:
//   inc di; mov bp, sp; add word [bp+0], 2; iret
const DIVIDE_HANDLER = [0x47, 0x89, 0xe5, 0x83, 0x46, 0x00, 0x02, 0xcf];

function withDivideHandler(code: number[]): number[] {
  const image = new Array<number>(0x100 + DIVIDE_HANDLER.length).fill(0xf4);
  image.splice(0, code.length, ...code);
  image.splice(0x100, DIVIDE_HANDLER.length, ...DIVIDE_HANDLER);
  return image;
}

describe("Core", () => {
  it("starts at the reset vector F000:FFF0 with the ROM aliased below 4 GiB", async () => {
    const core = await coreWithRom([0xf4]);
    expect(core.getSegment("cs")).toEqual({
      selector: 0xf000,
      base: 0xffff0000,
      limit: 0xffff,
      access: 0x9b,
    });
    expect(core.getReg("eip")).toBe(0xfff0);
    expect(core.run(100)).toBe("halt-no-if"); // jmp far, then HLT with IF=0
    expect(core.getSegment("cs").base).toBe(0xf0000);
    expect(core.instructionCount()).toBe(2);
  });

  it("runs exactly the budget it is given", async () => {
    const core = await coreWithRom([0x40, 0xeb, 0xfd]); // l: inc ax; jmp l
    expect(core.run(1001)).toBe("budget");
    expect(core.instructionCount()).toBe(1001);
    expect(core.getReg("ax")).toBe(500); // the first instruction was the jmp far
  });

  it("reads and writes 32-, 16- and 8-bit register names", async () => {
    const core = await coreWithRom([0xf4]);
    core.setReg("eax", 0x11223344);
    core.setReg("ah", 0xab);
    core.setReg("cl", 0x7f);
    core.setReg("dx", 0xbeef);
    expect(core.getReg("eax")).toBe(0x1122ab44);
    expect(core.getReg("al")).toBe(0x44);
    expect(core.getReg("ax")).toBe(0xab44);
    expect(core.getReg("cl")).toBe(0x7f);
    expect(core.getReg("dh")).toBe(0xbe);
    core.setReg("ebx", 0xffffffff);
    expect(core.getReg("ebx")).toBe(0xffffffff);
    core.setRealModeSegment("ds", 0x1234);
    expect(core.getSegment("ds")).toEqual({
      selector: 0x1234,
      base: 0x12340,
      limit: 0xffff,
      access: 0x93,
    });
    core.setControl("cr2", 0xdeadbeef);
    expect(core.getControl("cr2")).toBe(0xdeadbeef);
  });

  it("delivers guest exceptions raised through the trap path", async () => {
    // 00: mov cx, 3
    // 03: xor ax, ax ; div al  (#DE; the handler skips it)
    // 07: loop 03
    // 09: hlt
    const core = await coreWithRom(
      withDivideHandler([0xb9, 0x03, 0x00, 0x31, 0xc0, 0xf6, 0xf0, 0xe2, 0xfa, 0xf4]),
    );
    core.memory.write32(0, 0xf0000100); // IVT vector 0 -> F000:0100
    expect(core.run(1000)).toBe("halt-no-if");
    expect(core.getReg("di")).toBe(3);
    expect(core.getReg("cx")).toBe(0);
  });

  it("returns to the host when a guest faults forever", async () => {
    // The handler does not skip the DIV: every delivery faults again at once.
    const core = await coreWithRom([0x31, 0xc0, 0xf6, 0xf0]);
    core.memory.write32(0, 0xf0000002); // #DE handler = the faulting DIV itself
    expect(core.run(50)).toBe("budget");
  });

  it("measures the cost of a fault trap", async () => {
    // mov cx, 10000; l: xor ax,ax; div al; loop l; hlt
    const faults = 10_000;
    const core = await coreWithRom(
      withDivideHandler([0xb9, 0x10, 0x27, 0x31, 0xc0, 0xf6, 0xf0, 0xe2, 0xfa, 0xf4]),
    );
    core.memory.write32(0, 0xf0000100);
    const started = performance.now();
    expect(core.run(1_000_000)).toBe("halt-no-if");
    const microsPerFault = ((performance.now() - started) * 1000) / faults;
    expect(core.getReg("di")).toBe(faults);
    console.log(`fault trap round trip: ${microsPerFault.toFixed(2)} µs per guest exception`);
  });

  it("stops inside a REP instruction when the budget ends there", async () => {
    // mov cx, 100 ; xor di, di ; rep stosb ; hlt  (each REP iteration counts as an instruction)
    const core = await coreWithRom([0xb9, 0x64, 0x00, 0x31, 0xff, 0xf3, 0xaa, 0xf4]);
    const before = core.instructionCount(); // the reset vector's far jump
    expect(core.run(1)).toBe("budget");
    expect(core.run(4)).toBe("budget"); // mov, xor, then two iterations
    expect(core.instructionCount() - before).toBe(5);
    expect(core.getReg("cx")).toBe(98);
    expect(core.run(1000)).toBe("halt-no-if");
    expect(core.getReg("cx")).toBe(0);
  });

  it("keeps the stack of an error thrown by a host handler during run()", async () => {
    function failingPortHandler(): void {
      throw new Error("device failed");
    }
    // out 0x80, al ; hlt
    const core = await coreWithRom([0xe6, 0x80, 0xf4], { ioOut: failingPortHandler });
    const limitBefore = Error.stackTraceLimit;
    let caught: unknown;
    try {
      core.run(100);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(Error);
    expect((caught as Error).message).toBe("device failed");
    expect((caught as Error).stack).toContain("failingPortHandler");
    expect(Error.stackTraceLimit).toBe(limitBefore);
  });

  it("uses all-ones for unclaimed ports and passes sizes to the host", async () => {
    const seen: Array<[number, number]> = [];
    // mov dx, 0x1234; in al, dx; mov bl, al; in ax, dx; mov cx, ax; in eax, dx; hlt
    const code = [0xba, 0x34, 0x12, 0xec, 0x88, 0xc3, 0xed, 0x89, 0xc1, 0x66, 0xed, 0xf4];
    const defaults = await coreWithRom(code);
    defaults.run(100);
    expect(defaults.getReg("bl")).toBe(0xff);
    expect(defaults.getReg("cx")).toBe(0xffff);
    expect(defaults.getReg("eax")).toBe(0xffffffff);

    const hosted = await coreWithRom(code, {
      ioIn: (port, size) => {
        seen.push([port, size]);
        return 0x12345678;
      },
    });
    hosted.run(100);
    expect(seen).toEqual([
      [0x1234, 1],
      [0x1234, 2],
      [0x1234, 4],
    ]);
    expect(hosted.getReg("bl")).toBe(0x78);
    expect(hosted.getReg("cx")).toBe(0x5678);
    expect(hosted.getReg("eax")).toBe(0x12345678);
  });

  it("asks the host for MSRs the core does not own", async () => {
    // mov ecx, 0x4b564d01; rdmsr; hlt
    const code = [0x66, 0xb9, 0x01, 0x4d, 0x56, 0x4b, 0x0f, 0x32, 0xf4];
    const core = await coreWithRom(code, {
      msrRead: (index) => (index === 0x4b564d01 ? 0x1122334455667788n : undefined),
    });
    expect(core.run(100)).toBe("halt-no-if");
    expect(core.getReg("edx")).toBe(0x11223344);
    expect(core.getReg("eax")).toBe(0x55667788);
  });

  it("reads the TSC from the instruction count by default", async () => {
    // nop; nop; rdtsc; hlt
    const core = await coreWithRom([0x90, 0x90, 0x0f, 0x31, 0xf4]);
    core.run(100);
    expect(core.getReg("edx")).toBe(0);
    expect(core.getReg("eax")).toBe(3); // jmp far + 2 nops retired before RDTSC
  });

  it("rejects RAM sizes the core cannot map", async () => {
    await expect(Core.create({ ramBytes: RAM + 1 })).rejects.toThrow(RangeError);
  });
});
