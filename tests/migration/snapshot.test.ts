// Snapshot files: a guest saved to bytes and loaded into a fresh machine goes
// on exactly as the original; a damaged file is refused and changes nothing;
// pages the balloon holds are not stored.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Machine } from "../../src/machine/machine.ts";
import { crc32 } from "../../src/migration/crc32.ts";
import {
  loadSnapshot,
  saveSnapshot,
  snapshotConfig,
  SnapshotError,
} from "../../src/migration/snapshot.ts";
import { guestFiles, LinuxSession } from "../helpers/linux-guest.ts";
import { withJson } from "../helpers/snapshot-file.ts";
import { sleep, until } from "../helpers/wait.ts";

const RAM = 128 * 1024 * 1024;
const MIB = 1024 * 1024;

async function deterministic(log: { text: string }, ramBytes = RAM): Promise<Machine> {
  return Machine.create({
    ramBytes,
    clock: { nsPerInstruction: 10 },
    wallTimeMs: () => Date.UTC(2026, 0, 1),
    onSerialOutput: (bytes) => (log.text += Buffer.from(bytes).toString("latin1")),
  });
}

function runTo(machine: Machine, total: number): void {
  machine.setInstructionLimit(total);
  machine.runUntilStop({ maxInsns: Number.MAX_SAFE_INTEGER });
}

function ramHash(machine: Machine): string {
  const memory = machine.core.memory;
  return createHash("sha256").update(memory.read(0, memory.ramBytes)).digest("hex");
}

describe("CRC-32", () => {
  it("matches the standard check value", () => {
    expect(crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926);
    expect(crc32(new Uint8Array(0))).toBe(0);
  });
});

