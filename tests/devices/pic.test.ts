import { describe, expect, it } from "vitest";
import { DualPic } from "../../src/devices/pic/device.ts";
import type { PicState } from "../../src/devices/pic/state.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const MASTER_CMD = 0x20;
const MASTER_DATA = 0x21;
const SLAVE_CMD = 0xa0;
const SLAVE_DATA = 0xa1;
const ELCR1 = 0x4d0;
const ELCR2 = 0x4d1;

// What Linux 6.1 i386 programs: ISA_IRQ_VECTOR(irq) = ((0x20 + 16) & ~15) + irq.
const MASTER_VECTOR = 0x30;
const SLAVE_VECTOR = 0x38;

// OCW3 commands.
const READ_IRR = 0x0a;
const READ_ISR = 0x0b;
const POLL = 0x0c;
const SET_SPECIAL_MASK = 0x68;
const CLEAR_SPECIAL_MASK = 0x48;
// OCW2 commands.
const EOI = 0x20;
const SPECIFIC_EOI = 0x60;
const ROTATE_ON_EOI = 0xa0;
const ROTATE_ON_SPECIFIC_EOI = 0xe0;
const SET_PRIORITY = 0xc0;
const ROTATE_IN_AEOI_SET = 0x80;

function setup() {
  const bus = new IoBus();
  const pic = new DualPic();
  const intr: boolean[] = [];
  pic.onIntr = (level) => intr.push(level);
  pic.attach(bus);
  const out = (port: number, value: number) => bus.write(port, 1, value);
  const inb = (port: number) => bus.read(port, 1);
  const lines = new Map<number, ReturnType<DualPic["line"]>>();
  const line = (irq: number) => {
    if (!lines.has(irq)) lines.set(irq, pic.line(irq));
    return lines.get(irq)!;
  };
  const raise = (irq: number) => line(irq).set(true);
  const lower = (irq: number) => line(irq).set(false);
  const pulse = (irq: number) => {
    raise(irq);
    lower(irq);
  };
  const reg = (cmdPort: number, ocw3: number) => {
    out(cmdPort, ocw3);
    return inb(cmdPort);
  };
  const irr = () => reg(MASTER_CMD, READ_IRR) | (reg(SLAVE_CMD, READ_IRR) << 8);
  const isr = () => reg(MASTER_CMD, READ_ISR) | (reg(SLAVE_CMD, READ_ISR) << 8);
  /** Linux's mask_and_ack_8259A EOI part: specific EOI to the slave, then the master's IR2. */
  const eoi = (irq: number) => {
    if (irq >= 8) {
      out(SLAVE_CMD, SPECIFIC_EOI | (irq & 7));
      out(MASTER_CMD, SPECIFIC_EOI | 2);
    } else {
      out(MASTER_CMD, SPECIFIC_EOI | irq);
    }
  };
  return { bus, pic, intr, out, inb, raise, lower, pulse, irr, isr, eoi };
}

type Rig = ReturnType<typeof setup>;

/** Linux's probe_8259A and init_8259A(auto_eoi), then every IRQ unmasked. */
function initLikeLinux(rig: Rig, autoEoi = false): void {
  const { out, inb } = rig;
  out(SLAVE_DATA, 0xff);
  out(MASTER_DATA, 0xfb);
  expect(inb(MASTER_DATA)).toBe(0xfb); // the probe reads back what it wrote
  out(MASTER_DATA, 0xff);
  out(MASTER_CMD, 0x11); // ICW1: edge, cascade, ICW4 follows
  out(MASTER_DATA, MASTER_VECTOR); // ICW2
  out(MASTER_DATA, 1 << 2); // ICW3: slave on IR2
  out(MASTER_DATA, autoEoi ? 0x03 : 0x01); // ICW4: 8086 mode (+ AEOI)
  out(SLAVE_CMD, 0x11);
  out(SLAVE_DATA, SLAVE_VECTOR);
  out(SLAVE_DATA, 2); // ICW3: slave identity 2
  out(SLAVE_DATA, 0x01);
  out(MASTER_DATA, 0x00);
  out(SLAVE_DATA, 0x00);
}

function linuxPic(autoEoi = false): Rig {
  const rig = setup();
  initLikeLinux(rig, autoEoi);
  rig.intr.length = 0;
  return rig;
}

