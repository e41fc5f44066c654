// Puts the BAR windows PCI functions decode onto the I/O and memory buses.
// Software may program overlapping BARs (or a BAR over a legacy device's
// ports); then the earlier function in bus order wins and the loser stays
// unmapped until the conflict goes away, instead of failing the guest's write.
import type { IoBus, PortClaim } from "../../platform/io-bus.ts";
import type { MmioBus, MmioRegion } from "../../platform/mmio-bus.ts";
import type { BarWindow } from "./bar.ts";

/** A window wanted by a function, tagged with who wants it. */
export interface OwnedWindow extends BarWindow {
  readonly owner: object;
}

interface Mapping {
  readonly window: OwnedWindow;
  readonly claim: PortClaim | MmioRegion;
}

function sameWindow(a: OwnedWindow, b: OwnedWindow): boolean {
  return (
    a.owner === b.owner &&
    a.index === b.index &&
    a.kind === b.kind &&
    a.base === b.base &&
    a.size === b.size &&
    a.handler === b.handler
  );
}

function collide(a: OwnedWindow, b: OwnedWindow): boolean {
  return a.kind === b.kind && a.base < b.base + b.size && b.base < a.base + a.size;
}

export class BarDecoder {
  private readonly io: IoBus;
  private readonly mmio: MmioBus;
  private mappings: Mapping[] = [];

  constructor(io: IoBus, mmio: MmioBus) {
    this.io = io;
    this.mmio = mmio;
  }

  /** The windows mapped now. */
  get mapped(): readonly OwnedWindow[] {
    return this.mappings.map((m) => m.window);
  }

  /** Makes the buses match `wanted` (in priority order), touching only windows that changed. */
  update(wanted: readonly OwnedWindow[]): void {
    const accepted: OwnedWindow[] = [];
    for (const window of wanted) {
      if (!accepted.some((other) => collide(other, window))) accepted.push(window);
    }
    this.mappings = this.mappings.filter((mapping) => {
      if (accepted.some((window) => sameWindow(window, mapping.window))) return true;
      this.release(mapping);
      return false;
    });
    for (const window of accepted) {
      if (this.mappings.some((mapping) => sameWindow(mapping.window, window))) continue;
      const claim = this.claim(window);
      if (claim) this.mappings.push({ window, claim });
    }
  }

  private claim(window: OwnedWindow): PortClaim | MmioRegion | undefined {
    const { base, size, handler } = window;
    if (window.kind === "memory") {
      return this.mmio.isFree(base, size) ? this.mmio.map(base, size, handler) : undefined;
    }
    if (!this.io.isFree(base, size)) return undefined;
    return this.io.register(base, size, {
      read: (port, accessSize) => handler.read(port - base, accessSize),
      write: (port, accessSize, value) => handler.write(port - base, accessSize, value),
    });
  }

  private release(mapping: Mapping): void {
    if (mapping.window.kind === "memory") this.mmio.unmap(mapping.claim as MmioRegion);
    else this.io.unregister(mapping.claim as PortClaim);
  }
}
