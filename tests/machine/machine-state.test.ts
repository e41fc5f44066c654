// The machine state is complete: a machine built from a saved state's
// configuration, given the RAM and the state and nothing else, behaves like
// the original, down to what the guest can observe of its CPU and firmware.
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/machine/machine.ts";
import { parseMachineConfig } from "../../src/machine/machine-config.ts";
import { buildRealModeRom } from "../fixtures/real-mode-rom.ts";
import { assembleSource } from "../helpers/guest.ts";

const RAM = 4 * 1024 * 1024;

// Reports the hypervisor CPUID signature and whether a write to the ROM
// stuck, then counts in RAM forever.
const PROGRAM = `
bits 16
  mov eax, 0x40000000
  cpuid
  mov eax, ebx
  mov cx, 4
sig:
  out 0xe9, al
  shr eax, 8
  loop sig
  mov byte [cs:target], 0x55     ; ROM: the write must not land
  mov al, [cs:target]
  out 0xe9, al
  xor ax, ax
  mov ds, ax
count:
  inc dword [0x5000]
  mov eax, [0x5000]
  test eax, 0xfff
  jnz count
  out 0xe9, al
  jmp count
target: db 0xaa
`;

async function deterministic(output: { text: string }, config?: Machine["config"]) {
  const host = {
    clock: { nsPerInstruction: 10 } as const,
    onDebugconByte: (byte: number) => (output.text += String.fromCharCode(byte)),
  };
  return config ? Machine.fromConfig(config, host) : Machine.create({ ...host, ramBytes: RAM });
}

describe("the machine state", () => {
  it("is enough to rebuild the machine: CPUID table, ROM mapping and configuration travel", async () => {
    const original = { text: "" };
    const source = await deterministic(original);
    // A host may give the guest another CPU identity: the state must carry it.
    const sig = (text: string) => Buffer.from(text, "latin1").readUInt32LE(0);
    source.core.setCpuid({
      leaf: 0x40000000,
      subleaf: 0xffffffff,
      eax: 0x40000001,
      ebx: sig("HIVE"),
      ecx: 0,
      edx: 0,
    });
    source.loadBios(buildRealModeRom(assembleSource(PROGRAM, "state-program")));
    source.runUntilStop({ maxInsns: 50_000 });
    expect(original.text.slice(0, 5)).toBe("HIVE\xaa");

    const state = JSON.parse(JSON.stringify(source.saveState()));
    const config = parseMachineConfig(state.config);
    expect(config).toEqual(source.config);
    const copied = { text: "" };
    const copy = await deterministic(copied, config);
    copy.core.memory.write(0, source.core.memory.read(0, RAM));
    copy.restoreState(state);
    expect(copy.saveState()).toEqual(source.saveState());
    expect(copy.core.cpuid(0x40000000).ebx).toBe(sig("HIVE"));
    expect(copy.core.romBytes()).toBe(0x10000);

    const at = original.text.length;
    source.runUntilStop({ maxInsns: 200_000 });
    copy.runUntilStop({ maxInsns: 200_000 });
    expect(copied.text).toBe(original.text.slice(at));
    expect(copied.text.length).toBeGreaterThan(10);
    expect(copy.saveState()).toEqual(source.saveState());
    const ram = (m: Machine) => Buffer.from(m.core.memory.read(0, RAM));
    expect(ram(copy).equals(ram(source))).toBe(true);
  });

  it("lists every stateful component once, the clock first", async () => {
    const machine = await Machine.create({ ramBytes: RAM });
    const ids = machine.componentIds;
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids[0]).toBe("clock");
    expect(ids).toEqual(
      expect.arrayContaining([
        "cpu",
        "cpuid",
        "rom",
        "tsc",
        "pic",
        "pit",
        "rtc",
        "uart",
        "kbc",
        "pci",
        "kvm-clock",
      ]),
    );
    expect(Object.keys(machine.saveState().components)).toEqual(ids);
    const bare = await Machine.create({ ramBytes: RAM, kvmClock: false, balloon: false });
    expect(bare.componentIds).not.toContain("kvm-clock");
    expect(bare.config).toMatchObject({ kvmClock: false, balloon: null });
    expect(() => bare.restoreState(machine.saveState())).toThrow(
      /made with kvm-clock, this machine has not/,
    );
  });

  it("refuses a malformed configuration naming the field", () => {
    const good = { version: 1, ramBytes: RAM, tscHz: 1e9, kvmClock: true, balloon: null };
    expect(parseMachineConfig(good)).toEqual(good);
    expect(() => parseMachineConfig({ ...good, ramBytes: RAM + 1 })).toThrow(/whole 4 KiB pages/);
    expect(() => parseMachineConfig({ ...good, ramBytes: 2 ** 40 })).toThrow(/ramBytes must be in/);
    expect(() => parseMachineConfig({ ...good, kvmClock: "yes" })).toThrow(TypeError);
    expect(() =>
      parseMachineConfig({ ...good, balloon: { statsIntervalMs: -1, freePageReporting: true } }),
    ).toThrow(/statsIntervalMs/);
    expect(() => parseMachineConfig({ ...good, version: 9 })).toThrow(/version 9/);
  });
});