describe("DualPic initialization", () => {
  it("takes Linux's ICW1-ICW4 sequence and maps IRQ0 to 0x30 and IRQ8 to 0x38", () => {
    const rig = setup();
    const { pic, raise, out, inb } = rig;
    initLikeLinux(rig);
    expect(inb(MASTER_DATA)).toBe(0x00); // OCW1 writes after ICW4 land in the IMR
    out(MASTER_DATA, 0xa5);
    expect(inb(MASTER_DATA)).toBe(0xa5);
    out(MASTER_DATA, 0x00);
    raise(0);
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR);
    raise(8);
    rig.eoi(0);
    expect(pic.acknowledge()).toBe(SLAVE_VECTOR);
  });

  it("masks everything at power-on and clears the IMR at ICW1", () => {
    const { pic, raise, out, inb } = setup();
    expect(inb(MASTER_DATA)).toBe(0xff);
    expect(inb(SLAVE_DATA)).toBe(0xff);
    raise(1);
    expect(pic.intr).toBe(false);
    out(MASTER_CMD, 0x11);
    expect(inb(MASTER_DATA)).toBe(0x00);
  });

  it("ignores the low three bits of ICW2 (x86 mode puts the IR level there)", () => {
    const rig = setup();
    const { out, pic, raise } = rig;
    out(MASTER_CMD, 0x11);
    out(MASTER_DATA, 0x47);
    out(MASTER_DATA, 0x04);
    out(MASTER_DATA, 0x01);
    raise(3);
    expect(pic.acknowledge()).toBe(0x43);
  });

  it("skips ICW3 in single mode and ICW4 without IC4", () => {
    const { out, inb, pic, raise } = setup();
    out(MASTER_CMD, 0x12); // single, no ICW4
    out(MASTER_DATA, 0x80); // ICW2
    out(MASTER_DATA, 0xfe); // already OCW1: only IR0 unmasked
    expect(inb(MASTER_DATA)).toBe(0xfe);
    raise(1);
    expect(pic.intr).toBe(false);
    raise(0);
    expect(pic.acknowledge()).toBe(0x80);
  });

  it("needs a new rising edge after ICW1, while a held level input requests again", () => {
    const rig = linuxPic();
    const { out, inb, raise, pic, irr } = rig;
    out(ELCR1, 0x20); // IRQ5 level-triggered
    raise(4);
    raise(5);
    expect(irr() & 0x30).toBe(0x30);
    initLikeLinux(rig);
    expect(irr() & 0x30).toBe(0x20); // the edge latch of IRQ4 was reset
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 5);
    expect(inb(ELCR1)).toBe(0x20); // the ELCR is not part of the 8259A
  });
});

describe("DualPic priority and cascade", () => {
  it("delivers a slave IRQ through IR2 and records it in both ISRs", () => {
    const { pic, raise, lower, isr, eoi, intr } = linuxPic();
    raise(9);
    expect(intr).toEqual([true]);
    expect(pic.acknowledge()).toBe(SLAVE_VECTOR + 1);
    expect(isr()).toBe((1 << 9) | (1 << 2));
    expect(pic.intr).toBe(false);
    lower(9);
    eoi(9);
    expect(isr()).toBe(0);
  });

  it("serves simultaneous requests highest priority first, with the slave at IR2's place", () => {
    const { pic, raise, eoi } = linuxPic();
    for (const irq of [7, 3, 12, 1, 5]) raise(irq);
    const order: number[] = [];
    for (let n = 0; pic.intr && n < 10; n++) {
      const vector = pic.acknowledge();
      const irq = vector >= SLAVE_VECTOR ? vector - SLAVE_VECTOR + 8 : vector - MASTER_VECTOR;
      order.push(irq);
      eoi(irq);
    }
    expect(order).toEqual([1, 12, 3, 5, 7]);
  });

  it("lets a higher priority interrupt nest inside a lower one, but not the reverse", () => {
    const { pic, raise, isr, eoi } = linuxPic();
    raise(3);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 3);
    raise(5);
    expect(pic.intr).toBe(false); // IRQ5 waits behind IRQ3 in service
    raise(1);
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 1);
    expect(isr()).toBe(0x0a);
    eoi(1);
    expect(pic.intr).toBe(false);
    eoi(3);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 5);
  });

  it("blocks lower slave requests while the cascade is in service, and higher master ones pass", () => {
    const { pic, raise, eoi } = linuxPic();
    raise(10);
    expect(pic.acknowledge()).toBe(SLAVE_VECTOR + 2);
    raise(8); // higher on the slave, but the master's IR2 is in service (no SFNM)
    expect(pic.intr).toBe(false);
    raise(0);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR);
    eoi(0);
    eoi(10);
    expect(pic.acknowledge()).toBe(SLAVE_VECTOR);
  });

  it("lets the slave interrupt its own cascade level in special fully nested mode", () => {
    const rig = setup();
    initLikeLinux(rig);
    const { out, pic, raise } = rig;
    out(MASTER_CMD, 0x11);
    out(MASTER_DATA, MASTER_VECTOR);
    out(MASTER_DATA, 0x04);
    out(MASTER_DATA, 0x11); // ICW4: SFNM
    raise(10);
    expect(pic.acknowledge()).toBe(SLAVE_VECTOR + 2);
    raise(11);
    expect(pic.intr).toBe(false); // lower within the slave: still nested
    raise(9);
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(SLAVE_VECTOR + 1);
  });
});

