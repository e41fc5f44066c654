// The dirty-page bitmap (one bit per 4 KiB guest-physical page) is what live
// migration copies from, so every path that writes guest RAM must set it, and
// nothing else may. Each test runs a small NASM program (loaded at 0000:8000,
// page 8) on a fresh Core, harvests before and after, and compares the exact
// page sets. `out 0xf4, al` makes the core stop after that instruction, so a
// test can harvest mid-program and then continue.
//
// What the API guarantees (Core.setDirtyTracking / Core.harvestDirty):
// - With tracking on, a harvest returns every page written since the previous
//   harvest (by the CPU, the page walk, or core.memory) and clears the bitmap.
//   A write to a page that was already dirty in the previous round is recorded
//   again in the next one.
// - With tracking off the bitmap is unspecified: it may hold some, all or none
//   of the pages written meanwhile (writes through core.memory still mark).
// - After setDirtyTracking(true), every later write is recorded again (even to
//   pages the CPU wrote while tracking was off). The first harvest after
//   re-enabling returns an unspecified superset of those later writes and
//   starts a clean round: from the next harvest on, the sets are exact.
// - Reads never mark pages; writes the core discards (ROM) do not mark them.
import { describe, expect, it } from "vitest";
import type { Core } from "../../src/core/core.ts";
import { assembleSource, bootGuest, type Guest } from "../helpers/guest.ts";
import { buildRealModeRom, ROM_BYTES } from "../fixtures/real-mode-rom.ts";

interface RawExports {
  dirtyHarvest(): number;
  memory: WebAssembly.Memory;
}

/**
 * Harvests through the raw export so the returned count can be checked
 * against the bitmap it copied: count must equal the number of set bits.
 */
function harvest(core: Core): number[] {
  const exports = (core as unknown as { exports: RawExports }).exports;
  const count = exports.dirtyHarvest();
  const pageCount = Math.ceil(core.memory.ramBytes / 4096);
  const bitmap = new Uint8Array(
    exports.memory.buffer,
    core.layout.HARVEST_BASE,
    Math.ceil(pageCount / 8),
  );
  const pages: number[] = [];
  for (let page = 0; page < pageCount; page++) {
    if (bitmap[page >> 3]! & (1 << (page & 7))) pages.push(page);
  }
  expect(count, "dirtyHarvest() count vs set bits").toBe(pages.length);
  return pages;
}

const hex = (pages: number[]) => pages.map((p) => "0x" + p.toString(16));

/** Pages [first, last] inclusive. */
function span(first: number, last: number): number[] {
  return Array.from({ length: last - first + 1 }, (_, i) => first + i);
}

function expectPages(actual: number[], expected: number[], what = "dirty pages"): void {
  const want = [...new Set(expected)].sort((a, b) => a - b);
  expect(hex(actual), what).toEqual(hex(want));
}

async function boot(body: string, options: Parameters<typeof bootGuest>[1] = {}): Promise<Guest> {
  const source = `bits 16\norg 0x8000\n cli\n xor ax, ax\n mov ds, ax\n mov ss, ax\n mov sp, 0x7000\n${body}\n cli\n hlt\n`;
  return bootGuest(assembleSource(source), options);
}

/** Harvests, runs until the guest stops or halts, harvests again. */
function round(guest: Guest, expected: "stop" | "halt-no-if" = "halt-no-if"): number[] {
  expect(guest.runToStop()).toBe(expected);
  return harvest(guest.core);
}

