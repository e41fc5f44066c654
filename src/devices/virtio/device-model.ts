// The contract between the virtio-pci transport and a device type (balloon,
// and later others): what the device declares, the callbacks the transport
// makes as the driver programs it, and what the device may ask of the
// transport in return.
import type { AccessSize } from "../../core/core-host.ts";
import type { GuestMemory } from "../../core/guest-memory.ts";
import type { QueueBuffers, Virtqueue } from "./virtqueue.ts";

export interface QueueDefinition {
  /** The largest size the driver may choose: a power of two in [1, 32768]. */
  maxSize: number;
  /** Descriptors the device accepts on this queue ("both" when absent); others fail the queue. */
  buffers?: QueueBuffers;
}

export interface VirtioDeviceModel {
  /** The virtio device ID (5 = memory balloon), reported as the PCI subsystem ID. */
  readonly deviceType: number;
  /**
   * The PCI device ID, 0x1000-0x103F; only for types the specification gives
   * no transitional ID (it assigns net, block, balloon, console, SCSI, entropy, 9P).
   */
  readonly transitionalDeviceId?: number;
  /** PCI class code, (base class << 16) | (subclass << 8) | programming interface. */
  readonly classCode: number;
  readonly name?: string;
  /** Device-specific feature bits (0-23, 50-63); the transport adds its own. */
  readonly features: bigint;
  /** One entry per virtqueue, in queue-index order. */
  readonly queues: readonly QueueDefinition[];
  /** Bytes of device-specific configuration (at most 236). */
  readonly configSize: number;

  /** Called once, by the transport's constructor, before any other callback. */
  attach(host: VirtioDeviceHost): void;
  /** A driver read of configuration bytes [offset, offset + size), inside configSize. */
  readConfig(offset: number, size: AccessSize): number;
  /** A driver write of configuration bytes [offset, offset + size), inside configSize. */
  writeConfig(offset: number, size: AccessSize, value: number): void;
  /** The driver notified queue `index`; only called once the driver is ready (DRIVER_OK). */
  queueNotified(index: number): void;
  /** Why this feature combination is refused (FEATURES_OK stays clear), or undefined. */
  checkFeatures?(features: bigint): string | undefined;
  /**
   * FEATURES_OK was accepted, or a legacy driver wrote its features (Linux's
   * legacy path may write them twice before DRIVER_OK; the last call counts).
   */
  featuresAccepted?(features: bigint): void;
  /** The driver set DRIVER_OK; queue notifications it made earlier follow right after. */
  driverReady?(): void;
  /** Device reset (status 0 or PCI reset): drop every chain held and return to power-on state. */
  reset(): void;
  /** Device-specific state, plain JSON-friendly data. */
  saveState(): unknown;
  /** Checks saved state without changing anything; returns what applies it. */
  prepareRestore(value: unknown, what: string): () => void;
}

/** What the transport offers the device model. */
export interface VirtioDeviceHost {
  /** Guest RAM, for devices that touch pages beyond their buffers. */
  readonly memory: GuestMemory;
  /** The features the driver accepted (those offered and written by it). */
  readonly features: bigint;
  /** DRIVER_OK is set and the device does not need a reset: queues may be used. */
  readonly driverReady: boolean;
  hasFeature(bit: number): boolean;
  queue(index: number): Virtqueue;
  /** The configuration changed: bumps config_generation and interrupts a ready driver. */
  configChanged(): void;
  /** Sets DEVICE_NEEDS_RESET (with a configuration-change interrupt) and stops the queues. */
  needsReset(reason: string): void;
  log(message: string): void;
}
