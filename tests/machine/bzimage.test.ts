// The Linux/x86 32-bit boot protocol loader, with synthetic bzImages
// (tests/fixtures/bzimage.ts) on a real core. A bad image or an impossible
// request must be refused before guest RAM or the CPU change at all; a good
// one must leave boot_params, the command line, the kernel, the initrd and
// the entry state exactly as Documentation/arch/x86/boot.rst describes.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { Core } from "../../src/core/core.ts";
import {
  BOOT_GDT_ADDR,
  BOOT_PARAMS_ADDR,
  CMDLINE_ADDR,
  isBzImage,
  KernelImageError,
  loadBzImage,
  parseSetupHeader,
  type LinuxBootOptions,
} from "../../src/machine/boot/bzimage.ts";
import {
  E820_RESERVED,
  LOW_RAM_END,
  pcMemoryMap,
  type MemoryRegion,
} from "../../src/machine/boot/memory-map.ts";
import {
  buildBzImage,
  DEFAULT_FIELDS,
  PASS_THROUGH_FIELDS,
  payloadPattern,
  SETUP_HEADER_END,
  SETUP_HEADER_START,
} from "../fixtures/bzimage.ts";

const MIB = 1024 * 1024;
const RAM = 64 * MIB;
const MAP = pcMemoryMap(RAM);
const PAGE = 4096;
const REAL_KERNEL = join(import.meta.dirname, "../../build/guest/bzImage");

const u16 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint16(at, true);
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const u64 = (b: Uint8Array, at: number) =>
  Number(new DataView(b.buffer, b.byteOffset).getBigUint64(at, true));

function ramHash(core: Core): string {
  return createHash("sha256").update(core.memory.read(0, core.memory.ramBytes)).digest("hex");
}

function options(overrides: Partial<LinuxBootOptions> = {}): LinuxBootOptions {
  return { cmdline: "console=ttyS0", memoryMap: MAP, ...overrides };
}

/** A core whose RAM is all garbage and whose registers are not the reset state. */
async function dirtyCore(): Promise<Core> {
  const core = await Core.create({ ramBytes: RAM });
  for (let mib = 0; mib < RAM / MIB; mib++)
    core.memory.write(mib * MIB, payloadPattern(MIB, mib + 7));
  core.setReg("eax", 0x11111111);
  core.setReg("esi", 0x22222222);
  core.setReg("edi", 0x33333333);
  core.setReg("eip", 0x4444);
  core.setFlags(0x202);
  core.setA20(false);
  core.harvestDirty();
  return core;
}

describe("setup header parsing", () => {
  it("reads the fields of a modern header", () => {
    const image = buildBzImage({ initSize: 0x654000, cmdlineSize: 255 });
    expect(isBzImage(image)).toBe(true);
    const header = parseSetupHeader(image);
    expect(header).toMatchObject({
      setupSects: DEFAULT_FIELDS.setupSects,
      protocol: 0x020f,
      loadflags: 0x01,
      code32Start: 0x100000,
      initrdAddrMax: 0x7fffffff,
      kernelAlignment: 0x200000,
      relocatable: false,
      cmdlineSize: 255,
      prefAddress: 0x1000000,
      initSize: 0x654000,
      headerBytes: SETUP_HEADER_END - SETUP_HEADER_START,
      kernelOffset: (DEFAULT_FIELDS.setupSects + 1) * 512,
      kernelLength: DEFAULT_FIELDS.payload.length,
      versionString: DEFAULT_FIELDS.version,
    });
  });

  it("treats setup_sects 0 as 4", () => {
    const header = parseSetupHeader(buildBzImage({ setupSects: 0 }));
    expect(header.setupSects).toBe(4);
    expect(header.kernelOffset).toBe(5 * 512);
  });

  it("ignores pref_address and init_size before protocol 2.10", () => {
    const header = parseSetupHeader(
      buildBzImage({ protocol: 0x0209, prefAddress: 0x2000000, initSize: 0x9999000 }),
    );
    expect(header.prefAddress).toBe(0x100000);
    expect(header.initSize).toBe(0);
  });

  it("has no version string without a pointer or without a terminating NUL", () => {
    expect(parseSetupHeader(buildBzImage({ version: null })).versionString).toBeNull();
    // A string running into the end of the setup code has no NUL inside it.
    const image = buildBzImage({ setupSects: 1 });
    image.fill(0x41, 0x300, 0x400);
    expect(parseSetupHeader(image).versionString).toBeNull();
  });

  it("isBzImage wants the HdrS signature", () => {
    expect(isBzImage(buildBzImage({ magic: 0x53726449 }))).toBe(false);
    expect(isBzImage(new Uint8Array(0x205))).toBe(false);
  });
});

