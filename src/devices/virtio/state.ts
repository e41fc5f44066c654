// Saved state of a virtio-pci transport outside PCI configuration space: the
// device status and negotiation registers, the ISR, and every virtqueue's
// programming and progress. The rings themselves live in guest RAM, which
// migrates beside this. Plain, versioned, JSON-friendly data.
import {
  expectBool,
  expectInt,
  expectIntArray,
  expectObject,
  expectVersion,
  type Fields,
} from "../../platform/state-check.ts";
import { FEATURE_WORD_COUNT } from "./features.ts";
import { ISR_KNOWN_BITS, STATUS_KNOWN_BITS } from "./status.ts";

export const VIRTIO_TRANSPORT_STATE_VERSION = 1;

const U32 = 0xffffffff;
const U16 = 0xffff;

export interface VirtqueueState {
  size: number;
  enabled: boolean;
  /** Guest-physical addresses as [low, high] 32-bit halves. */
  desc: number[];
  driver: number[];
  device: number[];
  lastAvailIdx: number;
  usedIdx: number;
  /** The used index at the last interrupt decision (what EVENT_IDX compares against). */
  signalledUsed: number;
  /** Notified before DRIVER_OK; delivered when the driver is ready. */
  notifyPending: boolean;
}

export interface VirtioTransportState {
  version: typeof VIRTIO_TRANSPORT_STATE_VERSION;
  /** The virtio device ID the state belongs to. */
  deviceType: number;
  status: number;
  deviceFeatureSelect: number;
  driverFeatureSelect: number;
  /** What the driver wrote to driver_feature, as 32-bit words, low first. */
  driverFeatures: number[];
  queueSelect: number;
  configGeneration: number;
  isr: number;
  queues: VirtqueueState[];
  /** The device model's own state. */
  device: unknown;
}

function parseQueue(value: unknown, what: string): VirtqueueState {
  const fields = expectObject(value, what);
  const address = (key: string) => [...expectIntArray(fields, key, 0, U32, 2, 2, what)];
  return {
    size: expectInt(fields, "size", 1, 32768, what),
    enabled: expectBool(fields, "enabled", what),
    desc: address("desc"),
    driver: address("driver"),
    device: address("device"),
    lastAvailIdx: expectInt(fields, "lastAvailIdx", 0, U16, what),
    usedIdx: expectInt(fields, "usedIdx", 0, U16, what),
    signalledUsed: expectInt(fields, "signalledUsed", 0, U16, what),
    notifyPending: expectBool(fields, "notifyPending", what),
  };
}

function expectBits(fields: Fields, key: string, known: number, what: string): number {
  const value = expectInt(fields, key, 0, 0xff, what);
  if (value & ~known) {
    throw new RangeError(`${what}.${key} has unknown bits set: 0x${value.toString(16)}`);
  }
  return value;
}

/** Checks the shape and ranges of a saved transport; the transport checks the fit. */
export function parseVirtioTransportState(
  value: unknown,
  what: string,
  queueCount: number,
): VirtioTransportState {
  const fields = expectObject(value, what);
  expectVersion(fields, VIRTIO_TRANSPORT_STATE_VERSION, what);
  const queues = fields.queues;
  if (!Array.isArray(queues)) throw new TypeError(`${what}.queues must be an array`);
  if (queues.length !== queueCount) {
    throw new RangeError(
      `${what}.queues holds ${queues.length} queues, the device has ${queueCount}`,
    );
  }
  if (!("device" in fields)) throw new TypeError(`${what}.device is missing`);
  return {
    version: VIRTIO_TRANSPORT_STATE_VERSION,
    deviceType: expectInt(fields, "deviceType", 0, U16, what),
    status: expectBits(fields, "status", STATUS_KNOWN_BITS, what),
    deviceFeatureSelect: expectInt(fields, "deviceFeatureSelect", 0, U32, what),
    driverFeatureSelect: expectInt(fields, "driverFeatureSelect", 0, U32, what),
    driverFeatures: [
      ...expectIntArray(
        fields,
        "driverFeatures",
        0,
        U32,
        FEATURE_WORD_COUNT,
        FEATURE_WORD_COUNT,
        what,
      ),
    ],
    queueSelect: expectInt(fields, "queueSelect", 0, U16, what),
    configGeneration: expectInt(fields, "configGeneration", 0, 0xff, what),
    isr: expectBits(fields, "isr", ISR_KNOWN_BITS, what),
    // An index loop, not map: map skips the holes of a sparse array.
    queues: Array.from({ length: queues.length }, (_, i) =>
      parseQueue(queues[i], `${what}.queues[${i}]`),
    ),
    device: fields.device,
  };
}
