// One Intel 8259A programmable interrupt controller, as seen through its two
// ports (A0 = 0: command/status, A0 = 1: data/mask). The pair in device.ts
// cascades two of these and adds the ELCR.
import type { PicChipState } from "./state.ts";

const ICW1_IC4 = 0x01; // ICW4 will follow
const ICW1_SINGLE = 0x02; // no cascade, so no ICW3
const ICW1_LTIM = 0x08; // level-triggered inputs
const ICW1_SELECT = 0x10; // marks an ICW1 write
const ICW4_AUTO_EOI = 0x02;
const ICW4_SPECIAL_FULLY_NESTED = 0x10;

/** Rank of `irq` under the rotation: 0 is the highest priority, 7 the lowest. */
function rank(irq: number, lowestPriority: number): number {
  return (irq - lowestPriority - 1) & 7;
}

/** The highest-priority IR level set in `bits`, or -1. */
function highestPriority(bits: number, lowestPriority: number): number {
  for (let step = 1; step <= 8; step++) {
    const irq = (lowestPriority + step) & 7;
    if (bits & (1 << irq)) return irq;
  }
  return -1;
}

function isCascade(s: PicChipState, irq: number): boolean {
  return (s.icw1 & ICW1_SINGLE) === 0 && (s.icw3 & (1 << irq)) !== 0;
}

function levelInputsOf(s: PicChipState, elcr: number, forced: number): number {
  return (s.icw1 & ICW1_LTIM ? 0xff : 0) | elcr | forced;
}

/** The IR level the priority resolver would hand to an INTA now, or -1. */
function pendingIrqOf(s: PicChipState): number {
  const { irr, imr, isr, lowestPriority } = s;
  const request = highestPriority(irr & ~imr & 0xff, lowestPriority);
  if (request < 0) return -1;
  // Special mask mode: masked levels in service stop inhibiting lower ones.
  const inService = highestPriority(s.specialMask ? isr & ~imr : isr, lowestPriority);
  if (inService < 0 || rank(request, lowestPriority) < rank(inService, lowestPriority)) {
    return request;
  }
  // Special fully nested: a slave may interrupt again while its cascade level is in service.
  const sfnm = (s.icw4 & ICW4_SPECIAL_FULLY_NESTED) !== 0;
  if (sfnm && request === inService && isCascade(s, request)) return request;
  return -1;
}

export class Pic8259Chip {
  private s: PicChipState = Pic8259Chip.resetState();
  /** Inputs that are level-sensitive whatever ICW1/ELCR say (the master's cascade input). */
  private readonly forcedLevelInputs: number;
  private elcr = 0;
  private intOutput = false;

  constructor(
    private readonly onOutput: (level: boolean) => void,
    forcedLevelInputs = 0,
  ) {
    this.forcedLevelInputs = forcedLevelInputs;
  }

  static resetState(): PicChipState {
    return {
      irr: 0,
      isr: 0,
      imr: 0xff, // every input masked until software programs the chip
      lines: 0,
      icw1: 0,
      vectorBase: 0,
      icw3: 0,
      icw4: 0,
      initStep: 0,
      lowestPriority: 7,
      readIsr: false,
      pollPending: false,
      specialMask: false,
      rotateOnAutoEoi: false,
    };
  }

  /**
   * Checks the relations between fields that a running chip always keeps;
   * throws a RangeError naming the field. `elcr` and `forced` as for the chip.
   */
  static checkConsistent(s: PicChipState, elcr: number, forced: number, where: string): void {
    if (s.icw1 !== 0 && !(s.icw1 & ICW1_SELECT)) {
      throw new RangeError(`${where}.icw1 must have bit 4 set once written, got ${s.icw1}`);
    }
    if (s.initStep === 3 && s.icw1 & ICW1_SINGLE) {
      throw new RangeError(`${where}.initStep 3 (ICW3) needs cascade mode in icw1`);
    }
    if (s.initStep === 4 && !(s.icw1 & ICW1_IC4)) {
      throw new RangeError(`${where}.initStep 4 (ICW4) needs IC4 in icw1`);
    }
    // A request is only ever held while its input is high (edge or level).
    if (s.irr & ~s.lines) {
      throw new RangeError(`${where}.irr has requests on inputs that are low (lines=${s.lines})`);
    }
    const level = levelInputsOf(s, elcr, forced);
    if ((s.irr ^ s.lines) & level) {
      throw new RangeError(`${where}.irr must follow lines on level-triggered inputs`);
    }
  }

  /** The INT output a chip in state `s` drives. */
  static outputOf(s: PicChipState): boolean {
    return pendingIrqOf(s) >= 0;
  }

  /** INT output: a request that beats everything in service. */
  get output(): boolean {
    return this.intOutput;
  }

  get vectorBase(): number {
    return this.s.vectorBase;
  }

  /** True when IR `irq` has a slave behind it (cascade mode and ICW3 names it). */
  isCascadeInput(irq: number): boolean {
    return isCascade(this.s, irq);
  }

  private levelInputs(): number {
    return levelInputsOf(this.s, this.elcr, this.forcedLevelInputs);
  }

