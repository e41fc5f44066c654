// Save and restore of the complete machine mid-program: CPU state from
// core.save() plus a copy of guest RAM. A deterministic program runs on one
// Core; at some instruction count the state is captured (through JSON, as a
// migration would send it), the original runs to its end, and a FRESH Core
// gets the RAM copy, restore()s the state and runs to the end too. Both must
// finish with the same CPU state (registers, segments, EFLAGS, control
// registers, instruction count...), the same RAM and the same debug-console
// output. Snapshots also land in the middle of REP string instructions,
// which the core executes in chunks and must resume correctly.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { CpuState } from "../../src/core/cpu-state.ts";
import type { Core } from "../../src/core/core.ts";
import { assembleSource, bootGuest, type Guest } from "../helpers/guest.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const RAM = 4 * 1024 * 1024;

// xorshift32 on EAX (ESI is scratch), then mixes it into EBX/EDX with carries.
const STEP = `
      mov esi, eax
      shl esi, 13
      xor eax, esi
      mov esi, eax
      shr esi, 17
      xor eax, esi
      mov esi, eax
      shl esi, 5
      xor eax, esi
      add ebx, eax
      adc edx, 0
      rol ebx, 3
`;

/**
 * Real mode with 32-bit registers. Each iteration stores into one of eight
 * 64 KiB segments (0x20000..0x9ffff, 128 pages), uses the stack (PUSH/CALL/
 * PUSHFD), accumulates EFLAGS into EBP, and prints a letter every 256
 * iterations. With repEvery > 0, every repEvery iterations a REP MOVSB copies
 * 48 KiB from 0x20000 to 0xa0000 (12 chunks of the core's REP loop).
 */
function realModeProgram(iterations: number, repEvery = 0): string {
  return `
    bits 16
    org 0x8000
      cli
      xor ax, ax
      mov ds, ax
      mov ss, ax
      mov esp, 0x7000
      mov eax, 0x12345678
      mov ebx, 0x9abcdef1
      xor ecx, ecx
      mov edx, 1
      xor ebp, ebp
    top:
      ${STEP}
      mov si, cx
      and si, 7
      shl si, 12
      add si, 0x2000
      mov es, si
      mov di, ax
      and di, 0xfffc
      mov [es:di], ebx
      xor [es:di + 2], dx
      push eax
      push ebx
      call mix
      pop ebx
      pop eax
      pushfd
      pop esi
      xor ebp, esi
      test cl, cl
      jnz .quiet
      push ax
      mov al, bl
      and al, 15
      add al, 'A'
      out 0xe9, al
      pop ax
    .quiet:
      %if ${repEvery} > 0
      mov esi, ecx
      and esi, ${repEvery - 1}
      cmp esi, ${repEvery >> 1}
      jne .norep
      pushad
      push ds
      push es
      mov ax, 0x2000
      mov ds, ax
      mov ax, 0xa000
      mov es, ax
      xor si, si
      mov di, cx
      and di, 0x0ffc
      mov cx, 0xc000
      cld
      rep movsb
      pop es
      pop ds
      popad
    .norep:
      %endif
      inc ecx
      cmp ecx, ${iterations}
      jb top
      mov [0x6000], ebp
      cli
      hlt
    mix:
      imul esi, ebx, 31
      add ebp, esi
      sbb edx, eax
      mov [0x6004], edx
      ret
  `;
}

/**
 * Protected mode with paging: linear 0x400000..0x4fffff maps to the physical
 * pages 0x100000..0x1fffff in a scrambled order (page i -> (i * 37) mod 256),
 * the stack lives at the top of that window, and every 512 iterations a
 * REP MOVSD copies 48 KiB inside it.
 */
function pagedProgram(iterations: number): string {
  return `
    bits 16
    org 0x8000
      cli
      xor ax, ax
      mov ds, ax
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
      mov fs, ax
      mov gs, ax
      mov ss, ax
      mov esp, 0x7000
      mov edi, 0x10000                      ; PT: identity map of the first MiB
      mov eax, 0x003
      mov ecx, 256
    .pt: mov [edi], eax
      add eax, 0x1000
      add edi, 4
      loop .pt
      xor ecx, ecx                          ; PT2 at 0x12000: the scrambled window
    .pt2: mov eax, ecx
      imul eax, eax, 37
      and eax, 255
      shl eax, 12
      add eax, 0x100003
      mov [0x12000 + ecx * 4], eax
      inc ecx
      cmp ecx, 256
      jb .pt2
      mov edi, 0x11000
      xor eax, eax
      mov ecx, 1024
      rep stosd
      mov dword [0x11000], 0x10003
      mov dword [0x11004], 0x12003
      mov eax, 0x11000
      mov cr3, eax
      mov eax, cr0
      or eax, 0x80010000                    ; PG and WP
      mov cr0, eax
      mov esp, 0x500000
      mov eax, 0x12345678
      mov ebx, 0x9abcdef1
      xor ecx, ecx
      mov edx, 1
      xor ebp, ebp
    top:
      ${STEP}
      mov edi, eax
      and edi, 0xdfffc                      ; below the stack's pages
      mov [0x400000 + edi], ebx
      xor [0x400002 + edi], dx
      push eax
      push ebx
      call mix
      pop ebx
      pop eax
      pushfd
      pop esi
      xor ebp, esi
      test cl, cl
      jnz .quiet
      push eax
      mov al, bl
      and al, 15
      add al, 'a'
      out 0xe9, al
      pop eax
    .quiet:
      mov esi, ecx
      and esi, 511
      cmp esi, 256
      jne .norep
      pushad
      mov esi, 0x400000
      mov edi, ecx
      and edi, 0xffc
      add edi, 0x440000
      mov ecx, 0x3000
      cld
      rep movsd
      popad
    .norep:
      inc ecx
      cmp ecx, ${iterations}
      jb top
      mov [0x6000], ebp
      cli
      hlt
    mix:
      imul esi, ebx, 31
      add ebp, esi
      sbb edx, eax
      mov [0x6004], edx
      ret
    align 8
    gdt: dq 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF
    gdt_desc: dw 23
      dd gdt
  `;
}