describe("DualPic masking and EOI", () => {
  it("keeps a masked request in IRR with INT low until it is unmasked", () => {
    const { pic, out, raise, irr, intr } = linuxPic();
    out(MASTER_DATA, 0x10);
    raise(4);
    expect(irr() & 0x10).toBe(0x10);
    expect(pic.intr).toBe(false);
    out(MASTER_DATA, 0x00);
    expect(intr).toEqual([true]);
    out(MASTER_DATA, 0x10); // masking a request that already raised INT drops it again
    expect(intr).toEqual([true, false]);
  });

  it("masks slave inputs in the slave IMR and the whole slave through IR2", () => {
    const { pic, out, raise } = linuxPic();
    out(SLAVE_DATA, 0x08);
    raise(11);
    expect(pic.intr).toBe(false);
    out(SLAVE_DATA, 0x00);
    expect(pic.intr).toBe(true);
    out(MASTER_DATA, 0x04);
    expect(pic.intr).toBe(false);
  });

  it("clears the highest-priority ISR bit on a non-specific EOI", () => {
    const { pic, out, raise, isr } = linuxPic();
    raise(3);
    pic.acknowledge();
    raise(1);
    pic.acknowledge();
    expect(isr()).toBe(0x0a);
    out(MASTER_CMD, EOI);
    expect(isr()).toBe(0x08);
    out(MASTER_CMD, EOI);
    expect(isr()).toBe(0x00);
    out(MASTER_CMD, EOI); // nothing in service: no effect
    expect(isr()).toBe(0x00);
  });

  it("clears exactly the named ISR bit on a specific EOI", () => {
    const { pic, out, raise, isr } = linuxPic();
    raise(3);
    pic.acknowledge();
    raise(1);
    pic.acknowledge();
    out(MASTER_CMD, SPECIFIC_EOI | 3); // not the highest one
    expect(isr()).toBe(0x02);
  });

  it("sets no ISR bit in auto-EOI mode, so a lower request follows at once", () => {
    const { pic, raise, isr } = linuxPic(true);
    raise(1);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 1);
    expect(isr()).toBe(0);
    raise(6);
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 6);
  });
});

describe("DualPic rotation", () => {
  it("makes the level just served the lowest on a rotate-on-EOI", () => {
    const { pic, out, raise, lower } = linuxPic();
    raise(0);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR);
    out(MASTER_CMD, ROTATE_ON_EOI);
    lower(0);
    raise(0);
    raise(5);
    // IR0 is now the lowest priority: the order is 1..7, 0.
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 5);
    out(MASTER_CMD, EOI);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR);
  });

  it("rotates on a specific EOI and by the set-priority command", () => {
    const { pic, out, raise, lower, isr } = linuxPic();
    raise(3);
    pic.acknowledge();
    out(MASTER_CMD, ROTATE_ON_SPECIFIC_EOI | 3);
    expect(isr()).toBe(0);
    lower(3);
    raise(3);
    raise(4);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 4); // 4 is now the highest
    out(MASTER_CMD, EOI);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 3);
    out(MASTER_CMD, EOI);
    out(MASTER_CMD, SET_PRIORITY | 6); // 7 first, 6 last
    raise(6);
    raise(7);
    raise(1);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 7);
    out(MASTER_CMD, EOI);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 1);
  });

  it("rotates on every acknowledge in auto-EOI mode when asked to", () => {
    const { pic, out, raise, lower } = linuxPic(true);
    out(MASTER_CMD, ROTATE_IN_AEOI_SET);
    raise(1);
    raise(3);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 1);
    lower(1);
    raise(1); // IR1 requests again, but it just became the lowest
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 3);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 1);
  });
});

