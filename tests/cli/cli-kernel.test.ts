// `hive86 run` with a kernel: the default Linux guest on the terminal (stdin
// piped, so no raw mode), the Ctrl-A escapes, a Multiboot kernel, and
// rejected images.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { assemble } from "../helpers/nasm.ts";
import { guestFiles } from "../helpers/linux-guest.ts";
import { BIN, spawnRunner } from "../helpers/runner.ts";

const workDir = mkdtempSync(join(tmpdir(), "hive86-cli-kernel-"));

describe("hive86 run (kernels)", () => {
  it("boots the default guest to a prompt where typed commands run, and Ctrl-A x quits", async () => {
    const { child, out, exited, waitIn } = spawnRunner();
    const waitFor = (pattern: RegExp, ms: number) => waitIn("stdout", pattern, ms);
    try {
      await waitFor(/hive86:\/# /, 120_000);
      child.stdin.write("echo cli-$((6*7))\r");
      await waitFor(/^cli-42\r?$/m, 30_000);
      child.stdin.write("uname -r\r");
      await waitFor(/^6\.1\.\d+\r?$/m, 30_000);
      child.stdin.write("\x01x"); // Ctrl-A x
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
    const report = JSON.parse(out.stderr.trim().split("\n").at(-1)!) as Record<string, unknown>;
    expect(report).toMatchObject({ reason: "quit" });
    expect(report.instructions as number).toBeGreaterThan(50_000_000);
  }, 180_000);

  it("the monitor (Ctrl-A c) sets the balloon and shows the guest's statistics", async () => {
    const { child, out, exited, waitIn } = spawnRunner();
    try {
      await waitIn("stdout", /hive86:\/# /, 120_000);
      child.stdin.write("\x01c");
      await waitIn("stderr", /\(hive86\) /, 10_000);
      child.stdin.write("balloon 64M\r");
      await waitIn("stderr", /target: 64\.0 MiB for the guest/, 10_000);
      // The guest inflates in the background: ask again until it has given all 64 MiB.
      const done = /actual: 64\.0 MiB \(the guest's report; 16384 pages held\)/;
      for (let i = 0; i < 60 && !done.test(out.stderr); i++) {
        child.stdin.write("balloon\r");
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(out.stderr).toMatch(done);
      child.stdin.write("stats\r");
      await waitIn(
        "stderr",
        /guest statistics \([\d.]+ s ago\):[\s\S]*totalMemory: 1\d\d\.\d MiB/,
        10_000,
      );
      child.stdin.write("bogus\r");
      await waitIn("stderr", /unknown command: bogus/, 10_000);
      child.stdin.write("\x01c"); // back to the guest console
      child.stdin.write("echo back-$((1+1))\r");
      await waitIn("stdout", /^back-2\r?$/m, 30_000);
      child.stdin.write("\x01x");
      expect(await exited).toBe(0);
    } finally {
      child.kill();
    }
  }, 180_000);

  it("the monitor saves a snapshot that --restore resumes, shell and files included", async () => {
    const file = join(workDir, "guest.snapshot");
    const first = spawnRunner();
    try {
      await first.waitIn("stdout", /hive86:\/# /, 120_000);
      first.child.stdin.write("echo kept-$((20+1)) > /tmp/mark; stty cols 1000\r");
      await first.waitIn("stdout", /stty cols 1000\r?\n[\s\S]*hive86:\/# /, 30_000);
      first.child.stdin.write(`\x01csave ${file}\r`);
      await first.waitIn("stderr", /saved [\d.]+ MiB to .*: \d+ pages stored/, 60_000);
      first.child.stdin.write("\x01x");
      expect(await first.exited).toBe(0);
    } finally {
      first.child.kill();
    }
    const second = spawnRunner("--restore", file);
    try {
      second.child.stdin.write("cat /tmp/mark\r");
      await second.waitIn("stdout", /^kept-21\r?$/m, 60_000);
      second.child.stdin.write("\x01x");
      expect(await second.exited).toBe(0);
    } finally {
      second.child.kill();
    }
    const truncated = join(workDir, "truncated.snapshot");
    writeFileSync(truncated, readFileSync(file).subarray(0, 5000));
    const refused = spawnSync(process.execPath, [BIN, "run", "--restore", truncated], {
      encoding: "utf8",
      input: "",
    });
    expect(refused.status).toBe(3);
    expect(refused.stderr).toMatch(/truncated or padded/);
  }, 240_000);

  it("runs a Multiboot kernel given with --kernel and its exit status", () => {
    const image = assemble(join(import.meta.dirname, "../machine/programs/multiboot-elf.asm"));
    const path = join(workDir, "multiboot.elf");
    writeFileSync(path, image);
    const run = spawnSync(
      process.execPath,
      [
        BIN,
        "run",
        "--kernel",
        path,
        "--append",
        "hello multiboot",
        "--ram",
        "16M",
        "--debugcon",
        "-",
        "--serial",
        "none",
      ],
      { encoding: "latin1", input: "" },
    );
    expect(run.stdout).toMatch(/hello multiboot/);
    expect(JSON.parse(run.stderr.trim().split("\n").at(-1)!)).toMatchObject({
      reason: "debug-exit",
    });
    expect(run.status).toBe(JSON.parse(run.stderr.trim().split("\n").at(-1)!).exitStatus);
  });

  it("rejects an image that is neither a bzImage nor Multiboot with status 3", () => {
    const path = join(workDir, "junk.bin");
    writeFileSync(path, new Uint8Array(64 * 1024).fill(0x90));
    const run = spawnSync(process.execPath, [BIN, "run", "--kernel", path, "--serial", "none"], {
      encoding: "utf8",
      input: "",
    });
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/neither a Linux bzImage .* nor a Multiboot kernel/);
  });

  it("rejects a truncated bzImage with status 3 and says why", () => {
    const { kernel } = guestFiles();
    const path = join(workDir, "truncated-bzImage");
    writeFileSync(path, kernel.subarray(0, 20_000));
    const run = spawnSync(process.execPath, [BIN, "run", "--kernel", path, "--serial", "none"], {
      encoding: "utf8",
      input: "",
    });
    expect(run.status).toBe(3);
    expect(run.stderr).toMatch(/truncated/);
  });
});