function ramHash(guest: Guest): string {
  return createHash("sha256").update(guest.core.memory.read(0, RAM)).digest("hex");
}

/** Runs to the final HLT (IF = 0). */
function finish(guest: Guest): void {
  expect(guest.runToStop(50_000_000)).toBe("halt-no-if");
}

interface Snapshot {
  json: string;
  ram: Uint8Array;
  output: string;
}

function snapshot(guest: Guest): Snapshot {
  return {
    json: JSON.stringify(guest.core.save()),
    ram: guest.core.memory.read(0, RAM),
    output: guest.output(),
  };
}

async function resume(snap: Snapshot): Promise<Guest> {
  const fresh = await bootGuest(new Uint8Array(0), { ramBytes: RAM });
  fresh.core.memory.write(0, snap.ram);
  restoreComponent(fresh.core, JSON.parse(snap.json) as CpuState);
  expect(fresh.core.save(), "state right after restore()").toEqual(JSON.parse(snap.json));
  return fresh;
}

function firstDifference(a: Uint8Array, b: Uint8Array): string {
  const i = a.findIndex((v, k) => v !== b[k]);
  return i < 0 ? "none" : `0x${i.toString(16)}: ${a[i]} vs ${b[i]}`;
}

/** Both machines ended in the same state. */
function expectSameEnd(original: Guest, restored: Guest, snap: Snapshot): void {
  expect(restored.core.save()).toEqual(original.core.save());
  expect(restored.core.instructionCount()).toBe(original.core.instructionCount());
  const a = original.core.memory.read(0, RAM);
  const b = restored.core.memory.read(0, RAM);
  expect(firstDifference(b, a), "first RAM difference").toBe("none");
  expect(ramHash(restored)).toBe(ramHash(original));
  expect(snap.output + restored.output()).toBe(original.output());
}

async function start(source: string): Promise<Guest> {
  return bootGuest(assembleSource(source), { ramBytes: RAM });
}

/**
 * Runs a probe until it stops inside a REP (EIP on the F3 prefix, counter
 * mid-way) once `ready` holds; returns that instruction count.
 */
async function findRepStop(
  source: string,
  counter: "cx" | "ecx",
  total: number,
  ready: (core: Core) => boolean = () => true,
  step = 997,
): Promise<number> {
  const probe = await start(source);
  const core = probe.core;
  for (let i = 0; i < 100_000; i++) {
    if (core.run(step) !== "budget") break;
    const eip = core.getSegment("cs").base + core.getReg("eip");
    const left = core.getReg(counter);
    if (core.memory.read8(eip) === 0xf3 && left > 0 && left < total && ready(core)) {
      return core.instructionCount();
    }
  }
  throw new Error("the probe never stopped inside the REP");
}

