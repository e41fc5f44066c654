// PCI bus 0: up to 32 slots of up to 8 functions each. It answers
// configuration cycles, maps the BARs functions decode and wire-ORs their
// INTx pins onto the four PIRQ links of the interrupt router.
import type { AccessSize } from "../../core/core-host.ts";
import { allOnes } from "../../core/core-host.ts";
import type { IoBus } from "../../platform/io-bus.ts";
import type { MmioBus } from "../../platform/mmio-bus.ts";
import type { Stateful } from "../../platform/stateful.ts";
import { MAX_FUNCTIONS, MAX_SLOTS } from "./config-header.ts";
import { BarDecoder, type OwnedWindow } from "./decoder.ts";
import type { PciBusLink, PciDevice } from "./device.ts";
import { parsePciBusState, PCI_BUS_STATE_VERSION, type PciBusState } from "./state.ts";

export const PIRQ_LINK_COUNT = 4;

/** The board's INTx wiring: pin `pin` (1 = INTA#) of slot `slot` drives PIRQ[(slot + pin - 1) mod 4]. */
export function pirqLink(slot: number, pin: number): number {
  return (slot + pin - 1) & 3;
}

/** The chip that turns PIRQ links into ISA IRQs (the PIIX3). */
export interface PciInterruptRouter {
  setLinkLevel(link: number, level: boolean): void;
  /** After a restore or reset: drive every output again from these link levels. */
  resynchronize(linkLevels: readonly boolean[]): void;
}

export interface PciBusOptions {
  io: IoBus;
  mmio: MmioBus;
}

export interface PciFunctionEntry {
  slot: number;
  function: number;
  device: PciDevice;
}

function devfn(slot: number, fn: number): number {
  return (slot << 3) | fn;
}

export class PciBus implements PciBusLink, Stateful<PciBusState> {
  readonly stateId = "pci";
  // Indexed by devfn, which is also the priority order for overlapping BARs.
  private readonly functions: Array<PciDevice | undefined> = new Array(MAX_SLOTS * MAX_FUNCTIONS);
  private readonly decoder: BarDecoder;
  private readonly linkAsserters = new Array<number>(PIRQ_LINK_COUNT).fill(0);
  private router: PciInterruptRouter | undefined;

  constructor(options: PciBusOptions) {
    this.decoder = new BarDecoder(options.io, options.mmio);
  }

  /** Plugs a function in; do this while building the machine, before firmware setup. */
  add(device: PciDevice, slot: number, fn = 0): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= MAX_SLOTS) {
      throw new RangeError(`PCI slot must be 0..${MAX_SLOTS - 1}, got ${slot}`);
    }
    if (!Number.isInteger(fn) || fn < 0 || fn >= MAX_FUNCTIONS) {
      throw new RangeError(`PCI function must be 0..${MAX_FUNCTIONS - 1}, got ${fn}`);
    }
    const occupant = this.functions[devfn(slot, fn)];
    if (occupant) throw new Error(`PCI ${occupant.location} is taken by ${occupant.name}`);
    device.attachToBus(this, slot, fn);
    this.functions[devfn(slot, fn)] = device;
    this.decodingChanged();
    if (device.resyncIntxOutput()) this.intxChanged(slot, device.interruptPin, true);
  }

  setInterruptRouter(router: PciInterruptRouter): void {
    this.router = router;
    router.resynchronize(this.linkLevels());
  }

  /** Every function plugged in, in slot then function order. */
  entries(): PciFunctionEntry[] {
    const entries: PciFunctionEntry[] = [];
    this.functions.forEach((device, index) => {
      if (device) entries.push({ slot: index >> 3, function: index & 7, device });
    });
    return entries;
  }

  /**
   * The function configuration cycles reach: functions 1-7 answer only when
   * function 0 is present and says it is multi-function.
   */
  visibleFunction(slot: number, fn: number): PciDevice | undefined {
    const device = this.functions[devfn(slot, fn)];
    if (!device || fn === 0) return device;
    return this.functions[devfn(slot, 0)]?.multiFunction ? device : undefined;
  }

  /** A configuration read; an absent function reads all-ones. */
  readConfig(slot: number, fn: number, offset: number, size: AccessSize): number {
    const device = this.visibleFunction(slot, fn);
    return device ? device.readConfig(offset, size) : allOnes(size);
  }

  /** A configuration write; to an absent function it goes nowhere. */
  writeConfig(slot: number, fn: number, offset: number, size: AccessSize, value: number): void {
    this.visibleFunction(slot, fn)?.writeConfig(offset, size, value);
  }

  /** The wire-OR of every INTx output on PIRQ link `link`. */
  linkLevel(link: number): boolean {
    return this.linkAsserters[link]! > 0;
  }

  /** Windows mapped on the I/O and memory buses now. */
  mappedWindows(): readonly OwnedWindow[] {
    return this.decoder.mapped;
  }

  save(): PciBusState {
    return {
      version: PCI_BUS_STATE_VERSION,
      functions: this.entries().map((entry) => entry.device.save()),
    };
  }

  /**
   * Restores every function (configuration space and device state), then maps
   * BARs and drives interrupt links from the restored registers. A malformed
   * state, or one for a different set of functions, throws TypeError/RangeError
   * and changes nothing.
   */
  prepareRestore(state: unknown): () => void {
    const parsed = parsePciBusState(state);
    const present = this.entries();
    if (parsed.functions.length !== present.length) {
      throw new RangeError(
        `PCI bus state holds ${parsed.functions.length} functions, the bus has ${present.length}`,
      );
    }
    const commits = parsed.functions.map((saved, i) => {
      const expected = present[i]!;
      const where = `PCI bus state.functions[${i}]`;
      if (saved.slot !== expected.slot || saved.function !== expected.function) {
        throw new RangeError(
          `${where} is for slot ${saved.slot} function ${saved.function}, ` +
            `expected ${expected.device.name} at ${expected.device.location}`,
        );
      }
      return expected.device.prepareRestore(saved, where);
    });
    return () => {
      for (const commit of commits) commit();
      this.resynchronize();
    };
  }

  /** PCI reset (RST#): every function back to power-on, nothing mapped, links low. */
  reset(): void {
    for (const { device } of this.entries()) device.resetToPowerOn();
    this.resynchronize();
  }

  // ---- PciBusLink, called by the functions ----

  decodingChanged(): void {
    const wanted: OwnedWindow[] = [];
    for (const { device } of this.entries()) {
      for (const window of device.decodedWindows()) wanted.push({ ...window, owner: device });
    }
    this.decoder.update(wanted);
  }

  intxChanged(slot: number, pin: number, level: boolean): void {
    const link = pirqLink(slot, pin);
    const before = this.linkAsserters[link]!;
    const after = before + (level ? 1 : -1);
    this.linkAsserters[link] = after;
    if (before > 0 !== after > 0) this.router?.setLinkLevel(link, after > 0);
  }

  private linkLevels(): boolean[] {
    return this.linkAsserters.map((count) => count > 0);
  }

  // Mappings and link levels follow from the registers alone.
  private resynchronize(): void {
    this.decodingChanged();
    this.linkAsserters.fill(0);
    for (const { slot, device } of this.entries()) {
      if (device.resyncIntxOutput()) this.linkAsserters[pirqLink(slot, device.interruptPin)]!++;
    }
    this.router?.resynchronize(this.linkLevels());
  }
}
