// A growable FIFO of received characters (a ring buffer), so queuing a large
// paste and draining it one character at a time stays linear. Entries are
// 0..0xffff: a byte, or a byte with flags above bit 7 (the UART's break marker).
export class CharQueue {
  private buffer = new Uint16Array(64);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(chars: ArrayLike<number>): void {
    if (this.count + chars.length > this.buffer.length) this.grow(this.count + chars.length);
    for (let i = 0; i < chars.length; i++) {
      this.buffer[(this.head + this.count) % this.buffer.length] = chars[i]! & 0xffff;
      this.count++;
    }
  }

  /** Removes and returns the oldest entry; the queue must not be empty. */
  shift(): number {
    if (this.count === 0) throw new RangeError("shift from an empty queue");
    const char = this.buffer[this.head]!;
    this.head = (this.head + 1) % this.buffer.length;
    this.count--;
    return char;
  }

  /** The entry `index` places from the oldest (0), or undefined past the end. */
  at(index: number): number | undefined {
    if (!(index >= 0 && index < this.count)) return undefined;
    return this.buffer[(this.head + index) % this.buffer.length];
  }

  /** Whether `value` is queued at or after position `from`. */
  includes(value: number, from = 0): boolean {
    for (let i = from; i < this.count; i++) {
      if (this.buffer[(this.head + i) % this.buffer.length] === value) return true;
    }
    return false;
  }

  clear(): void {
    this.head = 0;
    this.count = 0;
  }

  toArray(): number[] {
    const out = new Array<number>(this.count);
    for (let i = 0; i < this.count; i++)
      out[i] = this.buffer[(this.head + i) % this.buffer.length]!;
    return out;
  }

  private grow(needed: number): void {
    let size = this.buffer.length;
    while (size < needed) size *= 2;
    const bigger = new Uint16Array(size);
    bigger.set(this.toArray());
    this.buffer = bigger;
    this.head = 0;
  }
}
