// The migration page codec (build/codec.wasm): blocks round-trip, random
// data is not "compressed", corrupt blocks are refused without ever writing
// outside the output, and the zero-page scan and hash agree with plain
// TypeScript versions of themselves.
import { beforeAll, describe, expect, it } from "vitest";
import {
  compileCodec,
  MAX_BLOCK_BYTES,
  PageCodec,
  type CodecExports,
} from "../../src/migration/page-codec.ts";
import { prng } from "../helpers/prng.ts";

const PAGE = 4096;
const BATCH = 62 * PAGE; // the largest migration message

let codec: PageCodec;
beforeAll(async () => {
  codec = await PageCodec.create();
});

function randomBytes(length: number, seed: number): Uint8Array {
  const next = prng(seed);
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = next() & 0xff;
  return bytes;
}

/** Pages shaped like a booted kernel's RAM: tables, structs, text, zeros, noise. */
function ramLike(pages: number, seed: number): Uint8Array {
  const next = prng(seed);
  const bytes = new Uint8Array(pages * PAGE);
  const view = new DataView(bytes.buffer);
  const text = new TextEncoder().encode(
    "kernel: virtio-pci 0000:00:05.0: enabling device; ttyS0 at I/O 0x3f8 (irq = 4) ",
  );
  for (let p = 0; p < pages; p++) {
    const base = p * PAGE;
    switch (next() % 5) {
      case 0: // page table: increasing frame numbers with the same flags
        for (let i = 0; i < PAGE; i += 4)
          view.setUint32(base + i, ((p * 1024 + i) << 10) | 0x67, true);
        break;
      case 1: // array of 64-byte structs: counter, pointers, a few flags
        for (let i = 0; i < PAGE; i += 64) {
          view.setUint32(base + i, i / 64, true);
          view.setUint32(base + i + 8, 0xc1000000 + base + i, true);
          view.setUint32(base + i + 12, 0xc1000000 + base + i + 64, true);
          bytes[base + i + 20] = next() & 3;
        }
        break;
      case 2: // text
        for (let i = 0; i < PAGE; i++) bytes[base + i] = text[(i + p) % text.length]!;
        break;
      case 3: // mostly zero, a little data
        for (let i = 0; i < 64; i++) bytes[base + (next() % PAGE)] = next() & 0xff;
        break;
      default: // noise (already compressed or random data)
        for (let i = 0; i < PAGE; i++) bytes[base + i] = next() & 0xff;
    }
  }
  return bytes;
}

/** Index of the first byte that differs (or the shorter length), -1 if equal. */
function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

function roundTrip(raw: Uint8Array): Uint8Array | null {
  const packed = codec.compress(raw);
  if (packed) {
    expect(packed.length).toBeLessThan(raw.length);
    expect(firstDifference(codec.decompress(packed, raw.length), raw)).toBe(-1);
  }
  return packed;
}

describe("page codec: compress and decompress", () => {
  it("round-trips RAM-like batches, shrinking them", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const raw = ramLike(62, seed);
      const packed = roundTrip(raw);
      expect(packed).not.toBeNull();
      expect(raw.length / packed!.length).toBeGreaterThan(1.5);
    }
  });

  it("round-trips data of many sizes and kinds", () => {
    const next = prng(99);
    for (let i = 0; i < 300; i++) {
      const length = next() % (3 * PAGE);
      const raw = ramLike(3, i).subarray(0, length);
      // Small alphabets give overlapping matches with short offsets.
      if (i % 3 === 0) for (let k = 0; k < length; k++) raw[k] = next() % (1 + (i % 7));
      roundTrip(raw);
    }
  });

  it("handles the edge sizes: 0, 1, 4096, 248 KiB and the maximum", () => {
    expect(codec.compress(new Uint8Array(0))).toBeNull();
    expect(codec.compress(new Uint8Array(1))).toBeNull();
    expect(codec.decompress(new Uint8Array([0]), 0)).toEqual(new Uint8Array(0));

    const zeroPage = roundTrip(new Uint8Array(PAGE));
    expect(zeroPage!.length).toBeLessThan(16);
    expect(roundTrip(ramLike(1, 7))).not.toBeNull();
    expect(roundTrip(new Uint8Array(BATCH).fill(0x5a))!.length).toBeLessThan(16);
    expect(roundTrip(ramLike(62, 8))).not.toBeNull();
    expect(roundTrip(ramLike(MAX_BLOCK_BYTES / PAGE, 9))).not.toBeNull();
    expect(() => codec.compress(new Uint8Array(MAX_BLOCK_BYTES + 1))).toThrow(RangeError);
  });

  it("returns null for incompressible data", () => {
    expect(codec.compress(randomBytes(16, 1))).toBeNull();
    expect(codec.compress(randomBytes(PAGE, 2))).toBeNull();
    expect(codec.compress(randomBytes(BATCH, 3))).toBeNull();
  });

  it("blocks are independent: a fresh codec decodes them in any order", async () => {
    const blocks = [ramLike(62, 21), ramLike(62, 22), ramLike(10, 23)];
    const packed = blocks.map((raw) => codec.compress(raw)!);
    const other = await PageCodec.create();
    for (const i of [2, 0, 1])
      expect(firstDifference(other.decompress(packed[i]!, blocks[i]!.length), blocks[i]!)).toBe(-1);
  });

  it("refuses a block that decodes to a different length", () => {
    const raw = ramLike(4, 30);
    const packed = codec.compress(raw)!;
    expect(() => codec.decompress(packed, raw.length - 1)).toThrow(/page codec: corrupt block/);
    expect(() => codec.decompress(packed, raw.length + 1)).toThrow(/page codec: corrupt block/);
  });
});

