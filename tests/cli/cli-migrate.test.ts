// Live migration between two runners, QEMU style: one waits with --incoming,
// the other's monitor says migrate. The Linux guest's shell answers on the
// destination with its files, processes and boot id.
import { describe, expect, it } from "vitest";
import { spawnRunner } from "../helpers/runner.ts";

const PROMPT = /hive86:\/# /;

describe("hive86 run --incoming and the monitor's migrate", () => {
  it("moves the running Linux guest to another runner, which carries on", async () => {
    const destination = spawnRunner("--incoming", "ws://127.0.0.1:0");
    const source = spawnRunner();
    try {
      const [, url] = (await destination.waitIn("stderr", /waiting for a guest at (\S+)/, 30_000))!;
      await source.waitIn("stdout", PROMPT, 120_000);
      source.child.stdin.write("stty cols 1000; echo moved-$((6*7)) > /tmp/mark\r");
      source.child.stdin.write(
        "(i=0; while :; do i=$((i+1)); echo $i > /tmp/count; sleep 0.1; done) &\r",
      );
      source.child.stdin.write("echo id-$(cat /proc/sys/kernel/random/boot_id)\r");
      const [, bootId] = (await source.waitIn("stdout", /^id-([0-9a-f-]{36})\r?$/m, 30_000))!;
      source.child.stdin.write("\x01c");
      await source.waitIn("stderr", /\(hive86\) /, 10_000);
      source.child.stdin.write(`migrate ${url} --verify\r`);
      const [summary] = (await source.waitIn("stderr", /migrated to \S+: .*/, 60_000))!;
      expect(summary).toMatch(/RAM and state verified equal/);
      expect(await source.exited).toBe(0);
      const report = JSON.parse(source.out.stderr.trim().split("\n").at(-1)!) as { reason: string };
      expect(report.reason).toBe("migrated");

      await destination.waitIn("stderr", /the guest arrived: downtime [\d.]+ ms/, 30_000);
      const from = destination.out.stdout.length;
      destination.child.stdin.write(
        "echo on-$(cat /tmp/mark)-$(cat /proc/sys/kernel/random/boot_id); cat /tmp/count; sleep 1; cat /tmp/count\r",
      );
      const [, mark, movedId, before, after] = (await destination.waitIn(
        "stdout",
        /^on-(\S+)-([0-9a-f-]{36})\r?\n(\d+)\r?\n(\d+)\r?$/m,
        30_000,
        from,
      ))!;
      expect(mark).toBe("moved-42");
      expect(movedId).toBe(bootId);
      // The counter process came along and keeps counting.
      expect(Number(after)).toBeGreaterThan(Number(before));
      destination.child.stdin.write("\x01x");
      expect(await destination.exited).toBe(0);
    } finally {
      source.child.kill();
      destination.child.kill();
    }
  }, 240_000);

  it("a destination started with another --ram refuses, and the guest stays", async () => {
    const destination = spawnRunner("--incoming", "ws://127.0.0.1:0", "--ram", "64M");
    const source = spawnRunner();
    try {
      const [, url] = (await destination.waitIn("stderr", /waiting for a guest at (\S+)/, 30_000))!;
      await source.waitIn("stdout", PROMPT, 120_000);
      source.child.stdin.write(`\x01cmigrate ${url}\r`);
      await source.waitIn(
        "stderr",
        /migration abandoned, the guest runs on here: .*started with --ram 64M; the guest has 128 MiB/,
        60_000,
      );
      // The destination says so and waits for the next one.
      await destination.waitIn(
        "stderr",
        /did not complete: .*--ram 64M[\s\S]*waiting for a guest/,
        10_000,
      );
      source.child.stdin.write("\x01cecho still-$((5*5))\r");
      await source.waitIn("stdout", /^still-25\r?$/m, 30_000);
      source.child.stdin.write("\x01x");
      expect(await source.exited).toBe(0);
    } finally {
      source.child.kill();
      destination.child.kill();
    }
  }, 240_000);
});
