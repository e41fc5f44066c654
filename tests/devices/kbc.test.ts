// The 8042 keyboard controller with nothing plugged in, through the port bus:
// the status register, the command byte, the self tests, the output port
// (gate A20 and the CPU reset line), the pulse commands, and save/restore.
import { describe, expect, it } from "vitest";
import { KeyboardController } from "../../src/devices/kbc/device.ts";
import { KBC_STATE_VERSION } from "../../src/devices/kbc/state.ts";
import { IoBus } from "../../src/platform/io-bus.ts";
import { restoreComponent } from "../../src/platform/stateful.ts";

const DATA = 0x60;
const COMMAND = 0x64;

const OBF = 0x01; // output buffer full
const SYS = 0x04; // system flag
const CMD = 0x08; // last write went to the command port
const UNLOCKED = 0x10;

/** A KBC on a bus, with a fake A20 gate and a count of reset pulses. */
function board(a20 = true) {
  const lines = { a20, resets: 0, a20Writes: [] as boolean[] };
  const kbc = new KeyboardController({
    onReset: () => lines.resets++,
    setA20: (enabled) => {
      lines.a20 = enabled;
      lines.a20Writes.push(enabled);
    },
    a20Enabled: () => lines.a20,
  });
  const io = new IoBus();
  kbc.attach(io);
  return {
    kbc,
    io,
    lines,
    status: () => io.read(COMMAND, 1),
    command: (value: number) => io.write(COMMAND, 1, value),
    data: () => io.read(DATA, 1),
    send: (value: number) => io.write(DATA, 1, value),
  };
}

describe("status register", () => {
  it("after power-on: system flag and key lock open, buffer empty", () => {
    const { status } = board();
    expect(status()).toBe(SYS | UNLOCKED);
  });

  it("bit 3 tells whether the last write went to the command or the data port", () => {
    const b = board();
    b.command(0xa7); // disable the mouse port: nothing to do here, but a command
    expect(b.status() & CMD).toBe(CMD);
    b.send(0xf4); // for the (absent) keyboard
    expect(b.status() & CMD).toBe(0);
  });

  it("output buffer full until the byte is read", () => {
    const b = board();
    b.command(0xaa);
    expect(b.status() & OBF).toBe(OBF);
    expect(b.status() & OBF).toBe(OBF); // reading the status does not empty it
    expect(b.data()).toBe(0x55);
    expect(b.status() & OBF).toBe(0);
  });

  it("the system flag follows bit 2 of the command byte", () => {
    const b = board();
    b.command(0x60);
    b.send(0x41);
    expect(b.status() & SYS).toBe(0);
    b.command(0x60);
    b.send(0x45);
    expect(b.status() & SYS).toBe(SYS);
  });
});

describe("commands", () => {
  it("0x20 reads and 0x60 writes the command byte", () => {
    const b = board();
    b.command(0x20);
    expect(b.data()).toBe(0x45); // translation, system flag, keyboard IRQ
    b.command(0x60);
    expect(b.status() & OBF).toBe(0); // waits for its parameter, answers nothing
    b.send(0x65);
    b.command(0x20);
    expect(b.data()).toBe(0x65);
  });

  it("a command aborts the one waiting for its parameter", () => {
    const b = board();
    b.command(0x60);
    b.command(0xaa);
    b.send(0x00); // not the command byte any more: goes to the keyboard
    expect(b.data()).toBe(0x55);
    b.command(0x20);
    expect(b.data()).toBe(0x45);
  });

  it("a data byte without a pending command changes nothing", () => {
    const b = board();
    b.send(0x00);
    b.send(0xfe);
    b.command(0x20);
    expect(b.data()).toBe(0x45);
    expect(b.lines.resets).toBe(0);
    expect(b.lines.a20Writes).toEqual([]);
  });

  it("0xAA self test answers 0x55, 0xAB interface test 0x00", () => {
    const b = board();
    b.command(0xaa);
    expect(b.data()).toBe(0x55);
    b.command(0xab);
    expect(b.status() & OBF).toBe(OBF);
    expect(b.data()).toBe(0x00);
  });

  it("0xD0 reads the output port: reset line high, A20 as the gate is", () => {
    const on = board(true);
    on.command(0xd0);
    expect(on.data() & 0x03).toBe(0x03);
    const off = board(false);
    off.command(0xd0);
    expect(off.data() & 0x03).toBe(0x01);
  });

  it("0xD1 writes the output port: bit 1 gates A20", () => {
    const b = board(true);
    b.command(0xd1);
    expect(b.lines.a20Writes).toEqual([]); // nothing until the parameter
    b.send(0xdd); // bit 1 clear, bit 0 (reset) high
    expect(b.lines.a20).toBe(false);
    b.command(0xd0);
    expect(b.data() & 0x02).toBe(0);
    b.command(0xd1);
    b.send(0xdf);
    expect(b.lines.a20).toBe(true);
    b.command(0xd0);
    expect(b.data() & 0x02).toBe(0x02);
    expect(b.lines.resets).toBe(0);
  });

  it("0xD1 with bit 0 clear resets the CPU", () => {
    const b = board(false);
    b.command(0xd1);
    b.send(0x02);
    expect(b.lines.resets).toBe(1);
    expect(b.lines.a20).toBe(true);
  });

  it("0xDD and 0xDF turn A20 off and on", () => {
    const b = board(true);
    b.command(0xdd);
    expect(b.lines.a20).toBe(false);
    b.command(0xdf);
    expect(b.lines.a20).toBe(true);
    expect(b.lines.resets).toBe(0);
  });

  it("0xFE pulses the reset line", () => {
    const b = board();
    b.command(0xfe);
    expect(b.lines.resets).toBe(1);
  });

  it("0xF0-0xFF reset exactly when bit 0 of the command is clear", () => {
    for (let command = 0xf0; command <= 0xff; command++) {
      const b = board();
      b.command(command);
      expect(b.lines.resets, `command 0x${command.toString(16)}`).toBe(command & 1 ? 0 : 1);
      expect(b.lines.a20, `command 0x${command.toString(16)} and A20`).toBe(true);
    }
  });

  it("other commands do not reset", () => {
    const b = board();
    for (let command = 0; command < 0xf0; command++) b.command(command);
    expect(b.lines.resets).toBe(0);
  });
});

