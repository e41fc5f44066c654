// The PC's two cascaded 8259A PICs: the master at 0x20/0x21 (IRQ0-7), the
// slave at 0xA0/0xA1 (IRQ8-15) wired to the master's IR2, and the PIIX-style
// edge/level control registers (ELCR) at 0x4D0/0x4D1.
import type { IrqLine } from "../irq.ts";
import type { IoBus } from "../../platform/io-bus.ts";
import { byteRegisterPorts } from "../byte-ports.ts";
import { Pic8259Chip } from "./chip.ts";
import type { Stateful } from "../../platform/stateful.ts";
import { PIC_STATE_VERSION, validatePicState, type PicState } from "./state.ts";

export const PIC_MASTER_PORT = 0x20;
export const PIC_SLAVE_PORT = 0xa0;
export const ELCR_PORT = 0x4d0;
export const CASCADE_IRQ = 2;

// IRQ0-2 (timer, keyboard, cascade) and IRQ8/13 (RTC, FPU) are always edge on
// the PIIX; their ELCR bits read as zero.
const ELCR_WRITABLE = [0xf8, 0xde] as const;

export class DualPic implements Stateful<PicState> {
  readonly stateId = "pic";
  /** The master's INT output; the machine wires it to the CPU's interrupt pin. */
  onIntr: (level: boolean) => void = () => {};

  private readonly master: Pic8259Chip;
  private readonly slave: Pic8259Chip;
  private readonly elcr: [number, number] = [0, 0];

  constructor() {
    this.master = new Pic8259Chip((level) => this.onIntr(level), 1 << CASCADE_IRQ);
    // The slave's INT is a level into the master's IR2, so a slave that stays
    // asserted after an acknowledge is not lost to a missing edge.
    this.slave = new Pic8259Chip((level) => this.master.setInput(CASCADE_IRQ, level));
  }

  /** The request line for ISA IRQ `irq` (0-15, except the cascade IRQ2). */
  line(irq: number): IrqLine {
    if (!Number.isInteger(irq) || irq < 0 || irq > 15 || irq === CASCADE_IRQ) {
      throw new RangeError(`no PIC input for IRQ ${irq} (IRQ2 is the cascade; use IRQ9)`);
    }
    const chip = irq < 8 ? this.master : this.slave;
    const input = irq & 7;
    return { set: (level: boolean) => chip.setInput(input, level) };
  }

  /** Level of the INT output to the CPU. */
  get intr(): boolean {
    return this.master.output;
  }

  /**
   * The CPU's interrupt acknowledge: the vector of the highest-priority request.
   * A request that vanished yields the spurious vector of IR7 (IRQ7 or IRQ15)
   * without setting its in-service bit.
   */
  acknowledge(): number {
    const irq = this.master.acknowledgeLevel();
    if (irq < 0) return this.master.vectorBase | 7;
    if (!this.master.isCascadeInput(irq)) return this.master.vectorBase | irq;
    const slaveIrq = this.slave.acknowledgeLevel();
    return this.slave.vectorBase | (slaveIrq < 0 ? 7 : slaveIrq);
  }

  attach(io: IoBus): void {
    // The 8259A and the ELCR are byte registers on the ISA bus: a wider access
    // touches consecutive ports, as byte cycles would.
    for (const [base, chip] of [
      [PIC_MASTER_PORT, this.master],
      [PIC_SLAVE_PORT, this.slave],
    ] as const) {
      io.register(
        base,
        2,
        byteRegisterPorts(base, 2, {
          readRegister: (offset) => chip.read(offset),
          writeRegister: (offset, value) => chip.write(offset, value),
        }),
      );
    }
    io.register(
      ELCR_PORT,
      2,
      byteRegisterPorts(ELCR_PORT, 2, {
        readRegister: (offset) => this.elcr[offset]!,
        writeRegister: (offset, value) => this.writeElcr(offset, value),
      }),
    );
  }

  private writeElcr(index: number, value: number): void {
    this.elcr[index] = value & ELCR_WRITABLE[index]!;
    (index === 0 ? this.master : this.slave).setElcr(this.elcr[index]!);
  }

  save(): PicState {
    return {
      version: PIC_STATE_VERSION,
      master: this.master.save(),
      slave: this.slave.save(),
      elcr: [this.elcr[0], this.elcr[1]],
    };
  }

  /** Throws TypeError/RangeError on a malformed state, leaving the PICs as they were. */
  prepareRestore(state: unknown): () => void {
    const valid = validatePicState(state, ELCR_WRITABLE);
    Pic8259Chip.checkConsistent(valid.master, valid.elcr[0], 1 << CASCADE_IRQ, "PicState.master");
    Pic8259Chip.checkConsistent(valid.slave, valid.elcr[1], 0, "PicState.slave");
    const cascadeLine = (valid.master.lines & (1 << CASCADE_IRQ)) !== 0;
    if (cascadeLine !== Pic8259Chip.outputOf(valid.slave)) {
      throw new RangeError("PicState.master.lines bit 2 must match the slave's INT output");
    }
    return () => {
      this.elcr[0] = valid.elcr[0];
      this.elcr[1] = valid.elcr[1];
      this.master.restore(valid.master, this.elcr[0]);
      this.slave.restore(valid.slave, this.elcr[1]);
      this.onIntr(this.master.output);
    };
  }
}
