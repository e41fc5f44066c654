// The virtio-pci transport as a driver sees it: identity and capabilities,
// feature negotiation and device status through the modern and the legacy
// interface, queue programming rules, ISR and INTx, device configuration and
// its generation, the PCI configuration access window, and save/restore of
// the transport registers. The queues' data path is in virtio-queue.test.ts.
import { describe, expect, it } from "vitest";
import type { AccessSize } from "../../src/core/core-host.ts";
import type {
  QueueDefinition,
  VirtioDeviceHost,
  VirtioDeviceModel,
} from "../../src/devices/virtio/device-model.ts";
import { expectInt, expectObject } from "../../src/platform/state-check.ts";
import { VirtioPciTransport } from "../../src/devices/virtio/pci-transport.ts";
import {
  BOARD_RAM_BYTES,
  CAP,
  COMMON,
  createVirtioBoard,
  F_EVENT_IDX,
  F_INDIRECT_DESC,
  F_VERSION_1,
  FakeVirtioDriver,
  LEGACY,
  STATUS,
  type DriverMode,
  type VirtioBoard,
} from "../helpers/virtio-driver.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const F_ALPHA = 1n << 0n;
/** Needs F_ALPHA: the model refuses it alone. */
const F_BETA = 1n << 1n;
const F_UNOFFERED = 1n << 5n;
const ALL_OFFERED = F_ALPHA | F_BETA | F_INDIRECT_DESC | F_EVENT_IDX | F_VERSION_1;

/**
 * A balloon-shaped model (device type 5, two queues, 8 bytes of configuration:
 * a target the host sets and an `actual` the driver writes) that records
 * every callback.
 */
class RecordingModel implements VirtioDeviceModel {
  readonly deviceType = 5;
  readonly classCode = 0x00ff00;
  readonly name = "recording device";
  readonly features = F_ALPHA | F_BETA;
  readonly queues: QueueDefinition[] = [{ maxSize: 64 }, { maxSize: 16, buffers: "readable" }];
  readonly configSize = 8;
  host!: VirtioDeviceHost;
  events: string[] = [];
  target = 0;
  actual = 0;

  attach(host: VirtioDeviceHost): void {
    this.host = host;
  }

  readConfig(offset: number, size: AccessSize): number {
    const bytes = new DataView(new ArrayBuffer(8));
    bytes.setUint32(0, this.target, true);
    bytes.setUint32(4, this.actual, true);
    return size === 1
      ? bytes.getUint8(offset)
      : size === 2
        ? bytes.getUint16(offset, true)
        : bytes.getUint32(offset, true);
  }

  writeConfig(offset: number, size: AccessSize, value: number): void {
    this.events.push(`config write ${offset}/${size} = ${value}`);
    if (offset === 4 && size === 4) this.actual = value;
  }

  queueNotified(index: number): void {
    this.events.push(`notified ${index}`);
  }

  checkFeatures(features: bigint): string | undefined {
    return features & F_BETA && !(features & F_ALPHA) ? "BETA needs ALPHA" : undefined;
  }

  featuresAccepted(features: bigint): void {
    this.events.push(`features 0x${features.toString(16)}`);
  }

  driverReady(): void {
    this.events.push("driver ready");
  }

  reset(): void {
    this.events.push("reset");
    this.actual = 0;
  }

  /** The host changes the target, as a balloon's would be. */
  setTarget(pages: number): void {
    this.target = pages;
    this.host.configChanged();
  }

  saveState(): unknown {
    return { version: 1, target: this.target, actual: this.actual };
  }

  prepareRestore(value: unknown, what: string): () => void {
    const fields = expectObject(value, what);
    const target = expectInt(fields, "target", 0, 0xffffffff, what);
    const actual = expectInt(fields, "actual", 0, 0xffffffff, what);
    return () => {
      this.target = target;
      this.actual = actual;
    };
  }
}

function setup(mode: DriverMode = "modern") {
  const model = new RecordingModel();
  const board = createVirtioBoard(model);
  const driver = new FakeVirtioDriver(board, mode);
  return { model, board, driver, transport: board.transport };
}

function logged(board: VirtioBoard, pattern: RegExp): boolean {
  return board.log.some((line) => pattern.test(line));
}

