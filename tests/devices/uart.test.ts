import { describe, expect, it } from "vitest";
import { Uart16550 } from "../../src/devices/uart/device.ts";
import type { UartState } from "../../src/devices/uart/state.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const BASE = 0x3f8;
const RBR = BASE; // THR on write; DLL with DLAB
const IER = BASE + 1; // DLM with DLAB
const IIR = BASE + 2; // FCR on write
const LCR = BASE + 3;
const MCR = BASE + 4;
const LSR = BASE + 5;
const MSR = BASE + 6;
const SCR = BASE + 7;

const IER_RDI = 0x01;
const IER_THRI = 0x02;
const IER_RLSI = 0x04;
const IER_MSI = 0x08;
const IIR_NO_INT = 0x01;
const IIR_MSI = 0x00;
const IIR_THRI = 0x02;
const IIR_RDI = 0x04;
const IIR_RLSI = 0x06;
const IIR_TIMEOUT = 0x0c;
const IIR_FIFO = 0xc0;
const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;
const LSR_DR = 0x01;
const LSR_OE = 0x02;
const LSR_BI = 0x10;
const LSR_THRE = 0x20;
const LSR_TEMT = 0x40;
const LSR_FIFOE = 0x80;
const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOP = 0x10;
const LCR_DLAB = 0x80;
const LCR_WLEN8 = 0x03;

function setup() {
  const bus = new IoBus();
  const sent: number[] = [];
  const irqChanges: boolean[] = [];
  let irqLevel = false;
  const uart = new Uart16550({
    irq: {
      set: (level) => {
        irqChanges.push(level);
        irqLevel = level;
      },
    },
    onTransmit: (byte) => sent.push(byte),
  });
  uart.attach(bus);
  const out = (port: number, value: number) => bus.write(port, 1, value);
  const inb = (port: number) => bus.read(port, 1);
  const readAll = () => {
    const bytes: number[] = [];
    for (let n = 0; inb(LSR) & LSR_DR && n < 1000; n++) bytes.push(inb(RBR));
    return bytes;
  };
  return { bus, uart, sent, irqChanges, irq: () => irqLevel, out, inb, readAll };
}

type Rig = ReturnType<typeof setup>;

