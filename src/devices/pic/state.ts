// Saved state of the 8259A pair: plain data, validated before any of it is applied.
import {
  expectBool,
  expectInt,
  expectIntArray,
  expectObject,
  expectVersion,
} from "../../platform/state-check.ts";

export const PIC_STATE_VERSION = 1;

/** One 8259A. Registers are 8-bit; `initStep` is the ICW expected next (0 = initialized). */
export interface PicChipState {
  irr: number;
  isr: number;
  imr: number;
  /** Input levels as the devices last drove them. */
  lines: number;
  icw1: number;
  vectorBase: number;
  icw3: number;
  icw4: number;
  initStep: 0 | 2 | 3 | 4;
  /** The IR level with the lowest priority (7 until rotated). */
  lowestPriority: number;
  readIsr: boolean;
  pollPending: boolean;
  specialMask: boolean;
  rotateOnAutoEoi: boolean;
}

export interface PicState {
  version: typeof PIC_STATE_VERSION;
  master: PicChipState;
  slave: PicChipState;
  /** Edge/level control registers (ports 0x4D0, 0x4D1). */
  elcr: [number, number];
}

function validateChip(value: unknown, where: string): PicChipState {
  const obj = expectObject(value, where);
  const byte = (key: string) => expectInt(obj, key, 0, 0xff, where);
  const initStep = expectInt(obj, "initStep", 0, 4, where);
  if (initStep === 1) throw new RangeError(`${where}.initStep must be 0, 2, 3 or 4, got 1`);
  const vectorBase = byte("vectorBase");
  if (vectorBase & 7) {
    throw new RangeError(`${where}.vectorBase must be a multiple of 8, got ${vectorBase}`);
  }
  return {
    irr: byte("irr"),
    isr: byte("isr"),
    imr: byte("imr"),
    lines: byte("lines"),
    icw1: byte("icw1"),
    vectorBase,
    icw3: byte("icw3"),
    icw4: byte("icw4"),
    initStep: initStep as PicChipState["initStep"],
    lowestPriority: expectInt(obj, "lowestPriority", 0, 7, where),
    readIsr: expectBool(obj, "readIsr", where),
    pollPending: expectBool(obj, "pollPending", where),
    specialMask: expectBool(obj, "specialMask", where),
    rotateOnAutoEoi: expectBool(obj, "rotateOnAutoEoi", where),
  };
}

/**
 * Checks the fields of a saved state and returns a fresh copy; throws
 * TypeError/RangeError naming the bad field. `elcrWritable` holds the bits
 * each ELCR can hold.
 */
export function validatePicState(
  value: unknown,
  elcrWritable: readonly [number, number] = [0xff, 0xff],
): PicState {
  const what = "PicState";
  const obj = expectObject(value, what);
  expectVersion(obj, PIC_STATE_VERSION, what);
  const elcr = expectIntArray(obj, "elcr", 0, 0xff, 2, 2, what, "bytes");
  elcr.forEach((byte, i) => {
    if (byte & ~elcrWritable[i]!) {
      throw new RangeError(`${what}.elcr[${i}] sets bits that are not writable: ${byte}`);
    }
  });
  return {
    version: PIC_STATE_VERSION,
    master: validateChip(obj.master, `${what}.master`),
    slave: validateChip(obj.slave, `${what}.slave`),
    elcr: [elcr[0]!, elcr[1]!],
  };
}
