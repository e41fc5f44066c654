// National Semiconductor NS16550A UART, as wired on PCs (COM1: ports
// 0x3F8-0x3FF, IRQ4, the interrupt gated by MCR.OUT2). Transmission is
// instantaneous: a byte written to THR reaches onTransmit at once and THR is
// empty again, so there is no baud-rate timing and no transmit FIFO to model.
import type { IoBus } from "../../platform/io-bus.ts";
import type { Stateful } from "../../platform/stateful.ts";
import { byteRegisterPorts } from "../byte-ports.ts";
import { UNCONNECTED, type IrqLine } from "../irq.ts";
import { CharQueue } from "./char-queue.ts";
import {
  BREAK,
  parseUartState,
  RX_FIFO_SIZE,
  RX_TRIGGER_LEVELS,
  UART_STATE_VERSION,
  type RxTriggerLevel,
  type UartState,
} from "./state.ts";

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;
export const UART_PORT_COUNT = 8;

// Register offsets from the base port.
const REG_DATA = 0; // RBR (read) / THR (write); DLL while LCR.DLAB
const REG_IER = 1; // DLM while LCR.DLAB
const REG_IIR_FCR = 2; // IIR (read) / FCR (write)
const REG_LCR = 3;
const REG_MCR = 4;
const REG_LSR = 5;
const REG_MSR = 6;
const REG_SCRATCH = 7;

const IER_RX_DATA = 0x01;
const IER_THR_EMPTY = 0x02;
const IER_LINE_STATUS = 0x04;
const IER_MODEM_STATUS = 0x08;

// IIR interrupt identification codes, highest priority first.
export const IIR_LINE_STATUS = 0x06;
export const IIR_RX_DATA = 0x04;
export const IIR_RX_TIMEOUT = 0x0c;
export const IIR_THR_EMPTY = 0x02;
export const IIR_MODEM_STATUS = 0x00;
export const IIR_NO_INTERRUPT = 0x01;
const IIR_FIFOS_ENABLED = 0xc0;

const FCR_ENABLE = 0x01;
const FCR_CLEAR_RX = 0x02;

const LCR_DLAB = 0x80;

const MCR_DTR = 0x01;
const MCR_RTS = 0x02;
const MCR_OUT1 = 0x04;
const MCR_OUT2 = 0x08;
const MCR_LOOPBACK = 0x10;

export const LSR_DATA_READY = 0x01;
export const LSR_OVERRUN = 0x02;
export const LSR_BREAK = 0x10;
export const LSR_THR_EMPTY = 0x20;
export const LSR_TX_EMPTY = 0x40;
const LSR_FIFO_ERROR = 0x80;
const LSR_ERROR_BITS = 0x1e; // OE | PE | FE | BI
const LSR_CHAR_ERRORS = 0x1c; // PE | FE | BI: they travel with a character through the FIFO

const MSR_CTS = 0x10;
const MSR_DSR = 0x20;
const MSR_RI = 0x40;
const MSR_DCD = 0x80;

export interface UartOptions {
  /** The interrupt line (IRQ4 for COM1). */
  irq?: IrqLine;
  /** Receives each byte the guest transmits (not called in loopback mode). */
  onTransmit?: (byte: number) => void;
}

export class Uart16550 implements Stateful<UartState> {
  readonly stateId = "uart";
  private readonly irq: IrqLine;
  private readonly onTransmit: (byte: number) => void;

  private divisorLatch = 1;
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private scratch = 0;
  private fifoEnabled = false;
  private rxTriggerLevel: RxTriggerLevel = 1;
  private lineErrors = 0;
  private thrEmptyInterrupt = false;
  private modemDeltas = 0;
  private readonly rxFifo = new CharQueue();
  private readonly pendingInput = new CharQueue();
  private irqLevel = false;

