// A byte-oriented LZ77 block codec, chosen for speed over ratio: the page
// stream is sent over a wire that moves only 11-20 MB/s, so compression must
// run many times faster than that to never be the bottleneck.
//
// Format (one self-contained block; no state survives between blocks):
//   sequence := token [litExt] literal* [offsetCode matchExt]
//   token    := high nibble literal count, low nibble match length - 4;
//               a nibble of 15 means "15 + a LEB128 varint follows"
//               (varints, not runs of 255: a 4 KiB zero run costs 2 bytes).
//   offsetCode (the distance back into the output), sized by distance since
//   RAM pages are full of short-stride arrays and repeated structures:
//     0x00                 the previous match's offset again
//     0x01-0x7f            offset 1-127
//     0x80-0xbf  b1        offset 128 + (low 6 bits << 8 | b1)    (to 16511)
//     0xc0-0xff  b1 b2     offset 16512 + (low 6 bits << 16 | b2 << 8 | b1)
// The block ends right after the literals of a sequence whose match nibble
// is 0; every other sequence must carry a match.

const HASH_BITS: u32 = 14;
const HASH_SLOTS: u32 = 1 << HASH_BITS;
// u32 positions of 4-byte sequences, cleared per block.
const table: usize = memory.data(<i32>(HASH_SLOTS << 2), 16);

const MIN_MATCH: usize = 4;
const MAX_OFFSET: usize = 16512 + (1 << 22) - 1;
// Length varints are read back with at most 4 bytes (28 bits), so a block
// may not hold a literal run or match longer than that: cap the input.
const MAX_INPUT: usize = 1 << 28;
// Misses in a row before the search starts skipping ahead: random pages are
// given up on quickly instead of being hashed byte by byte.
const SKIP_SHIFT: u32 = 5;
// Worst case sizes used for the output-capacity checks.
const MAX_VARINT: usize = 4;
const MAX_OFFSET_CODE: usize = 3;

export const ERR_TRUNCATED: i32 = -1; // input ended inside a sequence
export const ERR_OUTPUT: i32 = -2; // would write past the output capacity
export const ERR_OFFSET: i32 = -3; // match reaches before the output start
export const ERR_LENGTH: i32 = -4; // overlong length varint

// Bytes an offset code takes.
// @ts-ignore: decorator
@inline
function offsetCost(offset: usize, rep: usize): usize {
  return offset == rep || offset < 128 ? 1 : offset < 16512 ? 2 : 3;
}

// Knuth's multiplicative hash of 4 bytes: one multiply, good spread.
// @ts-ignore: decorator
@inline
function slotOf(seq: u32): usize {
  return table + (<usize>((seq * 2654435761) >>> (32 - HASH_BITS)) << 2);
}

// Bytes equal at p and r, at most up to end (p is the later position).
// @ts-ignore: decorator
@inline
function commonLength(p: usize, r: usize, end: usize): usize {
  const start = p;
  while (p + 8 <= end) {
    const diff = load<u64>(p) ^ load<u64>(r);
    if (diff != 0) return p - start + <usize>(ctz<u64>(diff) >>> 3);
    p += 8;
    r += 8;
  }
  while (p < end && load<u8>(p) == load<u8>(r)) {
    p++;
    r++;
  }
  return p - start;
}

// @ts-ignore: decorator
@inline
function writeVarint(op: usize, value: usize): usize {
  while (value >= 0x80) {
    store<u8>(op++, <u8>(value | 0x80));
    value >>>= 7;
  }
  store<u8>(op++, <u8>value);
  return op;
}

// @ts-ignore: decorator
@inline
function writeLiterals(op: usize, token: usize, lit: usize, litLen: usize): usize {
  store<u8>(op++, <u8>((litLen < 15 ? litLen : 15) << 4 | token));
  if (litLen >= 15) op = writeVarint(op, litLen - 15);
  memory.copy(op, lit, litLen);
  return op + litLen;
}

