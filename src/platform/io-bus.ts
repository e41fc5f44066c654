// Port I/O: devices claim port ranges; IN from an unclaimed port reads
// all-ones (nothing drives the bus) and OUT to one goes nowhere.
import { allOnes, type AccessSize } from "../core/core-host.ts";

export interface PortHandler {
  read(port: number, size: AccessSize): number;
  write(port: number, size: AccessSize, value: number): void;
}

/** A claimed port range; pass it to IoBus.unregister to give the ports back. */
export interface PortClaim {
  readonly portStart: number;
  readonly count: number;
  readonly handler: PortHandler;
}

const PORT_COUNT = 0x10000;

function hex(value: number): string {
  return "0x" + value.toString(16);
}

export class IoBus {
  // One slot per port: lookups on the hot exit path are a single index.
  private readonly handlers: Array<PortHandler | undefined> = new Array(PORT_COUNT);
  private readonly claims = new Set<PortClaim>();

  /**
   * Claims ports [portStart, portStart + count); overlapping a claimed port is an error.
   * The returned claim unmaps the range again (a relocatable PCI BAR, for instance).
   */
  register(portStart: number, count: number, handler: PortHandler): PortClaim {
    checkRange(portStart, count);
    for (let port = portStart; port < portStart + count; port++) {
      if (this.handlers[port]) {
        throw new Error(`port ${hex(port)} is already claimed`);
      }
    }
    for (let port = portStart; port < portStart + count; port++) this.handlers[port] = handler;
    const claim: PortClaim = Object.freeze({ portStart, count, handler });
    this.claims.add(claim);
    return claim;
  }

  /** Releases a range claimed by register; releasing one twice is an error. */
  unregister(claim: PortClaim): void {
    if (!this.claims.delete(claim)) {
      throw new Error(
        `ports ${hex(claim.portStart)}+${claim.count} are not claimed by this registration`,
      );
    }
    for (let port = claim.portStart; port < claim.portStart + claim.count; port++) {
      this.handlers[port] = undefined;
    }
  }

  /** Whether no port of [portStart, portStart + count) is claimed. */
  isFree(portStart: number, count: number): boolean {
    checkRange(portStart, count);
    for (let port = portStart; port < portStart + count; port++) {
      if (this.handlers[port]) return false;
    }
    return true;
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

function checkRange(portStart: number, count: number): void {
  if (
    !Number.isInteger(portStart) ||
    !Number.isInteger(count) ||
    count <= 0 ||
    portStart < 0 ||
    portStart + count > PORT_COUNT
  ) {
    throw new RangeError(`invalid port range ${portStart}+${count}`);
  }
}