describe("page codec: corrupt input", () => {
  // Corrupted, truncated and random blocks, built from real compressed ones.
  function damagedBlocks(count: number): { data: Uint8Array; expected: number }[] {
    const next = prng(2024);
    const sources = [ramLike(62, 40), ramLike(8, 41), ramLike(1, 42), new Uint8Array(BATCH)];
    const packed = sources.map((raw) => codec.compress(raw)!);
    const cases: { data: Uint8Array; expected: number }[] = [];
    for (let i = 0; i < count; i++) {
      const which = next() % sources.length;
      const expected = sources[which]!.length;
      let data: Uint8Array = packed[which]!.slice();
      switch (i % 4) {
        case 0: // a few flipped bits
          for (let k = 1 + (next() % 8); k > 0; k--)
            data[next() % data.length] ^= 1 << (next() % 8);
          break;
        case 1: // truncated
          data = data.subarray(0, next() % data.length);
          break;
        case 2: // random bytes
          data = randomBytes(next() % 2048, next());
          break;
        default: // one byte replaced, and sometimes cut short too
          data[next() % data.length] = next() & 0xff;
          if (next() % 2) data = data.subarray(0, data.length - (next() % 16));
      }
      cases.push({ data, expected });
    }
    return cases;
  }

  it("2,000 damaged blocks: each throws a clear Error or decodes to the expected length", () => {
    let refused = 0;
    for (const { data, expected } of damagedBlocks(2000)) {
      let result: Uint8Array | undefined;
      try {
        result = codec.decompress(data, expected);
      } catch (error) {
        expect(error).not.toBeInstanceOf(WebAssembly.RuntimeError);
        expect((error as Error).message).toMatch(/^page codec: corrupt block: /);
        refused++;
        continue;
      }
      expect(result.length).toBe(expected);
    }
    expect(refused).toBeGreaterThan(1000);
    // The codec still works afterwards.
    roundTrip(ramLike(62, 43));
  });

  it("never reads past the input or writes past the output capacity", async () => {
    // A raw instance: input placed at the very end of memory (an over-read
    // traps), output followed by a guard region that must stay untouched.
    const instance = await WebAssembly.instantiate(await compileCodec());
    const x = instance.exports as unknown as CodecExports;
    const out = x.workspace(1 << 20);
    const GUARD = 4096;
    const next = prng(77);
    for (const { data, expected } of damagedBlocks(2000)) {
      const memory = new Uint8Array(x.memory.buffer);
      const inPtr = memory.length - data.length;
      memory.set(data, inPtr);
      // Sometimes less room than the block needs.
      const cap = next() % 4 === 0 ? next() % (expected + 1) : expected;
      memory.fill(0xa5, out, out + cap + GUARD);
      const result = x.decompress(inPtr, data.length, out, cap);
      expect(result).toBeLessThanOrEqual(cap);
      const guard = memory.subarray(out + cap, out + cap + GUARD);
      expect(guard.every((b) => b === 0xa5)).toBe(true);
    }
  });
});