describe("dirty tracking: CPU stores", () => {
  it("marks exactly the pages of 8/16/32-bit MOVs, including both pages of a split store", async () => {
    const g = await boot(`
      mov ax, 0x2000
      mov es, ax
      mov byte [es:0x0010], 0x11            ; page 0x20
      mov word [es:0x1010], 0x2222          ; page 0x21
      mov dword [es:0x2010], 0x33333333     ; page 0x22
      mov dword [es:0x3ffe], 0x44332211     ; pages 0x23 and 0x24
      mov word [es:0x5fff], 0x6655          ; pages 0x25 and 0x26
      mov ebx, 0x7010
      mov eax, 0x77777777
      a32 mov [es:ebx], eax                 ; page 0x27, 32-bit addressing
      mov [es:0x8000], es                   ; page 0x28, MOV from a segment register
      stc
      setc [es:0x9000]                      ; page 0x29
      mov ax, 0xaaaa
      mov di, 0xa000
      stosw                                 ; page 0x2a, one STOS
    `);
    harvest(g.core); // the program image itself was written by the host
    expectPages(round(g), span(0x20, 0x2a));
    const m = g.core.memory;
    expect(m.read8(0x20010)).toBe(0x11);
    expect(m.read16(0x21010)).toBe(0x2222);
    expect(m.read32(0x22010)).toBe(0x33333333);
    expect(m.read32(0x23ffe)).toBe(0x44332211);
    expect(m.read16(0x25fff)).toBe(0x6655);
    expect(m.read32(0x27010)).toBe(0x77777777);
    expect(m.read16(0x28000)).toBe(0x2000);
    expect(m.read8(0x29000)).toBe(1);
    expect(m.read16(0x2a000)).toBe(0xaaaa);
    expect(harvest(g.core)).toEqual([]); // and the harvest cleared the bitmap
  });

  it("marks read-modify-write destinations, also after the page was only read", async () => {
    const g = await boot(`
      mov ax, 0x3000
      mov es, ax
      mov eax, [es:0x0000]                  ; read first: the TLB holds a read-only entry
      add dword [es:0x0000], 0x01020304     ; page 0x30
      mov cx, 0xbeef
      xchg [es:0x1000], cx                  ; page 0x31
      add dword [es:0x2ffe], 0x01010101     ; pages 0x32 and 0x33 (split)
      inc byte [es:0x4000]                  ; page 0x34
      not word [es:0x5000]                  ; page 0x35
      bts word [es:0x6000], 3               ; page 0x36
      mov dx, 5
      xadd [es:0x7000], dx                  ; page 0x37
      mov ax, 0x1234
      mov bx, 0x5678
      cmpxchg [es:0x8000], bx               ; page 0x38 (equal: stores bx)
      shl word [es:0x9000], 1               ; page 0x39
      neg dword [es:0xa000]                 ; page 0x3a
    `);
    const m = g.core.memory;
    m.write32(0x30000, 0x10);
    m.write32(0x31000, 0x1111);
    m.write32(0x32ffc, 0x11111111);
    m.write32(0x33000, 0x22222222);
    m.write8(0x34000, 0x41);
    m.write16(0x35000, 0x00ff);
    m.write16(0x37000, 10);
    m.write16(0x38000, 0x1234);
    m.write16(0x39000, 0x4001);
    m.write32(0xa000 + 0x30000, 1);
    harvest(g.core);
    expectPages(round(g), span(0x30, 0x3a));
    expect(m.read32(0x30000)).toBe(0x01020314);
    expect(m.read16(0x31000)).toBe(0xbeef);
    expect(g.core.getReg("cx")).toBe(0x1111);
    expect(m.read32(0x32ffe)).toBe((0x22221111 + 0x01010101) >>> 0);
    expect(m.read8(0x34000)).toBe(0x42);
    expect(m.read16(0x35000)).toBe(0xff00);
    expect(m.read16(0x36000)).toBe(8);
    expect(m.read16(0x37000)).toBe(15);
    expect(m.read16(0x38000)).toBe(0x5678);
    expect(m.read16(0x39000)).toBe(0x8002);
    expect(m.read32(0x3a000)).toBe(0xffffffff);
  });

  it("marks the stack pages written by PUSH, CALL, INT, PUSHA, PUSHF and ENTER", async () => {
    const g = await boot(`
      mov ax, 0x3000
      mov ss, ax
      mov sp, 0x1002
      mov eax, 0x11223344
      push eax                              ; 0x30ffe..0x31001: pages 0x30 and 0x31
      mov ax, 0x4000
      mov ss, ax
      mov sp, 0x0100
      call near_fn                          ; page 0x40
      mov ax, 0x5000
      mov ss, ax
      mov sp, 0x0100
      call 0:far_fn                         ; page 0x50
      mov ax, 0x6000
      mov ss, ax
      mov sp, 0x0100
      int 0x80                              ; page 0x60 (IVT set up by the test)
      mov ax, 0x7000
      mov ss, ax
      mov sp, 0x1008
      pusha                                 ; 0x70ff8..0x71007: pages 0x70 and 0x71
      mov ax, 0x9000
      mov ss, ax
      mov sp, 0x0100
      pushf                                 ; page 0x90
      push word [cs:marker]                 ; page 0x90, reads page 8
      mov bp, 0x1234
      enter 0x20, 0                         ; pushes BP only; the frame is not written
      jmp done
    near_fn: ret
    far_fn: retf
    int_fn: iret
    marker: dw 0xcafe
    done:
    `);
    // int_fn = far_fn + 1: find far_fn's RETF (0xCB) followed by IRET (0xCF) in the image.
    const image = g.core.memory.read(0x8000, 0x200);
    const at = image.findIndex((b, i) => b === 0xcb && image[i + 1] === 0xcf);
    expect(at).toBeGreaterThan(0);
    g.core.memory.write32(0x80 * 4, 0x8000 + at + 1); // IVT[0x80] = 0000:int_fn
    harvest(g.core);
    expectPages(round(g), [0x30, 0x31, 0x40, 0x50, 0x60, 0x70, 0x71, 0x90]);
    expect(g.core.memory.read32(0x30ffe)).toBe(0x11223344);
    expect(g.core.memory.read16(0x900fc)).toBe(0xcafe);
    expect(g.core.memory.read16(0x900fa)).toBe(0x1234); // ENTER pushed BP
    expect(g.core.getReg("sp")).toBe(0x00fa - 0x20);
  });
});

