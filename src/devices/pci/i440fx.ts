// The i440FX/PIIX3 chipset as the machine uses it: bus 0 with the host bridge
// at 00:00.0 (owning ports 0xCF8-0xCFF) and the ISA bridge at 00:01.0 routing
// PCI interrupts to the PIC. Further devices go in slots 2 and up.
import type { IoBus } from "../../platform/io-bus.ts";
import type { MmioBus } from "../../platform/mmio-bus.ts";
import type { IrqLine } from "../irq.ts";
import { PciBus } from "./bus.ts";
import { I440fxHostBridge } from "./host-bridge/device.ts";
import { Piix3IsaBridge, type ResetKind } from "./isa-bridge/device.ts";

export const HOST_BRIDGE_SLOT = 0;
export const ISA_BRIDGE_SLOT = 1;
export const FIRST_FREE_SLOT = 2;

export interface I440fxOptions {
  io: IoBus;
  mmio: MmioBus;
  /** The PIC input for ISA IRQ `irq`: (irq) => pic.line(irq). */
  isaIrq: (irq: number) => IrqLine;
  /** Reset requested through port 0xCF9. */
  onReset?: (kind: ResetKind) => void;
}

export interface I440fx {
  bus: PciBus;
  hostBridge: I440fxHostBridge;
  isaBridge: Piix3IsaBridge;
}

export function createI440fx(options: I440fxOptions): I440fx {
  const bus = new PciBus({ io: options.io, mmio: options.mmio });
  const isaBridge = new Piix3IsaBridge({ isaIrq: options.isaIrq, onReset: options.onReset });
  const hostBridge = new I440fxHostBridge({ bus, resetControl: isaBridge.resetControl });
  bus.add(hostBridge, HOST_BRIDGE_SLOT);
  bus.add(isaBridge, ISA_BRIDGE_SLOT);
  bus.setInterruptRouter(isaBridge);
  hostBridge.attach(options.io);
  return { bus, hostBridge, isaBridge };
}
