// The page codec migration uses on guest RAM (build/codec.wasm, built from
// wasm/codec/): a fast LZ block compressor for batches of pages, zero-page
// detection and a 64-bit hash to compare RAM on both sides afterwards.
//
// Why an LZ codec and not deflate: the data channel moves 11-20 MB/s, and
// deflate (fflate, CompressionStream) compresses at only ~20-40 MB/s in the
// browser, so it would be as slow as the wire itself and take CPU the guest
// and the channel need; this codec runs at ~300 MB/s (2.4:1 on an idle
// guest's pages) and decompresses at ~1 GB/s.
import { compileCore, type WasmSource } from "../core/wasm-source.ts";

export const DEFAULT_CODEC_URL = new URL("../../build/codec.wasm", import.meta.url);

/** The largest block compress() takes and decompress() produces. */
export const MAX_BLOCK_BYTES = 256 * 1024;

const PAGE_SIZE = 4096;

/** What build/codec.wasm exports (wasm/codec/index.ts). */
export interface CodecExports {
  memory: WebAssembly.Memory;
  workspace(bytes: number): number;
  compress(src: number, len: number, dst: number, cap: number): number;
  decompress(src: number, len: number, dst: number, cap: number): number;
  isZeroPage(ptr: number): number;
  scanPages(ptr: number, count: number, flags: number): number;
  hashBegin(seed: bigint): void;
  hashUpdate(ptr: number, len: number): void;
  hashEnd(ptr: number, len: number): bigint;
  hash64(ptr: number, len: number, seed: bigint): bigint;
}

const DECODE_ERRORS = new Map<number, string>([
  [-1, "truncated data"],
  [-2, "decodes to more bytes than expected"],
  [-3, "a match refers to bytes before the start"],
  [-4, "malformed length"],
]);

export async function compileCodec(
  source: WasmSource = DEFAULT_CODEC_URL,
): Promise<WebAssembly.Module> {
  return compileCore(source);
}

export class PageCodec {
  private readonly exports: CodecExports;
  // Work area layout: input block, then output block. Output gets a page of
  // slack beyond MAX_BLOCK_BYTES; the codec itself never writes past the
  // capacity it is given.
  private readonly inPtr: number;
  private readonly outPtr: number;
  private bytes: Uint8Array;

  static async create(source: WasmSource = DEFAULT_CODEC_URL): Promise<PageCodec> {
    const instance = await WebAssembly.instantiate(await compileCodec(source));
    return new PageCodec(instance.exports as unknown as CodecExports);
  }

  private constructor(exports: CodecExports) {
    this.exports = exports;
    const base = exports.workspace(2 * MAX_BLOCK_BYTES + PAGE_SIZE);
    if (base === 0) throw new Error("page codec: cannot grow wasm memory for the work area");
    this.inPtr = base;
    this.outPtr = base + MAX_BLOCK_BYTES;
    this.bytes = new Uint8Array(exports.memory.buffer);
  }

  // The memory only grows in the constructor, but re-check cheaply anyway.
  private get memory(): Uint8Array {
    if (this.bytes.buffer !== this.exports.memory.buffer) {
      this.bytes = new Uint8Array(this.exports.memory.buffer);
    }
    return this.bytes;
  }

  /**
   * Compresses one block (at most MAX_BLOCK_BYTES). Returns null when the
   * result would not be smaller than the input: send the bytes raw then.
   */
  compress(raw: Uint8Array): Uint8Array | null {
    if (raw.length > MAX_BLOCK_BYTES) {
      throw new RangeError(`page codec: block of ${raw.length} bytes > ${MAX_BLOCK_BYTES}`);
    }
    const memory = this.memory;
    memory.set(raw, this.inPtr);
    const length = this.exports.compress(this.inPtr, raw.length, this.outPtr, MAX_BLOCK_BYTES);
    return length === 0 ? null : memory.slice(this.outPtr, this.outPtr + length);
  }

