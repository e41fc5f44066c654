// The two-byte opcode map (0F xx): small real-mode programs, checked register
// by register. 32-bit registers are reached through 0x66/0x67 prefixes.
import { describe, it, expect } from "vitest";
import type { ExitReason } from "../../src/core/core.ts";
import { REG32_NAMES } from "../../src/core/register-names.ts";
import { assembleSource, bootGuest, LOAD_AT } from "../helpers/guest.ts";

const [EAX, ECX, EDX, EBX, , EBP, ESI, EDI] = REG32_NAMES;
const [CF, ZF, SF, OF] = [0x1, 0x40, 0x80, 0x800]; // EFLAGS bits

type Reg32 = (typeof REG32_NAMES)[number];

interface Machine {
  exit: ExitReason | "fault";
  fault: number;
  reg(r: Reg32): number;
  mem32(phys: number): number;
  state32(off: number): number;
  msrWrites: Array<[number, number, number]>;
}

interface RunOptions {
  flat32?: boolean; // start in protected mode, CPL 0, flat 32-bit segments
  cr4?: number;
  stopOnFault?: boolean; // return at the first exception (m.fault) instead of delivering it
}

const FLAT_SEGMENTS = ["es", "cs", "ss", "ds", "fs", "gs"] as const;

async function runReal(body: string, opts: RunOptions = {}): Promise<Machine> {
  let tsc = 1_000_000;
  const msrWrites: Array<[number, number, number]> = [];
  const code = assembleSource(`bits ${opts.flat32 ? 32 : 16}\norg ${LOAD_AT}\n${body}\n`);
  const { core } = await bootGuest(code, {
    ramBytes: 16 << 20,
    host: {
      msrRead: (index) => (index === 0x8b ? 0x5678_00001234n : undefined),
      msrWrite: (index, value) => {
        msrWrites.push([index, Number(value & 0xffffffffn), Number(value >> 32n)]);
        return index === 0x8b || index === 0x10;
      },
      readTsc: () => (tsc += 1000),
    },
  });
  if (opts.flat32) {
    core.setControl("cr0", 0x60000011);
    for (const name of FLAT_SEGMENTS) {
      const isCode = name === "cs";
      core.setSegment(name, {
        selector: isCode ? 8 : 0x10,
        base: 0,
        limit: 0xffffffff,
        access: isCode ? 0xcf9b : 0xcf93,
      });
    }
  }
  if (opts.cr4 !== undefined) core.setControl("cr4", opts.cr4);
  const exit = opts.stopOnFault ? core.runUntilFault(1_000_000) : core.run(1_000_000);
  return {
    exit,
    fault: exit === "fault" ? core.pendingFault() : -1,
    reg: (r) => core.getReg(r),
    mem32: (p) => core.memory.read32(p),
    state32: (off) => core.readU32(off),
    msrWrites,
  };
}

// Prologue: stack, DS = 0, and an IVT entry for #UD (6) and #GP (13) that stores
// the vector in BP and the faulting IP at 0x5f0, then halts.
const PROLOGUE = `
  cli
  xor ax, ax
  mov ds, ax
  mov es, ax
  mov ss, ax
  mov sp, 0x7000
  mov word [6*4], on_ud
  mov word [6*4+2], 0
  mov word [13*4], on_gp
  mov word [13*4+2], 0
  mov word [12*4], on_ss
  mov word [12*4+2], 0
  xor bp, bp
  jmp start
on_ud:
  mov bp, 6
  jmp fault_tail
on_gp:
  mov bp, 13
  jmp fault_tail
on_ss:
  mov bp, 12
fault_tail:
  pop word [0x5f0]
  hlt
start:
`;

async function prog(body: string): Promise<Machine> {
  const m = await runReal(`${PROLOGUE}\n${body}\n  hlt\n  align 16\ndata: times 64 db 0\n`);
  expect(m.exit).toBe("halt-no-if");
  return m;
}

