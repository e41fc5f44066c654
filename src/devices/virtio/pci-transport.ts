// A transitional virtio-pci function (virtio 1.1, 4.1) carrying one device
// model: the modern interface (vendor capabilities locating the common
// configuration, notification, ISR and device configuration structures in a
// memory BAR, plus the PCI configuration access window) and the legacy
// interface in I/O BAR0. Interrupts are INTx, level-triggered while the ISR
// is non-zero. Driver mistakes are logged; those that leave the device
// unusable set DEVICE_NEEDS_RESET, and none throws to the caller.
import type { AccessSize } from "../../core/core-host.ts";
import type { GuestMemory } from "../../core/guest-memory.ts";
import type { BarHandler } from "../pci/bar.ts";
import { REG_STATUS, STATUS_INTERRUPT } from "../pci/config-header.ts";
import { PciDevice, type PciIdentity } from "../pci/device.ts";
import {
  COMMON_CONFIG_LENGTH,
  createCommonConfig,
  type CommonConfigTarget,
  type Selectors,
} from "./common-config.ts";
import type { VirtioDeviceHost, VirtioDeviceModel } from "./device-model.ts";
import {
  DEVICE_FEATURE_MASK,
  featureWord,
  featureWords,
  featuresFromWords,
  formatFeatures,
  hasFeature,
  TRANSPORT_FEATURES,
  VIRTIO_F_VERSION_1,
  withFeatureWord,
  FEATURE_WORD_COUNT,
} from "./features.ts";
import { createLegacyRegisters, type LegacyTarget } from "./legacy-registers.ts";
import {
  CAP_BAR,
  CAP_CFG_TYPE,
  CAP_LENGTH,
  CAP_LENGTH_BYTE,
  CAP_NOTIFY_MULTIPLIER,
  CAP_OFFSET,
  CAP_PCI_CFG_DATA,
  CFG_TYPE_COMMON,
  CFG_TYPE_DEVICE,
  CFG_TYPE_ISR,
  CFG_TYPE_NOTIFY,
  CFG_TYPE_PCI_CFG,
  COMMON_REGION,
  DEVICE_REGION,
  ISR_REGION,
  LEGACY_BAR,
  LEGACY_CONFIG_OFFSET,
  MAX_CONFIG_SIZE,
  MODERN_BAR,
  MODERN_BAR_SIZE,
  MODERN_REGION_SIZE,
  NOTIFY_CAP_SIZE,
  NOTIFY_OFF_MULTIPLIER,
  NOTIFY_REGION,
  PCI_CAP_ID_VENDOR,
  PCI_CFG_CAP_SIZE,
  TRANSITIONAL_DEVICE_IDS,
  TRANSITIONAL_ID_FIRST,
  TRANSITIONAL_ID_LAST,
  VIRTIO_CAP_SIZE,
  VIRTIO_PCI_REVISION,
  VIRTIO_PCI_VENDOR_ID,
} from "./pci-layout.ts";
import type { RegisterFile } from "./register-file.ts";
import { isPowerOfTwo, MAX_QUEUE_SIZE } from "./ring-layout.ts";
import {
  parseVirtioTransportState,
  VIRTIO_TRANSPORT_STATE_VERSION,
  type VirtioTransportState,
} from "./state.ts";
import {
  formatStatus,
  ISR_CONFIG,
  ISR_QUEUE,
  STATUS_DEVICE_NEEDS_RESET,
  STATUS_DRIVER_OK,
  STATUS_FEATURES_OK,
} from "./status.ts";
import { Virtqueue, type RingArea, type VirtqueueHost } from "./virtqueue.ts";

/** Queues one notification page can address at NOTIFY_OFF_MULTIPLIER bytes each. */
export const MAX_QUEUES = MODERN_REGION_SIZE / NOTIFY_OFF_MULTIPLIER;

