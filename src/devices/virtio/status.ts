// The device status byte (virtio 1.1, 2.1) and the ISR status bits (4.1.4.5).

export const STATUS_ACKNOWLEDGE = 0x01;
export const STATUS_DRIVER = 0x02;
export const STATUS_DRIVER_OK = 0x04;
export const STATUS_FEATURES_OK = 0x08;
/** Set by the device only: it met an error it cannot recover from without a reset. */
export const STATUS_DEVICE_NEEDS_RESET = 0x40;
export const STATUS_FAILED = 0x80;

/** Every bit the status byte can hold. */
export const STATUS_KNOWN_BITS =
  STATUS_ACKNOWLEDGE |
  STATUS_DRIVER |
  STATUS_DRIVER_OK |
  STATUS_FEATURES_OK |
  STATUS_DEVICE_NEEDS_RESET |
  STATUS_FAILED;

/** A used buffer was added to a queue. */
export const ISR_QUEUE = 0x01;
/** The device configuration changed (or the device needs a reset). */
export const ISR_CONFIG = 0x02;
export const ISR_KNOWN_BITS = ISR_QUEUE | ISR_CONFIG;

export function formatStatus(status: number): string {
  return "0x" + status.toString(16).padStart(2, "0");
}
