// PCI configuration mechanism #1: software writes a bus/device/function/
// register address to the dword at 0xCF8, then accesses the data window at
// 0xCFC-0xCFF. Only a 32-bit access at 0xCF8 reaches the address register;
// narrower ones are ordinary I/O cycles, such as the PIIX3's reset control
// register, byte 0xCF9.
import { allOnes, type AccessSize } from "../../core/core-host.ts";
import type { IoBus, PortHandler } from "../../platform/io-bus.ts";
import type { PciBus } from "./bus.ts";

export const CONFIG_ADDRESS_PORT = 0xcf8;
export const CONFIG_DATA_PORT = 0xcfc;
export const RESET_CONTROL_PORT = 0xcf9;
export const CONFIG_ENABLE = 0x80000000;
/** Enable, bus, device, function and dword register; the rest is reserved and reads 0. */
export const CONFIG_ADDRESS_MASK = 0x80fffffc;

const PORT_COUNT = 8;

/** A byte register that shares the address register's ports (0xCF9 on a PIIX3). */
export interface ResetControlRegister {
  read(): number;
  write(value: number): void;
}

/** Builds the value software writes to 0xCF8. */
export function configAddress(bus: number, slot: number, fn: number, register: number): number {
  return (CONFIG_ENABLE | (bus << 16) | (slot << 11) | (fn << 8) | (register & 0xfc)) >>> 0;
}

export class PciConfigPorts implements PortHandler {
  private readonly bus: PciBus;
  private readonly resetControl: ResetControlRegister | undefined;
  private latch = 0;

  constructor(bus: PciBus, resetControl?: ResetControlRegister) {
    this.bus = bus;
    this.resetControl = resetControl;
  }

  /** The address register (0xCF8) as software reads it back. */
  get address(): number {
    return this.latch;
  }

  set address(value: number) {
    this.latch = (value & CONFIG_ADDRESS_MASK) >>> 0;
  }

  /** Claims ports 0xCF8-0xCFF. */
  attach(io: IoBus): void {
    io.register(CONFIG_ADDRESS_PORT, PORT_COUNT, this);
  }

  read(port: number, size: AccessSize): number {
    if (port >= CONFIG_DATA_PORT) return this.readData(port - CONFIG_DATA_PORT, size);
    if (port === CONFIG_ADDRESS_PORT && size === 4) return this.latch;
    if (port === RESET_CONTROL_PORT && size === 1 && this.resetControl) {
      return this.resetControl.read() & 0xff;
    }
    return allOnes(size);
  }

  write(port: number, size: AccessSize, value: number): void {
    if (port >= CONFIG_DATA_PORT) this.writeData(port - CONFIG_DATA_PORT, size, value);
    else if (port === CONFIG_ADDRESS_PORT && size === 4) this.address = value;
    else if (port === RESET_CONTROL_PORT && size === 1) this.resetControl?.write(value & 0xff);
  }

  private readData(offset: number, size: AccessSize): number {
    const target = this.target();
    if (!target) return allOnes(size);
    if (offset + size <= 4) {
      return this.bus.readConfig(target.slot, target.fn, target.register + offset, size);
    }
    // Bytes past 0xCFF belong to other ports; they float high.
    let value = 0;
    for (let i = 0; i < size; i++) {
      const byte =
        offset + i < 4
          ? this.bus.readConfig(target.slot, target.fn, target.register + offset + i, 1)
          : 0xff;
      value |= byte << (8 * i);
    }
    return value >>> 0;
  }

  private writeData(offset: number, size: AccessSize, value: number): void {
    const target = this.target();
    if (!target) return;
    if (offset + size <= 4) {
      this.bus.writeConfig(target.slot, target.fn, target.register + offset, size, value);
      return;
    }
    for (let i = 0; offset + i < 4; i++) {
      const byte = (value >>> (8 * i)) & 0xff;
      this.bus.writeConfig(target.slot, target.fn, target.register + offset + i, 1, byte);
    }
  }

  // With the enable bit clear the data ports are plain I/O that nothing decodes;
  // there are no bridges, so only bus 0 exists.
  private target(): { slot: number; fn: number; register: number } | undefined {
    const latch = this.latch;
    if (!(latch & CONFIG_ENABLE) || ((latch >>> 16) & 0xff) !== 0) return undefined;
    return { slot: (latch >>> 11) & 0x1f, fn: (latch >>> 8) & 7, register: latch & 0xfc };
  }
}