describe("two-byte opcode map", () => {
  it("CMOVcc moves only when the condition holds, 16- and 32-bit", async () => {
    const m = await prog(`
      mov eax, 1
      mov ebx, 2
      mov ecx, 0x11111111
      mov edx, 0x22222222
      mov esi, 0xaaaa5555
      mov dword [data], 0xcafef00d
      cmp eax, ebx
      cmovb ecx, ebx
      cmovz edx, ebx
      cmovnz si, ax
      mov edi, 0x12345678
      cmovae edi, [data]
      cmovl eax, [data]
    `);
    expect(m.reg(ECX)).toBe(2);
    expect(m.reg(EDX)).toBe(0x22222222);
    expect(m.reg(ESI)).toBe(0xaaaa0001);
    expect(m.reg(EDI)).toBe(0x12345678);
    expect(m.reg(EAX)).toBe(0xcafef00d);
    expect(m.reg(EBP)).toBe(0);
  });

  it("CMOVcc reads its source even when the condition is false", async () => {
    const m = await prog(`
      xor eax, eax
      mov ebx, 0x5a5a5a5a
      cmovnz ebx, [0xfffe]
      mov eax, 0x99
    `);
    expect(m.reg(EBP)).toBe(13);
    expect(m.reg(EBX)).toBe(0x5a5a5a5a);
    expect(m.reg(EAX)).toBe(0);
  });

  it("SETcc writes 0 or 1 to a byte register or memory", async () => {
    const m = await prog(`
      mov eax, 0xffffff05
      mov ebx, 0xffffff07
      mov ecx, 0xffffffff
      cmp al, bl
      setl cl
      setg ch
      sete dl
      mov al, 0x80
      add al, 0x80
      seto dh
      setpe ah
    `);
    expect(m.reg(ECX)).toBe(0xffff0001);
    expect(m.reg(EDX) & 0xffff).toBe(0x0100);
    expect((m.reg(EAX) >>> 8) & 0xff).toBe(1);
  });

  it("SETcc to memory", async () => {
    const m = await prog(`
      mov dword [0x600], 0xffffffff
      stc
      setc byte [0x600]
      setnc byte [0x601]
      or al, 1                 ; CF=0 ZF=0
      setbe byte [0x602]
    `);
    expect(m.mem32(0x600)).toBe(0xff000001);
  });

  it("BT/BTS/BTR/BTC with register offsets beyond the operand, incl. negative", async () => {
    const m = await prog(`
      mov dword [0x5fc], 0
      mov dword [0x600], 0
      mov dword [0x604], 0
      xor edi, edi
      mov eax, 35
      bts dword [0x600], eax   ; dword at 0x604, bit 3
      setc cl
      bts dword [0x600], eax
      setc ch
      mov eax, -1
      bts dword [0x600], eax   ; dword at 0x5fc, bit 31
      mov ax, -17
      btc word [0x600], ax     ; word at 0x5fc, bit 15
      mov eax, 35
      bt dword [0x600], eax
      setc dl
      btr dword [0x600], eax
      setc dh
      bt dword [0x600], eax
      setc bl
      mov esi, [0x5fc]
      mov edi, [0x604]
    `);
    expect(m.reg(ECX) & 0xffff).toBe(0x0100);
    expect(m.reg(EDX) & 0xffff).toBe(0x0101);
    expect(m.reg(EBX) & 0xff).toBe(0);
    expect(m.reg(ESI)).toBe(0x80008000);
    expect(m.reg(EDI)).toBe(0);
    expect(m.mem32(0x600)).toBe(0);
  });

  it("BT* with an immediate masks the offset; register destinations", async () => {
    const m = await prog(`
      mov dword [0x600], 0
      bts dword [0x600], 40    ; bit 8
      bts word [0x602], 17     ; bit 1 of the word at 0x602
      mov eax, 0x0000000f
      mov ecx, 33
      btr eax, ecx             ; bit 1
      setc dl
      btc eax, 4
      setc dh
      bts ax, 31               ; 16-bit: bit 15
      mov ebx, 0x80000000
      bt ebx, 31
      setc bl
    `);
    expect(m.mem32(0x600)).toBe(0x00020100);
    expect(m.reg(EAX)).toBe(0x801d);
    expect(m.reg(EDX) & 0xffff).toBe(0x0001);
    expect(m.reg(EBX) & 0xff).toBe(1);
  });

  it("BT r/m, imm8 with /0../3 is #UD", async () => {
    const m = await prog(`
      mov ax, 1
      db 0x0f, 0xba, 0xd8, 0x01   ; 0F BA /3
      mov ax, 2
    `);
    expect(m.reg(EBP)).toBe(6);
    expect(m.reg(EAX) & 0xffff).toBe(1);
  });

  it("BSF/BSR: results, and zero source leaves the destination with ZF=1", async () => {
    const m = await prog(`
      mov eax, 0x000000f0
      bsf ecx, eax
      bsr edx, eax
      mov ebx, 0x80000001
      bsr esi, ebx
      bsf edi, ebx
      mov dword [0x600], 0
      mov ebp, 0x1234
      mov eax, 0xdeadbeef
      bsf eax, [0x600]
      setz bl
      mov word [0x600], 0x0100
      bsr bx, [0x600]
      setz bh
      xor bp, bp
    `);
    expect(m.reg(ECX)).toBe(4);
    expect(m.reg(EDX)).toBe(7);
    expect(m.reg(ESI)).toBe(31);
    expect(m.reg(EDI)).toBe(0);
    expect(m.reg(EAX)).toBe(0xdeadbeef);
    expect(m.reg(EBX) & 0xffff).toBe(0x0008);
  });

  it("BSF sets ZF=1 for zero and ZF=0 otherwise", async () => {
    const m = await prog(`
      xor ecx, ecx
      mov eax, 5
      bsf eax, ecx
      pushfd
      pop esi
      mov ecx, 2
      bsf eax, ecx
      pushfd
      pop edi
    `);
    expect(m.reg(ESI) & ZF).toBe(ZF);
    expect(m.reg(EDI) & ZF).toBe(0);
    expect(m.reg(EAX)).toBe(1);
  });

  it("SHLD/SHRD: 32-bit results and CF", async () => {
    const m = await prog(`
      mov eax, 0x12345678
      mov ebx, 0x9abcdef0
      shld eax, ebx, 4
      setc dl
      mov ecx, 0x12345678
      mov cl, 8
      mov esi, 0x12345678
      shrd esi, ebx, cl
      setc dh
      mov edi, 0x00000081
      xor ebx, ebx
      shrd edi, ebx, 1
      setc bl
    `);
    expect(m.reg(EAX)).toBe(0x23456789);
    expect(m.reg(ESI)).toBe(0xf0123456);
    expect(m.reg(EDX) & 0xffff).toBe(0x0001);
    expect(m.reg(EDI)).toBe(0x40);
    expect(m.reg(EBX) & 0xff).toBe(1);
  });

  it("SHLD by 1 sets OF on a sign change; counts 0 and 32 change nothing", async () => {
    const m = await prog(`
      mov eax, 0x40000000
      mov ebx, 0x80000000
      shld eax, ebx, 1
      pushfd
      pop esi
      mov ecx, 0x11112222
      stc
      shld ecx, ebx, 0
      setc dl
      mov cl, 32
      mov edi, 0x33334444
      stc
      shrd edi, ebx, cl
      setc dh
    `);
    expect(m.reg(EAX)).toBe(0x80000001);
    expect(m.reg(ESI) & (OF | CF | SF | ZF)).toBe(OF | SF);
    expect(m.reg(ECX) >>> 8).toBe(0x111122);
    expect(m.reg(EDI)).toBe(0x33334444);
    expect(m.reg(EDX) & 0xffff).toBe(0x0101);
  });

  it("SHLD/SHRD 16-bit and memory destination", async () => {
    const m = await prog(`
      mov eax, 0xffff1234
      mov bx, 0xabcd
      shld ax, bx, 4
      setc dl
      mov si, 0x1234
      shrd si, bx, 4
      setc dh
      mov dword [0x600], 0x11223344
      mov ecx, 0xaabbccdd
      shld dword [0x600], ecx, 8
      mov edi, [0x600]
    `);
    expect(m.reg(EAX)).toBe(0xffff234a);
    expect(m.reg(ESI) & 0xffff).toBe(0xd123);
    expect(m.reg(EDX) & 0xffff).toBe(0x0001);
    expect(m.reg(EDI)).toBe(0x223344aa);
  });

  it("MOVZX/MOVSX", async () => {
    const m = await prog(`
      mov word [0x600], 0x8081
      mov bl, 0x80
      movzx eax, bl
      movsx ecx, bl
      movsx edx, word [0x600]
      movzx esi, word [0x600]
      mov edi, 0x12345678
      movsx di, byte [0x600]
      mov ebx, 0xffffffff
      movzx bx, byte [0x601]
    `);
    expect(m.reg(EAX)).toBe(0x80);
    expect(m.reg(ECX)).toBe(0xffffff80);
    expect(m.reg(EDX)).toBe(0xffff8081);
    expect(m.reg(ESI)).toBe(0x8081);
    expect(m.reg(EDI)).toBe(0x1234ff81);
    expect(m.reg(EBX)).toBe(0xffff0080);
  });

  it("XADD register, memory and flags", async () => {
    const m = await prog(`
      mov eax, 5
      mov ebx, 7
      xadd eax, ebx
      mov dword [0x600], 100
      mov ecx, 23
      xadd [0x600], ecx
      mov edx, 3
      xadd edx, edx
      mov ah, 1
      mov al, 0xff
      xadd al, ah
      pushfd
      pop edi
      mov esi, eax
    `);
    expect(m.reg(EBX)).toBe(5);
    expect(m.reg(ECX)).toBe(100);
    expect(m.mem32(0x600)).toBe(123);
    expect(m.reg(EDX)).toBe(6);
    expect(m.reg(ESI) & 0xffff).toBe(0xff00);
    expect(m.reg(EDI) & (CF | ZF | SF)).toBe(CF | ZF);
  });

  it("CMPXCHG equal and not equal (32 and 8 bit)", async () => {
    const m = await prog(`
      mov dword [0x600], 5
      mov eax, 5
      mov ecx, 9
      cmpxchg [0x600], ecx
      setz dl
      mov eax, 5
      cmpxchg [0x600], ecx
      setz dh
      setc bl
      mov esi, eax
      mov al, 0x10
      mov ah, 0x33
      mov bh, 0x10
      cmpxchg bh, ah
      setz cl
      mov edi, ebx
    `);
    expect(m.mem32(0x600)).toBe(9);
    expect(m.reg(EDX) & 0xffff).toBe(0x0001);
    expect(m.reg(ESI)).toBe(9);
    expect(m.reg(EDI) & 0xffff).toBe(0x3301);
    expect(m.reg(ECX) & 0xff).toBe(1);
  });

  it("CMPXCHG8B equal, not equal, and register form #UD", async () => {
    const m = await prog(`
      mov dword [0x600], 0x11111111
      mov dword [0x604], 0x22222222
      mov eax, 0x11111111
      mov edx, 0x22222222
      mov ebx, 0xaaaaaaaa
      mov ecx, 0xbbbbbbbb
      cmpxchg8b [0x600]
      setz byte [0x610]
      mov eax, 1
      mov edx, 2
      cmpxchg8b [0x600]
      setz byte [0x611]
      mov esi, eax
      mov edi, edx
      db 0x0f, 0xc7, 0xc8          ; cmpxchg8b eax (register form)
    `);
    expect(m.mem32(0x600)).toBe(0xaaaaaaaa);
    expect(m.mem32(0x604)).toBe(0xbbbbbbbb);
    expect(m.mem32(0x610) & 0xffff).toBe(0x0001);
    expect(m.reg(ESI)).toBe(0xaaaaaaaa);
    expect(m.reg(EDI)).toBe(0xbbbbbbbb);
    expect(m.reg(EBP)).toBe(6);
  });

  it("BSWAP", async () => {
    const m = await prog(`
      mov eax, 0x12345678
      bswap eax
      mov edi, 0x01020304
      bswap edi
    `);
    expect(m.reg(EAX)).toBe(0x78563412);
    expect(m.reg(EDI)).toBe(0x04030201);
  });

  it("CPUID leaves 0 and 1", async () => {
    const m = await prog(`
      xor eax, eax
      cpuid
      mov [0x600], ebx
      mov [0x604], edx
      mov [0x608], ecx
      mov [0x60c], eax
      mov eax, 1
      cpuid
      mov esi, eax
      mov edi, edx
    `);
    const vendor = Buffer.alloc(12);
    vendor.writeUInt32LE(m.mem32(0x600), 0);
    vendor.writeUInt32LE(m.mem32(0x604), 4);
    vendor.writeUInt32LE(m.mem32(0x608), 8);
    expect(vendor.toString("latin1")).toBe("GenuineIntel");
    expect(m.mem32(0x60c)).toBeGreaterThanOrEqual(1);
    expect((m.reg(ESI) >>> 8) & 0xf).toBe(6);
    const edx = m.reg(EDI);
    for (const bit of [3, 4, 5, 8, 15]) expect((edx >>> bit) & 1).toBe(1); // PSE TSC MSR CX8 CMOV
    for (const bit of [0, 23, 24, 25, 26]) expect((edx >>> bit) & 1).toBe(0); // FPU MMX FXSR SSE SSE2
  });

  it("RDTSC advances", async () => {
    const m = await prog(`
      rdtsc
      mov esi, eax
      mov edi, edx
      rdtsc
    `);
    const t0 = BigInt(m.reg(EDI)) * 2n ** 32n + BigInt(m.reg(ESI));
    const t1 = BigInt(m.reg(EDX)) * 2n ** 32n + BigInt(m.reg(EAX));
    expect(t1 > t0).toBe(true);
  });

  it("RDMSR/WRMSR: SYSENTER MSRs round trip, host MSRs, #GP on unknown", async () => {
    const m = await prog(`
      mov word [0x5f2], gp_here
      mov ecx, 0x174
      mov eax, 0x0008
      xor edx, edx
      wrmsr
      mov ecx, 0x176
      mov eax, 0xc0001234
      wrmsr
      mov ecx, 0x174
      xor eax, eax
      rdmsr
      mov [0x600], eax
      mov ecx, 0x176
      rdmsr
      mov [0x604], eax
      mov ecx, 0x8b
      rdmsr
      mov [0x608], eax
      mov [0x60c], edx
      mov ecx, 0x277
      rdmsr
      mov [0x610], eax
      mov ecx, 0x12345
      mov eax, 0x77
    gp_here:
      rdmsr
      mov eax, 0x88
    `);
    expect(m.mem32(0x600)).toBe(8);
    expect(m.mem32(0x604)).toBe(0xc0001234);
    expect(m.mem32(0x608)).toBe(0x1234);
    expect(m.mem32(0x60c)).toBe(0x5678);
    expect(m.mem32(0x610)).toBe(0x00070406);
    expect(m.reg(EBP)).toBe(13);
    expect(m.reg(EAX)).toBe(0x77);
    expect(m.mem32(0x5f0) & 0xffff).toBe(m.mem32(0x5f0) >>> 16); // #GP points at the RDMSR
    expect(m.state32(0x118)).toBe(8); // S_SYSENTER_CS
  });

  it("WRMSR: unknown MSR and invalid PAT type are #GP; TSC write goes to the host", async () => {
    const m = await prog(`
      mov ecx, 0x10
      mov eax, 0x1000
      mov edx, 0x55
      wrmsr
      mov ecx, 0x277
      mov eax, 0x00000002
      xor edx, edx
      wrmsr
    `);
    expect(m.reg(EBP)).toBe(13);
    expect(m.msrWrites).toEqual([[0x10, 0x1000, 0]]);
  });

  it("SYSENTER in real mode is #GP; UD2, UD0, UD1 and SSE opcodes are #UD", async () => {
    expect((await prog("sysenter")).reg(EBP)).toBe(13);
    expect((await prog("sysexit")).reg(EBP)).toBe(13);
    expect((await prog("ud2")).reg(EBP)).toBe(6);
    expect((await prog("db 0x0f, 0xff, 0xc0")).reg(EBP)).toBe(6);
    expect((await prog("db 0x0f, 0xb9, 0xc0")).reg(EBP)).toBe(6);
    expect((await prog("db 0x0f, 0x10, 0xc0")).reg(EBP)).toBe(6); // movups
    expect((await prog("db 0x0f, 0x6f, 0xc0")).reg(EBP)).toBe(6); // movq mm
    expect((await prog("db 0x0f, 0xae, 0x00")).reg(EBP)).toBe(6); // fxsave
    expect((await prog("db 0x0f, 0x05")).reg(EBP)).toBe(6); // syscall
    const m = await prog(`
      nop_here:
      db 0x0f, 0x1f, 0x80, 0x00, 0xf0   ; nop word [bx+si-0x1000]
      db 0x0f, 0x1f, 0x00
      mov ax, 0x4242
      invd
      wbinvd
    `);
    expect(m.reg(EBP)).toBe(0);
    expect(m.reg(EAX) & 0xffff).toBe(0x4242);
  });

  it("LOCK is accepted on BTS/XADD/CMPXCHG memory forms and #UD elsewhere", async () => {
    const m = await prog(`
      mov dword [0x600], 0
      mov eax, 3
      lock bts dword [0x600], eax
      mov ecx, 1
      lock xadd [0x600], ecx
      lock bt dword [0x600], eax
    `);
    expect(m.mem32(0x600)).toBe(9);
    expect(m.reg(EBP)).toBe(6);
  });

  it("Jcc near in both directions, 16- and 32-bit displacement", async () => {
    const m = await prog(`
      xor eax, eax
      mov ecx, 5
    back:
      inc eax
      dec ecx
      jnz near back
      cmp eax, 5
      je near fwd
      mov eax, 0xbad
    fwd:
      o32 jz near dword fwd2
      mov eax, 0xbad2
    back2:
      mov edx, 0x77
      jmp fwd4
    fwd2:
      stc
      jnc near fwd3
      mov ebx, 0x600d
    fwd3:
      o32 jc near dword back2
      mov edx, 0xbad3
    fwd4:
    `);
    expect(m.reg(EAX)).toBe(5);
    expect(m.reg(EBX)).toBe(0x600d);
    expect(m.reg(EDX)).toBe(0x77);
    expect(m.reg(EBP)).toBe(0);
  });

  it("IMUL r, r/m: truncated result and CF=OF on overflow", async () => {
    const m = await prog(`
      mov eax, 0x10000
      mov ebx, 0x10000
      imul eax, ebx
      pushfd
      pop esi
      mov ecx, 3
      mov dword [0x600], -4
      imul ecx, [0x600]
      pushfd
      pop edi
      mov dx, 0x100
      mov bx, 0x100
      imul dx, bx
      setc bl
      seto bh
    `);
    expect(m.reg(EAX)).toBe(0);
    expect(m.reg(ESI) & (CF | OF)).toBe(CF | OF);
    expect(m.reg(ECX)).toBe(0xfffffff4);
    expect(m.reg(EDI) & (CF | OF)).toBe(0);
    expect(m.reg(EDX) & 0xffff).toBe(0);
    expect(m.reg(EBX) & 0xffff).toBe(0x0101);
  });

  it("PUSH/POP FS and GS, LFS/LGS/LSS", async () => {
    const m = await prog(`
      mov ax, 0x1234
      mov fs, ax
      push fs
      pop gs
      mov ax, gs
      mov si, ax
      mov word [0x600], 0x5678
      mov word [0x602], 0x4321
      lfs di, [0x600]
      mov ax, fs
      mov cx, ax
      mov dword [0x610], 0x6ff0
      mov word [0x614], 0
      lss esp, [0x610]
      mov edx, esp
      push gs
      mov ax, [0x6fee]
    `);
    expect(m.reg(ESI) & 0xffff).toBe(0x1234);
    expect(m.reg(EDI) & 0xffff).toBe(0x5678);
    expect(m.reg(ECX) & 0xffff).toBe(0x4321);
    expect(m.reg(EDX)).toBe(0x6ff0);
    expect(m.reg(EAX) & 0xffff).toBe(0x1234);
  });

  it("RDPMC returns 0 at CPL 0 for counters 0 and 1, #GP otherwise", async () => {
    const m = await prog(`
      mov eax, -1
      mov edx, -1
      xor ecx, ecx
      rdpmc
      mov esi, eax
      mov edi, edx
      mov ecx, 2
      rdpmc
    `);
    expect(m.reg(ESI)).toBe(0);
    expect(m.reg(EDI)).toBe(0);
    expect(m.reg(EBP)).toBe(13);
  });
});

