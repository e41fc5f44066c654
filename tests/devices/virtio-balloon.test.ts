// virtio-balloon driven by a fake guest driver through the real PCI transport:
// inflate zeroes pages and records them, deflate gives them back, statistics
// are requested on the machine clock, and a driver that sends page numbers
// beyond RAM or half an entry is refused without harm.
import { describe, expect, it } from "vitest";
import {
  VIRTIO_BALLOON_F_DEFLATE_ON_OOM,
  VIRTIO_BALLOON_F_REPORTING,
  VIRTIO_BALLOON_F_STATS_VQ,
  VirtioBalloon,
} from "../../src/devices/virtio/balloon/device.ts";
import { PageBitmap } from "../../src/platform/page-bitmap.ts";
import { decodeStats } from "../../src/devices/virtio/balloon/stats.ts";
import { ManualClock } from "../../src/platform/clock.ts";
import {
  BOARD_RAM_BYTES,
  createVirtioBoard,
  F_EVENT_IDX,
  F_VERSION_1,
  FakeVirtioDriver,
  DESC_NEXT,
  DESC_WRITE,
  type DriverMode,
} from "../helpers/virtio-driver.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const PAGE = 4096;
const RAM_PAGES = BOARD_RAM_BYTES / PAGE;
const STATS_F = 1n << BigInt(VIRTIO_BALLOON_F_STATS_VQ);
const OOM_F = 1n << BigInt(VIRTIO_BALLOON_F_DEFLATE_ON_OOM);
const REPORTING_F = 1n << BigInt(VIRTIO_BALLOON_F_REPORTING);
// Pages the fake driver does not allocate its rings from (it uses 0x10000-0xEFFFF).
const FREE_PAGE_A = 0x05;
const FREE_PAGE_B = 0x06;

function pfns(...pages: number[]): Uint8Array {
  const bytes = new Uint8Array(4 * pages.length);
  const view = new DataView(bytes.buffer);
  pages.forEach((page, i) => view.setUint32(4 * i, page, true));
  return bytes;
}

function statsBuffer(entries: Array<[number, bigint]>): Uint8Array {
  const bytes = new Uint8Array(10 * entries.length);
  const view = new DataView(bytes.buffer);
  entries.forEach(([tag, value], i) => {
    view.setUint16(10 * i, tag, true);
    view.setBigUint64(10 * i + 2, value, true);
  });
  return bytes;
}

function setup(mode: DriverMode = "modern", statsIntervalMs = 1000) {
  const clock = new ManualClock();
  const balloon = new VirtioBalloon({ ramBytes: BOARD_RAM_BYTES, clock, statsIntervalMs });
  const board = createVirtioBoard(balloon);
  const driver = new FakeVirtioDriver(board, mode);
  const wanted = STATS_F | OOM_F | F_EVENT_IDX | (mode === "modern" ? F_VERSION_1 : 0n);
  const [inflate, deflate, stats] = driver.init(wanted, 3);
  return { clock, balloon, board, driver, inflate: inflate!, deflate: deflate!, stats: stats! };
}

