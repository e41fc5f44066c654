// Function 0 of the Intel 82371SB (PIIX3) at 00:01.0: the PCI-to-ISA bridge.
// It routes the four PIRQ links to ISA IRQs through PIRQRC[A-D] (config
// 0x60-0x63) and owns the reset control register at port 0xCF9.
import type { AccessSize } from "../../../core/core-host.ts";
import type { IrqLine } from "../../irq.ts";
import type { PciInterruptRouter } from "../bus.ts";
import { PIRQ_LINK_COUNT } from "../bus.ts";
import { CLASS_ISA_BRIDGE, VENDOR_INTEL } from "../config-header.ts";
import type { ResetControlRegister } from "../config-ports.ts";
import { PciDevice } from "../device.ts";
import {
  ISA_BRIDGE_STATE_VERSION,
  parseIsaBridgeState,
  RESET_CONTROL_STORED,
  type IsaBridgeState,
} from "./state.ts";

export const PIIX3_DEVICE_ID = 0x7000;
/** PIRQRC[A-D]: bit 7 disables routing, bits 3-0 name the ISA IRQ. */
export const REG_PIRQRC = 0x60;
export const PIRQRC_DISABLE = 0x80;
const PIRQRC_IRQ = 0x0f;
/** Deterministic latency control; Linux sets passive release (bit 1) on 440FX boards. */
const REG_DLC = 0x82;

/** IRQs a PIRQ may drive; PIRQRC values 0-2, 8 and 13 are reserved. */
export const PIRQ_ROUTABLE_IRQS = 0xdef8;

const RESET_CPU = 0x04;

export type ResetKind = "hard" | "soft";

export interface IsaBridgeOptions {
  /** The interrupt controller input for ISA IRQ `irq`, e.g. (irq) => pic.line(irq). */
  isaIrq: (irq: number) => IrqLine;
  /** A write to 0xCF9 with bit 2 set: bit 1 chose a hard (1) or soft (0) reset. */
  onReset?: (kind: ResetKind) => void;
}

export function isRoutableIrq(irq: number): boolean {
  return Number.isInteger(irq) && irq >= 0 && irq < 16 && ((PIRQ_ROUTABLE_IRQS >> irq) & 1) === 1;
}

export class Piix3IsaBridge extends PciDevice implements PciInterruptRouter {
  readonly resetControl: ResetControlRegister;

  private readonly isaIrq: (irq: number) => IrqLine;
  private readonly onResetRequest: (kind: ResetKind) => void;
  private readonly lines = new Map<number, IrqLine>();
  private readonly linkLevels = new Array<boolean>(PIRQ_LINK_COUNT).fill(false);
  // What this bridge drives on each ISA IRQ, so only changes reach the PIC.
  private readonly driven = new Array<boolean>(16).fill(false);
  private resetControlValue = 0;

  constructor(options: IsaBridgeOptions) {
    super({
      vendorId: VENDOR_INTEL,
      deviceId: PIIX3_DEVICE_ID,
      classCode: CLASS_ISA_BRIDGE,
      // The real part has IDE and USB functions, so function 0 says multi-function.
      multiFunction: true,
      name: "PIIX3 ISA bridge",
    });
    this.isaIrq = options.isaIrq;
    this.onResetRequest = options.onReset ?? (() => {});
    for (let link = 0; link < PIRQ_LINK_COUNT; link++) {
      this.writeRaw(REG_PIRQRC + link, 1, PIRQRC_DISABLE);
    }
    this.setWritable(REG_PIRQRC, PIRQ_LINK_COUNT, 0x8f8f8f8f);
    this.setWritable(REG_DLC, 1, 0x0f);
    this.resetControl = {
      read: () => this.resetControlValue,
      write: (value) => this.writeResetControl(value),
    };
  }

  /** The ISA IRQ PIRQ `link` drives, or undefined when routing is off or reserved. */
  routedIrq(link: number): number | undefined {
    const value = this.readRaw(REG_PIRQRC + link, 1);
    if (value & PIRQRC_DISABLE) return undefined;
    const irq = value & PIRQRC_IRQ;
    return isRoutableIrq(irq) ? irq : undefined;
  }

  setLinkLevel(link: number, level: boolean): void {
    this.linkLevels[link] = level;
    this.driveLines(false);
  }

  resynchronize(linkLevels: readonly boolean[]): void {
    linkLevels.forEach((level, link) => (this.linkLevels[link] = level));
    this.driveLines(true);
  }

  protected override afterConfigWrite(offset: number, size: AccessSize): void {
    // Moving a link moves its level: the old IRQ drops, the new one rises.
    if (offset < REG_PIRQRC + PIRQ_LINK_COUNT && offset + size > REG_PIRQRC) this.driveLines(false);
  }

  protected override saveDeviceState(): IsaBridgeState {
    return { version: ISA_BRIDGE_STATE_VERSION, resetControl: this.resetControlValue };
  }

  protected override prepareDeviceState(value: unknown, what: string): () => void {
    const state = parseIsaBridgeState(value, what);
    return () => {
      this.resetControlValue = state.resetControl;
    };
  }

  protected override onReset(): void {
    this.resetControlValue = 0;
  }

  private writeResetControl(value: number): void {
    this.resetControlValue = value & RESET_CONTROL_STORED;
    if (value & RESET_CPU) this.onResetRequest(value & RESET_CONTROL_STORED ? "hard" : "soft");
  }

  // `all` re-drives every IRQ a link targets, for after a restore, when the
  // PIC's inputs may not match what this bridge last drove.
  private driveLines(all: boolean): void {
    const wanted = new Array<boolean>(16).fill(false);
    const targeted = new Array<boolean>(16).fill(false);
    for (let link = 0; link < PIRQ_LINK_COUNT; link++) {
      const irq = this.routedIrq(link);
      if (irq === undefined) continue;
      targeted[irq] = true;
      if (this.linkLevels[link]) wanted[irq] = true;
    }
    for (let irq = 0; irq < 16; irq++) {
      if (wanted[irq] === this.driven[irq] && !(all && targeted[irq])) continue;
      this.driven[irq] = wanted[irq]!;
      this.line(irq).set(wanted[irq]!);
    }
  }

  private line(irq: number): IrqLine {
    let line = this.lines.get(irq);
    if (!line) {
      line = this.isaIrq(irq);
      this.lines.set(irq, line);
    }
    return line;
  }
}
