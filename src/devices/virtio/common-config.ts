// The modern common configuration structure (virtio 1.1, 4.1.4.3,
// struct virtio_pci_common_cfg) as registers over the transport's state.
import { RegisterFile, type Register } from "./register-file.ts";
import type { RingArea, Virtqueue } from "./virtqueue.ts";

export const COMMON_DEVICE_FEATURE_SELECT = 0x00;
export const COMMON_DEVICE_FEATURE = 0x04;
export const COMMON_DRIVER_FEATURE_SELECT = 0x08;
export const COMMON_DRIVER_FEATURE = 0x0c;
export const COMMON_MSIX_CONFIG = 0x10;
export const COMMON_NUM_QUEUES = 0x12;
export const COMMON_DEVICE_STATUS = 0x14;
export const COMMON_CONFIG_GENERATION = 0x15;
export const COMMON_QUEUE_SELECT = 0x16;
export const COMMON_QUEUE_SIZE = 0x18;
export const COMMON_QUEUE_MSIX_VECTOR = 0x1a;
export const COMMON_QUEUE_ENABLE = 0x1c;
export const COMMON_QUEUE_NOTIFY_OFF = 0x1e;
export const COMMON_QUEUE_DESC = 0x20;
export const COMMON_QUEUE_DRIVER = 0x28;
export const COMMON_QUEUE_DEVICE = 0x30;
/** The virtio 1.0/1.1 structure ends after queue_device. */
export const COMMON_CONFIG_LENGTH = 0x38;

/** What MSI-X vector registers read without MSI-X: no vector is mapped. */
export const NO_VECTOR = 0xffff;

/** The selector registers; the transport owns (and saves) them, the registers move them. */
export interface Selectors {
  deviceFeature: number;
  driverFeature: number;
  queue: number;
}

/** The transport state and operations behind the registers. */
export interface CommonConfigTarget {
  readonly selectors: Selectors;
  readonly numQueues: number;
  status(): number;
  configGeneration(): number;
  deviceFeatureWord(select: number): number;
  driverFeatureWord(select: number): number;
  writeDriverFeatureWord(select: number, value: number): void;
  writeStatus(value: number): void;
  /** The queue queue_select names, if it exists. */
  selectedQueue(): Virtqueue | undefined;
  writeQueueSize(value: number): void;
  writeQueueEnable(value: number): void;
  writeQueueAddress(area: RingArea, half: 0 | 1, value: number): void;
}

const AREA_OFFSETS: ReadonlyArray<[RingArea, number]> = [
  ["desc", COMMON_QUEUE_DESC],
  ["driver", COMMON_QUEUE_DRIVER],
  ["device", COMMON_QUEUE_DEVICE],
];

export function createCommonConfig(
  target: CommonConfigTarget,
  log: (message: string) => void,
): RegisterFile {
  const queue = () => target.selectedQueue();
  const selectors = target.selectors;
  const registers: Register[] = [
    {
      name: "device_feature_select",
      offset: COMMON_DEVICE_FEATURE_SELECT,
      width: 4,
      read: () => selectors.deviceFeature,
      write: (value) => (selectors.deviceFeature = value),
    },
    {
      name: "device_feature",
      offset: COMMON_DEVICE_FEATURE,
      width: 4,
      read: () => target.deviceFeatureWord(selectors.deviceFeature),
    },
    {
      name: "driver_feature_select",
      offset: COMMON_DRIVER_FEATURE_SELECT,
      width: 4,
      read: () => selectors.driverFeature,
      write: (value) => (selectors.driverFeature = value),
    },
    {
      name: "driver_feature",
      offset: COMMON_DRIVER_FEATURE,
      width: 4,
      read: () => target.driverFeatureWord(selectors.driverFeature),
      write: (value) => target.writeDriverFeatureWord(selectors.driverFeature, value),
    },
    // Without MSI-X no vector can be mapped; writes are dropped, reads say so.
    {
      name: "msix_config",
      offset: COMMON_MSIX_CONFIG,
      width: 2,
      read: () => NO_VECTOR,
      write() {},
    },
    { name: "num_queues", offset: COMMON_NUM_QUEUES, width: 2, read: () => target.numQueues },
    {
      name: "device_status",
      offset: COMMON_DEVICE_STATUS,
      width: 1,
      read: () => target.status(),
      write: (value) => target.writeStatus(value),
    },
    {
      name: "config_generation",
      offset: COMMON_CONFIG_GENERATION,
      width: 1,
      read: () => target.configGeneration(),
    },
    {
      name: "queue_select",
      offset: COMMON_QUEUE_SELECT,
      width: 2,
      read: () => selectors.queue,
      write: (value) => (selectors.queue = value),
    },
    {
      name: "queue_size",
      offset: COMMON_QUEUE_SIZE,
      width: 2,
      // 0 tells the driver the selected queue does not exist.
      read: () => queue()?.size ?? 0,
      write: (value) => target.writeQueueSize(value),
    },
    {
      name: "queue_msix_vector",
      offset: COMMON_QUEUE_MSIX_VECTOR,
      width: 2,
      read: () => NO_VECTOR,
      write() {},
    },
    {
      name: "queue_enable",
      offset: COMMON_QUEUE_ENABLE,
      width: 2,
      read: () => (queue()?.enabled ? 1 : 0),
      write: (value) => target.writeQueueEnable(value),
    },
    {
      name: "queue_notify_off",
      offset: COMMON_QUEUE_NOTIFY_OFF,
      width: 2,
      read: () => queue()?.index ?? 0,
    },
  ];
  for (const [area, offset] of AREA_OFFSETS) {
    for (const half of [0, 1] as const) {
      registers.push({
        name: `queue_${area}_${half === 0 ? "lo" : "hi"}`,
        offset: offset + 4 * half,
        width: 4,
        read: () => queue()?.addressWord(area, half) ?? 0,
        write: (value) => target.writeQueueAddress(area, half, value),
      });
    }
  }
  return new RegisterFile("common configuration", registers, log);
}