  setElcr(value: number): void {
    this.elcr = value & 0xff;
    this.syncLevelInputs();
    this.update();
  }

  /** A device drives IR `irq`. Edge inputs latch on low-to-high; level inputs follow the line. */
  setInput(irq: number, level: boolean): void {
    const bit = 1 << irq;
    const wasHigh = (this.s.lines & bit) !== 0;
    this.s.lines = level ? this.s.lines | bit : this.s.lines & ~bit;
    if (!level) {
      // The request latch is transparent: an input that falls before INTA withdraws
      // its request in both modes (the datasheet's "default IR7" case).
      this.s.irr &= ~bit;
    } else if (this.levelInputs() & bit || !wasHigh) {
      this.s.irr |= bit;
    }
    this.update();
  }

  private syncLevelInputs(): void {
    const level = this.levelInputs();
    this.s.irr = (this.s.irr & ~level) | (this.s.lines & level);
  }

  private update(): void {
    const level = pendingIrqOf(this.s) >= 0;
    if (level !== this.intOutput) {
      this.intOutput = level;
      this.onOutput(level);
    }
  }

  /**
   * The INTA cycle (or a poll read): moves the winning request from IRR to ISR
   * and returns its IR level, or -1 when the request went away (spurious IR7).
   */
  acknowledgeLevel(): number {
    const irq = pendingIrqOf(this.s);
    if (irq < 0) return -1;
    const bit = 1 << irq;
    if (!(this.levelInputs() & bit)) this.s.irr &= ~bit;
    if (!(this.s.icw4 & ICW4_AUTO_EOI)) this.s.isr |= bit;
    else if (this.s.rotateOnAutoEoi) this.s.lowestPriority = irq;
    this.update();
    return irq;
  }

  read(a0: number): number {
    if (this.s.pollPending) {
      // Poll mode: this read is the acknowledge; bit 7 says whether anything was pending.
      this.s.pollPending = false;
      const irq = this.acknowledgeLevel();
      return irq < 0 ? 0 : 0x80 | irq;
    }
    if (a0) return this.s.imr;
    return this.s.readIsr ? this.s.isr : this.s.irr;
  }

  write(a0: number, value: number): void {
    value &= 0xff;
    if (!a0 && value & ICW1_SELECT) this.writeIcw1(value);
    else if (!a0) {
      if (value & 0x08) this.writeOcw3(value);
      else this.writeOcw2(value);
    } else if (this.s.initStep) this.writeInitWord(value);
    else this.s.imr = value; // OCW1
    this.update();
  }

  private writeIcw1(value: number): void {
    // Initialization resets everything the datasheet lists: masks, priority,
    // special mask, status read, and the edge latches (a new rising edge is needed).
    const lines = this.s.lines;
    this.s = { ...Pic8259Chip.resetState(), imr: 0, lines, icw1: value, initStep: 2 };
    this.syncLevelInputs();
  }

  private writeInitWord(value: number): void {
    const needsIcw3 = (this.s.icw1 & ICW1_SINGLE) === 0;
    const needsIcw4 = (this.s.icw1 & ICW1_IC4) !== 0;
    if (this.s.initStep === 2) {
      this.s.vectorBase = value & 0xf8; // x86 mode: the low three bits are the IR level
      this.s.initStep = needsIcw3 ? 3 : needsIcw4 ? 4 : 0;
    } else if (this.s.initStep === 3) {
      this.s.icw3 = value;
      this.s.initStep = needsIcw4 ? 4 : 0;
    } else {
      this.s.icw4 = value;
      this.s.initStep = 0;
    }
  }

  private writeOcw2(value: number): void {
    const rotate = (value & 0x80) !== 0;
    const specific = (value & 0x40) !== 0;
    const eoi = (value & 0x20) !== 0;
    const level = value & 7;
    if (eoi) {
      // In special mask mode a non-specific EOI skips in-service levels that are masked.
      const candidates = this.s.specialMask ? this.s.isr & ~this.s.imr : this.s.isr;
      const irq = specific ? level : highestPriority(candidates, this.s.lowestPriority);
      if (irq < 0) return; // non-specific EOI with nothing in service
      this.s.isr &= ~(1 << irq);
      if (rotate) this.s.lowestPriority = irq;
    } else if (specific) {
      if (rotate) this.s.lowestPriority = level; // set priority; R=0 is a no-op
    } else {
      this.s.rotateOnAutoEoi = rotate;
    }
  }

  private writeOcw3(value: number): void {
    if (value & 0x40) this.s.specialMask = (value & 0x20) !== 0;
    if (value & 0x04) this.s.pollPending = true;
    if (value & 0x02) this.s.readIsr = (value & 0x01) !== 0;
  }

  save(): PicChipState {
    return { ...this.s };
  }

  /** Applies an already validated state; the caller syncs outputs afterwards. */
  restore(state: PicChipState, elcr: number): void {
    this.s = { ...state };
    this.elcr = elcr & 0xff;
    this.intOutput = pendingIrqOf(this.s) >= 0;
  }
}