describe("virtio-balloon", () => {
  it.each(["modern", "legacy"] as const)(
    "offers STATS_VQ and DEFLATE_ON_OOM and shows num_pages/actual in its config (%s)",
    (mode) => {
      const { balloon, driver } = setup(mode);
      expect(driver.deviceFeatures() & (STATS_F | OOM_F)).toBe(STATS_F | OOM_F);
      expect(driver.deviceConfigRead(0, 4)).toBe(0);
      balloon.setTargetBytes(BOARD_RAM_BYTES - 16 * PAGE);
      expect(driver.deviceConfigRead(0, 4)).toBe(16); // num_pages
      driver.deviceConfigWrite(4, 4, 7); // actual, the driver's
      expect(balloon.info().actualBytes).toBe(BOARD_RAM_BYTES - 7 * PAGE);
      driver.deviceConfigWrite(0, 4, 99); // num_pages is the host's
      expect(driver.deviceConfigRead(0, 4)).toBe(16);
    },
  );

  it("a target change is a configuration-change interrupt with a new generation", () => {
    const { balloon, board, driver } = setup();
    const generation = driver.generation();
    const rises = board.irqRises();
    balloon.setTargetBytes(BOARD_RAM_BYTES / 2);
    expect(driver.generation()).not.toBe(generation);
    expect(board.irqRises()).toBe(rises + 1);
    expect(driver.readIsr() & 2).toBe(2);
  });

  it("inflate zeroes the pages, records them and marks them dirty; deflate releases them", () => {
    const { balloon, board, inflate, deflate } = setup();
    board.memory.fill(FREE_PAGE_A * PAGE, PAGE, 0x77);
    board.memory.fill(FREE_PAGE_B * PAGE, PAGE, 0x66);
    board.dirtyPages.clear();
    inflate.post({ out: [pfns(FREE_PAGE_A, FREE_PAGE_B)] });
    inflate.kick();
    expect(inflate.takeUsed()).toHaveLength(1);
    expect(board.memory.read(FREE_PAGE_A * PAGE, PAGE).every((b) => b === 0)).toBe(true);
    expect(board.memory.read(FREE_PAGE_B * PAGE, PAGE).every((b) => b === 0)).toBe(true);
    expect(board.dirtyPages.has(FREE_PAGE_A) && board.dirtyPages.has(FREE_PAGE_B)).toBe(true);
    expect(balloon.ballooned.has(FREE_PAGE_A)).toBe(true);
    expect(balloon.info().balloonedPages).toBe(2);

    // The guest writes into a page it got back; inflating it again zeroes it again.
    deflate.post({ out: [pfns(FREE_PAGE_A)] });
    deflate.kick();
    expect(deflate.takeUsed()).toHaveLength(1);
    expect(balloon.ballooned.has(FREE_PAGE_A)).toBe(false);
    expect(balloon.info().balloonedPages).toBe(1);
    expect(board.log).toEqual([]);
  });

  it("refuses page numbers beyond RAM and a trailing half entry, and logs them", () => {
    const { balloon, board, inflate } = setup();
    const buffer = new Uint8Array([...pfns(FREE_PAGE_A, RAM_PAGES, 0xffffffff), 1, 2]);
    inflate.post({ out: [buffer] });
    inflate.kick();
    expect(inflate.takeUsed()).toHaveLength(1); // the buffer still goes back
    expect(balloon.info().balloonedPages).toBe(1);
    expect(board.log.join("\n")).toMatch(/refused 2 page number\(s\) beyond RAM/);
    expect(board.log.join("\n")).toMatch(/not whole page numbers/);
    expect(board.guardsIntact()).toBe(true);
  });

  it("asks for statistics on its interval and keeps the guest's values", () => {
    const { clock, balloon, board, stats } = setup("modern", 1000);
    // The driver's probe posts the first statistics right away.
    stats.post({
      out: [
        statsBuffer([
          [4, 100_000_000n],
          [5, 128_000_000n],
          [3, 42n],
        ]),
      ],
    });
    stats.kick();
    expect(balloon.info().stats).toEqual({
      freeMemory: 100_000_000,
      totalMemory: 128_000_000,
      minorFaults: 42,
    });
    expect(stats.takeUsed()).toHaveLength(0); // held until new values are wanted
    expect(balloon.nextDeadline()).toBe(1_000_000_000);
    clock.advanceBy(999_999_999);
    balloon.advance(clock.now());
    expect(stats.takeUsed()).toHaveLength(0);
    const rises = board.irqRises();
    clock.advanceBy(1);
    balloon.advance(clock.now());
    expect(stats.takeUsed()).toHaveLength(1); // returning the buffer is the request
    expect(board.irqRises()).toBe(rises + 1);
    expect(balloon.nextDeadline()).toBe(Infinity); // until the driver answers
    stats.post({
      out: [
        statsBuffer([
          [4, 60_000_000n],
          [9999, 1n],
        ]),
      ],
    });
    stats.kick();
    expect(balloon.info().stats.freeMemory).toBe(60_000_000);
    expect(balloon.info().stats.totalMemory).toBe(128_000_000);
    expect(balloon.info().statsAgeSeconds).toBe(0);
  });

  it("a device reset gives every page back to the guest", () => {
    const { balloon, driver, inflate } = setup();
    inflate.post({ out: [pfns(FREE_PAGE_A, FREE_PAGE_B)] });
    inflate.kick();
    expect(balloon.info().balloonedPages).toBe(2);
    driver.reset();
    expect(balloon.info().balloonedPages).toBe(0);
  });

  it("saves and restores mid-exchange: held pages and the held statistics buffer", () => {
    const a = setup("modern", 1000);
    a.balloon.setTargetBytes(BOARD_RAM_BYTES - 2 * PAGE);
    a.inflate.post({ out: [pfns(FREE_PAGE_A, FREE_PAGE_B)] });
    a.inflate.kick();
    a.stats.post({ out: [statsBuffer([[4, 5n]])] });
    a.stats.kick();
    const state = JSON.parse(JSON.stringify(a.board.bus.save()));

    // A second board with the same RAM contents takes the state.
    const clock = new ManualClock();
    const balloon = new VirtioBalloon({ ramBytes: BOARD_RAM_BYTES, clock, statsIntervalMs: 1000 });
    const board = createVirtioBoard(balloon);
    board.memory.write(0, a.board.memory.read(0, BOARD_RAM_BYTES));
    restoreComponent(board.bus, state);
    expect(balloon.info().balloonedPages).toBe(2);
    expect(balloon.ballooned.has(FREE_PAGE_B)).toBe(true);
    expect(balloon.info().targetBytes).toBe(BOARD_RAM_BYTES - 2 * PAGE);
    expect(balloon.info().stats).toEqual({ freeMemory: 5 });
    // The held buffer, known only by its head, goes back when statistics are due.
    clock.advanceBy(1_000_000_000);
    balloon.advance(clock.now());
    const stats = a.stats.movedTo(a.driver.movedTo(board));
    expect(stats.takeUsed()).toHaveLength(1);
  });

  it("rejects malformed state without changing anything", () => {
    const { balloon, board, inflate } = setup();
    inflate.post({ out: [pfns(FREE_PAGE_A)] });
    inflate.kick();
    const good = board.bus.save();
    const text = JSON.stringify(good);
    const broken = (mutate: (s: Record<string, unknown>) => void) => {
      const copy = JSON.parse(text);
      // The balloon's own state sits inside its transport's, in slot 2.
      const fn = copy.functions.find((f: { slot: number }) => f.slot === 2);
      mutate(fn.device.device);
      return copy;
    };
    expect(() =>
      restoreComponent(
        board.bus,
        broken((d) => (d.ballooned = [[RAM_PAGES, RAM_PAGES + 1]])),
      ),
    ).toThrow(RangeError);
    expect(() =>
      restoreComponent(
        board.bus,
        broken((d) => (d.ballooned = [[3, 2]])),
      ),
    ).toThrow(RangeError);
    expect(() =>
      restoreComponent(
        board.bus,
        broken((d) => (d.stats = { madeUp: 1 })),
      ),
    ).toThrow(RangeError);
    expect(() =>
      restoreComponent(
        board.bus,
        broken((d) => (d.targetPages = "many")),
      ),
    ).toThrow(TypeError);
    expect(board.bus.save()).toEqual(good);
    expect(balloon.info().balloonedPages).toBe(1);
  });
});