  constructor(options: UartOptions = {}) {
    this.irq = options.irq ?? UNCONNECTED;
    this.onTransmit = options.onTransmit ?? (() => {});
  }

  attach(bus: IoBus, base = COM1_BASE): void {
    bus.register(base, UART_PORT_COUNT, byteRegisterPorts(base, UART_PORT_COUNT, this));
  }

  /** Queues host input (a keyboard, a paste); it enters the receiver as the guest makes room. */
  receive(bytes: ArrayLike<number>): void {
    const chars = new Array<number>(bytes.length);
    for (let i = 0; i < bytes.length; i++) chars[i] = bytes[i]! & 0xff;
    this.pendingInput.push(chars);
    this.fillReceiverFromInput();
    this.updateIrq();
  }

  /** How many more bytes receive() can take before they have to wait in the host queue. */
  rxSpace(): number {
    return Math.max(0, this.rxCapacity() - this.rxFifo.length - this.pendingInput.length);
  }

  /** Host input not yet in the receiver. */
  get pendingInputLength(): number {
    return this.pendingInput.length;
  }

  /**
   * A break condition on the line: a zero character carrying LSR.BI, as the
   * datasheet describes. It queues behind host input already waiting, so it
   * neither overtakes nor overruns it.
   */
  receiveBreak(): void {
    this.pendingInput.push([BREAK]);
    this.fillReceiverFromInput();
    this.updateIrq();
  }

  /** Baud rate from the divisor latch (1.8432 MHz / 16 / divisor); 0 while the divisor is 0. */
  get baudRate(): number {
    return this.divisorLatch === 0 ? 0 : 115200 / this.divisorLatch;
  }

