// The Multiboot v1 loader, driven by NASM test kernels (tests/machine/programs)
// that print the state they were entered in and the boot information through
// the debug console. Bad images must be refused before guest RAM or the CPU
// change at all.
import { createHash } from "node:crypto";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { E820_RAM, ONE_MIB, pcMemoryMap } from "../../src/machine/boot/memory-map.ts";
import {
  findMultibootHeader,
  isMultiboot,
  loadMultiboot,
  type MultibootLoadResult,
  type MultibootModule,
  type MultibootOptions,
  type PhysicalRange,
} from "../../src/machine/boot/multiboot.ts";
import { Machine } from "../../src/machine/machine.ts";
import { assemble } from "../helpers/nasm.ts";

const PROGRAMS = join(import.meta.dirname, "programs");
const RAM = 4 * 1024 * 1024;
const MEMORY_MAP = pcMemoryMap(RAM);
const REPORT_EXIT_STATUS = (0x2a << 1) | 1; // isa-debug-exit of the kernels' REPORT_EXIT
const GARBAGE = 0xa5;

function elfKernel(defines: Record<string, string | number> = {}): Uint8Array {
  return assemble(join(PROGRAMS, "multiboot-elf.asm"), defines);
}

function aoutKernel(defines: Record<string, string | number> = {}): Uint8Array {
  return assemble(join(PROGRAMS, "multiboot-aout.asm"), defines);
}

/** The kernels' "key value" lines; repeated keys (mod, mmap) keep every value. */
type Report = Map<string, string[]>;

function parseReport(text: string): Report {
  const report: Report = new Map();
  for (const line of text.split("\n").filter((l) => l.length > 0)) {
    const space = line.indexOf(" ");
    const key = space < 0 ? line : line.slice(0, space);
    const value = space < 0 ? "" : line.slice(space + 1);
    report.set(key, [...(report.get(key) ?? []), value]);
  }
  return report;
}

function one(report: Report, key: string): string {
  const values = report.get(key);
  if (values?.length !== 1) throw new Error(`expected one "${key}" line, got ${values?.length}`);
  return values[0]!;
}

function hexField(report: Report, key: string): number {
  return parseInt(one(report, key), 16);
}

function within(inner: PhysicalRange, outer: PhysicalRange): boolean {
  return inner.start >= outer.start && inner.end <= outer.end;
}

function disjoint(a: PhysicalRange, b: PhysicalRange): boolean {
  return a.end <= b.start || b.end <= a.start;
}

function byteSum(data: Uint8Array): number {
  return data.reduce((sum, byte) => (sum + byte) >>> 0, 0);
}

interface Booted {
  machine: Machine;
  result: MultibootLoadResult;
  report: Report;
  exitStatus: number | undefined;
  /** Each of result.kernel's ranges as the kernel found it, before it ran. */
  kernelAtEntry: Uint8Array[];
}

/** Fills RAM with garbage (so zero-filling shows), loads the kernel and runs it to its exit. */
async function boot(image: Uint8Array, options: Partial<MultibootOptions> = {}): Promise<Booted> {
  let text = "";
  const machine = await Machine.create({
    ramBytes: RAM,
    onDebugconByte: (byte) => (text += String.fromCharCode(byte)),
  });
  machine.core.memory.fill(0, RAM, GARBAGE);
  const result = loadMultiboot(image, { cmdline: "", memoryMap: MEMORY_MAP, ...options }, machine);
  const kernelAtEntry = result.kernel.map((r) =>
    machine.core.memory.read(r.start, r.end - r.start),
  );
  const run = machine.runUntilStop({ maxInsns: 5_000_000 });
  expect(run.reason, `the kernel stopped early; it printed:\n${text}`).toBe("debug-exit");
  return { machine, result, report: parseReport(text), exitStatus: run.exitStatus, kernelAtEntry };
}