  /**
   * Decompresses a block compress() made from expectedLength bytes. Throws
   * on corrupt or truncated data, or when it decodes to a different length.
   */
  decompress(data: Uint8Array, expectedLength: number): Uint8Array {
    if (!Number.isSafeInteger(expectedLength) || expectedLength < 0) {
      throw new RangeError(`page codec: bad expected length ${expectedLength}`);
    }
    if (expectedLength > MAX_BLOCK_BYTES) {
      throw new RangeError(`page codec: block of ${expectedLength} bytes > ${MAX_BLOCK_BYTES}`);
    }
    // Compressed blocks are always shorter than their raw bytes.
    if (data.length > MAX_BLOCK_BYTES) {
      throw new Error(`page codec: corrupt block: ${data.length} compressed bytes is too long`);
    }
    const memory = this.memory;
    memory.set(data, this.inPtr);
    const result = this.exports.decompress(this.inPtr, data.length, this.outPtr, expectedLength);
    if (result < 0) {
      const reason = DECODE_ERRORS.get(result) ?? `error ${result}`;
      throw new Error(`page codec: corrupt block: ${reason}`);
    }
    if (result !== expectedLength) {
      throw new Error(
        `page codec: corrupt block: decodes to ${result} bytes, expected ${expectedLength}`,
      );
    }
    return memory.slice(this.outPtr, this.outPtr + result);
  }

  /** True when the 4 KiB page at offset in bytes is all zero. */
  isZeroPage(bytes: Uint8Array, offset = 0): boolean {
    if (offset < 0 || offset + PAGE_SIZE > bytes.length) {
      throw new RangeError(`page codec: no 4 KiB page at offset ${offset}`);
    }
    const memory = this.memory;
    // Copy-in plus the SIMD scan is still ~2x a plain JS loop.
    memory.set(bytes.subarray(offset, offset + PAGE_SIZE), this.inPtr);
    return this.exports.isZeroPage(this.inPtr) !== 0;
  }

  /**
   * Flags the pages of bytes (a whole number of 4 KiB pages): 1 where a page
   * has data, 0 where it is all zero.
   */
  scanPages(bytes: Uint8Array): Uint8Array {
    if (bytes.length % PAGE_SIZE !== 0) {
      throw new RangeError(`page codec: ${bytes.length} bytes is not a whole number of pages`);
    }
    const flags = new Uint8Array(bytes.length / PAGE_SIZE);
    const memory = this.memory;
    const chunkPages = MAX_BLOCK_BYTES / PAGE_SIZE;
    for (let page = 0; page < flags.length; page += chunkPages) {
      const count = Math.min(chunkPages, flags.length - page);
      memory.set(bytes.subarray(page * PAGE_SIZE, (page + count) * PAGE_SIZE), this.inPtr);
      this.exports.scanPages(this.inPtr, count, this.outPtr);
      flags.set(memory.subarray(this.outPtr, this.outPtr + count), page);
    }
    return flags;
  }

  /** The low 32 bits of hash64: a message checksum that catches damage on the wire. */
  checksum32(bytes: Uint8Array): number {
    return Number(this.hash64(bytes) & 0xffffffffn);
  }

  /**
   * 64-bit non-cryptographic hash of bytes (any length), to check that RAM
   * matches on both sides of a migration. Not for adversarial input.
   */
  hash64(bytes: Uint8Array, seed = 0n): bigint {
    const memory = this.memory;
    this.exports.hashBegin(BigInt.asUintN(64, seed));
    // Whole chunks (a multiple of the hash's 32-byte stripe) while more
    // than one chunk remains, then the rest.
    let offset = 0;
    while (bytes.length - offset > MAX_BLOCK_BYTES) {
      memory.set(bytes.subarray(offset, offset + MAX_BLOCK_BYTES), this.inPtr);
      this.exports.hashUpdate(this.inPtr, MAX_BLOCK_BYTES);
      offset += MAX_BLOCK_BYTES;
    }
    memory.set(bytes.subarray(offset), this.inPtr);
    return BigInt.asUintN(64, this.exports.hashEnd(this.inPtr, bytes.length - offset));
  }
}