describe("page codec: zero pages", () => {
  it("finds the only non-zero byte anywhere in a page, at any offset", () => {
    const bytes = new Uint8Array(3 * PAGE);
    expect(codec.isZeroPage(bytes, 0)).toBe(true);
    expect(codec.isZeroPage(bytes, PAGE)).toBe(true);
    for (const at of [0, 1, 15, 16, 63, 64, 2047, 4080, 4095]) {
      bytes[PAGE + at] = 1;
      expect(codec.isZeroPage(bytes, PAGE)).toBe(false);
      expect(codec.isZeroPage(bytes, 0)).toBe(true);
      expect(codec.isZeroPage(bytes, 2 * PAGE)).toBe(true);
      bytes[PAGE + at] = 0;
    }
    expect(() => codec.isZeroPage(bytes, 2 * PAGE + 1)).toThrow(RangeError);
  });

  it("scanPages flags the same pages as a plain loop, across chunk boundaries", () => {
    const next = prng(5);
    const pages = 300;
    const bytes = new Uint8Array(pages * PAGE);
    for (let p = 0; p < pages; p++)
      if (next() % 3 === 0) bytes[p * PAGE + (next() % PAGE)] = 1 + (next() % 255);
    const expected = new Uint8Array(pages);
    for (let p = 0; p < pages; p++)
      expected[p] = bytes.subarray(p * PAGE, (p + 1) * PAGE).some((b) => b !== 0) ? 1 : 0;
    expect(codec.scanPages(bytes)).toEqual(expected);
  });
});

// The hash as specified in wasm/codec/hash.ts, in BigInt arithmetic: pins the
// algorithm so both sides of a migration (and future builds) agree.
const M64 = (1n << 64n) - 1n;
const K1 = 0x8b56adf4f5c5d513n;
const K2 = 0xdb71650d71f89f77n;
const K3 = 0xff057d4e6b795bf9n;
const K4 = 0xe514e688972e0f3fn;
const rotl = (x: bigint, r: bigint): bigint => ((x << r) | (x >> (64n - r))) & M64;
const step = (lane: bigint, word: bigint): bigint => rotl(((lane ^ word) * K1 + K2) & M64, 29n);
function avalanche(h: bigint): bigint {
  h ^= h >> 31n;
  h = (h * K3) & M64;
  h ^= h >> 29n;
  h = (h * K4) & M64;
  return h ^ (h >> 32n);
}
function referenceHash(bytes: Uint8Array, seed = 0n): bigint {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lanes = [seed ^ K1, seed ^ K2, seed ^ K3, seed ^ K4];
  const stripes = bytes.length & ~31;
  for (let p = 0; p < stripes; p += 32) {
    for (let l = 0; l < 4; l++) lanes[l] = step(lanes[l]!, view.getBigUint64(p + l * 8, true));
  }
  let p = stripes;
  let rest = bytes.length - stripes;
  for (let l = 0; l < 3 && rest >= 8; l++, p += 8, rest -= 8) {
    lanes[l] = step(lanes[l]!, view.getBigUint64(p, true));
  }
  if (rest > 0) {
    let word = 0n;
    for (let i = 0; i < rest; i++) word |= BigInt(bytes[p + i]!) << BigInt(8 * i);
    lanes[3] = step(lanes[3]!, word ^ (BigInt(rest) << 56n));
  }
  let h = (BigInt(bytes.length) * K2) & M64;
  for (const lane of lanes) h = (rotl(h ^ avalanche(lane), 27n) * K1 + K4) & M64;
  return avalanche(h);
}

describe("page codec: hash64", () => {
  it("matches the reference algorithm for every tail length and across chunks", () => {
    const data = ramLike(160, 60); // 640 KiB: more than two work-area chunks
    for (let length = 0; length <= 100; length++) {
      expect(codec.hash64(data.subarray(0, length))).toBe(referenceHash(data.subarray(0, length)));
    }
    for (const length of [PAGE, BATCH, MAX_BLOCK_BYTES, MAX_BLOCK_BYTES + 1, data.length - 5]) {
      expect(codec.hash64(data.subarray(0, length))).toBe(referenceHash(data.subarray(0, length)));
    }
    expect(codec.hash64(data.subarray(3, 1003), 12345n)).toBe(
      referenceHash(data.subarray(3, 1003), 12345n),
    );
  });

  it("changes with any single bit, the length, and the seed", () => {
    const bytes = ramLike(4, 61);
    const base = codec.hash64(bytes);
    const seen = new Set<bigint>([base]);
    for (let i = 0; i < 200; i++) {
      const at = i * 81; // distinct bytes across the 4 pages
      const bit = 1 << (i % 8);
      bytes[at] ^= bit;
      seen.add(codec.hash64(bytes));
      bytes[at] ^= bit;
    }
    expect(seen.size).toBe(201);
    expect(codec.hash64(bytes)).toBe(base);
    expect(codec.hash64(new Uint8Array(PAGE))).not.toBe(codec.hash64(new Uint8Array(PAGE + 1)));
    expect(codec.hash64(bytes, 1n)).not.toBe(base);
  });
});