/** What the specification promises at entry, and the GDT we promise on top. */
function expectEntryState({ report, result, exitStatus }: Booted): void {
  expect(exitStatus).toBe(REPORT_EXIT_STATUS);
  expect(one(report, "end")).toBe("");
  expect(hexField(report, "eax")).toBe(0x2badb002);
  expect(hexField(report, "ebx")).toBe(result.mbi);
  const eflags = hexField(report, "eflags");
  expect(eflags & (1 << 9)).toBe(0); // IF
  expect(eflags & (1 << 17)).toBe(0); // VM
  const cr0 = hexField(report, "cr0");
  expect(cr0 & 1).toBe(1); // PE
  expect(cr0 >>> 31).toBe(0); // PG
  expect(hexField(report, "cs")).toBe(0x08);
  for (const seg of ["ds", "es", "fs", "gs", "ss"]) expect(hexField(report, seg)).toBe(0x10);
  const [gdtBase, gdtLimit] = one(report, "gdt")
    .split(" ")
    .map((v) => parseInt(v, 16));
  expect(gdtBase).toBe(result.gdt.start);
  expect(gdtLimit).toBe(result.gdt.end - result.gdt.start - 1);
  expect(result.gdt.end).toBeLessThanOrEqual(ONE_MIB);
  expect(one(report, "reload")).toBe("ok"); // far jump to 0x08 and loads of 0x10 worked
  expect(hexField(report, "a20")).toBe(1);
  expect(hexField(report, "nonzero")).toBe(0); // the bss was zero-filled over the garbage
  // The stack is in usable RAM, clear of everything the loader placed.
  const esp = hexField(report, "esp");
  expect(esp).toBe(result.stackTop);
  const stack = { start: esp - 4096, end: esp };
  expect(MEMORY_MAP.some((r) => r.type === E820_RAM && within(stack, toRange(r)))).toBe(true);
  for (const placed of [...result.kernel, result.bootInfo, result.gdt, ...result.modules]) {
    expect(disjoint(stack, placed), `stack overlaps [${placed.start}, ${placed.end})`).toBe(true);
  }
}

function toRange(region: { base: number; length: number }): PhysicalRange {
  return { start: region.base, end: region.base + region.length };
}

