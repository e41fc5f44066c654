// Virtio feature bits (virtio 1.1, 6) as 64-bit sets. Bits 0-23 belong to the
// device type; the transport owns the reserved range and offers the ring
// features and VERSION_1 itself.

/** The driver may point a descriptor at a table of descriptors. */
export const VIRTIO_RING_F_INDIRECT_DESC = 28;
/** used_event / avail_event replace the ring flags for notification suppression. */
export const VIRTIO_RING_F_EVENT_IDX = 29;
/** The virtio 1.0 interface (the modern interface requires it). */
export const VIRTIO_F_VERSION_1 = 32;

/** Bits a device model may offer: the device-specific ranges 0-23 and 50-63. */
export const DEVICE_FEATURE_MASK = 0xffffffn | (0x3fffn << 50n);
export const FEATURE_WORD_COUNT = 2;

export function featureBit(bit: number): bigint {
  return 1n << BigInt(bit);
}

export function hasFeature(features: bigint, bit: number): boolean {
  return (features & featureBit(bit)) !== 0n;
}

/** What the transport offers on top of a device's own bits. */
export const TRANSPORT_FEATURES =
  featureBit(VIRTIO_RING_F_INDIRECT_DESC) |
  featureBit(VIRTIO_RING_F_EVENT_IDX) |
  featureBit(VIRTIO_F_VERSION_1);

/** 32-bit word `select` of a feature set (0 beyond the 64 bits we know). */
export function featureWord(features: bigint, select: number): number {
  if (select < 0 || select >= FEATURE_WORD_COUNT) return 0;
  return Number((features >> BigInt(32 * select)) & 0xffffffffn);
}

/** The set with word `select` replaced. */
export function withFeatureWord(features: bigint, select: number, value: number): bigint {
  const shift = BigInt(32 * select);
  return (features & ~(0xffffffffn << shift)) | (BigInt(value >>> 0) << shift);
}

export function featuresFromWords(words: readonly number[]): bigint {
  return words.reduce((set, word, select) => withFeatureWord(set, select, word), 0n);
}

export function featureWords(features: bigint): number[] {
  return Array.from({ length: FEATURE_WORD_COUNT }, (_, select) => featureWord(features, select));
}

export function formatFeatures(features: bigint): string {
  return "0x" + features.toString(16);
}