describe("DualPic special mask and poll modes", () => {
  it("lets lower levels through while the in-service level is masked in special mask mode", () => {
    const { pic, out, raise } = linuxPic();
    raise(3);
    pic.acknowledge();
    raise(5);
    expect(pic.intr).toBe(false);
    out(MASTER_CMD, SET_SPECIAL_MASK);
    expect(pic.intr).toBe(false); // IR3 is in service and not masked: still blocks
    out(MASTER_DATA, 0x08);
    expect(pic.intr).toBe(true);
    out(MASTER_CMD, CLEAR_SPECIAL_MASK);
    expect(pic.intr).toBe(false);
  });

  it("skips masked in-service levels on a non-specific EOI in special mask mode", () => {
    const { pic, out, raise, isr } = linuxPic();
    raise(3);
    pic.acknowledge();
    out(MASTER_CMD, SET_SPECIAL_MASK);
    out(MASTER_DATA, 0x08);
    raise(5);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 5);
    expect(isr()).toBe(0x28);
    out(MASTER_CMD, EOI);
    expect(isr()).toBe(0x08);
  });

  it("answers a poll with the highest request and treats the read as the acknowledge", () => {
    const { pic, out, inb, raise, isr, irr } = linuxPic();
    out(MASTER_CMD, POLL);
    expect(inb(MASTER_CMD)).toBe(0x00); // nothing pending
    raise(6);
    raise(4);
    out(MASTER_CMD, POLL);
    expect(inb(MASTER_DATA)).toBe(0x84); // either port
    expect(isr()).toBe(0x10);
    expect(irr() & 0x50).toBe(0x40);
    expect(inb(MASTER_DATA)).toBe(0x00); // the poll lasts one read: this is the IMR again
    expect(pic.intr).toBe(false);
  });

  it("reads IRR or ISR as OCW3 last selected, and OCW3 without RR keeps the choice", () => {
    const { pic, out, inb, raise } = linuxPic();
    raise(1);
    raise(3);
    pic.acknowledge();
    out(MASTER_CMD, READ_ISR);
    expect(inb(MASTER_CMD)).toBe(0x02);
    expect(inb(MASTER_CMD)).toBe(0x02);
    out(MASTER_CMD, 0x08); // OCW3, RR = 0
    expect(inb(MASTER_CMD)).toBe(0x02);
    out(MASTER_CMD, READ_IRR);
    expect(inb(MASTER_CMD)).toBe(0x08); // edge IR1 left IRR when acknowledged; IR3 waits
  });

  it("splits a 16-bit IN into byte reads of consecutive ports", () => {
    const { bus, out, raise } = linuxPic();
    out(MASTER_DATA, 0xf0);
    raise(1);
    expect(bus.read(MASTER_CMD, 2)).toBe(0xf002); // IRR, then IMR
  });
});

describe("DualPic triggering (ELCR)", () => {
  it("exposes only the ELCR bits the PIIX lets software set", () => {
    const { out, inb } = linuxPic();
    out(ELCR1, 0xff);
    out(ELCR2, 0xff);
    expect(inb(ELCR1)).toBe(0xf8); // IRQ0-2 are always edge
    expect(inb(ELCR2)).toBe(0xde); // so are IRQ8 and IRQ13
  });

  it("re-requests a level input that stays asserted after EOI", () => {
    const { pic, out, raise, lower, eoi } = linuxPic();
    out(ELCR1, 0x20);
    raise(5);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 5);
    expect(pic.intr).toBe(false);
    eoi(5);
    expect(pic.intr).toBe(true);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 5);
    lower(5);
    eoi(5);
    expect(pic.intr).toBe(false);
  });

  it("needs a new rising edge on an edge input held high", () => {
    const { pic, raise, lower, eoi } = linuxPic();
    raise(4);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 4);
    eoi(4);
    expect(pic.intr).toBe(false);
    raise(4); // still high: no edge
    expect(pic.intr).toBe(false);
    lower(4);
    raise(4);
    expect(pic.intr).toBe(true);
  });

  it("latches an edge that arrives while the same level is in service", () => {
    const { pic, raise, lower, eoi } = linuxPic();
    raise(4);
    pic.acknowledge();
    lower(4);
    raise(4);
    expect(pic.intr).toBe(false);
    eoi(4);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 4);
  });

  it("drops a pending request when a level input goes low, and follows the line again", () => {
    const { pic, out, raise, lower, irr } = linuxPic();
    out(ELCR2, 0x02); // IRQ9 level
    raise(9);
    expect(irr() & 0x0204).toBe(0x0204);
    lower(9);
    expect(irr() & 0x0204).toBe(0);
    expect(pic.intr).toBe(false);
  });

  it("turns a held line into a request when its input becomes level-triggered", () => {
    const { pic, out, raise, eoi } = linuxPic();
    raise(4);
    pic.acknowledge();
    eoi(4);
    expect(pic.intr).toBe(false);
    out(ELCR1, 0x10);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 4);
  });
});