// @ts-ignore: decorator
@inline
function writeOffset(op: usize, offset: usize, rep: usize): usize {
  if (offset == rep) {
    store<u8>(op, 0);
    return op + 1;
  }
  if (offset < 128) {
    store<u8>(op, <u8>offset);
    return op + 1;
  }
  if (offset < 16512) {
    const v = offset - 128;
    store<u8>(op, <u8>(0x80 | (v >>> 8)));
    store<u8>(op, <u8>v, 1);
    return op + 2;
  }
  const v = offset - 16512;
  store<u8>(op, <u8>(0xc0 | (v >>> 16)));
  store<u16>(op, <u16>v, 1);
  return op + 3;
}

/**
 * Compresses len bytes at src into dst (capacity cap). Returns the
 * compressed length, or 0 when the result would not be smaller than the
 * input (or not fit): the caller then sends the bytes raw.
 */
export function lzCompress(src: usize, len: usize, dst: usize, cap: usize): usize {
  if (len < 16 || len > MAX_INPUT) return 0;
  // Output must be strictly smaller than the input to be worth sending.
  const limit = cap < len ? cap : len - 1;
  memory.fill(table, 0, HASH_SLOTS << 2);

  const end = src + len;
  const hashEnd = end - 4; // last position with 4 bytes left to hash
  const oend = dst + limit;
  let ip = src + 1;
  let anchor = src;
  let op = dst;
  let rep: usize = 0;

  while (true) {
    // Find a match: first at the previous offset (cheapest to encode, and
    // common in arrays of structures), then through the hash table.
    let ref: usize = 0;
    let misses: u32 = 0;
    let found = false;
    while (ip <= hashEnd) {
      const seq = load<u32>(ip);
      if (rep != 0 && ip - src >= rep && load<u32>(ip - rep) == seq) {
        ref = ip - rep;
        found = true;
        break;
      }
      const slot = slotOf(seq);
      ref = src + <usize>load<u32>(slot);
      store<u32>(slot, <u32>(ip - src));
      if (ref < ip && ip - ref <= MAX_OFFSET && load<u32>(ref) == seq) {
        found = true;
        break;
      }
      ip += 1 + <usize>(misses++ >>> SKIP_SHIFT);
    }
    if (!found) break;

    // Grow the match backwards over literals not yet emitted.
    while (ip > anchor && ref > src && load<u8>(ip - 1) == load<u8>(ref - 1)) {
      ip--;
      ref--;
    }
    let matchLen = MIN_MATCH + commonLength(ip + MIN_MATCH, ref + MIN_MATCH, end);
    // Lazy step: a better match one byte later is worth a literal.
    while (ip + 1 <= hashEnd) {
      const next = ip + 1;
      const seq = load<u32>(next);
      const slot = slotOf(seq);
      let cand = src + <usize>load<u32>(slot);
      store<u32>(slot, <u32>(next - src));
      if (rep != 0 && next - src >= rep && load<u32>(next - rep) == seq) cand = next - rep;
      if (cand >= next || next - cand > MAX_OFFSET || load<u32>(cand) != seq) break;
      const candLen = MIN_MATCH + commonLength(next + MIN_MATCH, cand + MIN_MATCH, end);
      if (<isize>(candLen - offsetCost(next - cand, rep)) <= <isize>(matchLen - offsetCost(ip - ref, rep)) + 1) break;
      ip = next;
      ref = cand;
      matchLen = candLen;
    }
    const litLen = ip - anchor;
    if (oend - op < 1 + MAX_VARINT + litLen + MAX_OFFSET_CODE + MAX_VARINT) return 0;
    const extra = matchLen - MIN_MATCH;
    op = writeLiterals(op, extra < 15 ? extra : 15, anchor, litLen);
    const offset = ip - ref;
    op = writeOffset(op, offset, rep);
    if (extra >= 15) op = writeVarint(op, extra - 15);
    rep = offset;
    ip += matchLen;
    anchor = ip;
    // Index a position inside the match so the next search has a recent
    // candidate (cheap ratio gain on structured data).
    if (ip - 2 <= hashEnd) store<u32>(slotOf(load<u32>(ip - 2)), <u32>(ip - 2 - src));
  }

  const litLen = end - anchor;
  if (oend - op < 1 + MAX_VARINT + litLen) return 0;
  op = writeLiterals(op, 0, anchor, litLen);
  return op - dst;
}