export interface VirtioPciTransportOptions {
  model: VirtioDeviceModel;
  /** Guest RAM, through which every ring and buffer access goes. */
  memory: GuestMemory;
  /** Receives driver mistakes and device errors, one line each; nothing by default. */
  log?: (message: string) => void;
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

function describeError(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** The model's PCI device ID: the specification's, or the model's own for other types. */
function transitionalDeviceId(model: VirtioDeviceModel, what: string): number {
  const own = model.transitionalDeviceId;
  if (own === undefined) {
    const assigned = TRANSITIONAL_DEVICE_IDS.get(model.deviceType);
    if (assigned === undefined) {
      throw new RangeError(
        `${what}: device type ${model.deviceType} has no transitional PCI device ID; ` +
          `the model must name one (transitionalDeviceId)`,
      );
    }
    return assigned;
  }
  if (!Number.isInteger(own) || own < TRANSITIONAL_ID_FIRST || own > TRANSITIONAL_ID_LAST) {
    throw new RangeError(
      `${what}: transitionalDeviceId must be in [${hex(TRANSITIONAL_ID_FIRST)}, ` +
        `${hex(TRANSITIONAL_ID_LAST)}], got ${own}`,
    );
  }
  return own;
}

/** Checks what the model declares; returns the PCI identity it gets. */
function checkModel(model: VirtioDeviceModel): PciIdentity {
  const what = `virtio device model${model.name ? ` ${model.name}` : ""}`;
  const type = model.deviceType;
  if (!Number.isInteger(type) || type < 1 || type > 0xffff) {
    throw new RangeError(`${what}: deviceType must be an integer in [1, 0xffff], got ${type}`);
  }
  if (typeof model.features !== "bigint" || model.features < 0n) {
    throw new TypeError(`${what}: features must be a non-negative bigint`);
  }
  if (model.features & ~DEVICE_FEATURE_MASK) {
    throw new RangeError(
      `${what}: features ${formatFeatures(model.features & ~DEVICE_FEATURE_MASK)} ` +
        `are not device-specific bits`,
    );
  }
  if (model.queues.length > MAX_QUEUES) {
    throw new RangeError(`${what}: at most ${MAX_QUEUES} queues, got ${model.queues.length}`);
  }
  model.queues.forEach((queue, index) => {
    if (!isPowerOfTwo(queue.maxSize) || queue.maxSize > MAX_QUEUE_SIZE) {
      throw new RangeError(
        `${what}: queue ${index} maxSize must be a power of two in [1, ${MAX_QUEUE_SIZE}], ` +
          `got ${queue.maxSize}`,
      );
    }
  });
  const size = model.configSize;
  if (!Number.isInteger(size) || size < 0 || size > MAX_CONFIG_SIZE) {
    throw new RangeError(`${what}: configSize must be 0..${MAX_CONFIG_SIZE}, got ${size}`);
  }
  return {
    vendorId: VIRTIO_PCI_VENDOR_ID,
    deviceId: transitionalDeviceId(model, what),
    classCode: model.classCode,
    revision: VIRTIO_PCI_REVISION,
    // Legacy drivers (and Linux for transitional IDs) read the device type here.
    subsystemVendorId: VIRTIO_PCI_VENDOR_ID,
    subsystemId: model.deviceType,
    interruptPin: 1,
    name: model.name ?? `virtio-pci (device type ${model.deviceType})`,
  };
}

/** The smallest power-of-two I/O BAR holding the legacy registers and the configuration. */
function legacyBarSize(configSize: number): number {
  let size = 4;
  while (size < LEGACY_CONFIG_OFFSET + configSize) size *= 2;
  return size;
}

export class VirtioPciTransport extends PciDevice implements VirtioDeviceHost {
  readonly memory: GuestMemory;
  readonly model: VirtioDeviceModel;
  /** Everything offered: the model's bits, the ring features and VERSION_1. */
  readonly offeredFeatures: bigint;

  private readonly queues: Virtqueue[];
  private readonly sink: (message: string) => void;
  private readonly common: RegisterFile;
  private readonly legacy: RegisterFile;
  private readonly legacySize: number;
  private readonly pciCfgCapability: number;
  private readonly selectors: Selectors = { deviceFeature: 0, driverFeature: 0, queue: 0 };

  private deviceStatus = 0;
  private driverFeatureSet = 0n;
  private generation = 0;
  private isrBits = 0;

  constructor(options: VirtioPciTransportOptions) {
    super(checkModel(options.model));
    const model = options.model;
    this.model = model;
    this.memory = options.memory;
    this.sink = options.log ?? (() => {});
    this.offeredFeatures = model.features | TRANSPORT_FEATURES;

    const queueHost: VirtqueueHost = {
      memory: this.memory,
      acceptedFeatures: () => this.features,
      isLive: () => this.driverReady,
      queueFailed: (queue, reason) => this.needsReset(`queue ${queue.index}: ${reason}`),
      queueInterrupt: () => this.raiseIsr(ISR_QUEUE),
      log: (message) => this.log(message),
    };
    this.queues = model.queues.map(
      (queue, index) => new Virtqueue(queueHost, index, queue.maxSize, queue.buffers ?? "both"),
    );
    const log = (message: string) => this.log(message);
    this.common = createCommonConfig(this.commonTarget(), log);
    this.legacy = createLegacyRegisters(this.legacyTarget(), log);

    this.legacySize = legacyBarSize(model.configSize);
    this.defineBar(LEGACY_BAR, {
      kind: "io",
      size: this.legacySize,
      handler: {
        read: (offset, size) => this.legacyRead(offset, size),
        write: (offset, size, value) => this.legacyWrite(offset, size, value),
      },
    });
    this.defineBar(MODERN_BAR, {
      kind: "memory",
      size: MODERN_BAR_SIZE,
      handler: {
        read: (offset, size) => this.modernRead(offset, size),
        write: (offset, size, value) => this.modernWrite(offset, size, value),
      },
    });

    this.addVirtioCapability(CFG_TYPE_COMMON, VIRTIO_CAP_SIZE, COMMON_REGION, COMMON_CONFIG_LENGTH);
    this.addVirtioCapability(CFG_TYPE_ISR, VIRTIO_CAP_SIZE, ISR_REGION, 1);
    const notify = this.addVirtioCapability(
      CFG_TYPE_NOTIFY,
      NOTIFY_CAP_SIZE,
      NOTIFY_REGION,
      Math.max(1, this.queues.length) * NOTIFY_OFF_MULTIPLIER,
    );
    this.writeRaw(notify + CAP_NOTIFY_MULTIPLIER, 4, NOTIFY_OFF_MULTIPLIER);
    if (model.configSize > 0) {
      this.addVirtioCapability(CFG_TYPE_DEVICE, VIRTIO_CAP_SIZE, DEVICE_REGION, model.configSize);
    }
    // The window's BAR, offset, length and data are the driver's to program.
    const window = this.addVirtioCapability(CFG_TYPE_PCI_CFG, PCI_CFG_CAP_SIZE, 0, 0);
    this.writeRaw(window + CAP_BAR, 1, 0);
    this.setWritable(window + CAP_BAR, 1, 0xff);
    this.setWritable(window + CAP_OFFSET, 4, 0xffffffff);
    this.setWritable(window + CAP_LENGTH, 4, 0xffffffff);
    this.setWritable(window + CAP_PCI_CFG_DATA, 4, 0xffffffff);
    this.setDeviceOwned(window + CAP_PCI_CFG_DATA, 4, 0xffffffff);
    this.pciCfgCapability = window;

    model.attach(this);
  }

  // ---- VirtioDeviceHost: what the device model uses ----

  get features(): bigint {
    return this.driverFeatureSet & this.offeredFeatures;
  }

  get driverReady(): boolean {
    return (
      (this.deviceStatus & STATUS_DRIVER_OK) !== 0 &&
      (this.deviceStatus & STATUS_DEVICE_NEEDS_RESET) === 0
    );
  }

  hasFeature(bit: number): boolean {
    return hasFeature(this.features, bit);
  }

  queue(index: number): Virtqueue {
    const queue = this.queues[index];
    if (!queue) throw new RangeError(`${this.name} has no queue ${index}`);
    return queue;
  }

  configChanged(): void {
    this.generation = (this.generation + 1) & 0xff;
    if (this.deviceStatus & STATUS_DRIVER_OK) this.raiseIsr(ISR_CONFIG);
  }

  needsReset(reason: string): void {
    this.log(`needs reset: ${reason}`);
    if (this.deviceStatus & STATUS_DEVICE_NEEDS_RESET) return;
    this.deviceStatus |= STATUS_DEVICE_NEEDS_RESET;
    if (this.deviceStatus & STATUS_DRIVER_OK) this.raiseIsr(ISR_CONFIG);
  }

  log(message: string): void {
    this.sink(`${this.name}: ${message}`);
  }

  // ---- inspection ----

  get numQueues(): number {
    return this.queues.length;
  }

  get status(): number {
    return this.deviceStatus;
  }

  /** The ISR as it stands, without the clearing a driver read does. */
  get isr(): number {
    return this.isrBits;
  }

  get configGeneration(): number {
    return this.generation;
  }

  // ---- PciDevice hooks ----

  protected override saveDeviceState(): VirtioTransportState {
    return {
      version: VIRTIO_TRANSPORT_STATE_VERSION,
      deviceType: this.model.deviceType,
      status: this.deviceStatus,
      deviceFeatureSelect: this.selectors.deviceFeature,
      driverFeatureSelect: this.selectors.driverFeature,
      driverFeatures: featureWords(this.driverFeatureSet),
      queueSelect: this.selectors.queue,
      configGeneration: this.generation,
      isr: this.isrBits,
      queues: this.queues.map((queue) => queue.save()),
      device: this.model.saveState(),
    };
  }

  protected override prepareDeviceState(value: unknown, what: string): () => void {
    const state = parseVirtioTransportState(value, what, this.queues.length);
    if (state.deviceType !== this.model.deviceType) {
      throw new RangeError(
        `${what} is for virtio device type ${state.deviceType}, ${this.name} is type ${this.model.deviceType}`,
      );
    }
    const driverFeatures = featuresFromWords(state.driverFeatures);
    if (state.status & STATUS_FEATURES_OK && (driverFeatures & ~this.offeredFeatures) !== 0n) {
      throw new RangeError(
        `${what}: FEATURES_OK with features ${formatFeatures(driverFeatures & ~this.offeredFeatures)} ` +
          `that ${this.name} does not offer`,
      );
    }
    state.queues.forEach((queue, index) => {
      const problem = this.queues[index]!.restoreProblem(queue);
      if (problem) throw new RangeError(`${what}.queues[${index}]: ${problem}`);
    });
    const applyModel = this.model.prepareRestore(state.device, `${what}.device`);
    return () => {
      this.deviceStatus = state.status;
      this.selectors.deviceFeature = state.deviceFeatureSelect;
      this.selectors.driverFeature = state.driverFeatureSelect;
      this.selectors.queue = state.queueSelect;
      this.driverFeatureSet = driverFeatures;
      this.generation = state.configGeneration;
      this.isrBits = state.isr;
      state.queues.forEach((queue, index) => this.queues[index]!.restore(queue));
      applyModel();
      // The INTx request follows the ISR; the bus drives the wire from it after the restore.
      const status = this.readRaw(REG_STATUS, 2);
      this.writeRaw(
        REG_STATUS,
        2,
        state.isr !== 0 ? status | STATUS_INTERRUPT : status & ~STATUS_INTERRUPT,
      );
    };
  }

  // A PCI reset: configuration space is back at power-on (INTx low) already.
  protected override onReset(): void {
    this.callModel("reset", () => this.model.reset());
    this.clearTransport();
    this.generation = 0;
  }

  protected override beforeConfigRead(offset: number, size: AccessSize): void {
    const data = this.pciCfgCapability + CAP_PCI_CFG_DATA;
    if (offset >= data + 4 || offset + size <= data) return;
    const access = this.windowAccess();
    if (!access) return;
    this.writeRaw(data, access.length, access.bar.read(access.offset, access.length));
  }

  protected override afterConfigWrite(offset: number, size: AccessSize): void {
    const data = this.pciCfgCapability + CAP_PCI_CFG_DATA;
    if (offset >= data + 4 || offset + size <= data) return;
    const access = this.windowAccess();
    if (!access) return;
    access.bar.write(access.offset, access.length, this.readRaw(data, access.length));
  }

  // ---- the PCI configuration access window ----

  private windowAccess(): { bar: BarHandler; offset: number; length: AccessSize } | undefined {
    const cap = this.pciCfgCapability;
    const barIndex = this.readRaw(cap + CAP_BAR, 1);
    const offset = this.readRaw(cap + CAP_OFFSET, 4);
    const length = this.readRaw(cap + CAP_LENGTH, 4);
    if (length !== 1 && length !== 2 && length !== 4) {
      this.log(`PCI configuration window: length ${length} is not 1, 2 or 4`);
      return undefined;
    }
    if (offset % length !== 0) {
      this.log(`PCI configuration window: offset ${hex(offset)} is not a multiple of ${length}`);
      return undefined;
    }
    const barSize =
      barIndex === LEGACY_BAR ? this.legacySize : barIndex === MODERN_BAR ? MODERN_BAR_SIZE : 0;
    if (offset + length > barSize) {
      this.log(`PCI configuration window: BAR ${barIndex} offset ${hex(offset)} is not decoded`);
      return undefined;
    }
    const bar =
      barIndex === LEGACY_BAR
        ? { read: this.legacyRead.bind(this), write: this.legacyWrite.bind(this) }
        : { read: this.modernRead.bind(this), write: this.modernWrite.bind(this) };
    return { bar, offset, length };
  }

  // ---- BAR handlers ----

  private modernRead(offset: number, size: AccessSize): number {
    const inner = offset & (MODERN_REGION_SIZE - 1);
    switch (offset - inner) {
      case COMMON_REGION:
        return this.common.read(inner, size);
      case ISR_REGION:
        return inner === 0 ? this.takeIsr() : 0;
      case DEVICE_REGION:
        return this.readDeviceConfig(inner, size);
      default:
        return 0; // the notification region is write-only
    }
  }

  private modernWrite(offset: number, size: AccessSize, value: number): void {
    const inner = offset & (MODERN_REGION_SIZE - 1);
    switch (offset - inner) {
      case COMMON_REGION:
        this.common.write(inner, size, value);
        return;
      case ISR_REGION:
        this.log(`ignored a write of ${hex(value)} to the read-only ISR`);
        return;
      case DEVICE_REGION:
        this.writeDeviceConfig(inner, size, value);
        return;
      case NOTIFY_REGION:
        // The address names the queue (the value is its index too, without NOTIFICATION_DATA).
        if (inner % NOTIFY_OFF_MULTIPLIER !== 0) {
          this.log(`ignored a notification at unaligned offset ${hex(inner)}`);
          return;
        }
        this.notify(inner / NOTIFY_OFF_MULTIPLIER);
        return;
    }
  }

  private legacyRead(offset: number, size: AccessSize): number {
    if (offset >= LEGACY_CONFIG_OFFSET) {
      return this.readDeviceConfig(offset - LEGACY_CONFIG_OFFSET, size);
    }
    return this.legacy.read(offset, size);
  }

  private legacyWrite(offset: number, size: AccessSize, value: number): void {
    if (offset >= LEGACY_CONFIG_OFFSET) {
      this.writeDeviceConfig(offset - LEGACY_CONFIG_OFFSET, size, value);
      return;
    }
    this.legacy.write(offset, size, value);
  }

  private readDeviceConfig(offset: number, size: AccessSize): number {
    if (offset + size > this.model.configSize) {
      this.log(`ignored a ${size}-byte read at device configuration offset ${hex(offset)}`);
      return 0;
    }
    return this.callModel("a configuration read", () => this.model.readConfig(offset, size)) ?? 0;
  }

  private writeDeviceConfig(offset: number, size: AccessSize, value: number): void {
    if (offset + size > this.model.configSize) {
      this.log(`ignored a ${size}-byte write at device configuration offset ${hex(offset)}`);
      return;
    }
    this.callModel("a configuration write", () => this.model.writeConfig(offset, size, value));
  }

  // ---- the registers' operations ----

  private commonTarget(): CommonConfigTarget {
    return {
      selectors: this.selectors,
      numQueues: this.queues.length,
      status: () => this.deviceStatus,
      configGeneration: () => this.generation,
      deviceFeatureWord: (select) => featureWord(this.offeredFeatures, select),
      driverFeatureWord: (select) => featureWord(this.driverFeatureSet, select),
      writeDriverFeatureWord: (select, value) => this.writeDriverFeatureWord(select, value),
      writeStatus: (value) => this.writeStatus(value),
      selectedQueue: () => this.queues[this.selectors.queue],
      writeQueueSize: (value) => this.writeQueueSize(value),
      writeQueueEnable: (value) => this.writeQueueEnable(value),
      writeQueueAddress: (area, half, value) => this.writeQueueAddress(area, half, value),
    };
  }

  private legacyTarget(): LegacyTarget {
    return {
      selectors: this.selectors,
      offeredFeatures: this.offeredFeatures,
      driverFeatures: () => this.driverFeatureSet,
      status: () => this.deviceStatus,
      selectedQueue: () => this.queues[this.selectors.queue],
      writeLegacyFeatures: (value) => this.writeLegacyFeatures(value),
      writeLegacyPfn: (value) => this.writeLegacyPfn(value),
      notify: (index) => this.notify(index),
      writeStatus: (value) => this.writeStatus(value),
      takeIsr: () => this.takeIsr(),
    };
  }

  private writeStatus(value: number): void {
    if (value === 0) {
      this.resetDevice();
      return;
    }
    const before = this.deviceStatus;
    const dropped = before & ~value & ~STATUS_DEVICE_NEEDS_RESET;
    if (dropped) {
      this.log(`ignored clearing status bits ${formatStatus(dropped)}: only a reset clears them`);
    }
    let added = value & ~before & ~STATUS_DEVICE_NEEDS_RESET;
    if (added & STATUS_FEATURES_OK) {
      const refusal = this.featuresRefusal();
      if (refusal !== undefined) {
        this.log(`refused FEATURES_OK: ${refusal}`);
        added &= ~STATUS_FEATURES_OK;
      }
    }
    this.deviceStatus = before | added;
    if (added & STATUS_FEATURES_OK) {
      this.callModel("features accepted", () => this.model.featuresAccepted?.(this.features));
    }
    if (added & STATUS_DRIVER_OK) {
      if (
        hasFeature(this.driverFeatureSet, VIRTIO_F_VERSION_1) &&
        !(this.deviceStatus & STATUS_FEATURES_OK)
      ) {
        this.needsReset("the driver set DRIVER_OK before the device accepted FEATURES_OK");
        return;
      }
      this.driverBecameReady();
    }
  }

  private featuresRefusal(): string | undefined {
    const unoffered = this.driverFeatureSet & ~this.offeredFeatures;
    if (unoffered) {
      return `the driver accepted features ${formatFeatures(unoffered)} that were not offered`;
    }
    if (!hasFeature(this.driverFeatureSet, VIRTIO_F_VERSION_1)) {
      return "the driver did not accept VIRTIO_F_VERSION_1";
    }
    try {
      return this.model.checkFeatures?.(this.driverFeatureSet);
    } catch (error) {
      return `the device model could not check them (${describeError(error)})`;
    }
  }

  private driverBecameReady(): void {
    if (!this.driverReady) return;
    this.callModel("driver ready", () => this.model.driverReady?.());
    // Notifications the driver made during setup, before the device could act on them.
    for (const queue of this.queues) {
      if (!queue.notifyPending) continue;
      queue.notifyPending = false;
      if (!this.driverReady) break;
      this.callModel(`queue ${queue.index} notification`, () =>
        this.model.queueNotified(queue.index),
      );
    }
  }

  private writeDriverFeatureWord(select: number, value: number): void {
    if (this.deviceStatus & STATUS_FEATURES_OK) {
      this.log(`ignored a driver_feature write after FEATURES_OK`);
      return;
    }
    if (select >= FEATURE_WORD_COUNT) {
      if (value !== 0) this.log(`ignored driver features ${hex(value)} in word ${select}`);
      return;
    }
    this.driverFeatureSet = withFeatureWord(this.driverFeatureSet, select, value);
  }

  private writeLegacyFeatures(value: number): void {
    if (this.deviceStatus & (STATUS_FEATURES_OK | STATUS_DRIVER_OK)) {
      this.log(`ignored a guest features write after the driver finished negotiating`);
      return;
    }
    const offered = featureWord(this.offeredFeatures, 0);
    const unoffered = value & ~offered;
    if (unoffered) {
      this.log(
        `legacy driver accepted features ${hex(unoffered >>> 0)} that were not offered; dropped`,
      );
    }
    this.driverFeatureSet = BigInt((value & offered) >>> 0);
    let refusal: string | undefined;
    try {
      refusal = this.model.checkFeatures?.(this.driverFeatureSet);
    } catch (error) {
      refusal = `the device model could not check them (${describeError(error)})`;
    }
    // A legacy driver cannot be told no: a combination the device cannot run breaks it.
    if (refusal !== undefined) {
      this.needsReset(`legacy features ${formatFeatures(this.driverFeatureSet)}: ${refusal}`);
      return;
    }
    this.callModel("features accepted", () => this.model.featuresAccepted?.(this.features));
  }

  private configurableQueue(register: string): Virtqueue | undefined {
    const index = this.selectors.queue;
    const queue = this.queues[index];
    if (!queue) {
      this.log(`ignored a ${register} write for queue ${index}, which does not exist`);
      return undefined;
    }
    if (queue.enabled) {
      this.log(`ignored a ${register} write for queue ${index} while it is enabled`);
      return undefined;
    }
    return queue;
  }

  private writeQueueSize(value: number): void {
    const queue = this.configurableQueue("queue_size");
    if (!queue) return;
    const problem = queue.setSize(value);
    if (problem) this.log(`queue ${queue.index}: refused ${problem}`);
  }

  private writeQueueAddress(area: RingArea, half: 0 | 1, value: number): void {
    this.configurableQueue(`queue_${area}`)?.setAddressWord(area, half, value);
  }

  private writeQueueEnable(value: number): void {
    const index = this.selectors.queue;
    const queue = this.queues[index];
    if (!queue) {
      this.log(`ignored a queue_enable write for queue ${index}, which does not exist`);
      return;
    }
    if (value !== 1) {
      this.log(
        `ignored queue_enable = ${value} for queue ${index}: only 1 enables, a reset disables`,
      );
      return;
    }
    if (queue.enabled) return;
    const problem = queue.enable();
    if (problem) this.needsReset(`queue ${index}: ${problem}`);
  }

  private writeLegacyPfn(value: number): void {
    const index = this.selectors.queue;
    const queue = this.queues[index];
    if (!queue) {
      this.log(`ignored a queue address write for queue ${index}, which does not exist`);
      return;
    }
    if (value === 0) {
      queue.reset(); // how a legacy driver releases a queue
      return;
    }
    if (queue.enabled) {
      this.log(`ignored a queue address write for queue ${index} while it is enabled`);
      return;
    }
    const problem = queue.enableLegacy(value);
    if (problem) this.needsReset(`queue ${index}: ${problem}`);
  }

  private notify(index: number): void {
    const queue = this.queues[index];
    if (!queue) {
      this.log(`ignored a notification for queue ${index}, which does not exist`);
      return;
    }
    if (!queue.enabled) {
      this.log(`ignored a notification for queue ${index}, which is not enabled`);
      return;
    }
    if (this.deviceStatus & STATUS_DEVICE_NEEDS_RESET) return;
    if (!(this.deviceStatus & STATUS_DRIVER_OK)) {
      queue.notifyPending = true;
      return;
    }
    this.callModel(`queue ${index} notification`, () => this.model.queueNotified(index));
  }

  // ---- ISR, INTx and reset ----

  private raiseIsr(bits: number): void {
    const before = this.isrBits;
    this.isrBits |= bits;
    if (before === 0 && this.isrBits !== 0) this.setIntx(true);
  }

  private takeIsr(): number {
    const bits = this.isrBits;
    if (bits !== 0) {
      this.isrBits = 0;
      this.setIntx(false);
    }
    return bits;
  }

  private resetDevice(): void {
    this.callModel("reset", () => this.model.reset());
    this.clearTransport();
    this.setIntx(false);
  }

  private clearTransport(): void {
    this.deviceStatus = 0;
    this.driverFeatureSet = 0n;
    this.selectors.deviceFeature = 0;
    this.selectors.driverFeature = 0;
    this.selectors.queue = 0;
    this.isrBits = 0;
    for (const queue of this.queues) queue.reset();
  }

  // A device model's failure must not reach the guest's I/O instruction: it breaks the device.
  private callModel<T>(what: string, step: () => T): T | undefined {
    try {
      return step();
    } catch (error) {
      this.needsReset(`the device model failed in ${what}: ${describeError(error)}`);
      return undefined;
    }
  }

  private addVirtioCapability(
    cfgType: number,
    length: number,
    regionOffset: number,
    regionLength: number,
  ): number {
    const at = this.addCapability(PCI_CAP_ID_VENDOR, length);
    this.writeRaw(at + CAP_LENGTH_BYTE, 1, length);
    this.writeRaw(at + CAP_CFG_TYPE, 1, cfgType);
    this.writeRaw(at + CAP_BAR, 1, MODERN_BAR);
    this.writeRaw(at + CAP_OFFSET, 4, regionOffset);
    this.writeRaw(at + CAP_LENGTH, 4, regionLength);
    return at;
  }
}
