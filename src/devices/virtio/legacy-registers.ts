// The legacy (virtio 0.9.5) register block at the start of BAR0 (virtio 1.1,
// 4.1.4.8), without MSI-X, so device configuration follows at offset 20.
import type { Selectors } from "./common-config.ts";
import { featureWord } from "./features.ts";
import { LEGACY_PFN_SHIFT } from "./ring-layout.ts";
import { RegisterFile } from "./register-file.ts";
import type { Virtqueue } from "./virtqueue.ts";

export const LEGACY_HOST_FEATURES = 0;
export const LEGACY_GUEST_FEATURES = 4;
export const LEGACY_QUEUE_PFN = 8;
export const LEGACY_QUEUE_SIZE = 12;
export const LEGACY_QUEUE_SELECT = 14;
export const LEGACY_QUEUE_NOTIFY = 16;
export const LEGACY_DEVICE_STATUS = 18;
export const LEGACY_ISR_STATUS = 19;

export interface LegacyTarget {
  readonly selectors: Selectors;
  readonly offeredFeatures: bigint;
  driverFeatures(): bigint;
  status(): number;
  selectedQueue(): Virtqueue | undefined;
  writeLegacyFeatures(value: number): void;
  writeLegacyPfn(value: number): void;
  notify(queueIndex: number): void;
  writeStatus(value: number): void;
  /** Reads and clears the ISR. */
  takeIsr(): number;
}

export function createLegacyRegisters(
  target: LegacyTarget,
  log: (message: string) => void,
): RegisterFile {
  const queue = () => target.selectedQueue();
  return new RegisterFile(
    "legacy registers",
    [
      {
        name: "host features",
        offset: LEGACY_HOST_FEATURES,
        width: 4,
        // The low word only: a legacy driver never sees VIRTIO_F_VERSION_1.
        read: () => featureWord(target.offeredFeatures, 0),
      },
      {
        name: "guest features",
        offset: LEGACY_GUEST_FEATURES,
        width: 4,
        read: () => featureWord(target.driverFeatures(), 0),
        write: (value) => target.writeLegacyFeatures(value),
      },
      {
        name: "queue address",
        offset: LEGACY_QUEUE_PFN,
        width: 4,
        read: () => {
          const selected = queue();
          return selected?.enabled
            ? Math.floor(selected.address("desc") / 2 ** LEGACY_PFN_SHIFT)
            : 0;
        },
        write: (value) => target.writeLegacyPfn(value),
      },
      {
        name: "queue size",
        offset: LEGACY_QUEUE_SIZE,
        width: 2,
        read: () => queue()?.size ?? 0,
      },
      {
        name: "queue select",
        offset: LEGACY_QUEUE_SELECT,
        width: 2,
        read: () => target.selectors.queue,
        write: (value) => (target.selectors.queue = value),
      },
      {
        name: "queue notify",
        offset: LEGACY_QUEUE_NOTIFY,
        width: 2,
        write: (value) => target.notify(value),
      },
      {
        name: "device status",
        offset: LEGACY_DEVICE_STATUS,
        width: 1,
        read: () => target.status(),
        write: (value) => target.writeStatus(value),
      },
      { name: "ISR status", offset: LEGACY_ISR_STATUS, width: 1, read: () => target.takeIsr() },
    ],
    log,
  );
}