describe("dirty tracking: string instructions", () => {
  it("marks the destination pages of REP STOS/MOVS/INS, never the MOVS source pages", async () => {
    const g = await boot(
      `
      cld
      mov ax, 0x2000
      mov es, ax
      mov di, 0x0800
      mov eax, 0xa5a5a5a5
      mov cx, 0x1000
      rep stosd                             ; 0x20800..0x247ff: pages 0x20..0x24
      mov ax, 0x5000
      mov ds, ax
      mov si, 0x0100
      mov ax, 0x6000
      mov es, ax
      mov di, 0x0f00
      mov cx, 0x2200
      rep movsb                             ; reads 0x50100..0x522ff, writes 0x60f00..0x630ff
      std
      mov ax, 0x7000
      mov es, ax
      mov si, 0x20fe
      mov di, 0x2ffe
      mov cx, 0x1000
      rep movsw                             ; backwards: writes 0x71000..0x72fff
      cld
      mov di, 0x4000
      stosb                                 ; page 0x74
      mov ax, 0x8000
      mov es, ax
      mov di, 0x0ff0
      mov dx, 0x1234
      mov cx, 0x20
      rep insb                              ; 0x80ff0..0x8100f: pages 0x80 and 0x81
    `,
      { host: { ioIn: () => 0x5a } },
    );
    const source = new Uint8Array(0x2200).map((_, i) => (i * 7 + 3) & 0xff);
    g.core.memory.write(0x50100, source);
    harvest(g.core);
    expectPages(round(g), [...span(0x20, 0x24), ...span(0x60, 0x63), 0x71, 0x72, 0x74, 0x80, 0x81]);
    const m = g.core.memory;
    expect(m.read32(0x20800)).toBe(0xa5a5a5a5);
    expect(m.read32(0x247fc)).toBe(0xa5a5a5a5);
    expect(m.read(0x60f00, 0x2200)).toEqual(source);
    expect(m.read(0x71000, 0x2000)).toEqual(source.subarray(0, 0x2000));
    expect(m.read(0x80ff0, 0x20)).toEqual(new Uint8Array(0x20).fill(0x5a));
  });
});

