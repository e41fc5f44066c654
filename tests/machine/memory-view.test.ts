// The heatmap's view of memory: zero, data, written (fading), ballooned and
// sent pages; and a migration that runs while a view keeps collecting from
// the dirty log still moves the guest exactly.
import { afterEach, describe, expect, it } from "vitest";
import { FADE_FRAMES, MemoryView, PageShade } from "../../src/machine/memory-view.ts";
import { Machine } from "../../src/machine/machine.ts";
import { receiveMigration } from "../../src/migration/destination.ts";
import { migrateOut } from "../../src/migration/source.ts";
import { memoryTransportPair } from "../../src/migration/transports/memory.ts";
import { PageBitmap } from "../../src/platform/page-bitmap.ts";
import { runningDirtier, sharedCodec, sleep } from "../migration/helpers.ts";

const PAGE = 4096;
const machines: Machine[] = [];
afterEach(async () => {
  for (const machine of machines.splice(0)) await machine.pause();
});

describe("the memory view", () => {
  it("tells zero, data, written, ballooned and sent pages apart", async () => {
    const codec = await sharedCodec();
    const machine = await Machine.create({ ramBytes: 4 * 1024 * 1024 });
    machine.core.memory.write32(5 * PAGE, 7); // data before the view opens
    const view = new MemoryView(machine, (bytes) => codec.scanPages(bytes));
    let frame = view.frame();
    expect(frame[5]).toBe(PageShade.DATA);
    expect(frame[6]).toBe(PageShade.ZERO);

    machine.core.memory.write32(6 * PAGE, 1);
    machine.core.memory.fill(5 * PAGE, PAGE, 0); // as the balloon does: zero at once, not "written"
    frame = view.frame();
    expect(frame[6]).toBe(PageShade.WRITTEN);
    expect(frame[5]).toBe(PageShade.ZERO);
    frame = view.frame();
    expect(frame[6]).toBe(PageShade.WRITTEN + 1); // fading
    for (let i = 0; i < FADE_FRAMES; i++) frame = view.frame();
    expect(frame[6]).toBe(PageShade.DATA);

    machine.balloon!.ballooned.add(9);
    const sent = new PageBitmap(1024);
    sent.add(10);
    view.watchRound(2, sent);
    frame = view.frame();
    expect(frame[9]).toBe(PageShade.BALLOONED);
    expect(frame[10]).toBe(PageShade.SENT);
    expect(view.round).toBe(2);
    view.migrationEnded();
    expect(view.frame()[10]).toBe(PageShade.ZERO);
    view.close();
  });

  it("does not take pages from a migration: a guest moved while the view collects arrives equal", async () => {
    const codec = await sharedCodec();
    const source = await runningDirtier();
    machines.push(source);
    const view = new MemoryView(source, (bytes) => codec.scanPages(bytes));
    let frames = 0;
    let sentSeen = 0;
    const timer = setInterval(() => {
      const frame = view.frame();
      frames++;
      sentSeen += frame.filter((shade) => shade === PageShade.SENT).length;
    }, 5);
    try {
      await sleep(50);
      const [a, b] = memoryTransportPair({ bytesPerSecond: 4e6 });
      const incoming = receiveMigration(b, {
        codec,
        createMachine: (config) => Machine.fromConfig(config),
      });
      const trace = await migrateOut(source, a, {
        codec,
        verify: true,
        onRound: (round, sent) => view.watchRound(round, sent),
      });
      const arrived = await incoming;
      if (arrived.machine) machines.push(arrived.machine);
      expect(trace.outcome, trace.reason ?? "").toBe("completed");
      expect(trace.verify?.match).toBe(true);
      expect(frames).toBeGreaterThan(10);
      expect(sentSeen).toBeGreaterThan(0);
      expect(trace.rounds.every((round) => typeof round.sentMap === "string")).toBe(true);
    } finally {
      clearInterval(timer);
      view.close();
    }
  });
});