describe("Multiboot ELF kernel", () => {
  const modules: MultibootModule[] = [
    { data: new TextEncoder().encode("hello from module zero"), cmdline: "mod0 --flag" },
    // Spans two pages, so the next module's page alignment is visible.
    { data: Uint8Array.from({ length: 5000 }, (_, i) => (i * 7 + 3) & 0xff), cmdline: "blob" },
    { data: new Uint8Array(0), cmdline: "" },
  ];
  let booted: Booted;
  beforeAll(async () => {
    booted = await boot(elfKernel(), { cmdline: "console=debugcon verbose", modules });
  });

  it("enters the kernel in flat protected mode with the magic in EAX and the mbi in EBX", () => {
    expectEntryState(booted);
    const cs = booted.machine.core.getSegment("cs");
    expect(booted.result.format).toBe("elf32");
    expect(one(booted.report, "data")).toBe("second segment"); // program header 1 was loaded
    expect(cs.base).toBe(0);
    expect(cs.limit).toBe(0xffffffff);
  });

  it("reports memory, command line, boot loader name and the memory map", () => {
    const { report } = booted;
    const flags = hexField(report, "flags");
    for (const bit of [0, 2, 3, 6, 9])
      expect(flags & (1 << bit), `mbi flags bit ${bit}`).not.toBe(0);
    expect(flags & (1 << 1)).toBe(0); // no boot_device
    const [lower, upper] = one(report, "mem")
      .split(" ")
      .map((v) => parseInt(v, 16));
    expect(lower).toBe(Math.floor(MEMORY_MAP[0]!.length / 1024));
    expect(upper).toBe((RAM - ONE_MIB) / 1024);
    expect(one(report, "cmdline")).toBe("console=debugcon verbose");
    expect(one(report, "loader")).toBe("hive86");
    const mmap = report.get("mmap")!.map((line) => {
      const [base, length, type, size] = line.split(" ").map((v) => parseInt(v, 16));
      return { base, length, type, size };
    });
    expect(mmap).toEqual(MEMORY_MAP.map((region) => ({ ...region, size: 20 })));
  });

  it("passes the modules page-aligned, with their contents and command lines", () => {
    const { report, result, machine } = booted;
    expect(hexField(report, "mods")).toBe(modules.length);
    const printed = report.get("mod")!.map((line) => {
      const [start, end, sum] = line.split(" ", 3).map((v) => parseInt(v, 16));
      return { start: start!, end: end!, sum, cmdline: line.split(" ").slice(3).join(" ") };
    });
    expect(printed).toHaveLength(modules.length);
    printed.forEach((mod, i) => {
      const data = modules[i]!.data;
      expect(mod.start % 4096).toBe(0);
      expect(mod.end - mod.start).toBe(data.length);
      expect(mod.sum).toBe(byteSum(data));
      expect(mod.cmdline).toBe(modules[i]!.cmdline);
      expect(machine.core.memory.read(mod.start, data.length)).toEqual(data);
      expect(result.modules[i]).toEqual({ start: mod.start, end: mod.end, cmdline: mod.cmdline });
    });
  });

  it("places the boot information and modules above the kernel, overlapping nothing", () => {
    const { result } = booted;
    const kernelEnd = Math.max(...result.kernel.map((r) => r.end));
    const placed = [result.bootInfo, ...result.modules, result.gdt, ...result.kernel];
    expect(result.bootInfo.start).toBeGreaterThanOrEqual(kernelEnd);
    expect(within({ start: result.mbi, end: result.mbi + 116 }, result.bootInfo)).toBe(true);
    for (const mod of result.modules) expect(mod.start).toBeGreaterThanOrEqual(kernelEnd);
    placed.forEach((a, i) =>
      placed.slice(i + 1).forEach((b) => {
        const nonEmpty = a.end > a.start && b.end > b.start;
        if (nonEmpty) expect(disjoint(a, b), `${JSON.stringify([a, b])}`).toBe(true);
      }),
    );
  });

  it("loads a kernel linked high at p_paddr and enters at the twin of e_entry", async () => {
    const image = elfKernel({ TEXT_VIRT_OFFSET: 0xc0000000 });
    const virtualEntry = new DataView(image.buffer, image.byteOffset).getUint32(24, true);
    const high = await boot(image);
    expect(virtualEntry).toBeGreaterThanOrEqual(0xc0000000);
    expect(high.result.entry).toBe(virtualEntry - 0xc0000000);
    expect(high.result.kernel[0]!.start).toBe(ONE_MIB);
    expectEntryState(high);
  });
});

describe("Multiboot a.out kludge kernel", () => {
  it("loads the file at load_addr, zero-fills to bss_end_addr, enters at entry_addr", async () => {
    const image = aoutKernel();
    const booted = await boot(image, { cmdline: "flat" });
    const fields = findMultibootHeader(image).addresses!;
    expectEntryState(booted);
    expect(booted.result.format).toBe("aout-kludge");
    expect(booted.result.entry).toBe(fields.entryAddr);
    expect(booted.result.kernel).toEqual([{ start: fields.loadAddr, end: fields.bssEndAddr }]);
    expect(fields.loadEndAddr - fields.loadAddr).toBe(image.length);
    const bss = new Uint8Array(fields.bssEndAddr - fields.loadEndAddr);
    expect(booted.kernelAtEntry).toEqual([new Uint8Array([...image, ...bss])]);
    expect(one(booted.report, "cmdline")).toBe("flat");
    expect(hexField(booted.report, "mods")).toBe(0);
  });

  it("reads load_end_addr 0 as the end of the file", async () => {
    const whole = await boot(aoutKernel({ LOAD_END: 0 }));
    const explicit = findMultibootHeader(aoutKernel()).addresses!;
    expectEntryState(whole);
    expect(whole.result.kernel).toEqual([{ start: explicit.loadAddr, end: explicit.bssEndAddr }]);
  });

  it("reads bss_end_addr 0 as no bss", async () => {
    const image = aoutKernel({ BSS_END: 0 });
    let text = "";
    const machine = await Machine.create({
      ramBytes: RAM,
      onDebugconByte: (b) => (text += String.fromCharCode(b)),
    });
    const result = loadMultiboot(image, { cmdline: "", memoryMap: MEMORY_MAP }, machine);
    expect(result.kernel).toEqual([{ start: ONE_MIB, end: ONE_MIB + image.length }]);
    expect(result.bootInfo.start).toBeLessThan(ONE_MIB + image.length + 8);
    expect(machine.runUntilStop({ maxInsns: 5_000_000 }).reason).toBe("debug-exit");
    expect(one(parseReport(text), "loader")).toBe("hive86");
  });

  it("boots a kernel that asks for a video mode, noting that it was not honoured", async () => {
    const booted = await boot(aoutKernel({ MB_FLAGS: 0x10007 }));
    expectEntryState(booted);
    expect(booted.result.notes).toHaveLength(1);
    expect(booted.result.notes[0]).toMatch(/video mode/);
    const noVideo = hexField(booted.report, "flags") & ((1 << 11) | (1 << 12)); // VBE, framebuffer
    expect(noVideo).toBe(0);
  });
});

