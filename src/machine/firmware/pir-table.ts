// The PCI IRQ Routing Table ($PIR, Microsoft's PCI IRQ Routing Table
// Specification 1.0): how each slot's INTA#-INTD# reach the interrupt
// router's links. Operating systems without ACPI (Linux's arch/x86/pci/irq.c)
// find it by scanning 0xF0000-0xFFFFF on 16-byte boundaries.

export const PIR_SIGNATURE = "$PIR";
export const PIR_VERSION = 0x0100;
export const PIR_HEADER_SIZE = 32;
export const PIR_SLOT_SIZE = 16;

export interface PirLink {
  /** Router-specific link value (PIIX: the PIRQRC register, 0x60-0x63); 0 = not connected. */
  link: number;
  /** IRQs the link may be routed to, bit n = IRQ n. */
  irqBitmap: number;
}

export interface PirSlot {
  bus: number;
  /** Device number; the table describes whole devices (function 0). */
  device: number;
  /** INTA#..INTD#. */
  pins: readonly [PirLink, PirLink, PirLink, PirLink];
  /** Physical slot number; 0 for devices on the motherboard. */
  slotNumber: number;
}

export interface PirTable {
  routerBus: number;
  routerDevfn: number;
  /** IRQs devoted to PCI only, bit n = IRQ n. */
  exclusiveIrqs: number;
  compatibleRouterVendor: number;
  compatibleRouterDevice: number;
  slots: readonly PirSlot[];
}

export function pirTableSize(slotCount: number): number {
  return PIR_HEADER_SIZE + PIR_SLOT_SIZE * slotCount;
}

/** The table's bytes, checksummed so they sum to zero. */
export function encodePirTable(table: PirTable): Uint8Array {
  const size = pirTableSize(table.slots.length);
  if (size > 0xffff) throw new RangeError(`a $PIR table of ${table.slots.length} slots is too big`);
  const bytes = new Uint8Array(size);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < PIR_SIGNATURE.length; i++) bytes[i] = PIR_SIGNATURE.charCodeAt(i);
  view.setUint16(4, PIR_VERSION, true);
  view.setUint16(6, size, true);
  view.setUint8(8, table.routerBus);
  view.setUint8(9, table.routerDevfn);
  view.setUint16(10, table.exclusiveIrqs, true);
  view.setUint16(12, table.compatibleRouterVendor, true);
  view.setUint16(14, table.compatibleRouterDevice, true);
  // 16-19: miniport data, 20-30: reserved, 31: checksum; all zero for now.
  table.slots.forEach((slot, i) => {
    const at = PIR_HEADER_SIZE + PIR_SLOT_SIZE * i;
    view.setUint8(at, slot.bus);
    view.setUint8(at + 1, slot.device << 3);
    slot.pins.forEach((pin, p) => {
      view.setUint8(at + 2 + 3 * p, pin.link);
      view.setUint16(at + 3 + 3 * p, pin.irqBitmap, true);
    });
    view.setUint8(at + 14, slot.slotNumber);
  });
  const sum = bytes.reduce((total, byte) => total + byte, 0);
  bytes[31] = -sum & 0xff;
  return bytes;
}