describe("snapshot mid-program", () => {
  const REAL = realModeProgram(3000);

  it("the real-mode program is deterministic and long enough", async () => {
    const a = await start(REAL);
    const b = await start(REAL);
    finish(a);
    finish(b);
    expect(a.core.instructionCount()).toBeGreaterThan(100_000);
    expect(a.core.save()).toEqual(b.core.save());
    expect(ramHash(a)).toBe(ramHash(b));
    expect(a.output()).toHaveLength(12);
    expect(a.output()).toBe(b.output());
    expect(a.core.getReg("ecx")).toBe(3000);
  });

  for (const n of [1, 20_000, 77_777]) {
    it(`real mode: restores on a fresh core after ${n} instructions`, async () => {
      const original = await start(REAL);
      expect(original.core.run(n)).toBe("budget");
      expect(original.core.instructionCount()).toBe(n);
      const snap = snapshot(original);
      finish(original);
      const restored = await resume(snap);
      expect(restored.core.instructionCount()).toBe(n);
      finish(restored);
      expectSameEnd(original, restored, snap);
    });
  }

  it("real mode: resumes a REP MOVSB interrupted in the middle", async () => {
    const source = realModeProgram(1200, 256);
    const at = await findRepStop(source, "cx", 0xc000);
    const original = await start(source);
    original.core.run(at);
    expect(original.core.instructionCount()).toBe(at);
    const cx = original.core.getReg("cx");
    expect(cx, "snapshot inside the REP").toBeGreaterThan(0);
    expect(cx).toBeLessThan(0xc000);
    const state = original.core.save();
    expect(original.core.memory.read8(state.segments.cs.base + state.eip)).toBe(0xf3);
    const snap = snapshot(original);
    finish(original);
    const restored = await resume(snap);
    finish(restored);
    expectSameEnd(original, restored, snap);
  });

  it("protected mode with paging: restores mid-loop and mid-REP MOVSD", async () => {
    const source = pagedProgram(2000);
    const reference = await start(source);
    finish(reference);
    expect(reference.core.getControl("cr0") >>> 31, "paging on at the end").toBe(1);
    expect(reference.core.getReg("ecx")).toBe(2000);
    const total = reference.core.instructionCount();

    // The setup also has REPs (clearing page tables): wait for paging.
    const atRep = await findRepStop(
      source,
      "ecx",
      0x3000,
      (core) => core.getControl("cr0") >>> 31 === 1,
    );
    for (const n of [Math.floor(total / 3), atRep]) {
      const original = await start(source);
      original.core.run(n);
      const state = original.core.save();
      expect(state.cr0 >>> 31, `paging on at ${n}`).toBe(1);
      expect(state.cr3).toBe(0x11000);
      const snap = snapshot(original);
      finish(original);
      expect(original.core.save()).toEqual(reference.core.save());
      const restored = await resume(snap);
      finish(restored);
      expectSameEnd(original, restored, snap);

      // Rewind the finished original itself: restore() must drop its TLB,
      // whose entries (write permission, D bits already set) are stale now.
      original.core.memory.write(0, snap.ram);
      restoreComponent(original.core, JSON.parse(snap.json) as CpuState);
      const rewound = original.output().length;
      finish(original);
      expect(original.output().slice(rewound)).toBe(restored.output());
      expect(original.core.save()).toEqual(restored.core.save());
      expect(ramHash(original)).toBe(ramHash(restored));
    }
  });
});

// A parsed JSON state the malformed cases poke at freely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Loose = any;

describe("snapshot format", () => {
  it("survives JSON.stringify / JSON.parse unchanged", async () => {
    const g = await start(pagedProgram(300));
    g.core.run(30_000);
    const state = g.core.save();
    const copy = JSON.parse(JSON.stringify(state)) as CpuState;
    expect(copy).toEqual(state);
    restoreComponent(g.core, copy);
    expect(g.core.save()).toEqual(state);
  });

  it("rejects malformed states with a clear error and leaves the core usable", async () => {
    const source = realModeProgram(600);
    const original = await start(source);
    original.core.run(9_000);
    const snap = snapshot(original);
    finish(original);

    const target = await resume(snap);
    const before = target.core.save();
    const good = JSON.parse(snap.json) as Record<string, unknown>;
    const bad = (patch: (s: Loose) => void): unknown => {
      const copy = JSON.parse(JSON.stringify(good)) as Loose;
      patch(copy);
      return copy;
    };
    const cases: Array<[unknown, RegExp]> = [
      [bad((s) => (s.version = 99)), /state\.version must be 1/],
      [bad((s) => (s.version = "1")), /state\.version/],
      [bad((s) => delete s.version), /state\.version/],
      [bad((s) => delete s.cr3), /state\.cr3/],
      [bad((s) => delete s.segments.ss), /state\.segments\.ss/],
      [bad((s) => delete s.msrs.pat), /state\.msrs\.pat/],
      [bad((s) => (s.regs.eax = "0x10")), /state\.regs\.eax must be an integer/],
      [bad((s) => (s.eip = -1)), /state\.eip/],
      [bad((s) => (s.eflags = 1.5)), /state\.eflags/],
      [bad((s) => (s.segments.cs.base = null)), /state\.segments\.cs\.base/],
      [bad((s) => (s.halted = "no")), /state\.halted must be a boolean/],
      [bad((s) => (s.dr = "00000000")), /state\.dr/],
      [bad((s) => (s.icount = 12.5)), /state\.icount/],
      [bad((s) => (s.cr0 = 2 ** 32)), /state\.cr0/],
      [null, /invalid CPU state/],
      ["{}", /invalid CPU state/],
    ];
    for (const [state, message] of cases) {
      expect(() => restoreComponent(target.core, state as CpuState)).toThrow(TypeError);
      expect(() => restoreComponent(target.core, state as CpuState)).toThrow(message);
      expect(target.core.save()).toEqual(before);
    }
    // Still usable: it runs on from the good state to the same end.
    finish(target);
    expectSameEnd(original, target, snap);
    // And a good state can still be restored after all that.
    restoreComponent(target.core, JSON.parse(snap.json) as CpuState);
    target.core.memory.write(0, snap.ram);
    expect(target.core.save()).toEqual(JSON.parse(snap.json));
  });
});