describe("rejections leave RAM and the CPU untouched", () => {
  let core: Core;
  beforeAll(async () => {
    core = await dirtyCore();
  });

  function expectRefused(
    image: Uint8Array,
    opts: LinuxBootOptions,
    message: RegExp,
    errorType: new (...args: never[]) => Error = KernelImageError,
  ): void {
    core.harvestDirty(); // a failed case before this one must not count here
    const hashBefore = ramHash(core);
    const cpuBefore = core.save();
    let caught: unknown;
    try {
      loadBzImage(image, opts, core);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(errorType);
    expect((caught as Error).message).toMatch(message);
    expect(core.harvestDirty(), "pages written").toEqual([]);
    expect(ramHash(core), "RAM contents").toBe(hashBefore);
    expect(core.save(), "CPU state").toEqual(cpuBefore);
  }

  it("an image too short to hold a setup header", () => {
    const image = buildBzImage().slice(0, 0x26f);
    expectRefused(image, options(), /623 bytes: too short/);
  });

  it("no 0xAA55 boot sector signature", () => {
    expectRefused(buildBzImage({ bootFlag: 0x55aa }), options(), /0xAA55/);
  });

  it('no "HdrS" signature', () => {
    expectRefused(buildBzImage({ magic: 0x53726444 }), options(), /HdrS/);
  });

  it("a boot protocol older than 2.06", () => {
    expectRefused(
      buildBzImage({ protocol: 0x0205 }),
      options(),
      /protocol 2\.05 is older than 2\.06/,
    );
  });

  it("a zImage (not LOADED_HIGH)", () => {
    expectRefused(buildBzImage({ loadflags: 0x80 }), options(), /zImage/);
  });

  it("setup sectors that run past the end of the file", () => {
    const image = buildBzImage({ setupSects: 20, truncateTo: 20 * 512 });
    expectRefused(image, options(), /truncated: 20 setup sectors end at 10752.*10240 bytes/);
  });

  it("a syssize larger than the file", () => {
    const syssize = Math.ceil(DEFAULT_FIELDS.payload.length / 16) + 1;
    expectRefused(buildBzImage({ syssize }), options(), /truncated: the header says/);
  });

  it("an implausible setup header length", () => {
    expectRefused(buildBzImage({ headerEnd: 0x290 }), options(), /setup header length/);
  });

  it("a command line longer than cmdline_size", () => {
    const image = buildBzImage({ cmdlineSize: 16 });
    expectRefused(image, options({ cmdline: "x".repeat(17) }), /17 bytes.*at most 16/);
    // Bytes, not characters: "é" is two bytes in UTF-8.
    expectRefused(image, options({ cmdline: "é".repeat(9) }), /18 bytes.*at most 16/);
  });

  it("a command line that cmdline_size allows but low RAM cannot hold", () => {
    const image = buildBzImage({ cmdlineSize: 0x100000 });
    const cmdline = "y".repeat(LOW_RAM_END - CMDLINE_ADDR);
    expectRefused(image, options({ cmdline }), /command line/);
  });

  it("an initrd that does not fit below initrd_addr_max", () => {
    // The kernel runs at 16 MiB and needs 4 MiB: 20 MiB..32 MiB is left for the initrd.
    const image = buildBzImage({ initrdAddrMax: 32 * MIB - 1 });
    const initrd = new Uint8Array(12 * MIB + 1);
    expectRefused(image, options({ initrd }), /no room for a 12582913-byte initrd below 0x2000000/);
  });

  it("an initrd that does not fit in RAM", () => {
    const initrd = new Uint8Array(RAM - 20 * MIB + PAGE);
    expectRefused(buildBzImage(), options({ initrd }), /no room for a .*-byte initrd/);
  });

  it("a kernel whose init_size does not fit in RAM", () => {
    const image = buildBzImage({ initSize: RAM - 16 * MIB + PAGE });
    expectRefused(image, options(), /needs RAM up to 0x4001000/);
  });

  it("a relocatable kernel whose init_size from pref_address does not fit in RAM", () => {
    // A relocatable kernel still moves itself up to pref_address before decompressing.
    const image = buildBzImage({ relocatable: true, initSize: RAM - 16 * MIB + PAGE });
    expectRefused(image, options(), /needs RAM up to 0x4001000/);
  });

  it("a protected-mode kernel larger than RAM", () => {
    const image = buildBzImage({ payload: new Uint8Array(RAM), initSize: 0 });
    expectRefused(image, options(), /needs RAM up to/);
  });

  it("code32_start other than 1 MiB", () => {
    expectRefused(buildBzImage({ code32Start: 0x200000 }), options(), /code32_start 0x200000/);
  });

  it("a memory map with more entries than boot_params holds", () => {
    const map: MemoryRegion[] = [...MAP];
    for (let i = 0; map.length <= 128; i++) {
      map.push({ base: RAM + i * PAGE, length: PAGE, type: E820_RESERVED });
    }
    expectRefused(buildBzImage(), options({ memoryMap: map }), /memory map entries/);
  });

  it("a memory map with more RAM than the core has", () => {
    const initrd = new Uint8Array(3 * PAGE);
    expectRefused(
      buildBzImage(),
      options({ memoryMap: pcMemoryMap(2 * RAM), initrd }),
      /memory map/,
      RangeError,
    );
  });
});

describe("a good image", () => {
  const payload = payloadPattern(54321, 99);
  const cmdline = "console=ttyS0 root=/dev/ram0 é";
  const initrd = payloadPattern(2 * PAGE + 123, 5); // 3 pages: 4 KiB, not 8 KiB, aligned
  let core: Core;
  let image: Uint8Array;
  let info: ReturnType<typeof loadBzImage>;
  let page: Uint8Array;
  let dirty: number[];

  beforeAll(async () => {
    core = await dirtyCore();
    image = buildBzImage({ payload, cmdlineSize: 255 });
    info = loadBzImage(image, options({ cmdline, initrd }), core);
    dirty = core.harvestDirty();
    page = core.memory.read(BOOT_PARAMS_ADDR, PAGE);
  });

  it("reports what it loaded where", () => {
    expect(info.kernelAddr).toBe(0x100000);
    expect(info.kernelBytes).toBe(payload.length);
    expect(info.initrdBytes).toBe(initrd.length);
    expect(info.cmdline).toBe(cmdline);
    expect(info.header.versionString).toBe(DEFAULT_FIELDS.version);
  });

  it("puts the protected-mode kernel at 1 MiB", () => {
    expect(Buffer.from(core.memory.read(0x100000, payload.length)).equals(payload)).toBe(true);
  });

  it("puts the initrd 4 KiB-aligned at the top of RAM", () => {
    const at = info.initrdAddr!;
    expect(at % PAGE).toBe(0);
    expect(at + initrd.length).toBeLessThanOrEqual(RAM);
    expect(at + initrd.length + PAGE).toBeGreaterThan(RAM); // no higher aligned spot
    expect(Buffer.from(core.memory.read(at, initrd.length)).equals(initrd)).toBe(true);
    expect(u32(page, 0x218)).toBe(at); // ramdisk_image
    expect(u32(page, 0x21c)).toBe(initrd.length); // ramdisk_size
  });

  it("writes the NUL-terminated command line and points cmd_line_ptr at it", () => {
    const bytes = new TextEncoder().encode(cmdline);
    expect(u32(page, 0x228)).toBe(CMDLINE_ADDR);
    const stored = core.memory.read(CMDLINE_ADDR, bytes.length + 1);
    expect(Array.from(stored)).toEqual([...bytes, 0]);
  });

  it("copies the setup header into boot_params at 0x1F1", () => {
    const loaderFields = new Set<number>();
    const own = (offset: number, size: number) => {
      for (let i = 0; i < size; i++) loaderFields.add(offset + i);
    };
    own(0x1fa, 2); // vid_mode
    own(0x210, 2); // type_of_loader, loadflags
    own(0x218, 8); // ramdisk_image, ramdisk_size
    own(0x224, 2); // heap_end_ptr
    own(0x228, 4); // cmd_line_ptr
    own(0x23c, 4); // hardware_subarch
    for (let at = SETUP_HEADER_START; at < SETUP_HEADER_END; at++) {
      if (loaderFields.has(at)) continue;
      expect(page[at], `boot_params byte 0x${at.toString(16)}`).toBe(image[at]);
    }
    for (const { offset, size, value } of PASS_THROUGH_FIELDS) {
      const got = size === 1 ? page[offset] : size === 2 ? u16(page, offset) : u32(page, offset);
      expect(got, `field at 0x${offset.toString(16)}`).toBe(value);
    }
    expect(u32(page, 0x202)).toBe(0x53726448);
    expect(u16(page, 0x206)).toBe(0x020f);
    expect(u32(page, 0x238)).toBe(255); // cmdline_size
  });

  it("fills in the loader's fields", () => {
    expect(page[0x210]).toBe(0xff); // type_of_loader: undefined
    expect(page[0x211]! & 0x01).toBe(0x01); // LOADED_HIGH
    expect(page[0x211]! & 0x60).toBe(0); // QUIET_FLAG and KEEP_SEGMENTS clear
    expect(u16(page, 0x1fa)).toBe(0xffff); // vid_mode: normal
    expect(u32(page, 0x23c)).toBe(0); // hardware_subarch: PC
  });

  it("hands over the e820 map and alt_mem_k", () => {
    expect(page[0x1e8]).toBe(MAP.length);
    MAP.forEach((region, i) => {
      const at = 0x2d0 + i * 20;
      expect({ base: u64(page, at), length: u64(page, at + 8), type: u32(page, at + 16) }).toEqual(
        region,
      );
    });
    expect(u32(page, 0x1e0)).toBe((RAM - MIB) / 1024);
  });

  it("leaves the rest of boot_params zero (no setup code bytes leak in)", () => {
    const written = (at: number) =>
      (at >= 0x1e0 && at < 0x1e4) ||
      at === 0x1e8 ||
      (at >= SETUP_HEADER_START && at < SETUP_HEADER_END) ||
      (at >= 0x2d0 && at < 0x2d0 + MAP.length * 20);
    const stray: string[] = [];
    for (let at = 0; at < PAGE; at++) {
      if (!written(at) && page[at] !== 0) stray.push(`0x${at.toString(16)}=${page[at]}`);
    }
    expect(stray).toEqual([]);
  });

  it("writes a GDT with flat __BOOT_CS and __BOOT_DS", () => {
    const state = core.save();
    expect(state.gdtr.base).toBe(BOOT_GDT_ADDR);
    expect(state.gdtr.limit).toBeGreaterThanOrEqual(0x1f);
    const gdt = core.memory.read(BOOT_GDT_ADDR, 32);
    const descriptor = (selector: number) => {
      const lo = u32(gdt, selector);
      const hi = u32(gdt, selector + 4);
      const rawLimit = (lo & 0xffff) | (hi & 0xf0000);
      const granular = (hi & 0x800000) !== 0;
      return {
        base: ((lo >>> 16) | ((hi & 0xff) << 16) | (hi & 0xff000000)) >>> 0,
        limit: granular ? rawLimit * PAGE + 0xfff : rawLimit,
        type: (hi >>> 8) & 0xff,
        big: (hi & 0x400000) !== 0,
      };
    };
    expect(Array.from(gdt.subarray(0, 8))).toEqual(new Array(8).fill(0));
    expect(descriptor(0x10)).toEqual({ base: 0, limit: 0xffffffff, type: 0x9b, big: true });
    expect(descriptor(0x18)).toEqual({ base: 0, limit: 0xffffffff, type: 0x93, big: true });
  });

  it("sets the CPU to the 32-bit entry state", () => {
    const state = core.save();
    expect(state.eip).toBe(0x100000);
    expect(state.regs.esi).toBe(BOOT_PARAMS_ADDR);
    expect([state.regs.ebp, state.regs.edi, state.regs.ebx]).toEqual([0, 0, 0]);
    expect(state.eflags & 0x200).toBe(0); // IF
    expect(state.cr0 & 1).toBe(1); // PE
    expect(state.cr0 & 0x80000000).toBe(0); // PG
    expect(state.cpl).toBe(0);
    expect(state.segments.cs).toMatchObject({ selector: 0x10, base: 0, limit: 0xffffffff });
    for (const seg of ["ds", "es", "ss"] as const) {
      expect(state.segments[seg], seg).toMatchObject({
        selector: 0x18,
        base: 0,
        limit: 0xffffffff,
      });
    }
    expect(core.a20Enabled()).toBe(true); // the real-mode setup would have enabled it
  });

  it("writes only the pages of what it loaded", () => {
    const ranges: Array<[number, number]> = [
      [BOOT_GDT_ADDR, 32],
      [BOOT_PARAMS_ADDR, PAGE],
      [CMDLINE_ADDR, new TextEncoder().encode(cmdline).length + 1],
      [0x100000, payload.length],
      [info.initrdAddr!, initrd.length],
    ];
    const allowed = new Set<number>();
    for (const [start, length] of ranges) {
      for (let p = Math.floor(start / PAGE); p * PAGE < start + length; p++) allowed.add(p);
    }
    expect(dirty.filter((p) => !allowed.has(p))).toEqual([]);
    expect(dirty.length).toBeGreaterThan(0);
  });
});

describe("more good images", () => {
  let core: Core;
  beforeAll(async () => {
    core = await Core.create({ ramBytes: RAM });
  });

  it("enters code that finds the command line through ESI", () => {
    // prettier-ignore
    const code = new Uint8Array([
      0x8b, 0x86, 0x28, 0x02, 0x00, 0x00, // mov eax, [esi + 0x228]  ; cmd_line_ptr
      0x8a, 0x18,                         // mov bl, [eax]
      0xf4,                               // hlt (IF is clear)
    ]);
    loadBzImage(buildBzImage({ payload: code }), options({ cmdline: "Zap" }), core);
    expect(core.run(100)).toBe("halt-no-if");
    expect(core.getReg("eax")).toBe(CMDLINE_ADDR);
    expect(core.getReg("bl")).toBe("Z".charCodeAt(0));
  });

  it("takes a command line exactly cmdline_size bytes long", () => {
    const cmdline = "a".repeat(16);
    loadBzImage(buildBzImage({ cmdlineSize: 16 }), options({ cmdline }), core);
    expect(Array.from(core.memory.read(CMDLINE_ADDR, 17))).toEqual([...Array(16).fill(0x61), 0]);
  });

  it("writes only the command line and its NUL, however big cmdline_size is", () => {
    const payload = payloadPattern(PAGE, 3);
    core.memory.fill(CMDLINE_ADDR, 64, 0x77);
    loadBzImage(buildBzImage({ cmdlineSize: 0x200000, payload }), options({ cmdline: "ab" }), core);
    expect(Array.from(core.memory.read(CMDLINE_ADDR, 4))).toEqual([0x61, 0x62, 0, 0x77]);
    expect(Buffer.from(core.memory.read(0x100000, payload.length)).equals(payload)).toBe(true);
  });

  it("keeps the initrd below initrd_addr_max", () => {
    const image = buildBzImage({ initrdAddrMax: 32 * MIB - 1 });
    const initrd = payloadPattern(4 * PAGE + 7, 11);
    const { initrdAddr } = loadBzImage(image, options({ initrd }), core);
    expect(initrdAddr! % PAGE).toBe(0);
    expect(initrdAddr! + initrd.length).toBeLessThanOrEqual(32 * MIB);
    expect(initrdAddr! + initrd.length + PAGE).toBeGreaterThan(32 * MIB);
    expect(Buffer.from(core.memory.read(initrdAddr!, initrd.length)).equals(initrd)).toBe(true);
  });

  it("takes an initrd that fills RAM right up to the kernel's decompression area", () => {
    const initrd = new Uint8Array(RAM - 20 * MIB);
    const { initrdAddr } = loadBzImage(buildBzImage(), options({ initrd }), core);
    expect(initrdAddr).toBe(20 * MIB);
  });

  it("takes an init_size that exactly fills RAM", () => {
    const image = buildBzImage({ initSize: RAM - 16 * MIB });
    expect(() => loadBzImage(image, options(), core)).not.toThrow();
  });

  it("without an initrd, says so in boot_params", () => {
    const { initrdAddr } = loadBzImage(buildBzImage(), options(), core);
    const page = core.memory.read(BOOT_PARAMS_ADDR, PAGE);
    expect(initrdAddr).toBeNull();
    expect([u32(page, 0x218), u32(page, 0x21c)]).toEqual([0, 0]);
  });

  it("does not copy setup code past a shorter (protocol 2.10) header", () => {
    const image = buildBzImage({ protocol: 0x020a, headerEnd: 0x264 });
    loadBzImage(image, options(), core);
    const page = core.memory.read(BOOT_PARAMS_ADDR, PAGE);
    expect(image[0x264]).not.toBe(0);
    expect(Array.from(page.subarray(0x264, 0x2d0)).every((b) => b === 0)).toBe(true);
    expect(u32(page, 0x260)).toBe(DEFAULT_FIELDS.initSize);
  });
});

describe("the guest kernel (build/guest/bzImage)", () => {
  const present = existsSync(REAL_KERNEL);
  const title = present
    ? "is Linux 6.1 with boot protocol >= 2.15 and loads into 64 MiB"
    : "SKIPPED: build/guest/bzImage is missing (npm test builds it with tools/guest/build.sh)";
  it.skipIf(!present)(title, async () => {
    const image = new Uint8Array(readFileSync(REAL_KERNEL));
    expect(isBzImage(image)).toBe(true);
    const header = parseSetupHeader(image);
    expect(header.versionString).toMatch(/^6\.1/);
    expect(header.protocol).toBeGreaterThanOrEqual(0x020f);
    expect(header.loadflags & 0x01).toBe(0x01);
    const core = await Core.create({ ramBytes: RAM });
    const initrd = payloadPattern(MIB, 2);
    const info = loadBzImage(image, options({ initrd }), core);
    expect(info.kernelBytes).toBe(image.length - header.kernelOffset);
    expect(core.memory.read(0x100000, 64)).toEqual(
      image.slice(header.kernelOffset, header.kernelOffset + 64),
    );
  });
});