describe("dirty tracking: page walk under paging", () => {
  // Enters protected mode with a minimal flat GDT, builds a page directory at
  // 0x20000, a page table at 0x21000 (identity map of 0..4 MiB) and a second
  // one at 0x22000 (linear 4 MiB.. -> physical 0x60000..), plus a 4 MiB page
  // (linear 8 MiB -> physical 4 MiB). All entries start with A = D = 0.
  const PAGING = `
      o32 lgdt [gdt_desc]
      mov eax, cr0
      or al, 1
      mov cr0, eax
      jmp 0x08:pm32
    bits 32
    pm32:
      mov ax, 0x10
      mov ds, ax
      mov es, ax
      mov ss, ax
      mov esp, 0x7000
      mov edi, 0x21000
      mov eax, 0x003
      mov ecx, 1024
    .pt: mov [edi], eax
      add eax, 0x1000
      add edi, 4
      loop .pt
      mov edi, 0x22000
      mov eax, 0x60003
      mov ecx, 16
    .pt2: mov [edi], eax
      add eax, 0x1000
      add edi, 4
      loop .pt2
      mov edi, 0x20000
      xor eax, eax
      mov ecx, 1024
      rep stosd
      mov dword [0x20000], 0x21003
      mov dword [0x20004], 0x22003
      mov dword [0x20008], 0x00400083
      mov eax, cr4
      or eax, 0x10
      mov cr4, eax
      mov eax, 0x20000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80000000
      mov cr0, eax
      out 0xf4, al                          ; stop 1: paging is on
      mov eax, [0x400000]                   ; PDE 1 gets A, PT2[0] gets A
      mov eax, [0x50000]                    ; PT[0x50] gets A
      out 0xf4, al                          ; stop 2: reads only
      mov dword [0x50000], 0x12345678       ; PT[0x50] gets D; page 0x50
      mov dword [0x401000], 0x9abcdef0      ; PT2[1] gets A and D; physical page 0x61
      out 0xf4, al                          ; stop 3
      mov dword [0x50004], 1                ; D already set: only page 0x50
      out 0xf4, al                          ; stop 4
      mov dword [0x803000], 0x55aa55aa      ; 4 MiB PDE gets A and D; physical page 0x403
      out 0xf4, al                          ; stop 5
      jmp finish
    align 8
    gdt: dq 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF
    gdt_desc: dw 23
      dd gdt
    finish:
  `;

  it("marks the page-table and page-directory pages when the walk sets Accessed/Dirty", async () => {
    const g = await boot(PAGING, { ramBytes: 8 * 1024 * 1024 });
    const m = g.core.memory;
    harvest(g.core);
    const first = round(g, "stop"); // PM entry, table building, paging on
    expect(g.core.getControl("cr0") >>> 31, "paging enabled (blocked on protected mode?)").toBe(1);
    expect(first).toEqual(expect.arrayContaining([0x20, 0x21, 0x22]));

    // Reads: only the walk's A-bit updates are writes.
    expectPages(round(g, "stop"), [0x20, 0x21, 0x22], "after reads through the walk");
    expect(m.read32(0x20004)).toBe(0x22023); // PDE 1: A
    expect(m.read32(0x22000)).toBe(0x60023); // PT2[0]: A
    expect(m.read32(0x21000 + 0x50 * 4)).toBe(0x50023); // PT[0x50]: A

    // First writes: D bits in the tables, plus the data pages.
    expectPages(round(g, "stop"), [0x21, 0x22, 0x50, 0x61], "after first writes");
    expect(m.read32(0x21000 + 0x50 * 4)).toBe(0x50063);
    expect(m.read32(0x22004)).toBe(0x61063);
    expect(m.read32(0x61000)).toBe(0x9abcdef0);

    // Same page again in a new round: the TLB may not keep its write permission.
    expectPages(round(g, "stop"), [0x50], "second write after a harvest");

    // 4 MiB page: the PDE itself gets A and D.
    expectPages(round(g, "stop"), [0x20, 0x403], "4 MiB page");
    expect(m.read32(0x20008)).toBe(0x004000e3);
    expect(m.read32(0x403000)).toBe(0x55aa55aa);

    expectPages(round(g), [], "nothing after the last stop");
    expect(g.stops.length).toBe(5);
  });
});

