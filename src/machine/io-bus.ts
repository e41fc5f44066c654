// Port I/O: devices claim port ranges; IN from an unclaimed port reads
// all-ones (nothing drives the bus) and OUT to one goes nowhere.
import { allOnes, type AccessSize } from "../core/core-host.ts";

export interface PortHandler {
  read(port: number, size: AccessSize): number;
  write(port: number, size: AccessSize, value: number): void;
}

const PORT_COUNT = 0x10000;

export class IoBus {
  // One slot per port: lookups on the hot exit path are a single index.
  private readonly handlers: Array<PortHandler | undefined> = new Array(PORT_COUNT);

  /** Claims ports [portStart, portStart + count); overlapping a claimed port is an error. */
  register(portStart: number, count: number, handler: PortHandler): void {
    if (
      !Number.isInteger(portStart) ||
      !Number.isInteger(count) ||
      count <= 0 ||
      portStart < 0 ||
      portStart + count > PORT_COUNT
    ) {
      throw new RangeError(`invalid port range ${portStart}+${count}`);
    }
    for (let port = portStart; port < portStart + count; port++) {
      if (this.handlers[port]) {
        throw new Error(`port 0x${port.toString(16)} is already claimed`);
      }
    }
    for (let port = portStart; port < portStart + count; port++) this.handlers[port] = handler;
  }

  read(port: number, size: AccessSize): number {
    const handler = this.handlers[port & 0xffff];
    const mask = allOnes(size);
    return handler ? (handler.read(port, size) & mask) >>> 0 : mask;
  }

  write(port: number, size: AccessSize, value: number): void {
    this.handlers[port & 0xffff]?.write(port, size, (value & allOnes(size)) >>> 0);
  }
}
