// Legacy PC devices are files of 8-bit registers. On the ISA bus a 16- or
// 32-bit IN/OUT becomes byte cycles at consecutive ports, so a wide access
// touches each register in turn; bytes past the device float high.
import type { AccessSize } from "../core/core-host.ts";
import type { PortHandler } from "../platform/io-bus.ts";

export interface ByteRegisters {
  readRegister(offset: number): number;
  writeRegister(offset: number, value: number): void;
}

/** A port handler for `count` byte registers starting at port `base`. */
export function byteRegisterPorts(base: number, count: number, regs: ByteRegisters): PortHandler {
  return {
    read(port: number, size: AccessSize): number {
      let value = 0;
      for (let i = 0; i < size; i++) {
        const offset = port + i - base;
        const byte = offset < count ? regs.readRegister(offset) & 0xff : 0xff;
        value |= byte << (8 * i);
      }
      return value >>> 0;
    },
    write(port: number, size: AccessSize, value: number): void {
      for (let i = 0; i < size; i++) {
        const offset = port + i - base;
        if (offset < count) regs.writeRegister(offset, (value >>> (8 * i)) & 0xff);
      }
    },
  };
}