describe("virtio-balloon free page reporting", () => {
  function reportingSetup(withStats: boolean) {
    const clock = new ManualClock();
    const balloon = new VirtioBalloon({ ramBytes: BOARD_RAM_BYTES, clock });
    const board = createVirtioBoard(balloon);
    const driver = new FakeVirtioDriver(board, "modern");
    const wanted = (withStats ? STATS_F : 0n) | REPORTING_F | F_EVENT_IDX | F_VERSION_1;
    const queues = driver.init(wanted, withStats ? 4 : 3);
    return { balloon, board, driver, reporting: queues.at(-1)! };
  }

  it.each([true, false])(
    "zeroes the whole pages of each reported range and returns the buffer (stats queue: %s)",
    (withStats) => {
      const { balloon, board, reporting } = reportingSetup(withStats);
      board.memory.fill(FREE_PAGE_A * PAGE, 2 * PAGE, 0x5a);
      board.memory.fill(0x8000, PAGE, 0x5a);
      board.dirtyPages.clear();
      // Linux reports free memory as device-writable buffers, one per free
      // chunk: two whole pages, and a range that covers no whole page.
      const last = reporting.size - 1;
      reporting.writeDescriptor(last, {
        addr: FREE_PAGE_A * PAGE,
        len: 2 * PAGE,
        flags: DESC_NEXT | DESC_WRITE,
        next: last - 1,
      });
      reporting.writeDescriptor(last - 1, {
        addr: 0x8010,
        len: PAGE - 32,
        flags: DESC_WRITE,
        next: 0,
      });
      reporting.publish(last);
      reporting.notify();
      expect(reporting.usedIdx()).toBe(1);
      expect(board.memory.read(FREE_PAGE_A * PAGE, 2 * PAGE).every((b) => b === 0)).toBe(true);
      expect(board.memory.read(0x8000, PAGE).every((b) => b === 0x5a)).toBe(true);
      expect(board.dirtyPages.has(FREE_PAGE_A) && board.dirtyPages.has(FREE_PAGE_B)).toBe(true);
      expect(balloon.info().reportedPages).toBe(2);
      expect(balloon.info().balloonedPages).toBe(0); // reported pages stay the guest's
    },
  );

  it("a report in a device-readable buffer puts the device in NEEDS_RESET", () => {
    const { balloon, board, driver, reporting } = reportingSetup(true);
    board.memory.fill(FREE_PAGE_A * PAGE, PAGE, 0x5a);
    reporting.post({ out: [new Uint8Array(16)] });
    reporting.kick();
    expect(driver.status() & 0x40).toBe(0x40);
    expect(board.log.join("\n")).toMatch(/free page report must be device-writable/);
    expect(board.memory.read(FREE_PAGE_A * PAGE, PAGE).every((b) => b === 0x5a)).toBe(true);
    expect(balloon.info().reportedPages).toBe(0);
  });

  it("is not offered when the machine turns it off", () => {
    const balloon = new VirtioBalloon({
      ramBytes: BOARD_RAM_BYTES,
      clock: new ManualClock(),
      freePageReporting: false,
    });
    const driver = new FakeVirtioDriver(createVirtioBoard(balloon), "modern");
    expect(driver.deviceFeatures() & REPORTING_F).toBe(0n);
  });
});

describe("balloon parts", () => {
  it("the page bitmap counts, and round-trips through ranges", () => {
    const bitmap = new PageBitmap(100);
    for (const page of [0, 1, 2, 10, 50, 51, 99]) bitmap.add(page);
    expect(bitmap.add(1)).toBe(false);
    expect(bitmap.count).toBe(7);
    expect(bitmap.ranges()).toEqual([
      [0, 3],
      [10, 11],
      [50, 52],
      [99, 100],
    ]);
    const copy = new PageBitmap(100);
    copy.setRanges(bitmap.ranges());
    expect(copy.ranges()).toEqual(bitmap.ranges());
    expect(copy.delete(50)).toBe(true);
    expect(copy.delete(50)).toBe(false);
    expect(copy.count).toBe(6);
    expect(() => bitmap.add(100)).toThrow(RangeError);
  });

  it("decodes statistics, skipping unknown tags and a partial entry", () => {
    const bytes = new Uint8Array([
      ...statsBuffer([
        [7, 123n],
        [42, 9n],
        [0, 1n],
      ]),
      1,
      2,
      3,
    ]);
    expect(decodeStats(bytes)).toEqual({ diskCaches: 123, swapIn: 1 });
  });
});