function u32le(...values: number[]): Uint8Array {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setUint32(i * 4, v >>> 0, true));
  return bytes;
}

function multibootHeader(flags: number): Uint8Array {
  return u32le(0x1badb002, flags, -(0x1badb002 + flags));
}

function pseudoRandomBytes(length: number): Uint8Array {
  let state = 0x12345678;
  return Uint8Array.from({ length }, () => {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    return state >>> 24;
  });
}

describe("isMultiboot", () => {
  it("finds a valid header at any 4-byte aligned offset within the first 8 KiB", () => {
    expect(isMultiboot(elfKernel())).toBe(true);
    expect(isMultiboot(aoutKernel())).toBe(true);
    const atEdge = new Uint8Array(8192 + 64);
    atEdge.set(multibootHeader(0), 8192 - 12);
    expect(isMultiboot(atEdge)).toBe(true);
  });

  it("ignores headers that are misaligned, too far in, or have a bad checksum", () => {
    const tooFar = new Uint8Array(8192 + 64);
    tooFar.set(multibootHeader(0), 8192 - 8);
    expect(isMultiboot(tooFar)).toBe(false);
    const misaligned = new Uint8Array(64);
    misaligned.set(multibootHeader(0), 6);
    expect(isMultiboot(misaligned)).toBe(false);
    expect(isMultiboot(elfKernel({ MB_CHECKSUM: 0x12345678 }))).toBe(false);
    expect(isMultiboot(pseudoRandomBytes(4096))).toBe(false);
    expect(isMultiboot(new Uint8Array(0))).toBe(false);
  });
});