describe("virtio-pci identity and capabilities", () => {
  it("is a transitional function: 1AF4:1002 for the balloon type, revision 0, subsystem = type", () => {
    const { driver, board } = setup();
    expect(driver.configRead(0x00, 2)).toBe(0x1af4);
    expect(driver.configRead(0x02, 2)).toBe(0x1002);
    expect(driver.configRead(0x08, 1)).toBe(0);
    expect(driver.configRead(0x08, 4) >>> 8).toBe(0x00ff00);
    expect(driver.configRead(0x2c, 2)).toBe(0x1af4);
    expect(driver.configRead(0x2e, 2)).toBe(5);
    expect(driver.configRead(0x3d, 1)).toBe(1); // INTA#
    expect(board.setup.irq).toBeDefined();
    expect(driver.configRead(0x3c, 1)).toBe(board.setup.irq);
  });

  it("takes the specification's transitional IDs, not a formula, and a model's own for other types", () => {
    const model = (deviceType: number, transitionalDeviceId?: number) => {
      const m = new RecordingModel();
      Object.assign(m, { deviceType, transitionalDeviceId });
      return m;
    };
    const id = (m: RecordingModel) =>
      new VirtioPciTransport({ model: m, memory: createVirtioBoard(new RecordingModel()).memory })
        .deviceId;
    expect(id(model(1))).toBe(0x1000);
    expect(id(model(2))).toBe(0x1001);
    expect(id(model(3))).toBe(0x1003);
    expect(id(model(4))).toBe(0x1005);
    expect(id(model(9))).toBe(0x1009);
    expect(id(model(42, 0x1030))).toBe(0x1030);
    expect(() => id(model(42))).toThrow(RangeError);
    expect(() => id(model(42, 0x1040))).toThrow(RangeError);
  });

  it("refuses a model that declares transport feature bits, bad queue sizes or too much configuration", () => {
    const memory = createVirtioBoard(new RecordingModel()).memory;
    const build = (change: Partial<Record<keyof RecordingModel, unknown>>) => {
      const model = Object.assign(new RecordingModel(), change);
      return () => new VirtioPciTransport({ model, memory });
    };
    expect(build({ features: F_EVENT_IDX })).toThrow(RangeError);
    expect(build({ features: F_VERSION_1 })).toThrow(RangeError);
    expect(build({ queues: [{ maxSize: 48 }] })).toThrow(RangeError);
    expect(build({ queues: [{ maxSize: 65536 }] })).toThrow(RangeError);
    expect(build({ configSize: 237 })).toThrow(RangeError);
    expect(build({ deviceType: 0 })).toThrow(RangeError);
    expect(build({ configSize: 236 })).not.toThrow();
  });

  it("has an I/O BAR0 for legacy and a 16 KiB memory BAR the firmware placed", () => {
    const { board, driver } = setup();
    const bars = board.setup.bars;
    expect(bars.map((bar) => [bar.index, bar.kind, bar.size])).toEqual([
      [0, "io", 32], // 20 bytes of registers + 8 of configuration
      [4, "memory", 0x4000],
    ]);
    expect(driver.barBase(0)).toBe(bars[0]!.base);
    expect(driver.barBase(4)).toBe(bars[1]!.base);
    expect(driver.configRead(0x04, 2) & 0x7).toBe(0x7); // I/O, memory, bus master
  });

  it("lists vendor capabilities that locate each structure inside the memory BAR", () => {
    const { driver } = setup();
    const caps = driver.capabilities;
    expect(caps.map((cap) => cap.cfgType)).toEqual([
      CAP.COMMON,
      CAP.ISR,
      CAP.NOTIFY,
      CAP.DEVICE,
      CAP.PCI_CFG,
    ]);
    const common = driver.capability(CAP.COMMON);
    expect(common).toMatchObject({ bar: 4, capLength: 16, length: 0x38 });
    expect(driver.capability(CAP.ISR)).toMatchObject({ bar: 4, capLength: 16, length: 1 });
    expect(driver.capability(CAP.NOTIFY)).toMatchObject({
      bar: 4,
      capLength: 20,
      multiplier: 4,
      length: 8, // two queues
    });
    expect(driver.capability(CAP.DEVICE)).toMatchObject({ bar: 4, capLength: 16, length: 8 });
    expect(driver.capability(CAP.PCI_CFG)).toMatchObject({ capLength: 20 });
    // What Linux checks before mapping: alignment, and that the structure fits the BAR.
    for (const cap of caps.filter((c) => c.cfgType !== CAP.PCI_CFG)) {
      expect(cap.offset % 4).toBe(0);
      expect(cap.offset + cap.length).toBeLessThanOrEqual(0x4000);
    }
    const offsets = caps.filter((c) => c.cfgType !== CAP.PCI_CFG).map((c) => c.offset);
    expect(new Set(offsets).size).toBe(offsets.length);
  });
});

