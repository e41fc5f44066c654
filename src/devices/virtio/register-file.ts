// A block of fixed-width little-endian registers, as the virtio common
// configuration and the legacy I/O window are. Reads may take any part of
// any registers (each one overlapped is read once, so read side effects such
// as clearing the ISR happen once); a write must hit one register exactly,
// at its natural width, as the specification requires of drivers.
import type { AccessSize } from "../../core/core-host.ts";

export interface Register {
  name: string;
  offset: number;
  width: AccessSize;
  /** Absent: the register reads as zero. */
  read?: () => number;
  /** Absent: the register is read-only and writes are ignored. */
  write?: (value: number) => void;
}

function hex(value: number): string {
  return "0x" + value.toString(16);
}

export class RegisterFile {
  private readonly byByte: Array<Register | undefined>;
  private readonly exact = new Map<number, Register>();

  constructor(
    private readonly name: string,
    registers: readonly Register[],
    private readonly log: (message: string) => void,
  ) {
    const end = Math.max(0, ...registers.map((register) => register.offset + register.width));
    this.byByte = new Array<Register | undefined>(end);
    for (const register of registers) {
      for (let at = register.offset; at < register.offset + register.width; at++) {
        if (this.byByte[at]) throw new Error(`${name}: ${register.name} overlaps another register`);
        this.byByte[at] = register;
      }
      this.exact.set(register.offset, register);
    }
  }

  /** The span the registers cover. */
  get length(): number {
    return this.byByte.length;
  }

  read(offset: number, size: AccessSize): number {
    let value = 0;
    let register: Register | undefined;
    let raw = 0;
    for (let i = 0; i < size; i++) {
      const at = offset + i;
      const owner = this.byByte[at];
      if (!owner) continue;
      if (owner !== register) {
        register = owner;
        raw = owner.read?.() ?? 0;
      }
      value |= ((raw >>> (8 * (at - owner.offset))) & 0xff) << (8 * i);
    }
    return value >>> 0;
  }

  write(offset: number, size: AccessSize, value: number): void {
    const register = this.exact.get(offset);
    if (!register || register.width !== size) {
      this.log(
        `${this.name}: ignored a ${size}-byte write of ${hex(value)} at offset ${hex(offset)}`,
      );
      return;
    }
    if (!register.write) {
      this.log(`${this.name}: ignored a write of ${hex(value)} to read-only ${register.name}`);
      return;
    }
    register.write(value);
  }
}