describe("Multiboot loader refuses bad input and changes nothing", () => {
  let machine: Machine;
  beforeAll(async () => {
    machine = await Machine.create({ ramBytes: RAM });
  });

  const digest = () => createHash("sha256").update(machine.core.memory.read(0, RAM)).digest("hex");

  function expectRefused(
    image: Uint8Array,
    error: RegExp,
    options: Partial<MultibootOptions> = {},
  ) {
    machine.core.memory.fill(0, RAM, GARBAGE);
    machine.core.harvestDirty();
    const ram = digest();
    const cpu = machine.core.save();
    const load = () =>
      loadMultiboot(image, { cmdline: "", memoryMap: MEMORY_MAP, ...options }, machine);
    expect(load).toThrow(error);
    expect(machine.core.harvestDirty()).toEqual([]);
    expect(digest()).toBe(ram);
    expect(machine.core.save()).toEqual(cpu);
  }

  it("an image without a header", () => {
    expectRefused(pseudoRandomBytes(4096), /no Multiboot header/);
  });

  it("a header with a bad checksum", () => {
    expectRefused(elfKernel({ MB_CHECKSUM: 0x12345678 }), /offset 0x34 has a bad checksum/);
  });

  it("a required feature we do not provide", () => {
    expectRefused(elfKernel({ MB_FLAGS: 0x0b }), /requires Multiboot features.*bit 3\)/);
    expectRefused(elfKernel({ MB_FLAGS: 0x8003 }), /requirement bit 15\)/);
  });

  it("a header whose fields run past the end of the file", () => {
    const truncated = aoutKernel().subarray(0, 4 + 20);
    expectRefused(truncated, /header at offset 0x4 is truncated/);
  });

  it("a truncated ELF file", () => {
    const image = elfKernel();
    const tiny = new Uint8Array([0x7f, 0x45, 0x4c, 0x46, ...multibootHeader(0)]);
    expectRefused(tiny, /truncated ELF header: the file is 16 bytes/);
    expectRefused(image.subarray(0, 0x50), /program header table .* runs past the end of the file/);
    expectRefused(image.subarray(0, image.length - 4), /segment 1: file bytes .* past the end/);
  });

  it("an ELF file of the wrong class or machine", () => {
    expectRefused(elfKernel({ ELF_CLASS: 2 }), /ELF class 2 \(64-bit\) is not supported/);
    expectRefused(elfKernel({ ELF_MACHINE: 62 }), /ELF machine 62 is not i386/);
  });

  it("a kernel without address fields that is not ELF", () => {
    const flat = new Uint8Array(256);
    flat.set(multibootHeader(0x3), 16);
    expectRefused(flat, /flags bit 16 clear.*ELF magic is missing/);
  });

  it("a segment outside usable RAM", () => {
    expectRefused(elfKernel({ DATA_PADDR: 0x7f00000 }), /ELF segment 1 .* is not in usable RAM/);
    expectRefused(elfKernel({ DATA_PADDR: RAM - 0x1000 }), /ELF segment 1 .* is not in usable RAM/);
    expectRefused(elfKernel({ DATA_PADDR: 0x9fc00 }), /ELF segment 1 .* is not in usable RAM/);
    expectRefused(elfKernel({ DATA_PADDR: 0x2000 }), /overlaps the loader's GDT and stack/);
  });

  it("overlapping segments", () => {
    expectRefused(
      elfKernel({ DATA_PADDR: 0x100100 }),
      /ELF segment 0 \[0x100000, .*\) and ELF segment 1 \[0x100100, .*\) overlap/,
    );
  });

  it("an entry point outside the loaded image", () => {
    expectRefused(
      elfKernel({ ENTRY: 0x500000 }),
      /entry point 0x500000 is outside the loaded image/,
    );
    // In the bss: inside the segment, but not among the bytes the file provides.
    expectRefused(elfKernel({ ENTRY: 0x200100 }), /entry point 0x200100 is outside/);
    expectRefused(aoutKernel({ ENTRY: 0x0ff000 }), /entry point 0xff000 is outside/);
  });

  it("a.out kludge fields that contradict each other or the file", () => {
    expectRefused(
      aoutKernel({ LOAD_END: 0x0ff000 }),
      /load_end_addr 0xff000 is not above load_addr 0x100000/,
    );
    expectRefused(
      aoutKernel({ BSS_END: 0x100010 }),
      /bss_end_addr 0x100010 is below load_end_addr/,
    );
    const image = aoutKernel();
    expectRefused(image.subarray(0, image.length - 1), /the file ends at .*truncated/);
  });

  it("boot data that does not fit, or a memory map the guest cannot back", () => {
    const huge = [{ data: new Uint8Array(RAM), cmdline: "too big" }];
    expectRefused(elfKernel(), /no room for module 0/, { modules: huge });
    expectRefused(elfKernel(), /beyond the guest's 0x400000 bytes of RAM/, {
      memoryMap: pcMemoryMap(2 * RAM),
    });
    expectRefused(elfKernel(), /command line contains a NUL/, { cmdline: "a\0b" });
  });
});