describe("SYSENTER/SYSEXIT and privilege checks in flat protected mode", () => {
  const SETUP = `
      mov ecx, 0x174
      mov eax, 0x20
      xor edx, edx
      wrmsr
      mov ecx, 0x175
      mov eax, 0x9000
      wrmsr
      mov ecx, 0x176
      mov eax, kentry
      wrmsr
      mov ecx, 0x8000
      mov edx, uentry
      sti
      sysexit
  `;

  it("SYSEXIT to CPL 3 and SYSENTER back to CPL 0", async () => {
    const m = await runReal(
      `${SETUP}
    uentry:
      mov esi, esp
      mov edi, cs
      mov ebp, ss
      sysenter
    kentry:
      mov ebx, esp
      mov ax, cs
      mov dx, ss
      pushfd
      pop ecx
      hlt
    `,
      { flat32: true },
    );
    expect(m.exit).toBe("halt-no-if");
    expect(m.reg(ESI)).toBe(0x8000);
    expect(m.reg(EDI) & 0xffff).toBe(0x33);
    expect(m.reg(EBP) & 0xffff).toBe(0x3b);
    expect(m.reg(EBX)).toBe(0x9000);
    expect(m.reg(EAX) & 0xffff).toBe(0x20);
    expect(m.reg(EDX) & 0xffff).toBe(0x28);
    expect(m.reg(ECX) & 0x200).toBe(0); // IF cleared by SYSENTER
    expect(m.state32(0x100)).toBe(0); // S_CPL
  });

  it("RDTSC with CR4.TSD at CPL 3 is #GP; without TSD it works", async () => {
    const body = `${SETUP}
    uentry:
      mov esi, 1
      rdtsc
      mov esi, 2
      hlt
    kentry:
      hlt
    `;
    const m = await runReal(body, { flat32: true, cr4: 4, stopOnFault: true });
    expect(m.fault).toBe(13);
    expect(m.reg(ESI)).toBe(1);
    expect(m.state32(0x100)).toBe(3);
    const m2 = await runReal(body, { flat32: true, stopOnFault: true });
    expect(m2.fault).toBe(13); // the HLT at CPL 3
    expect(m2.reg(ESI)).toBe(2);
  });

  it("RDMSR, WRMSR and SYSEXIT at CPL 3 are #GP", async () => {
    for (const insn of ["rdmsr", "wrmsr", "sysexit", "wbinvd"]) {
      const m = await runReal(
        `${SETUP}
      uentry:
        mov esi, 1
        ${insn}
        mov esi, 2
      kentry:
        hlt
      `,
        { flat32: true, stopOnFault: true },
      );
      expect(m.fault, insn).toBe(13);
      expect(m.reg(ESI), insn).toBe(1);
    }
  });
});
