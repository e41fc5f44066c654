import { spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseSize } from "../../src/cli/size.ts";
import { buildHelloRom } from "../fixtures/hello-rom.ts";
import { assemble } from "../helpers/nasm.ts";

const BIN = join(import.meta.dirname, "../../bin/hive86.mjs");
const workDir = mkdtempSync(join(tmpdir(), "hive86-cli-"));

function hive86(...args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8" });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function romFile(name: string, bytes: Uint8Array): string {
  const path = join(workDir, name);
  writeFileSync(path, bytes);
  return path;
}

describe("hive86 CLI", () => {
  it("runs a ROM that prints through port 0xE9 and exits through port 0xF4", () => {
    const rom = romFile("hello.rom", buildHelloRom("Hello from the guest!\n", 0x21));
    const run = hive86("run", "--bios", rom, "--ram", "16M");
    expect(run.stdout).toBe("Hello from the guest!\n");
    expect(run.status).toBe(67); // (0x21 << 1) | 1
    const report = JSON.parse(run.stderr.trim()) as Record<string, unknown>;
    expect(report).toMatchObject({ reason: "debug-exit", exitStatus: 67, postCode: null });
    expect(report.instructions).toBeGreaterThan(20);
    expect(typeof report.mips).toBe("number");
    expect(typeof report.seconds).toBe("number");
  });

  it("runs the README's example ROM (examples/hello.asm) with its POST codes", () => {
    const rom = romFile(
      "example.rom",
      assemble(join(import.meta.dirname, "../../examples/hello.asm")),
    );
    const run = hive86("run", "--bios", rom, "--debugcon", "-");
    expect(run.stdout).toBe("Hello from hive86\n");
    expect(run.status).toBe(67);
    expect(JSON.parse(run.stderr.trim())).toMatchObject({
      reason: "debug-exit",
      exitStatus: 67,
      postCode: 2,
    });
  });

  it("writes debugcon output to a file and stops at --max-insns", () => {
    const rom = romFile("hello2.rom", buildHelloRom("abcdef\n", 0));
    const out = join(workDir, "debugcon.txt");
    const run = hive86("run", `--bios=${rom}`, "--max-insns", "20", "--debugcon", out);
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stderr)).toMatchObject({ reason: "max-insns", instructions: 20 });
    expect(run.stdout).toBe("");
  });

  it("prints help", () => {
    const run = hive86("--help");
    expect(run.status).toBe(0);
    expect(run.stdout).toContain("hive86 run --bios ROM");
    expect(run.stdout).toContain("hive86 run --kernel FILE");
  });

  it.each([
    [["run", "--bogus"], /^hive86: unknown option: --bogus\n$/],
    [["frobnicate"], /unknown command: frobnicate/],
    [["run", "--bios", "x.rom", "--kernel", "k"], /--bios and --kernel exclude each other/],
    [["run", "--bios", "x.rom", "--initrd", "i"], /--initrd needs --kernel, not --bios/],
    [["run", "--kernel", "/nonexistent/bzImage"], /--kernel: cannot read \/nonexistent\/bzImage/],
    [["run", "--clock", "sometimes"], /--clock: sometimes is not "realtime" or "deterministic/],
    [["run", "--bios"], /option --bios needs a value/],
    [["run", "--bios", "/nonexistent/bios.rom"], /cannot read \/nonexistent\/bios.rom: ENOENT/],
    [["run", "--bios", "x.rom", "--ram", "lots"], /--ram: not a size: lots/],
    [["run", "--bios", "x.rom", "--ram", "1000"], /multiple of 4 KiB between 1M and 2G/],
    [["run", "--bios", "x.rom", "--max-insns", "-5"], /--max-insns: not a positive integer: -5/],
  ])("rejects %j with one line on stderr and status 2", (args, message) => {
    const run = hive86(...args);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("rejects a ROM whose size is not a multiple of 4 KiB", () => {
    const rom = romFile("odd.rom", new Uint8Array(5000));
    const run = hive86("run", "--bios", rom);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(/is 5000 bytes; a ROM must be a multiple of 4 KiB up to 256 KiB/);
  });
});

describe("parseSize", () => {
  it("reads plain bytes and binary suffixes", () => {
    expect(parseSize("4096")).toBe(4096);
    expect(parseSize("16M")).toBe(16 * 2 ** 20);
    expect(parseSize("128MiB")).toBe(128 * 2 ** 20);
    expect(parseSize("1G")).toBe(2 ** 30);
    expect(parseSize("64k")).toBe(65536);
    expect(parseSize("2GB")).toBe(2 * 2 ** 30);
    expect(parseSize("")).toBeNull();
    expect(parseSize("1.5G")).toBeNull();
    expect(parseSize("12T")).toBeNull();
  });
});