// Varint reader state: the cursor after the last read, or 0 on error.
let cursor: usize = 0;

// Reads a varint at ip (bounded by iend and by MAX_VARINT bytes); sets
// cursor to the byte after it, or to 0 when truncated or overlong.
// @ts-ignore: decorator
@inline
function readVarint(ip: usize, iend: usize): usize {
  let value: usize = 0;
  let shift: usize = 0;
  while (true) {
    if (ip >= iend || shift == 7 * MAX_VARINT) {
      cursor = 0;
      return 0;
    }
    const b = <usize>load<u8>(ip++);
    value |= (b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7;
  }
  cursor = ip;
  return value;
}

/**
 * Decompresses len bytes at src into dst (capacity cap). Returns the output
 * length, or a negative ERR_* code. Every read is checked against the input
 * end and every write against the output capacity, so corrupt or hostile
 * input can only produce an error, never an access outside the buffers.
 */
export function lzDecompress(src: usize, len: usize, dst: usize, cap: usize): i32 {
  let ip = src;
  const iend = src + len;
  let op = dst;
  // The output length is returned as i32: blocks are at most MAX_INPUT.
  const oend = dst + (cap < MAX_INPUT ? cap : MAX_INPUT);
  let rep: usize = 0;

  while (true) {
    if (ip >= iend) return ERR_TRUNCATED;
    const token = <usize>load<u8>(ip++);

    let litLen = token >>> 4;
    if (litLen == 15) {
      litLen += readVarint(ip, iend);
      if (cursor == 0) return ERR_LENGTH;
      ip = cursor;
    }
    if (litLen > iend - ip) return ERR_TRUNCATED;
    if (litLen > oend - op) return ERR_OUTPUT;
    // Short literal runs: one 16-byte move when both buffers have room for
    // the overshoot (later writes overwrite it); memory.copy otherwise.
    if (litLen <= 16 && iend - ip >= 16 && oend - op >= 16) {
      v128.store(op, v128.load(ip));
    } else {
      memory.copy(op, ip, litLen);
    }
    ip += litLen;
    op += litLen;

    if (ip == iend) {
      // End of block: only a literal-only sequence may end it.
      return (token & 15) == 0 ? <i32>(op - dst) : ERR_TRUNCATED;
    }

    let offset = <usize>load<u8>(ip++);
    if (offset == 0) {
      offset = rep;
    } else if (offset >= 0x80) {
      if (offset < 0xc0) {
        if (ip >= iend) return ERR_TRUNCATED;
        offset = 128 + ((offset & 0x3f) << 8 | <usize>load<u8>(ip));
        ip += 1;
      } else {
        if (iend - ip < 2) return ERR_TRUNCATED;
        offset = 16512 + ((offset & 0x3f) << 16 | <usize>load<u16>(ip));
        ip += 2;
      }
    }
    if (offset == 0 || offset > op - dst) return ERR_OFFSET;
    rep = offset;

    let matchLen = token & 15;
    if (matchLen == 15) {
      matchLen += readVarint(ip, iend);
      if (cursor == 0) return ERR_LENGTH;
      ip = cursor;
    }
    matchLen += MIN_MATCH;
    if (matchLen > oend - op) return ERR_OUTPUT;

    let from = op - offset;
    if (offset >= 16 && oend - op >= ((matchLen + 15) & ~15)) {
      // Whole 16-byte chunks (room checked above): each source chunk lies
      // wholly before the chunk being written.
      let d = op;
      const stop = op + matchLen;
      do {
        v128.store(d, v128.load(from));
        d += 16;
        from += 16;
      } while (d < stop);
    } else if (offset == 1) {
      memory.fill(op, load<u8>(from), matchLen);
    } else {
      // Overlapping copy: [from, d) repeats with period offset, so copying
      // it forward in doubling, non-overlapping pieces keeps the pattern.
      let d = op;
      let left = matchLen;
      while (left > 0) {
        const span = d - from;
        const n = left < span ? left : span;
        memory.copy(d, from, n);
        d += n;
        left -= n;
      }
    }
    op += matchLen;
  }
  return ERR_TRUNCATED; // unreachable
}