/** The port as Linux leaves it after startup and set_termios: 8N1, FIFO with trigger 8, OUT2. */
function linuxPort(rig: Rig, ier = IER_RDI | IER_RLSI): void {
  const { out } = rig;
  out(LCR, LCR_WLEN8 | LCR_DLAB);
  out(RBR, 1); // 115200 baud
  out(IER, 0);
  out(LCR, LCR_WLEN8);
  out(IIR, FCR_ENABLE);
  out(IIR, FCR_ENABLE | 0x80); // trigger level 8
  out(MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
  out(IER, ier);
}

describe("Uart16550 registers", () => {
  it("resets to an idle transmitter and no interrupt", () => {
    const { inb } = setup();
    expect(inb(LSR)).toBe(LSR_THRE | LSR_TEMT);
    expect(inb(IIR)).toBe(IIR_NO_INT);
    expect(inb(IER)).toBe(0);
    expect(inb(MCR)).toBe(0);
  });

  it("reaches the divisor latch at offsets 0 and 1 only while LCR.DLAB is set", () => {
    const { uart, out, inb } = setup();
    out(LCR, LCR_DLAB | LCR_WLEN8);
    out(RBR, 0x0c);
    out(IER, 0x00);
    expect(uart.baudRate).toBe(9600);
    out(RBR, 0x80);
    out(IER, 0x01);
    expect(inb(RBR)).toBe(0x80);
    expect(inb(IER)).toBe(0x01);
    expect(uart.baudRate).toBe(300); // divisor 0x180 = 384
    expect(inb(LCR)).toBe(LCR_DLAB | LCR_WLEN8);
    out(LCR, LCR_WLEN8);
    out(IER, 0x05); // now the IER, not DLM
    expect(inb(IER)).toBe(0x05);
    out(LCR, LCR_DLAB | LCR_WLEN8);
    expect(inb(IER)).toBe(0x01);
  });

  it("keeps only the defined bits of IER and MCR and any value in the scratch register", () => {
    const { out, inb } = setup();
    out(IER, 0xff);
    expect(inb(IER)).toBe(0x0f);
    out(MCR, 0xff);
    expect(inb(MCR)).toBe(0x1f);
    for (const value of [0xa5, 0x5a, 0x00, 0xff]) {
      out(SCR, value);
      expect(inb(SCR)).toBe(value);
    }
  });

  it("splits a 16-bit OUT into byte writes of consecutive registers", () => {
    const { bus, inb } = setup();
    bus.write(LCR, 2, (MCR_OUT2 << 8) | LCR_WLEN8);
    expect(inb(LCR)).toBe(LCR_WLEN8);
    expect(inb(MCR)).toBe(MCR_OUT2);
    expect(bus.read(SCR, 2)).toBe(0xff00); // the byte past the UART floats high
  });
});

describe("Uart16550 autodetection as Linux's 8250 driver does it", () => {
  it("passes the IER test, the loopback test and reads FIFO bits 0b11 in IIR", () => {
    const { out, inb } = setup();
    // IER existence test
    const savedIer = inb(IER);
    out(IER, 0);
    const scratch2 = inb(IER) & 0x0f;
    out(IER, 0x0f);
    const scratch3 = inb(IER) & 0x0f;
    out(IER, savedIer);
    expect([scratch2, scratch3]).toEqual([0x00, 0x0f]);

    // Loopback test: RTS -> CTS and OUT2 -> DCD
    const savedMcr = inb(MCR);
    out(MCR, MCR_LOOP | 0x0a);
    expect(inb(MSR) & 0xf0).toBe(0x90);
    out(MCR, savedMcr);

    // EFR cleared through LCR 0xBF (an FCR write on a 16550A), then the FIFO probe
    out(LCR, 0xbf);
    out(IIR, 0);
    out(LCR, 0);
    out(IIR, FCR_ENABLE);
    expect(inb(IIR) >> 6).toBe(3);
  });

  it("looks like a plain 16550A to autoconfig_16550a's variant probes", () => {
    const { out, inb } = setup();
    out(IIR, FCR_ENABLE);
    out(LCR, 0x80);
    expect(inb(IIR)).not.toBe(0); // no EFR at offset 2 with DLAB set (ST16C650V1)
    out(LCR, 0xbf);
    expect(inb(IIR)).not.toBe(0); // nor with LCR 0xBF
    out(LCR, 0);
    // A TI16750 sets IIR bit 5 when the 64-byte FIFO is asked for with DLAB set.
    out(IIR, FCR_ENABLE | 0x20);
    const status1 = inb(IIR) & 0xe0;
    out(IIR, 0);
    out(LCR, 0x80);
    out(IIR, FCR_ENABLE | 0x20);
    const status2 = inb(IIR) & 0xe0;
    out(IIR, 0);
    out(LCR, 0);
    expect([status1, status2]).toEqual([0xc0, 0xc0]);
    // IER bit 6 (XScale UUE) does not stick.
    out(IER, 0x40);
    expect(inb(IER) & 0x40).toBe(0);
  });

  it("reads IIR bits 7:6 as 0b11 only while FCR0 is set", () => {
    const { out, inb } = setup();
    expect(inb(IIR) & IIR_FIFO).toBe(0);
    out(IIR, FCR_ENABLE);
    expect(inb(IIR) & IIR_FIFO).toBe(IIR_FIFO);
    out(IIR, 0);
    expect(inb(IIR) & IIR_FIFO).toBe(0);
  });

  it("keeps scratch values through the 8250/16450 scratch test", () => {
    const { out, inb } = setup();
    out(SCR, 0xa5);
    const status1 = inb(SCR);
    out(SCR, 0x5a);
    const status2 = inb(SCR);
    expect([status1, status2]).toEqual([0xa5, 0x5a]);
  });
});

describe("Uart16550 transmitter", () => {
  it("hands THR writes to onTransmit and stays empty (THRE and TEMT)", () => {
    const { out, inb, sent } = setup();
    for (const byte of [0x48, 0x69, 0x00, 0xff]) out(RBR, byte);
    expect(sent).toEqual([0x48, 0x69, 0x00, 0xff]);
    expect(inb(LSR) & (LSR_THRE | LSR_TEMT)).toBe(LSR_THRE | LSR_TEMT);
  });

  it("raises THRE when ETBEI is enabled with THR empty; IIR read clears it; THR write re-arms it", () => {
    const rig = setup();
    const { out, inb, irq } = rig;
    out(MCR, MCR_OUT2);
    out(IER, IER_THRI);
    expect(irq()).toBe(true);
    expect(inb(IIR)).toBe(IIR_THRI);
    expect(irq()).toBe(false);
    expect(inb(IIR)).toBe(IIR_NO_INT);
    out(RBR, 0x41);
    expect(irq()).toBe(true);
    expect(inb(IIR)).toBe(IIR_THRI);
    expect(rig.irqChanges).toEqual([true, false, true, false]);
  });

  it("passes serial8250_do_startup's THRE re-assert test (no UART_BUG_THRE)", () => {
    const { out, inb } = setup();
    out(IER, IER_THRI);
    const iir1 = inb(IIR);
    out(IER, 0);
    out(IER, IER_THRI);
    const iir = inb(IIR);
    out(IER, 0);
    const bugThre = !(iir1 & IIR_NO_INT) && (iir & IIR_NO_INT) !== 0;
    expect(iir1 & IIR_NO_INT).toBe(0);
    expect(bugThre).toBe(false);
  });

  it("passes the TX-enable test: LSR.TEMT with a THRE interrupt pending (no UART_BUG_TXEN)", () => {
    const { out, inb } = setup();
    out(IER, IER_THRI);
    const lsr = inb(LSR);
    const iir = inb(IIR); // reading LSR did not consume the THRE interrupt
    out(IER, 0);
    expect(lsr & LSR_TEMT).toBe(LSR_TEMT);
    expect(iir & IIR_NO_INT).toBe(0);
  });

  it("re-arms THRE when the console restores IER after polled output", () => {
    const { out, inb, sent, irq } = setup();
    out(MCR, MCR_OUT2);
    out(IER, IER_RDI | IER_THRI);
    expect(inb(IIR)).toBe(IIR_THRI); // consumed by the interrupt handler
    const ier = inb(IER);
    out(IER, 0); // serial8250_console_write: interrupts off, poll LSR, write THR
    for (const byte of [0x6f, 0x6b]) {
      expect(inb(LSR) & LSR_THRE).toBe(LSR_THRE);
      out(RBR, byte);
    }
    expect(irq()).toBe(false);
    out(IER, ier);
    expect(irq()).toBe(true); // start_tx would stall without this
    expect(sent).toEqual([0x6f, 0x6b]);
  });

  it("clears THRE when ETBEI is turned off and ranks it below received data", () => {
    const { uart, out, inb, irq } = setup();
    out(MCR, MCR_OUT2);
    out(IER, IER_THRI);
    out(IER, 0);
    expect(inb(IIR)).toBe(IIR_NO_INT);
    expect(irq()).toBe(false);
    out(IER, IER_THRI | IER_RDI);
    uart.receive([0x31]);
    expect(inb(IIR)).toBe(IIR_RDI); // does not consume THRE
    inb(RBR);
    expect(inb(IIR)).toBe(IIR_THRI);
  });
});

describe("Uart16550 receiver", () => {
  it("interrupts at the programmed trigger level and with a timeout below it", () => {
    const levels = [1, 4, 8, 14];
    for (let select = 0; select < 4; select++) {
      const rig = setup();
      const { uart, out, inb, irq } = rig;
      out(IIR, FCR_ENABLE | (select << 6));
      out(MCR, MCR_OUT2);
      out(IER, IER_RDI);
      const level = levels[select]!;
      uart.receive(new Array<number>(level - 1).fill(0x61));
      const below = inb(IIR);
      expect(below).toBe(level === 1 ? IIR_FIFO | IIR_NO_INT : IIR_FIFO | IIR_TIMEOUT);
      uart.receive([0x62]);
      expect(inb(IIR)).toBe(IIR_FIFO | IIR_RDI);
      expect(irq()).toBe(true);
      inb(RBR); // one below the trigger again
      expect(inb(IIR)).toBe(level === 1 ? IIR_FIFO | IIR_NO_INT : IIR_FIFO | IIR_TIMEOUT);
    }
  });

  it("clears the receive interrupt once the FIFO is drained, and keeps byte order", () => {
    const rig = setup();
    const { uart, inb, irq, readAll } = rig;
    linuxPort(rig);
    uart.receive([0x6c, 0x73, 0x0d]);
    expect(irq()).toBe(true);
    expect(inb(IIR)).toBe(IIR_FIFO | IIR_TIMEOUT);
    expect(readAll()).toEqual([0x6c, 0x73, 0x0d]);
    expect(inb(IIR)).toBe(IIR_FIFO | IIR_NO_INT);
    expect(irq()).toBe(false);
    expect(inb(LSR) & LSR_DR).toBe(0);
  });

  it("reports received data without the timeout code when the FIFO is off", () => {
    const { uart, out, inb } = setup();
    out(IER, IER_RDI);
    uart.receive([0x7a]);
    expect(inb(IIR)).toBe(IIR_RDI);
    expect(inb(RBR)).toBe(0x7a);
    expect(inb(IIR)).toBe(IIR_NO_INT);
  });

  it("empties the receiver on an FCR receive reset and on a FIFO mode change", () => {
    const rig = setup();
    const { uart, out, inb } = rig;
    out(IIR, FCR_ENABLE);
    uart.receive([1, 2, 3]);
    out(IIR, FCR_ENABLE | FCR_CLEAR_RX);
    expect(inb(LSR) & LSR_DR).toBe(0);
    uart.receive([4]);
    out(IIR, 0); // leaving FIFO mode clears it too
    expect(inb(LSR) & LSR_DR).toBe(0);
    uart.receive([5]);
    out(IIR, 0); // FCR0 stays 0: the holding register keeps its byte
    expect(inb(RBR)).toBe(5);
  });

  it("keeps host input waiting when the FIFO is full, losing nothing", () => {
    const rig = setup();
    const { uart, inb, readAll } = rig;
    linuxPort(rig);
    const paste = Array.from({ length: 40 }, (_, i) => 0x20 + i);
    expect(uart.rxSpace()).toBe(16);
    uart.receive(paste);
    expect(uart.pendingInputLength).toBe(24);
    expect(uart.rxSpace()).toBe(0);
    expect(inb(LSR) & LSR_OE).toBe(0);
    const got: number[] = [];
    for (let n = 0; n < 100 && inb(LSR) & LSR_DR; n++) {
      got.push(inb(RBR));
      expect(inb(LSR) & LSR_OE).toBe(0);
    }
    expect(got).toEqual(paste);
    expect(uart.pendingInputLength).toBe(0);
    expect(readAll()).toEqual([]);
  });

  it("feeds the one-byte holding register from host input when the FIFO is off", () => {
    const { uart, readAll, inb } = setup();
    uart.receive([0x61, 0x62, 0x63]);
    expect(uart.pendingInputLength).toBe(2);
    expect(readAll()).toEqual([0x61, 0x62, 0x63]);
    expect(inb(LSR) & LSR_OE).toBe(0);
  });

  it("raises a line status interrupt for an overrun and clears OE when LSR is read", () => {
    const rig = setup();
    const { out, inb, irq, readAll } = rig;
    linuxPort(rig, IER_RLSI);
    out(MCR, MCR_LOOP | MCR_OUT2);
    for (let i = 0; i < 17; i++) out(RBR, i);
    expect(inb(IIR)).toBe(IIR_FIFO | IIR_RLSI);
    expect(irq()).toBe(false); // the loopback cuts the IRQ off; the IIR still says it
    const lsr = inb(LSR);
    expect(lsr & (LSR_OE | LSR_DR)).toBe(LSR_OE | LSR_DR);
    expect(lsr & LSR_FIFOE).toBe(0); // an overrun is not an error in the FIFO
    expect(inb(LSR) & LSR_OE).toBe(0);
    expect(inb(IIR)).toBe(IIR_FIFO | IIR_NO_INT);
    expect(readAll()).toEqual(Array.from({ length: 16 }, (_, i) => i)); // the 17th was lost
  });

  it("overwrites the holding register on an overrun without a FIFO", () => {
    const { out, inb } = setup();
    out(MCR, MCR_LOOP);
    out(RBR, 0x31);
    out(RBR, 0x32);
    expect(inb(LSR) & (LSR_OE | LSR_DR)).toBe(LSR_OE | LSR_DR);
    expect(inb(RBR)).toBe(0x32);
  });
});

describe("Uart16550 modem control and status", () => {
  it("gates the IRQ line with MCR.OUT2", () => {
    const { uart, out, inb, irq } = setup();
    out(IER, IER_RDI);
    uart.receive([0x21]);
    expect(irq()).toBe(false);
    expect(inb(IIR)).toBe(IIR_RDI); // pending all the same
    out(MCR, MCR_OUT2);
    expect(irq()).toBe(true);
    out(MCR, MCR_DTR);
    expect(irq()).toBe(false);
  });

  it("loops THR back to RBR in loopback mode and holds host input until it ends", () => {
    const rig = setup();
    const { uart, out, sent, readAll } = rig;
    linuxPort(rig);
    out(MCR, MCR_LOOP);
    uart.receive([0x78]);
    out(RBR, 0x55);
    expect(sent).toEqual([]);
    expect(readAll()).toEqual([0x55]);
    expect(uart.pendingInputLength).toBe(1);
    out(MCR, MCR_OUT2);
    expect(readAll()).toEqual([0x78]);
  });

  it("routes the MCR outputs to the MSR inputs in loopback", () => {
    const { out, inb } = setup();
    expect(inb(MSR) & 0xf0).toBe(0xb0); // outside loopback: CTS, DSR, DCD asserted
    const map: Array<[number, number]> = [
      [MCR_RTS, 0x10],
      [MCR_DTR, 0x20],
      [MCR_OUT1, 0x40],
      [MCR_OUT2, 0x80],
    ];
    for (const [mcr, msr] of map) {
      out(MCR, MCR_LOOP | mcr);
      expect(inb(MSR) & 0xf0).toBe(msr);
    }
  });

  it("sets the delta bits on changes, TERI only on RI's trailing edge, and clears them on read", () => {
    const { out, inb } = setup();
    out(MCR, MCR_LOOP);
    inb(MSR); // leaving normal mode dropped CTS, DSR and DCD
    out(MCR, MCR_LOOP | MCR_RTS);
    expect(inb(MSR)).toBe(0x10 | 0x01);
    expect(inb(MSR)).toBe(0x10);
    out(MCR, MCR_LOOP | MCR_DTR);
    expect(inb(MSR)).toBe(0x20 | 0x02 | 0x01);
    out(MCR, MCR_LOOP | MCR_OUT1); // RI rises: no TERI
    expect(inb(MSR)).toBe(0x40 | 0x02);
    out(MCR, MCR_LOOP); // RI falls: TERI
    expect(inb(MSR)).toBe(0x04);
    out(MCR, MCR_LOOP | MCR_OUT2);
    expect(inb(MSR)).toBe(0x80 | 0x08);
  });

  it("raises the modem status interrupt when EDSSI is on, cleared by reading MSR", () => {
    const { out, inb } = setup();
    out(IER, IER_MSI);
    out(MCR, MCR_LOOP);
    expect(inb(IIR)).toBe(IIR_MSI);
    inb(MSR);
    expect(inb(IIR)).toBe(IIR_NO_INT);
  });
});

describe("Uart16550 break", () => {
  it("loads a zero character with LSR.BI and a line status interrupt", () => {
    const rig = setup();
    const { uart, inb, irq } = rig;
    linuxPort(rig);
    uart.receiveBreak();
    expect(irq()).toBe(true);
    expect(inb(IIR)).toBe(IIR_FIFO | IIR_RLSI);
    expect(inb(LSR)).toBe(LSR_FIFOE | LSR_THRE | LSR_TEMT | LSR_BI | LSR_DR);
    expect(inb(LSR) & LSR_BI).toBe(0); // reading LSR cleared it
    uart.receive([0x41]);
    expect(inb(LSR) & LSR_BI).toBe(0); // and more input behind it does not bring it back
    expect(inb(RBR)).toBe(0);
    expect(inb(RBR)).toBe(0x41);
  });

  it("shows BI only when the break character reaches the top of the FIFO", () => {
    const rig = setup();
    const { uart, inb } = rig;
    linuxPort(rig);
    uart.receive([0x61, 0x62]);
    uart.receiveBreak();
    uart.receive([0x63]);
    // serial8250_rx_chars: read LSR, then RBR while LSR says DR or BI.
    const got: Array<[number, boolean]> = [];
    let lsr = inb(LSR);
    expect(lsr & (LSR_BI | LSR_FIFOE)).toBe(LSR_FIFOE); // a break is in the FIFO, not at the top
    for (let n = 0; n < 10 && lsr & (LSR_DR | LSR_BI); n++) {
      got.push([inb(RBR), (lsr & LSR_BI) !== 0]);
      lsr = inb(LSR);
    }
    expect(got).toEqual([
      [0x61, false],
      [0x62, false],
      [0x00, true],
      [0x63, false],
    ]);
  });

  it("queues a break behind waiting host input instead of overrunning", () => {
    const rig = setup();
    const { uart, inb } = rig;
    linuxPort(rig);
    uart.receive(new Array<number>(20).fill(0x2e));
    uart.receiveBreak();
    expect(uart.pendingInputLength).toBe(5);
    expect(inb(LSR) & (LSR_OE | LSR_BI)).toBe(0);
    let breaks = 0;
    let count = 0;
    for (let n = 0; n < 100; n++) {
      const lsr = inb(LSR);
      if (!(lsr & LSR_DR)) break;
      expect(lsr & LSR_OE).toBe(0);
      if (lsr & LSR_BI) breaks++;
      count++;
      inb(RBR);
    }
    expect([count, breaks]).toEqual([21, 1]);
  });
});

describe("Uart16550 save and restore", () => {
  function busyPort() {
    const rig = setup();
    const { uart, out } = rig;
    linuxPort(rig, IER_RDI | IER_RLSI | IER_THRI | IER_MSI);
    out(SCR, 0x5c);
    out(LCR, LCR_DLAB | LCR_WLEN8);
    out(RBR, 0x0c);
    out(LCR, LCR_WLEN8);
    uart.receive([0x70, 0x71]);
    uart.receiveBreak();
    uart.receive(Array.from({ length: 20 }, (_, i) => 0x41 + i));
    return rig;
  }

  /** What the guest sees draining the port: IIR, LSR and MSR before each RBR read. */
  function drain(rig: Rig): number[][] {
    const seen: number[][] = [];
    for (let n = 0; n < 100; n++) {
      const status = [rig.inb(IIR), rig.inb(LSR), rig.inb(MSR)];
      if (!(status[1]! & LSR_DR)) break;
      seen.push([...status, rig.inb(RBR)]);
    }
    seen.push([rig.inb(IIR)]);
    return seen;
  }

  it("round-trips through JSON with bytes in the FIFO and host input waiting", () => {
    const a = busyPort();
    const saved = a.uart.save();
    expect(saved.rxFifo.length).toBe(16);
    expect(saved.pendingInput.length).toBe(7);
    const b = setup();
    restoreComponent(b.uart, JSON.parse(JSON.stringify(saved)) as unknown);
    expect(b.irqChanges).toEqual([a.irq()]);
    expect(b.uart.save()).toEqual(saved);
    expect(b.uart.baudRate).toBe(9600);
    expect(b.inb(SCR)).toBe(0x5c);
    const fromA = drain(a);
    expect(fromA.length).toBe(2 + 1 + 20 + 1); // the characters, then the final IIR
    expect(drain(b)).toEqual(fromA);
  });

  it("drives the IRQ line on restore even when the level does not change", () => {
    const b = setup();
    restoreComponent(b.uart, setup().uart.save());
    expect(b.irqChanges).toEqual([false]);
  });

  type Mutation = [string, (s: UartState) => void, ErrorConstructor, RegExp];
  const sparse = (length: number, ...items: Array<[number, number]>) => {
    const array = new Array<number>(length);
    for (const [i, value] of items) array[i] = value;
    return array;
  };
  const set = (key: string, value: unknown) => (s: UartState) => Object.assign(s, { [key]: value });
  const cases: Mutation[] = [
    ["version", set("version", 2), RangeError, /version 2 is not supported/],
    ["version", set("version", undefined), TypeError, /version must be a number/],
    ["divisorLatch", set("divisorLatch", 0x10000), RangeError, /divisorLatch must be in/],
    ["ier", set("ier", 0x10), RangeError, /ier must be in \[0, 15\]/],
    ["lcr", set("lcr", "3"), TypeError, /lcr must be an integer, got "3"/],
    ["mcr", set("mcr", 0x20), RangeError, /mcr must be in/],
    ["scratch", set("scratch", -1), RangeError, /scratch must be in/],
    ["fifoEnabled", set("fifoEnabled", 1), TypeError, /fifoEnabled must be a boolean/],
    ["rxTriggerLevel", set("rxTriggerLevel", 2), RangeError, /rxTriggerLevel must be 1, 4/],
    ["lineErrors", set("lineErrors", 0x01), RangeError, /lineErrors may hold only/],
    ["lineErrors", set("lineErrors", NaN), TypeError, /lineErrors must be an integer, got NaN/],
    ["modemDeltas", set("modemDeltas", 0x10), RangeError, /modemDeltas must be in/],
    ["thrEmptyInterrupt", set("thrEmptyInterrupt", "no"), TypeError, /thrEmptyInterrupt/],
    [
      "rxFifo",
      set("rxFifo", new Array<number>(17).fill(0)),
      RangeError,
      /rxFifo must hold 0\.\.16/,
    ],
    ["rxFifo", set("rxFifo", { length: 1 }), TypeError, /rxFifo must be an array/],
    ["rxFifo", set("rxFifo", [1, 0x101]), RangeError, /rxFifo\[1\] must be in \[0, 256\]/],
    ["pendingInput", set("pendingInput", [1, 2.5]), TypeError, /pendingInput\[1\] must be an/],
    [
      "pendingInput",
      set("pendingInput", sparse(3, [0, 1], [2, 3])),
      TypeError,
      /pendingInput\[1\] must be an/,
    ],
    // Fields in range that contradict each other:
    [
      "rxFifo",
      (s) => Object.assign(s, { fifoEnabled: false, rxFifo: [1, 2] }),
      RangeError,
      /rxFifo must hold 0\.\.1/,
    ],
    ["pendingInput", (s) => s.rxFifo.pop(), RangeError, /pendingInput must be empty while/],
    ["thrEmptyInterrupt", (s) => (s.ier = 0), RangeError, /thrEmptyInterrupt is set while/],
  ];

  it.each(cases)(
    "rejects a bad %s and leaves the UART unchanged",
    (_field, mutate, type, message) => {
      const rig = busyPort();
      rig.inb(IIR); // consumes nothing: received data outranks THRE
      rig.out(RBR, 0x21); // makes sure a THRE interrupt is pending for the last case
      const before = rig.uart.save();
      expect(before.thrEmptyInterrupt).toBe(true);
      const bad = structuredClone(before);
      mutate(bad);
      rig.irqChanges.length = 0;
      expect(() => restoreComponent(rig.uart, bad)).toThrow(type);
      expect(() => restoreComponent(rig.uart, bad)).toThrow(message);
      expect(rig.uart.save()).toEqual(before);
      expect(rig.irqChanges).toEqual([]);
    },
  );

  it("rejects a state that is not an object", () => {
    const { uart } = setup();
    for (const bad of [null, [], "state", 3]) {
      expect(() => restoreComponent(uart, bad)).toThrow(/UART state must be an object/);
    }
  });
});