describe("snapshot files", () => {
  it("free page reporting zeroes what the guest freed: the snapshot shrinks by itself", async () => {
    const guest = await LinuxSession.boot({ ramBytes: RAM });
    try {
      await guest.waitForPrompt(120_000);
      const balloon = guest.machine.balloon!;
      const settle = async () => {
        // Reports come in bursts 2 s after frees; wait until none came for a while.
        let last = -1;
        for (let i = 0; i < 40 && balloon.info().reportedPages !== last; i++) {
          last = balloon.info().reportedPages;
          await sleep(3000);
        }
      };
      await settle();
      await guest.machine.pause();
      const clean = saveSnapshot(guest.machine).summary;
      guest.machine.start();
      const reportedBefore = balloon.info().reportedPages;
      await guest.run("for i in $(seq 24); do cat /bin/busybox; done > /tmp/junk", 60_000);
      await guest.machine.pause();
      const full = saveSnapshot(guest.machine).summary;
      guest.machine.start();
      await guest.run("rm /tmp/junk");
      await settle();
      await guest.machine.pause();
      const after = saveSnapshot(guest.machine).summary;
      expect(full.bytes - clean.bytes).toBeGreaterThan(32 * MIB); // the junk is in RAM
      expect(balloon.info().reportedPages - reportedBefore).toBeGreaterThan((16 * MIB) / 4096);
      // Freed and reported: the stale copies are gone from the snapshot.
      expect(after.bytes - clean.bytes).toBeLessThan(16 * MIB);
    } finally {
      await guest.close();
    }
  }, 240_000);

  it("a guest loaded from a snapshot finishes its boot exactly like the original", async () => {
    const { kernel, initrd } = guestFiles();
    const originalLog = { text: "" };
    const original = await deterministic(originalLog);
    original.loadKernel(kernel, { cmdline: "console=ttyS0", initrd });
    runTo(original, 70_000_000);
    const { bytes, summary } = saveSnapshot(original);
    expect(summary.storedPages + summary.zeroPages + summary.balloonedPages).toBe(RAM / 4096);
    expect(summary.zeroPages).toBeGreaterThan(summary.storedPages); // most of RAM is untouched
    expect(summary.bytes).toBeLessThan(RAM / 3);
    const at = originalLog.text.length;

    const copyLog = { text: "" };
    const copy = await deterministic(copyLog);
    const loaded = loadSnapshot(copy, bytes);
    expect(loaded.storedPages).toBe(summary.storedPages);
    expect(ramHash(copy)).toBe(ramHash(original));

    runTo(original, 220_000_000);
    runTo(copy, 220_000_000);
    expect(originalLog.text.slice(at)).toContain("hive86:/# ");
    expect(copyLog.text).toBe(originalLog.text.slice(at));
    expect(ramHash(copy)).toBe(ramHash(original));
  }, 120_000);

  it("refuses damaged files with a clear error and leaves the machine as it was", async () => {
    const { kernel, initrd } = guestFiles();
    const source = await deterministic({ text: "" });
    source.loadKernel(kernel, { cmdline: "console=ttyS0", initrd });
    runTo(source, 30_000_000);
    const { bytes } = saveSnapshot(source);

    const target = await deterministic({ text: "" });
    target.loadKernel(kernel, { cmdline: "console=ttyS0", initrd });
    runTo(target, 5_000_000);
    const state = target.saveState();
    const hash = ramHash(target);

    const flipped = bytes.slice();
    flipped[bytes.length - 100]! ^= 0x40;
    const cases: Array<[string, Uint8Array, RegExp]> = [
      ["a flipped bit", flipped, /CRC-32 does not match/],
      ["a truncated file", bytes.subarray(0, bytes.length - 4096), /truncated/],
      ["a short file", bytes.subarray(0, 10), /at least 24 bytes/],
      ["another format", new TextEncoder().encode("NOT A SNAPSHOT, REALLY NOT"), /bad magic/],
      ["garbage JSON", withJson(bytes, (info) => (info.pages = "all")), /lists no pages/],
      [
        "a page list that disagrees with the header",
        withJson(bytes, (info) => (info.pages as number[][]).pop()),
        /names \d+ pages but its header says/,
      ],
      [
        "a page beyond RAM",
        withJson(bytes, (info) => (info.pages as number[][]).push([RAM / 4096, RAM / 4096 + 1])),
        /bad range/,
      ],
      [
        "a machine state a device refuses",
        withJson(bytes, (info) => {
          const machine = info.machine as { components: { uart: { lcr: number } } };
          machine.components.uart.lcr = 999;
        }),
        /lcr/,
      ],
    ];
    for (const [what, damaged, message] of cases) {
      expect(() => loadSnapshot(target, damaged), what).toThrow(message);
      expect(target.saveState(), what).toEqual(state);
      expect(ramHash(target), what).toBe(hash);
    }
    // The file says what machine it needs; a damaged one is refused before any is made.
    expect(snapshotConfig(bytes)).toEqual(source.config);
    expect(() => snapshotConfig(flipped)).toThrow(/CRC-32 does not match/);
    const otherRam = await deterministic({ text: "" }, 64 * MIB);
    expect(() => loadSnapshot(otherRam, bytes)).toThrow(SnapshotError);
    expect(() => loadSnapshot(otherRam, bytes)).toThrow(
      /134217728 bytes of RAM; this one has 67108864/,
    );
  }, 120_000);

  it("pages the balloon holds are not stored, and the restored guest keeps its balloon", async () => {
    // Without free page reporting, which would zero the stale pages by itself.
    const guest = await LinuxSession.boot({ ramBytes: RAM, balloon: { freePageReporting: false } });
    try {
      await guest.waitForPrompt(120_000);
      // Leave about 48 MiB of stale data in free memory, as any busy guest does
      // (copies of the 2 MiB busybox binary: cheap to make, not zero).
      await guest.run(
        "for i in $(seq 24); do cat /bin/busybox; done > /tmp/junk; rm /tmp/junk",
        60_000,
      );
      await guest.machine.pause();
      const before = saveSnapshot(guest.machine).summary;
      guest.machine.start();

      const balloon = guest.machine.balloon!;
      balloon.setTargetBytes(RAM - 96 * MIB);
      await until(() => balloon.info().actualBytes === RAM - 96 * MIB, 30_000, "the inflate");
      await guest.machine.pause();
      const { bytes, summary } = saveSnapshot(guest.machine);
      expect(summary.balloonedPages).toBe((96 * MIB) / 4096);
      // The guest gave free pages, some with stale data: the file shrank by those.
      expect(before.bytes - summary.bytes).toBeGreaterThan(16 * MIB);

      let console = "";
      const copy = await Machine.create({
        ramBytes: RAM,
        balloon: { freePageReporting: false },
        onSerialOutput: (b) => (console += Buffer.from(b).toString("latin1")),
      });
      loadSnapshot(copy, bytes);
      expect(copy.balloon!.info().balloonedPages).toBe((96 * MIB) / 4096);
      expect(copy.balloon!.info().actualBytes).toBe(RAM - 96 * MIB);
      copy.start();
      copy.sendSerial(Buffer.from("echo restored-$((40+2))\r"));
      await until(() => /restored-42/.test(console), 30_000, "the restored guest's answer");
      copy.balloon!.setTargetBytes(RAM);
      await until(() => copy.balloon!.info().actualBytes === RAM, 30_000, "the restored deflate");
      await copy.pause();
    } finally {
      await guest.close();
    }
  }, 180_000);
});