describe("save and restore", () => {
  /** A controller waiting for an output-port byte, with the command byte in its buffer. */
  function busy() {
    const b = board(true);
    b.command(0x60);
    b.send(0x47);
    b.command(0x20);
    b.command(0xd1);
    return b;
  }

  it("round-trips a pending command and a full output buffer, through JSON", () => {
    const source = busy();
    const saved = JSON.parse(JSON.stringify(source.kbc.save())) as unknown;
    const target = board(true);
    restoreComponent(target.kbc, saved);
    expect(target.kbc.save()).toEqual(source.kbc.save());
    expect(target.status()).toBe(source.status());
    expect(target.status() & (OBF | CMD)).toBe(OBF | CMD);
    expect(target.data()).toBe(0x47);
    target.send(0x00); // the output-port byte 0xD1 waited for: A20 off and reset
    expect(target.lines.resets).toBe(1);
    expect(target.lines.a20).toBe(false);
    target.command(0x20);
    expect(target.data()).toBe(0x47);
  });

  it("round-trips a command byte write in progress", () => {
    const source = board();
    source.command(0x60);
    const target = board();
    restoreComponent(target.kbc, source.kbc.save());
    target.send(0x44);
    target.command(0x20);
    expect(target.data()).toBe(0x44);
  });

  it("rejects malformed state and keeps its own", () => {
    const good = busy().kbc.save();
    const cases: Array<[unknown, typeof TypeError | typeof RangeError]> = [
      [null, TypeError],
      ["state", TypeError],
      [[good], TypeError],
      [{ ...good, version: KBC_STATE_VERSION + 1 }, RangeError],
      [{ ...good, version: "1" }, TypeError],
      [{ ...good, commandByte: 0x100 }, RangeError],
      [{ ...good, commandByte: 1.5 }, TypeError],
      [{ ...good, commandByte: undefined }, TypeError],
      [{ ...good, outputBuffer: -2 }, RangeError],
      [{ ...good, outputBuffer: "0x55" }, TypeError],
      [{ ...good, pendingCommand: 0x100 }, RangeError],
      [{ ...good, pendingCommand: 0x20 }, RangeError], // takes no parameter: cannot be pending
      [{ ...good, lastWriteWasCommand: 2 }, RangeError],
      [{ ...good, lastWriteWasCommand: true }, TypeError],
    ];
    for (const [state, error] of cases) {
      const target = board();
      target.command(0xaa);
      const before = target.kbc.save();
      expect(() => restoreComponent(target.kbc, state), JSON.stringify(state)).toThrow(error);
      expect(target.kbc.save(), JSON.stringify(state)).toEqual(before);
    }
  });

  it("accepts every pending command that takes a parameter", () => {
    for (const pendingCommand of [0, 0x60, 0xd1]) {
      const target = board();
      restoreComponent(target.kbc, { ...busy().kbc.save(), pendingCommand });
      expect(target.kbc.save().pendingCommand).toBe(pendingCommand);
    }
  });
});