  readRegister(offset: number): number {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case REG_DATA:
        return dlab ? this.divisorLatch & 0xff : this.readReceiveBuffer();
      case REG_IER:
        return dlab ? this.divisorLatch >> 8 : this.ier;
      case REG_IIR_FCR:
        return this.readInterruptId();
      case REG_LCR:
        return this.lcr;
      case REG_MCR:
        return this.mcr;
      case REG_LSR:
        return this.readLineStatus();
      case REG_MSR:
        return this.readModemStatus();
      case REG_SCRATCH:
        return this.scratch;
      default:
        return 0xff;
    }
  }

  writeRegister(offset: number, value: number): void {
    const dlab = (this.lcr & LCR_DLAB) !== 0;
    switch (offset) {
      case REG_DATA:
        if (dlab) this.divisorLatch = (this.divisorLatch & 0xff00) | value;
        else this.transmit(value);
        break;
      case REG_IER:
        if (dlab) this.divisorLatch = (this.divisorLatch & 0xff) | (value << 8);
        else this.writeInterruptEnable(value);
        break;
      case REG_IIR_FCR:
        this.writeFifoControl(value);
        break;
      case REG_LCR:
        this.lcr = value;
        break;
      case REG_MCR:
        this.writeModemControl(value);
        break;
      case REG_SCRATCH:
        this.scratch = value;
        break;
      // LSR and MSR writes are factory-test only; ignored.
    }
  }

  save(): UartState {
    return {
      version: UART_STATE_VERSION,
      divisorLatch: this.divisorLatch,
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      scratch: this.scratch,
      fifoEnabled: this.fifoEnabled,
      rxTriggerLevel: this.rxTriggerLevel,
      lineErrors: this.lineErrors,
      thrEmptyInterrupt: this.thrEmptyInterrupt,
      modemDeltas: this.modemDeltas,
      rxFifo: this.rxFifo.toArray(),
      pendingInput: this.pendingInput.toArray(),
    };
  }

  /** Checks a saved state; what it returns replaces the device state. */
  prepareRestore(state: unknown): () => void {
    const s = parseUartState(state);
    return () => this.apply(s);
  }

  private apply(s: UartState): void {
    this.divisorLatch = s.divisorLatch;
    this.ier = s.ier;
    this.lcr = s.lcr;
    this.mcr = s.mcr;
    this.scratch = s.scratch;
    this.fifoEnabled = s.fifoEnabled;
    this.rxTriggerLevel = s.rxTriggerLevel;
    this.lineErrors = s.lineErrors;
    this.thrEmptyInterrupt = s.thrEmptyInterrupt;
    this.modemDeltas = s.modemDeltas;
    this.rxFifo.clear();
    this.rxFifo.push(s.rxFifo);
    this.pendingInput.clear();
    this.pendingInput.push(s.pendingInput);
    // Drive the line unconditionally: the controller may have been restored separately.
    this.irqLevel = this.computeIrqLevel();
    this.irq.set(this.irqLevel);
  }

  private rxCapacity(): number {
    return this.fifoEnabled ? RX_FIFO_SIZE : 1;
  }

  private isLoopback(): boolean {
    return (this.mcr & MCR_LOOPBACK) !== 0;
  }

  private transmit(byte: number): void {
    this.thrEmptyInterrupt = false;
    // In loopback the serial output is held marking and the byte returns to the receiver.
    if (this.isLoopback()) this.receiveFromLine(byte);
    else this.onTransmit(byte);
    // The byte left at once, so THR is empty again: that is a new THRE event.
    if (this.ier & IER_THR_EMPTY) this.thrEmptyInterrupt = true;
    this.updateIrq();
  }

  /** A character arriving on the line (loopback): a full receiver overruns. */
  private receiveFromLine(char: number): void {
    if (this.rxFifo.length < this.rxCapacity()) {
      this.pushReceived(char);
    } else {
      this.lineErrors |= LSR_OVERRUN;
      // Without FIFOs the new character overwrites the holding register; with them it is lost.
      if (!this.fifoEnabled) {
        this.rxFifo.clear();
        this.pushReceived(char);
      }
    }
  }

  private pushReceived(char: number): void {
    this.rxFifo.push([char]);
    if (this.rxFifo.length === 1) this.revealTopErrors();
  }

  /**
   * PE/FE/BI belong to one character: the datasheet shows them in LSR only
   * once that character is at the top of the FIFO, so Linux's read of LSR
   * then RBR pairs the break with the right (zero) byte.
   */
  private revealTopErrors(): void {
    if (this.rxFifo.at(0) === BREAK) this.lineErrors |= LSR_BREAK;
  }

  /** Host input waits for room instead of overrunning; the receiver is cut off in loopback. */
  private fillReceiverFromInput(): void {
    if (this.isLoopback()) return;
    while (this.pendingInput.length > 0 && this.rxFifo.length < this.rxCapacity()) {
      this.pushReceived(this.pendingInput.shift());
    }
  }

  private readReceiveBuffer(): number {
    if (this.rxFifo.length === 0) return 0;
    const char = this.rxFifo.shift();
    this.revealTopErrors();
    this.fillReceiverFromInput();
    this.updateIrq();
    return char & 0xff;
  }

  private writeInterruptEnable(value: number): void {
    const wasEnabled = (this.ier & IER_THR_EMPTY) !== 0;
    this.ier = value & 0x0f;
    const enabled = (this.ier & IER_THR_EMPTY) !== 0;
    // THR is always empty here, so enabling ETBEI raises THRE at once (Linux's 8250 relies on it).
    if (enabled && !wasEnabled) this.thrEmptyInterrupt = true;
    if (!enabled) this.thrEmptyInterrupt = false;
    this.updateIrq();
  }

  private writeFifoControl(value: number): void {
    const enable = (value & FCR_ENABLE) !== 0;
    // Switching FIFO mode on or off empties the FIFOs.
    if (enable !== this.fifoEnabled) this.rxFifo.clear();
    this.fifoEnabled = enable;
    // The other FCR bits are only programmed while FCR0 is written as 1.
    if (enable) {
      if (value & FCR_CLEAR_RX) this.rxFifo.clear();
      this.rxTriggerLevel = RX_TRIGGER_LEVELS[value >> 6]!;
    }
    this.fillReceiverFromInput();
    this.updateIrq();
  }

  private writeModemControl(value: number): void {
    const before = this.modemInputs();
    this.mcr = value & 0x1f;
    const after = this.modemInputs();
    const changed = before ^ after;
    if (changed & MSR_CTS) this.modemDeltas |= 0x01;
    if (changed & MSR_DSR) this.modemDeltas |= 0x02;
    if (before & MSR_RI & ~after) this.modemDeltas |= 0x04; // trailing edge of RI only
    if (changed & MSR_DCD) this.modemDeltas |= 0x08;
    this.fillReceiverFromInput();
    this.updateIrq();
  }

  /** The modem inputs: a host that is always ready, or in loopback the MCR outputs. */
  private modemInputs(): number {
    if (!this.isLoopback()) return MSR_CTS | MSR_DSR | MSR_DCD;
    return (
      (this.mcr & MCR_RTS ? MSR_CTS : 0) |
      (this.mcr & MCR_DTR ? MSR_DSR : 0) |
      (this.mcr & MCR_OUT1 ? MSR_RI : 0) |
      (this.mcr & MCR_OUT2 ? MSR_DCD : 0)
    );
  }

  private readLineStatus(): number {
    let status = this.lineErrors | LSR_THR_EMPTY | LSR_TX_EMPTY;
    if (this.rxFifo.length > 0) status |= LSR_DATA_READY;
    // LSR7: an error shown now, or one still behind it in the FIFO (not OE, which has no character).
    if (this.fifoEnabled && (this.lineErrors & LSR_CHAR_ERRORS || this.rxFifo.includes(BREAK, 1))) {
      status |= LSR_FIFO_ERROR;
    }
    this.lineErrors = 0; // reading LSR clears the error bits and the line-status interrupt
    this.updateIrq();
    return status;
  }

  private readModemStatus(): number {
    const status = this.modemInputs() | this.modemDeltas;
    this.modemDeltas = 0;
    this.updateIrq();
    return status;
  }

  private readInterruptId(): number {
    const id = this.pendingInterrupt();
    // Reading IIR while it reports THRE acknowledges that interrupt.
    if (id === IIR_THR_EMPTY) {
      this.thrEmptyInterrupt = false;
      this.updateIrq();
    }
    return id | (this.fifoEnabled ? IIR_FIFOS_ENABLED : 0);
  }

  /** The highest-priority enabled interrupt condition. */
  private pendingInterrupt(): number {
    if (this.ier & IER_LINE_STATUS && this.lineErrors & LSR_ERROR_BITS) return IIR_LINE_STATUS;
    if (this.ier & IER_RX_DATA && this.rxFifo.length > 0) {
      if (!this.fifoEnabled || this.rxFifo.length >= this.rxTriggerLevel) return IIR_RX_DATA;
      // Below the trigger level real hardware waits four character times before
      // a timeout interrupt; with instantaneous characters we report it at once.
      return IIR_RX_TIMEOUT;
    }
    if (this.ier & IER_THR_EMPTY && this.thrEmptyInterrupt) return IIR_THR_EMPTY;
    if (this.ier & IER_MODEM_STATUS && this.modemDeltas) return IIR_MODEM_STATUS;
    return IIR_NO_INTERRUPT;
  }

  private computeIrqLevel(): boolean {
    // On PCs OUT2 enables the IRQ driver; in loopback the OUT2 pin is forced inactive.
    if ((this.mcr & (MCR_OUT2 | MCR_LOOPBACK)) !== MCR_OUT2) return false;
    return this.pendingInterrupt() !== IIR_NO_INTERRUPT;
  }

  private updateIrq(): void {
    const level = this.computeIrqLevel();
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq.set(level);
    }
  }
}
