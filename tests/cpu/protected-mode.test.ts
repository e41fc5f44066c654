// Protected-mode and system-level behaviour, driven by small NASM programs
// (tests/cpu/programs/*.asm) that start in real mode at 0000:8000, report
// through the debug console (port 0xE9) and exit through port 0xF4.
import { describe, expect, it } from "vitest";
import { join } from "node:path";
import type { Core, ExitReason } from "../../src/core/core.ts";
import { bootGuest } from "../helpers/guest.ts";
import { assemble } from "../helpers/nasm.ts";

const PROGRAMS = join(import.meta.dirname, "programs");
const BUDGET = 50_000_000;

interface Outcome {
  reason: ExitReason;
  output: string;
  exitCode: number | undefined;
  core: Core;
}

interface RunOptions {
  defines?: Record<string, string | number>;
  /** Asserts INTR with this vector once the program first halts. */
  irq?: number;
}

async function runProgram(name: string, options: RunOptions = {}): Promise<Outcome> {
  const image = assemble(join(PROGRAMS, name), options.defines ?? {});
  const guest = await bootGuest(image, {
    ramBytes: 8 * 1024 * 1024,
    host: {
      intAck() {
        guest.core.setIrq(false);
        return options.irq ?? -1;
      },
    },
  });
  let reason = guest.runToStop(BUDGET);
  if (reason === "halt" && options.irq !== undefined) {
    guest.core.setIrq(true);
    reason = guest.runToStop(BUDGET);
  }
  return { reason, output: guest.output(), exitCode: guest.stops.at(-1), core: guest.core };
}

describe("protected mode", () => {
  it("enters protected mode and runs 32-bit and 16-bit code; LAR/LSL/VERR/VERW/ARPL/SGDT", async () => {
    const r = await runProgram("basic.asm");
    expect(r.output).toBe("PM32 0008 0077 00000FFF 00409200 010 00131 BACK 93 0011");
    expect(r.exitCode).toBe(1);
    expect(r.reason).toBe("stop");
  });
});

describe("segment protection", () => {
  it("raises #GP/#NP/#SS with the right error codes", async () => {
    const r = await runProgram("segfaults.asm");
    expect(r.output).toBe(
      "#0D(00000000) #0D(00000200) #0D(00000048) #0B(00000050) #0D(00000000) NULLOK " +
        "#0D(00000000) #0C(00000000) #0D(00000000) DONE",
    );
    expect(r.exitCode).toBe(2);
  });
});

describe("privilege levels", () => {
  it("goes to ring 3 by IRET and back through a call gate and interrupt gates", async () => {
    const r = await runProgram("ring3.asm");
    expect(r.output).toBe(
      "0028 #0D(0000020A) 0000 001B 0007FFEC 0008001B 5A5A1234 0006FFFC0023 00070000 " +
        "0007FFEC 001B 0000020200000002 00070000 #0D(00000000) 0008",
    );
    expect(r.exitCode).toBe(3);
  });
});

describe("paging", () => {
  it("reports #PF error codes and CR2, honours WP, sets A/D bits, maps 4 MiB pages", async () => {
    const r = await runProgram("paging.asm");
    expect(r.output).toBe(
      "PG #0E(00000000) cr2=00031000 #0E(00000002) cr2=00031004 WP0 " +
        "#0E(00000003) cr2=00030000 11 07-27-67 CAFEBABE E7 42424242 " +
        "#0E(00000005) cr2=00035000 SUPOK #0E(00000007) cr2=00030000 ",
    );
    expect(r.exitCode).toBe(4);
  });
});

describe("tasks", () => {
  it("switches tasks by JMP to a TSS, CALL through a task gate and IRET with NT", async () => {
    const r = await runProgram("task.asm");
    expect(r.output).toBe(
      "A B 11111111 0005FFF8 0040 898B 8 A2 AAAA5555 0028 8B89 " +
        "B2 4000 0028 8B8B A3 0000 8B89 8 T16 1616 0070 00005000 IPOK",
    );
    expect(r.exitCode).toBe(5);
  });
});

describe("virtual-8086 mode", () => {
  it("enters V86 by IRETD, leaves by #GP on CLI, INT3 and INT n through the IDT, returns by IRETD", async () => {
    const r = await runProgram("v86.asm");
    const m = /^#0D\(00000000\) (\w{4}) 0800 00020002 7000 0700 12340700 (\w{4}) 01 (.*)$/.exec(
      r.output,
    );
    expect(m, r.output).not.toBeNull();
    expect(m![1]).toBe(m![2]); // the #GP frame points at the CLI
    expect(m![3]).toBe("#0D(00000000) 00023202 00000008 0007FFDC 42425678 "); // #GP on HLT, then the INT 42 frame
    expect(r.exitCode).toBe(6);
  });
});

describe("double and triple faults", () => {
  it("escalates a fault during delivery to #DF", async () => {
    const r = await runProgram("double.asm");
    expect(r.output).toBe("GO DF 00000000 0008");
    expect(r.exitCode).toBe(7);
  });

  it("shuts down on a fault while delivering #DF", async () => {
    const r = await runProgram("double.asm", { defines: { TRIPLE: 1 } });
    expect(r.output).toBe("GO ");
    expect(r.reason).toBe("triple-fault");
  });
});

describe("external interrupts", () => {
  it("wakes HLT and delivers through an interrupt gate with IF cleared", async () => {
    const r = await runProgram("irq.asm", { irq: 0x20 });
    expect(r.output).toBe("WAIT IRQ AFTER 00000246 00000046");
    expect(r.exitCode).toBe(9);
  });
});

describe("system instructions", () => {
  it("checks CR0/CR4 writes, LMSW, DR aliases, RETF, IRET flag privilege and CPL 3 LGDT", async () => {
    const r = await runProgram("system.asm");
    expect(r.output).toBe(
      "#0D(00000000) 1 #0D(00000000) 18 #06(FFFFFFFF) 000004FF RETF #0D(00000000) 0000",
    );
    expect(r.exitCode).toBe(8);
  });
});