describe("DualPic spurious interrupts", () => {
  it("answers IRQ7's vector without setting ISR when an edge request vanished before INTA", () => {
    const { pic, raise, lower, isr, intr } = linuxPic();
    raise(4);
    lower(4); // the datasheet: the input must stay high until the first INTA
    expect(intr).toEqual([true, false]);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 7);
    expect(isr()).toBe(0);
  });

  it("answers IRQ7's vector when a level request vanished before INTA", () => {
    const { pic, out, raise, lower, isr } = linuxPic();
    out(ELCR1, 0x08);
    raise(3);
    lower(3);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 7);
    expect(isr()).toBe(0);
  });

  it("gives the spurious vector even with IRQ7 masked, and a real IRQ7 sets its ISR bit", () => {
    const { pic, out, raise, lower, isr } = linuxPic();
    out(MASTER_DATA, 0x80);
    raise(5);
    lower(5);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 7);
    expect(isr()).toBe(0);
    out(MASTER_DATA, 0x00);
    raise(7);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 7);
    expect(isr()).toBe(0x80); // how Linux's i8259A_irq_real tells the two apart
  });

  it("withdraws the master's IR2 when the only slave request goes away", () => {
    const { pic, raise, lower, isr } = linuxPic();
    raise(12);
    lower(12);
    expect(pic.intr).toBe(false);
    expect(pic.acknowledge()).toBe(MASTER_VECTOR + 7);
    expect(isr()).toBe(0);
  });
});

describe("DualPic INT output", () => {
  it("reports each change of INT once, at the moment it happens", () => {
    const { pic, raise, lower, eoi, intr } = linuxPic();
    raise(3);
    expect(intr).toEqual([true]);
    raise(5); // lower priority: INT is already high
    expect(intr).toEqual([true]);
    pic.acknowledge(); // IR3 in service; IR5 is blocked
    expect(intr).toEqual([true, false]);
    raise(1); // preempts
    expect(intr).toEqual([true, false, true]);
    pic.acknowledge();
    expect(intr).toEqual([true, false, true, false]);
    eoi(1);
    expect(intr).toEqual([true, false, true, false]); // IR3 still blocks IR5
    eoi(3);
    expect(intr).toEqual([true, false, true, false, true]);
    lower(5);
    expect(intr).toEqual([true, false, true, false, true, false]);
    expect(pic.intr).toBe(false);
  });
});