describe("dirty tracking: host writes", () => {
  it("marks pages written through core.memory (write, write8/16/32, fill)", async () => {
    const g = await boot("");
    const m = g.core.memory;
    harvest(g.core);
    m.write(0x12ffe, new Uint8Array([1, 2, 3, 4])); // pages 0x12, 0x13
    m.write8(0x20000, 1); // 0x20
    m.write16(0x21fff, 0xffff); // 0x21, 0x22
    m.write32(0x30000, 5); // 0x30
    m.write32(0x31ffd, 5); // 0x31, 0x32
    m.fill(0x40800, 0x3000, 0xee); // 0x40..0x43
    m.fill(0x50000, 0, 0xee); // nothing
    m.write(0x51000, new Uint8Array(0)); // nothing
    m.write8(m.ramBytes - 1, 9); // the last page
    expectPages(harvest(g.core), [
      0x12,
      0x13,
      0x20,
      0x21,
      0x22,
      0x30,
      0x31,
      0x32,
      ...span(0x40, 0x43),
      m.ramBytes / 4096 - 1,
    ]);
    expect(harvest(g.core)).toEqual([]);
  });

  it("returns a count equal to the set bits, also when RAM is not a multiple of 32 KiB", async () => {
    const ramBytes = 0x100000 + 3 * 4096; // 259 pages: the bitmap's last byte is partial
    const g = await boot(
      `
      mov ax, 0xffff
      mov es, ax
      mov byte [es:0x2010], 1               ; physical 0x102000: the last page
      mov ax, 0x1000
      mov es, ax
      xor di, di
      mov cx, 0x4000
      xor eax, eax
      rep stosd                             ; 64 KiB: pages 0x10..0x1f
    `,
      { ramBytes },
    );
    harvest(g.core);
    expectPages(round(g), [0x102, ...span(0x10, 0x1f)]);
    g.core.memory.fill(0, ramBytes, 1);
    expect(harvest(g.core).length).toBe(259);
  });
});

describe("dirty tracking: rounds", () => {
  it("marks a page written before a harvest again when it is written after it", async () => {
    const g = await boot(`
      mov ax, 0x2000
      mov es, ax
      mov byte [es:0x0010], 1
      out 0xf4, al
      mov byte [es:0x0020], 2               ; the TLB still maps page 0x20 from the last round
      out 0xf4, al
      mov ax, 0x3000
      mov ss, ax
      mov sp, 0x0100
      push ax
      out 0xf4, al
      push ax                               ; same stack page, next round
      out 0xf4, al
      mov ax, 0x4000
      mov es, ax
      mov di, 0x0800
      mov cx, 0x3000
      out 0xf4, al
      rep stosb                             ; 12 KiB in chunks: 0x40800..0x437ff
    `);
    harvest(g.core);
    expectPages(round(g, "stop"), [0x20]);
    expectPages(round(g, "stop"), [0x20], "same page, next round");
    expectPages(round(g, "stop"), [0x30]);
    expectPages(round(g, "stop"), [0x30], "same stack page, next round");
    expectPages(round(g, "stop"), []);
    // Stop inside the REP STOSB (the core runs it in chunks), harvest, continue.
    expect(g.core.run(1)).toBe("budget");
    const left = g.core.getReg("cx");
    expect(left, "stopped in the middle of REP STOSB").toBeGreaterThan(0);
    expect(left).toBeLessThan(0x3000);
    const doneUpTo = 0x40800 + (0x3000 - left); // first byte not yet written
    const before = harvest(g.core);
    expectPages(before, span(0x40, (doneUpTo - 1) >> 12));
    expectPages(round(g), span(doneUpTo >> 12, 0x43), "rest of the REP after a harvest");
  });

  it("starts a clean round after tracking is turned back on and harvested", async () => {
    const g = await boot(`
      mov ax, 0x2000
      mov es, ax
      mov byte [es:0], 1                    ; page 0x20, tracking on
      out 0xf4, al
      mov al, [es:0x3000]                   ; page 0x23 only read while off: a TLB
      mov cx, 100                           ; entry that may allow writes unmarked
    .warm:
      mov [es:0x1000], cx                   ; pages 0x21 and 0x22, tracking off
      mov [es:0x2000], cx
      loop .warm
      out 0xf4, al
      mov byte [es:0x2000], 3               ; pages 0x22 and 0x23, tracking on again
      mov byte [es:0x3000], 3
      out 0xf4, al
      mov byte [es:0x1000], 4               ; page 0x21, a clean round
      out 0xf4, al
    `);
    const core = g.core;
    harvest(core);
    expectPages(round(g, "stop"), [0x20]);
    core.setDirtyTracking(false);
    expect(g.runToStop()).toBe("stop"); // writes while off: the bitmap is unspecified
    core.setDirtyTracking(true);
    // Writes after re-enabling are recorded even though the TLB was warm for them.
    expect(g.runToStop()).toBe("stop");
    expect(hex(harvest(core))).toEqual(expect.arrayContaining(hex([0x22, 0x23])));
    // That harvest started a clean round: exact from here on.
    expectPages(round(g, "stop"), [0x21]);
    expectPages(round(g), []);
    expect(core.memory.read16(0x21000)).toBe(4);
  });

  it("still counts host writes while tracking is off, and harvests stay consistent", async () => {
    const g = await boot("");
    harvest(g.core);
    g.core.setDirtyTracking(false);
    g.core.memory.write8(0x5000, 1);
    const pages = harvest(g.core); // count vs bits is checked inside
    expect(pages.every((p) => p === 5)).toBe(true);
    g.core.setDirtyTracking(true);
    harvest(g.core);
    g.core.memory.write8(0x6000, 1);
    expectPages(harvest(g.core), [6]);
  });
});

