// The bytes the peer-link test streams: each byte a function of its offset in
// the stream, so a lost, repeated or reordered message shows at the receiver.
export function patternByte(offset: number): number {
  return (offset ^ (offset >>> 8) ^ (offset >>> 16) ^ 0x5a) & 0xff;
}

export function fillPattern(target: Uint8Array, streamOffset: number): void {
  for (let i = 0; i < target.length; i++) target[i] = patternByte(streamOffset + i);
}

/** The first offset (in the stream) where `bytes` breaks the pattern, or -1. */
export function firstMismatch(bytes: Uint8Array, streamOffset: number): number {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] !== patternByte(streamOffset + i)) return streamOffset + i;
  }
  return -1;
}

/** Message sizes that cover the small, the odd and the largest allowed. */
export const MESSAGE_SIZES = [256 * 1024, 1, 65_536, 100_003, 7, 256 * 1024 - 1, 200_000];