describe("DualPic save and restore", () => {
  function midService() {
    const rig = linuxPic();
    const { out, pic, raise } = rig;
    out(ELCR2, 0x02); // IRQ9 level
    out(SLAVE_DATA, 0x10); // IRQ12 masked
    raise(3);
    pic.acknowledge(); // IRQ3 in service
    raise(5); // waits in IRR behind IRQ3
    raise(12); // masked, in the slave's IRR
    raise(1); // preempts
    pic.acknowledge(); // IRQ1 in service too
    raise(9); // pending on the slave, blocked by IRQ1
    out(MASTER_CMD, READ_ISR);
    return rig;
  }

  it("round-trips through JSON mid-service and carries on identically", () => {
    const a = midService();
    const saved = a.pic.save();
    const copy = JSON.parse(JSON.stringify(saved)) as unknown;
    const b = setup();
    restoreComponent(b.pic, copy);
    expect(b.intr).toEqual([a.pic.intr]);
    expect(b.pic.save()).toEqual(saved);
    expect(b.inb(MASTER_CMD)).toBe(0x0a); // ISR selected for reads, as saved

    const vectors = (rig: Rig) => {
      const seen: number[] = [];
      rig.out(MASTER_CMD, EOI); // ends IRQ1
      seen.push(rig.pic.acknowledge()); // IRQ9 (level, slave)
      rig.lower(9);
      rig.eoi(9);
      rig.out(MASTER_CMD, EOI); // ends IRQ3
      seen.push(rig.pic.acknowledge());
      rig.out(SLAVE_DATA, 0x00);
      rig.eoi(5);
      seen.push(rig.pic.acknowledge());
      return seen;
    };
    const fromA = vectors(a);
    expect(fromA).toEqual([SLAVE_VECTOR + 1, MASTER_VECTOR + 5, SLAVE_VECTOR + 4]);
    expect(vectors(b)).toEqual(fromA);
    expect(b.pic.save()).toEqual(a.pic.save());
  });

  it("drives INT on restore even when the level does not change", () => {
    const a = linuxPic();
    const b = setup();
    restoreComponent(b.pic, a.pic.save());
    expect(b.intr).toEqual([false]);
  });

  type Chip = Record<string, unknown>;
  type Mutation = [string, (s: PicState) => void, ErrorConstructor, RegExp];
  const cases: Mutation[] = [
    ["master", (s) => Object.assign(s, { master: null }), TypeError, /master must be an object/],
    ["version", (s) => Object.assign(s, { version: 2 }), RangeError, /version 2 is not supp/],
    ["version", (s) => Object.assign(s, { version: "1" }), TypeError, /version must be a number/],
    ["irr", (s) => ((s.master as unknown as Chip).irr = "1"), TypeError, /master\.irr must be an/],
    ["isr", (s) => (s.slave.isr = 256), RangeError, /slave\.isr must be in \[0, 255\]/],
    ["imr", (s) => (s.master.imr = 1.5), TypeError, /master\.imr must be an integer, got 1\.5/],
    ["lowestPriority", (s) => (s.slave.lowestPriority = 8), RangeError, /lowestPriority/],
    [
      "initStep",
      (s) => ((s.master as unknown as Chip).initStep = 1),
      RangeError,
      /master\.initStep/,
    ],
    ["vectorBase", (s) => (s.master.vectorBase = 0x31), RangeError, /vectorBase must be a mul/],
    ["readIsr", (s) => ((s.master as unknown as Chip).readIsr = 1), TypeError, /readIsr must/],
    [
      "specialMask",
      (s) => delete (s.slave as Partial<typeof s.slave>).specialMask,
      TypeError,
      /slave\.specialMask must be a boolean, got nothing \(it is missing\)/,
    ],
    ["elcr", (s) => Object.assign(s, { elcr: [0] }), RangeError, /elcr must hold 2\.\.2 bytes/],
    ["elcr", (s) => Object.assign(s, { elcr: "0" }), TypeError, /elcr must be an array/],
    ["elcr[0]", (s) => (s.elcr[0] = 0x01), RangeError, /elcr\[0\] sets bits/], // IRQ0 is edge
    ["elcr[1]", (s) => (s.elcr[1] = 0x100), RangeError, /elcr\[1\] must be in/],
    ["icw1", (s) => (s.master.icw1 = 0x01), RangeError, /master\.icw1 must have bit 4/],
    // Fields that are each in range but contradict each other:
    ["irr", (s) => (s.master.irr |= 0x80), RangeError, /master\.irr has requests on inputs/],
    ["irr", (s) => (s.slave.irr &= ~0x02), RangeError, /slave\.irr must follow lines/], // IRQ9
    [
      "lines",
      (s) => {
        s.master.lines &= ~0x04; // the slave's INT is high
        s.master.irr &= ~0x04;
      },
      RangeError,
      /master\.lines bit 2 must match/,
    ],
    [
      "initStep",
      (s) => {
        s.master.icw1 |= 0x02; // single mode expects no ICW3
        s.master.initStep = 3;
      },
      RangeError,
      /master\.initStep 3/,
    ],
  ];

  it.each(cases)(
    "rejects a bad %s and leaves the PICs unchanged",
    (_field, mutate, type, message) => {
      const rig = midService();
      const before = rig.pic.save();
      const bad = structuredClone(before);
      mutate(bad);
      rig.intr.length = 0;
      expect(() => restoreComponent(rig.pic, bad)).toThrow(type);
      expect(() => restoreComponent(rig.pic, bad)).toThrow(message);
      expect(rig.pic.save()).toEqual(before);
      expect(rig.intr).toEqual([]);
      rig.out(MASTER_CMD, EOI); // ends IRQ1: the pending IRQ9 comes next, as before
      expect(rig.pic.acknowledge()).toBe(SLAVE_VECTOR + 1);
    },
  );

  it("names the field in the message", () => {
    const rig = midService();
    const bad = structuredClone(rig.pic.save());
    bad.slave.isr = 300;
    expect(() => restoreComponent(rig.pic, bad)).toThrow(/PicState\.slave\.isr/);
    expect(() => restoreComponent(rig.pic, null)).toThrow(/PicState must be an object/);
  });
});