describe("dirty tracking: accesses that must not mark", () => {
  it("does not mark pages that are only read (MOV, CMP, TEST, BT, LODS, SCAS, CMPS, fetch)", async () => {
    const g = await boot(`
      mov ax, 0x2000
      mov ds, ax
      mov eax, [0x0000]
      mov bl, [0x1fff]
      movzx ecx, word [0x2fff]              ; split read, pages 0x22 and 0x23
      cmp [0x3000], al
      test [0x4000], ax
      bt word [0x5000], 3
      cld
      mov si, 0x6000
      mov cx, 0x800
      rep lodsd                             ; pages 0x26 and 0x27
      mov ax, 0x3000
      mov es, ax
      xor di, di
      mov al, 0x77
      mov cx, 0x1800
      repne scasb                           ; pages 0x30 and 0x31
      xor si, si
      xor di, di
      mov cx, 0x1800
      repe cmpsb                            ; pages 0x20, 0x21, 0x30, 0x31
      xor ax, ax
      mov ds, ax
      lgdt [0x9000]
      mov dx, 0x1234
      mov si, 0xa000
      mov cx, 0x10
      rep outsb                             ; page 0x0a
    `);
    harvest(g.core);
    expectPages(round(g), []);
    g.core.memory.read(0, g.core.memory.ramBytes);
    g.core.memory.read32(0x20000);
    expect(harvest(g.core)).toEqual([]);
  });

  it("discards writes to ROM without marking its pages", async () => {
    const g = await boot(`
      mov ax, 0xf000
      mov es, ax
      mov byte [es:0x1000], 0x11
      mov word [es:0x2000], 0x2222
      mov dword [es:0x3ffe], 0x33333333     ; split across two ROM pages
      add [es:0x5000], al                   ; read-modify-write
      xchg [es:0x6000], ax
      mov di, 0x8000
      mov cx, 0x800
      mov eax, 0x12345678
      rep stosd                             ; 8 KiB into ROM
      mov ax, 0xefff
      mov es, ax
      mov dword [es:0x000e], 0x44444444     ; 0xefffe: half RAM (page 0xef), half ROM
    `);
    const rom = buildRealModeRom(new Uint8Array(0x40).map((_, i) => i + 1));
    g.core.loadRom(rom);
    g.core.setRealModeSegment("cs", 0); // loadRom leaves the CPU alone, but be explicit
    g.core.setReg("eip", 0x8000);
    harvest(g.core);
    expectPages(round(g), [0xef]);
    const after = g.core.memory.read(0x100000 - ROM_BYTES, ROM_BYTES);
    expect(
      after.findIndex((b, i) => b !== rom[i]),
      "first changed ROM byte",
    ).toBe(-1);
    expect(g.core.memory.read16(0xefffe)).toBe(0x4444);
  });
});