describe("virtio-pci feature negotiation", () => {
  it("offers the model's bits, INDIRECT_DESC, EVENT_IDX and VERSION_1, in two 32-bit words", () => {
    const { driver } = setup();
    expect(driver.deviceFeatures()).toBe(ALL_OFFERED);
    driver.commonWrite(COMMON.DFSELECT, 4, 2);
    expect(driver.commonRead(COMMON.DF, 4)).toBe(0);
    expect(driver.commonRead(COMMON.DFSELECT, 4)).toBe(2);
  });

  it("accepts FEATURES_OK for an offered subset and tells the model once", () => {
    const { driver, model, transport } = setup();
    const features = driver.negotiate(F_ALPHA | F_VERSION_1 | F_EVENT_IDX);
    expect(features).toBe(F_ALPHA | F_VERSION_1 | F_EVENT_IDX);
    expect(driver.status()).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK);
    expect(model.events.filter((e) => e.startsWith("features"))).toEqual(["features 0x120000001"]);
    expect(transport.features).toBe(F_ALPHA | F_VERSION_1 | F_EVENT_IDX);
    driver.commonWrite(COMMON.GFSELECT, 4, 1);
    expect(driver.commonRead(COMMON.GF, 4)).toBe(1);
  });

  it("refuses FEATURES_OK when the driver accepts a feature that was not offered", () => {
    const { driver, model, board } = setup();
    expect(driver.negotiate(F_VERSION_1 | F_UNOFFERED, { force: true })).toBeUndefined();
    expect(driver.status() & STATUS.FEATURES_OK).toBe(0);
    expect(logged(board, /refused FEATURES_OK: .*0x20 that were not offered/)).toBe(true);
    expect(model.events.some((e) => e.startsWith("features"))).toBe(false);
  });

  it("refuses FEATURES_OK without VERSION_1 on the modern interface", () => {
    const { driver, board } = setup();
    expect(driver.negotiate(F_ALPHA)).toBeUndefined();
    expect(logged(board, /did not accept VIRTIO_F_VERSION_1/)).toBe(true);
  });

  it("refuses FEATURES_OK for a combination the model rejects", () => {
    const { driver, board } = setup();
    expect(driver.negotiate(F_BETA | F_VERSION_1)).toBeUndefined();
    expect(logged(board, /refused FEATURES_OK: BETA needs ALPHA/)).toBe(true);
    expect(driver.negotiate(F_ALPHA | F_BETA | F_VERSION_1)).toBe(F_ALPHA | F_BETA | F_VERSION_1);
  });

  it("ignores driver_feature writes once FEATURES_OK is set", () => {
    const { driver, transport, board } = setup();
    driver.negotiate(F_VERSION_1);
    driver.writeDriverFeatures(F_VERSION_1 | F_ALPHA);
    expect(transport.features).toBe(F_VERSION_1);
    expect(logged(board, /driver_feature write after FEATURES_OK/)).toBe(true);
  });

  it("legacy: shows the low word, takes guest features at once and drops unoffered bits", () => {
    const { driver, model, transport, board } = setup("legacy");
    expect(driver.deviceFeatures()).toBe(ALL_OFFERED & 0xffffffffn);
    driver.reset();
    driver.addStatus(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    driver.writeDriverFeatures(F_ALPHA | F_EVENT_IDX | F_UNOFFERED);
    expect(BigInt(driver.legacyRead(LEGACY.GUEST_FEATURES, 4))).toBe(F_ALPHA | F_EVENT_IDX);
    expect(transport.features).toBe(F_ALPHA | F_EVENT_IDX);
    expect(model.events).toContain("features 0x20000001");
    expect(logged(board, /features 0x20 that were not offered; dropped/)).toBe(true);
  });

  it("legacy: a combination the model cannot run sets DEVICE_NEEDS_RESET, as it cannot be refused", () => {
    const { driver, board } = setup("legacy");
    expect(driver.negotiate(F_BETA)).toBe(F_BETA);
    expect(driver.status() & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
    expect(logged(board, /BETA needs ALPHA/)).toBe(true);
  });
});

describe("virtio-pci device status and reset", () => {
  it("accumulates status bits, ignores attempts to clear them and keeps NEEDS_RESET the device's", () => {
    const { driver, board } = setup();
    driver.writeStatus(STATUS.ACKNOWLEDGE);
    driver.writeStatus(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    driver.writeStatus(STATUS.DRIVER);
    expect(driver.status()).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    expect(logged(board, /ignored clearing status bits 0x01/)).toBe(true);
    driver.writeStatus(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.NEEDS_RESET);
    expect(driver.status() & STATUS.NEEDS_RESET).toBe(0);
    driver.addStatus(STATUS.FAILED);
    expect(driver.status() & STATUS.FAILED).toBe(STATUS.FAILED);
  });

  it("a status write of 0 resets everything: features, selectors, queues, ISR, the model", () => {
    const { driver, model, board, transport } = setup();
    const [queue] = driver.init(F_ALPHA | F_VERSION_1, 1, { size: 32 });
    driver.commonWrite(COMMON.Q_SELECT, 2, 0);
    expect(driver.commonRead(COMMON.Q_ENABLE, 2)).toBe(1);
    model.setTarget(7);
    expect(board.irqLevel()).toBe(true);
    model.events = [];
    expect(driver.reset()).toBe(true);
    expect(model.events).toEqual(["reset"]);
    expect(transport.features).toBe(0n);
    expect(transport.isr).toBe(0);
    expect(board.irqLevel()).toBe(false);
    expect(driver.commonRead(COMMON.Q_SELECT, 2)).toBe(0);
    expect(driver.commonRead(COMMON.Q_ENABLE, 2)).toBe(0);
    expect(driver.commonRead(COMMON.Q_SIZE, 2)).toBe(64);
    expect(driver.commonRead(COMMON.Q_DESC_LO, 4)).toBe(0);
    expect(driver.commonRead(COMMON.Q_USED_LO, 4)).toBe(0);
    expect(driver.commonRead(COMMON.GFSELECT, 4)).toBe(0);
    expect(queue).toBeDefined();
    expect(transport.queue(0).enabled).toBe(false);
  });

  it("calls driverReady on DRIVER_OK, after FEATURES_OK", () => {
    const { driver, model } = setup();
    driver.init(F_VERSION_1, 2);
    // The driver's probe starts with a reset, as Linux's does.
    expect(model.events).toEqual(["reset", "features 0x100000000", "driver ready"]);
    expect(driver.status()).toBe(
      STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.FEATURES_OK | STATUS.DRIVER_OK,
    );
  });

  it("needs a reset when a modern driver sets DRIVER_OK without FEATURES_OK", () => {
    const { driver, model, board } = setup();
    driver.reset();
    driver.addStatus(STATUS.ACKNOWLEDGE | STATUS.DRIVER);
    driver.writeDriverFeatures(F_VERSION_1);
    driver.addStatus(STATUS.DRIVER_OK);
    expect(driver.status() & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
    expect(model.events).not.toContain("driver ready");
    expect(driver.readIsr()).toBe(2); // the configuration-change interrupt NEEDS_RESET comes with
    expect(logged(board, /DRIVER_OK before the device accepted FEATURES_OK/)).toBe(true);
  });

  it("a legacy driver goes to DRIVER_OK without FEATURES_OK", () => {
    const { driver, model } = setup("legacy");
    driver.init(F_ALPHA, 2);
    expect(driver.status()).toBe(STATUS.ACKNOWLEDGE | STATUS.DRIVER | STATUS.DRIVER_OK);
    expect(model.events).toEqual(["reset", "features 0x1", "driver ready"]);
  });

  it("a PCI reset puts the transport back to power-on", () => {
    const { driver, board, transport, model } = setup();
    driver.init(F_VERSION_1, 2);
    model.setTarget(1);
    board.bus.reset();
    expect(transport.status).toBe(0);
    expect(transport.isr).toBe(0);
    expect(transport.configGeneration).toBe(0);
    expect(transport.queue(0).enabled).toBe(false);
    expect(board.irqLevel()).toBe(false);
    expect(model.events.at(-1)).toBe("reset");
  });
});

describe("virtio-pci queue programming", () => {
  it("reports num_queues, each queue's maximum size and notify offset; no MSI-X vectors", () => {
    const { driver } = setup();
    expect(driver.commonRead(COMMON.NUMQ, 2)).toBe(2);
    const sizes = [0, 1, 2].map((index) => {
      driver.commonWrite(COMMON.Q_SELECT, 2, index);
      return [driver.commonRead(COMMON.Q_SIZE, 2), driver.commonRead(COMMON.Q_NOFF, 2)];
    });
    expect(sizes).toEqual([
      [64, 0],
      [16, 1],
      [0, 0], // queue 2 does not exist
    ]);
    driver.commonWrite(COMMON.MSIX, 2, 0);
    driver.commonWrite(COMMON.Q_MSIX, 2, 0);
    expect(driver.commonRead(COMMON.MSIX, 2)).toBe(0xffff);
    expect(driver.commonRead(COMMON.Q_MSIX, 2)).toBe(0xffff);
  });

  it("takes a smaller power-of-two size and refuses others, keeping the old one", () => {
    const { driver, board } = setup();
    driver.commonWrite(COMMON.Q_SELECT, 2, 0);
    driver.commonWrite(COMMON.Q_SIZE, 2, 16);
    expect(driver.commonRead(COMMON.Q_SIZE, 2)).toBe(16);
    for (const bad of [24, 128, 0, 3]) {
      driver.commonWrite(COMMON.Q_SIZE, 2, bad);
      expect(driver.commonRead(COMMON.Q_SIZE, 2)).toBe(16);
    }
    expect(board.log.filter((line) => /refused queue size/.test(line))).toHaveLength(4);
    expect(driver.status() & STATUS.NEEDS_RESET).toBe(0);
  });

  it("enables a queue once with aligned rings in RAM; ignores 0 and changes while enabled", () => {
    const { driver, board, transport } = setup();
    const features = driver.negotiate(F_VERSION_1)!;
    const queue = driver.setupQueue(0, features, { size: 8 });
    expect(driver.commonRead(COMMON.Q_ENABLE, 2)).toBe(1);
    expect(driver.commonRead(COMMON.Q_AVAIL_LO, 4)).toBe(queue.rings.avail);
    driver.commonWrite(COMMON.Q_SIZE, 2, 4);
    driver.commonWrite(COMMON.Q_DESC_LO, 4, 0x1000);
    driver.commonWrite(COMMON.Q_ENABLE, 2, 0);
    expect(driver.commonRead(COMMON.Q_SIZE, 2)).toBe(8);
    expect(driver.commonRead(COMMON.Q_DESC_LO, 4)).toBe(queue.rings.desc);
    expect(driver.commonRead(COMMON.Q_ENABLE, 2)).toBe(1);
    expect(transport.queue(0).address("device")).toBe(queue.rings.used);
    expect(logged(board, /queue_size write for queue 0 while it is enabled/)).toBe(true);
    expect(logged(board, /only 1 enables/)).toBe(true);
  });

  it.each([
    [
      "a misaligned descriptor table",
      { desc: 0x20008 },
      /descriptor table at 0x20008 is not 16-byte aligned/,
    ],
    ["a misaligned used ring", { used: 0x30002 }, /used ring at 0x30002 is not 4-byte aligned/],
    [
      "an available ring past the end of RAM",
      { avail: BOARD_RAM_BYTES - 4 },
      /available ring .* is outside RAM/,
    ],
    ["a used ring above 4 GiB", { usedHigh: 1 }, /used ring .* is outside RAM/],
  ])("refuses to enable a queue with %s: DEVICE_NEEDS_RESET", (_name, bad, message) => {
    const { driver, board, transport } = setup();
    driver.negotiate(F_VERSION_1);
    driver.commonWrite(COMMON.Q_SELECT, 2, 0);
    driver.commonWrite(COMMON.Q_SIZE, 2, 4);
    const rings = { desc: 0x20000, avail: 0x21000, used: 0x22000, usedHigh: 0, ...bad };
    driver.commonWrite(COMMON.Q_DESC_LO, 4, rings.desc);
    driver.commonWrite(COMMON.Q_AVAIL_LO, 4, rings.avail);
    driver.commonWrite(COMMON.Q_USED_LO, 4, rings.used);
    driver.commonWrite(COMMON.Q_USED_HI, 4, rings.usedHigh);
    driver.commonWrite(COMMON.Q_ENABLE, 2, 1);
    expect(driver.commonRead(COMMON.Q_ENABLE, 2)).toBe(0);
    expect(transport.queue(0).enabled).toBe(false);
    expect(driver.status() & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
    expect(logged(board, message)).toBe(true);
    expect(board.guardsIntact()).toBe(true);
  });

  it("legacy: the size is read-only, a page number enables and reads back, 0 releases", () => {
    const { driver, board, transport } = setup("legacy");
    driver.negotiate(0n);
    driver.legacyWrite(LEGACY.QUEUE_SEL, 2, 1);
    driver.legacyWrite(LEGACY.QUEUE_NUM, 2, 4);
    expect(driver.legacyRead(LEGACY.QUEUE_NUM, 2)).toBe(16);
    expect(logged(board, /read-only queue size/)).toBe(true);
    const queue = driver.setupQueue(1, 0n);
    expect(driver.legacyRead(LEGACY.QUEUE_PFN, 4)).toBe(queue.rings.desc / 4096);
    const device = transport.queue(1);
    expect([device.address("desc"), device.address("driver"), device.address("device")]).toEqual([
      queue.rings.desc,
      queue.rings.avail,
      queue.rings.used,
    ]);
    expect(queue.rings.avail).toBe(queue.rings.desc + 16 * 16);
    expect(queue.rings.used % 4096).toBe(0);
    driver.legacyWrite(LEGACY.QUEUE_PFN, 4, 0);
    expect(device.enabled).toBe(false);
    expect(driver.legacyRead(LEGACY.QUEUE_PFN, 4)).toBe(0);
  });

  it("legacy: a page number whose rings leave RAM sets DEVICE_NEEDS_RESET", () => {
    const { driver, board, transport } = setup("legacy");
    driver.negotiate(0n);
    driver.legacyWrite(LEGACY.QUEUE_SEL, 2, 0);
    driver.legacyWrite(LEGACY.QUEUE_PFN, 4, BOARD_RAM_BYTES / 4096 - 1);
    expect(transport.queue(0).enabled).toBe(false);
    expect(driver.status() & STATUS.NEEDS_RESET).toBe(STATUS.NEEDS_RESET);
    driver.legacyWrite(LEGACY.QUEUE_PFN, 4, 0xffffffff);
    expect(transport.queue(0).enabled).toBe(false);
    expect(logged(board, /is outside RAM/)).toBe(true);
    expect(board.guardsIntact()).toBe(true);
  });

  it("ignores writes of the wrong width and to read-only registers", () => {
    const { driver, board } = setup();
    driver.commonWrite(COMMON.STATUS, 2, STATUS.ACKNOWLEDGE); // an 8-bit register
    driver.commonWrite(COMMON.NUMQ, 2, 9);
    expect(driver.status()).toBe(0);
    expect(driver.commonRead(COMMON.NUMQ, 2)).toBe(2);
    expect(logged(board, /ignored a 2-byte write of 0x1 at offset 0x14/)).toBe(true);
    expect(logged(board, /read-only num_queues/)).toBe(true);
    // Reads may cover several registers: num_queues, status and generation at once.
    driver.writeStatus(STATUS.ACKNOWLEDGE);
    expect(driver.commonRead(COMMON.NUMQ, 4)).toBe(2 | (STATUS.ACKNOWLEDGE << 16));
  });
});

describe("virtio-pci interrupts and device configuration", () => {
  for (const mode of ["modern", "legacy"] as const) {
    it(`${mode}: a configuration change sets ISR bit 1 and raises INTx; reading the ISR clears both`, () => {
      const { driver, model, board } = setup(mode);
      driver.init(F_ALPHA | (mode === "modern" ? F_VERSION_1 : 0n), 2);
      expect(board.irqLevel()).toBe(false);
      model.setTarget(1234);
      expect(board.irqLevel()).toBe(true);
      expect(driver.configRead(0x06, 2) & 0x08).toBe(0x08); // PCI status: interrupt
      expect(driver.deviceConfigRead(0, 4)).toBe(1234);
      expect(board.irqLevel()).toBe(true); // reading the configuration does not acknowledge
      expect(driver.readIsr()).toBe(2);
      expect(board.irqLevel()).toBe(false);
      expect(driver.configRead(0x06, 2) & 0x08).toBe(0);
      expect(driver.readIsr()).toBe(0);
    });
  }

  it("bumps config_generation on every change, interrupting only once DRIVER_OK is set", () => {
    const { driver, model, board } = setup();
    driver.negotiate(F_VERSION_1);
    const before = driver.generation();
    model.setTarget(1);
    expect(driver.generation()).toBe(before + 1);
    expect(board.irqLevel()).toBe(false);
    expect(driver.readIsr()).toBe(0);
    driver.driverOk();
    model.setTarget(2);
    expect(driver.generation()).toBe(before + 2);
    expect(board.irqLevel()).toBe(true);
    for (let i = 0; i < 300; i++) model.setTarget(i);
    expect(driver.generation()).toBe((before + 302) & 0xff);
  });

  it("passes configuration reads and writes through both interfaces; out of range reads 0", () => {
    const { driver, model, board } = setup();
    const legacy = new FakeVirtioDriver(board, "legacy");
    model.target = 0x11223344;
    expect(driver.deviceConfigRead(0, 4)).toBe(0x11223344);
    expect(driver.deviceConfigRead(1, 2)).toBe(0x2233);
    expect(legacy.deviceConfigRead(3, 1)).toBe(0x11);
    driver.deviceConfigWrite(4, 4, 99);
    expect(model.actual).toBe(99);
    legacy.deviceConfigWrite(4, 4, 100);
    expect(model.actual).toBe(100);
    expect(driver.deviceConfigRead(6, 4)).toBe(0);
    driver.deviceConfigWrite(8, 1, 1);
    expect(logged(board, /ignored a 4-byte read at device configuration offset 0x6/)).toBe(true);
    expect(logged(board, /ignored a 1-byte write at device configuration offset 0x8/)).toBe(true);
  });

  it("INTx disable in the command register masks the line but not the ISR", () => {
    const { driver, model, board } = setup();
    driver.init(F_VERSION_1, 2);
    driver.configWrite(0x04, 2, driver.configRead(0x04, 2) | 0x400);
    model.setTarget(5);
    expect(board.irqLevel()).toBe(false);
    driver.configWrite(0x04, 2, driver.configRead(0x04, 2) & ~0x400);
    expect(board.irqLevel()).toBe(true);
    expect(driver.readIsr()).toBe(2);
  });
});

describe("virtio-pci configuration access window (VIRTIO_PCI_CAP_PCI_CFG)", () => {
  it("reads and writes the BARs through configuration space", () => {
    const { driver, model } = setup();
    driver.windowWrite(4, COMMON.DFSELECT, 4, 1);
    expect(driver.windowRead(4, COMMON.DF, 4)).toBe(1); // VERSION_1 in the high word
    driver.windowWrite(4, COMMON.STATUS, 1, STATUS.ACKNOWLEDGE);
    expect(driver.status()).toBe(STATUS.ACKNOWLEDGE);
    expect(driver.windowRead(0, LEGACY.STATUS, 1)).toBe(STATUS.ACKNOWLEDGE);
    model.target = 0xabcd;
    expect(driver.windowRead(4, 0x2000, 2)).toBe(0xabcd);
    driver.negotiate(F_VERSION_1);
    driver.driverOk();
    model.setTarget(1);
    expect(driver.windowRead(4, 0x1000, 1)).toBe(2); // the ISR, and reading it clears it
    expect(driver.readIsr()).toBe(0);
  });

  it("ignores a window with a bad length, a misaligned offset or an offset past the BAR", () => {
    const { driver, board } = setup();
    driver.windowRead(4, COMMON.STATUS, 3 as never);
    driver.windowRead(4, 0x15, 2);
    driver.windowRead(4, 0x4000, 4);
    driver.windowRead(2, 0, 4);
    expect(logged(board, /length 3 is not 1, 2 or 4/)).toBe(true);
    expect(logged(board, /offset 0x15 is not a multiple of 2/)).toBe(true);
    expect(logged(board, /BAR 4 offset 0x4000 is not decoded/)).toBe(true);
    expect(logged(board, /BAR 2 offset 0x0 is not decoded/)).toBe(true);
  });
});

describe("virtio-pci transport save and restore", () => {
  function busy() {
    const env = setup();
    const [queue] = env.driver.init(F_ALPHA | F_VERSION_1 | F_EVENT_IDX, 2, { size: 32 });
    env.model.setTarget(77);
    env.driver.deviceConfigWrite(4, 4, 5);
    env.driver.commonWrite(COMMON.Q_SELECT, 2, 1);
    env.driver.commonWrite(COMMON.DFSELECT, 4, 1);
    return { ...env, queue: queue! };
  }

  it("restores status, features, selectors, ISR, generation and queues into a fresh board", () => {
    const { board, transport } = busy();
    const saved = JSON.parse(JSON.stringify(board.bus.save()));
    const other = setup();
    restoreComponent(other.board.bus, saved);
    expect(other.transport.status).toBe(transport.status);
    expect(other.transport.features).toBe(transport.features);
    expect(other.transport.isr).toBe(2);
    expect(other.board.irqLevel()).toBe(true);
    expect(other.transport.configGeneration).toBe(transport.configGeneration);
    expect(other.driver.commonRead(COMMON.Q_SELECT, 2)).toBe(1);
    expect(other.driver.commonRead(COMMON.DFSELECT, 4)).toBe(1);
    expect(other.transport.queue(0).save()).toEqual(transport.queue(0).save());
    expect(other.model.target).toBe(77);
    expect(other.model.actual).toBe(5);
    expect(other.board.bus.save()).toEqual(saved);
  });

  const mutations: Array<[string, (device: Record<string, unknown>) => void, ErrorConstructor]> = [
    ["a version from the future", (d) => (d.version = 2), RangeError],
    ["another device type", (d) => (d.deviceType = 1), RangeError],
    ["unknown status bits", (d) => (d.status = 0x10), RangeError],
    ["an ISR bit that does not exist", (d) => (d.isr = 4), RangeError],
    ["a feature word that is not a number", (d) => (d.driverFeatures = ["x", 0]), TypeError],
    ["FEATURES_OK with unoffered features", (d) => (d.driverFeatures = [0x20, 1]), RangeError],
    ["too few queues", (d) => (d.queues = [(d.queues as unknown[])[0]]), RangeError],
    ["a queue size that is not a power of two", (d) => (queue0(d).size = 24), RangeError],
    ["a queue larger than its maximum", (d) => (queue0(d).size = 128), RangeError],
    ["an enabled queue outside RAM", (d) => (queue0(d).desc = [0, 1]), RangeError],
    ["a misaligned enabled queue", (d) => (queue0(d).device = [0x30002, 0]), RangeError],
    ["an index beyond 16 bits", (d) => (queue0(d).usedIdx = 0x10000), RangeError],
    ["missing device state", (d) => delete d.device, TypeError],
    ["bad device state", (d) => (d.device = { target: -1, actual: 0 }), RangeError],
  ];

  function queue0(device: Record<string, unknown>): Record<string, unknown> {
    return (device.queues as Array<Record<string, unknown>>)[0]!;
  }

  it.each(mutations)("refuses %s and changes nothing", (_name, mutate, error) => {
    const { board } = busy();
    const saved = JSON.parse(JSON.stringify(board.bus.save()));
    const fresh = setup();
    const before = JSON.stringify(fresh.board.bus.save());
    const device = saved.functions.find((f: { slot: number }) => f.slot === 2).device;
    mutate(device);
    expect(() => restoreComponent(fresh.board.bus, saved)).toThrow(error);
    expect(JSON.stringify(fresh.board.bus.save())).toBe(before);
  });
});
