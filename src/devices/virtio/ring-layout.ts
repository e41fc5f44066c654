// Where the parts of a split virtqueue live in guest memory (virtio 1.1, 2.6):
// the descriptor table, the driver area (available ring) and the device area
// (used ring), and the checks that a queue's rings lie in RAM.

export const DESCRIPTOR_SIZE = 16;
export const DESC_F_NEXT = 0x1;
export const DESC_F_WRITE = 0x2;
export const DESC_F_INDIRECT = 0x4;

export const AVAIL_F_NO_INTERRUPT = 0x1;
export const USED_F_NO_NOTIFY = 0x1;

/** The largest queue size the split ring format allows. */
export const MAX_QUEUE_SIZE = 32768;
/** Legacy drivers place the used ring on the next 4 KiB boundary. */
export const LEGACY_RING_ALIGNMENT = 4096;
export const LEGACY_PFN_SHIFT = 12;

// Alignment the modern interface requires of each area (2.6, table "Virtqueue Part Alignment").
export const DESC_ALIGNMENT = 16;
export const AVAIL_ALIGNMENT = 2;
export const USED_ALIGNMENT = 4;

// Offsets inside the available ring.
export const AVAIL_FLAGS = 0;
export const AVAIL_IDX = 2;
export const AVAIL_RING = 4;
// Offsets inside the used ring.
export const USED_FLAGS = 0;
export const USED_IDX = 2;
export const USED_RING = 4;
export const USED_ELEMENT_SIZE = 8;

export function descriptorTableBytes(size: number): number {
  return DESCRIPTOR_SIZE * size;
}

/** flags, idx, ring[size] and used_event. */
export function availRingBytes(size: number): number {
  return AVAIL_RING + 2 * size + 2;
}

/** flags, idx, ring[size] and avail_event. */
export function usedRingBytes(size: number): number {
  return USED_RING + USED_ELEMENT_SIZE * size + 2;
}

/** Offset of used_event, the driver's interrupt threshold, in the available ring. */
export function usedEventOffset(size: number): number {
  return AVAIL_RING + 2 * size;
}

/** Offset of avail_event, the device's notification threshold, in the used ring. */
export function availEventOffset(size: number): number {
  return USED_RING + USED_ELEMENT_SIZE * size;
}

export function isPowerOfTwo(value: number): boolean {
  return Number.isInteger(value) && value > 0 && (value & (value - 1)) === 0;
}

export interface RingAddresses {
  desc: number;
  driver: number;
  device: number;
}

/** The legacy layout: everything contiguous from the page number, the used ring page-aligned. */
export function legacyRingAddresses(pfn: number, size: number): RingAddresses {
  const desc = pfn * LEGACY_RING_ALIGNMENT;
  const driver = desc + descriptorTableBytes(size);
  const availEnd = driver + availRingBytes(size);
  const device = Math.ceil(availEnd / LEGACY_RING_ALIGNMENT) * LEGACY_RING_ALIGNMENT;
  return { desc, driver, device };
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

/** Why rings at these addresses cannot be used, or undefined when they can. */
export function ringLayoutProblem(
  addresses: RingAddresses,
  size: number,
  ramBytes: number,
): string | undefined {
  const parts: Array<[name: string, address: number, bytes: number, alignment: number]> = [
    ["descriptor table", addresses.desc, descriptorTableBytes(size), DESC_ALIGNMENT],
    ["available ring", addresses.driver, availRingBytes(size), AVAIL_ALIGNMENT],
    ["used ring", addresses.device, usedRingBytes(size), USED_ALIGNMENT],
  ];
  for (const [name, address, bytes, alignment] of parts) {
    if (address % alignment !== 0) {
      return `the ${name} at ${hex(address)} is not ${alignment}-byte aligned`;
    }
    if (!rangeInRam(address, bytes, ramBytes)) {
      return `the ${name} [${hex(address)}, ${hex(address + bytes)}) is outside RAM`;
    }
  }
  return undefined;
}

/** Whether [address, address + length) lies inside [0, ramBytes). */
export function rangeInRam(address: number, length: number, ramBytes: number): boolean {
  return (
    Number.isSafeInteger(address) &&
    Number.isSafeInteger(length) &&
    address >= 0 &&
    length >= 0 &&
    address + length <= ramBytes
  );
}
