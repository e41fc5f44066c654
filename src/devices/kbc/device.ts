// The 8042 keyboard controller at ports 0x60/0x64, with no keyboard or mouse
// behind it. It matters for what firmware and kernels use it for besides
// keys: the system reset line (command 0xFE, Linux's "reboot=k") and gate A20
// through the output port.
import type { IoBus } from "../../platform/io-bus.ts";
import type { Stateful } from "../../platform/stateful.ts";
import { KBC_STATE_VERSION, parseKbcState, type KbcState } from "./state.ts";

export const KBC_DATA_PORT = 0x60;
export const KBC_COMMAND_PORT = 0x64;

const STATUS_OUTPUT_FULL = 0x01;
const STATUS_SYSTEM_FLAG = 0x04; // set once POST passed
const STATUS_COMMAND = 0x08;
const STATUS_UNLOCKED = 0x10; // keyboard not inhibited by the key lock

const CMD_READ_COMMAND_BYTE = 0x20;
const CMD_WRITE_COMMAND_BYTE = 0x60;
const CMD_SELF_TEST = 0xaa;
const CMD_KEYBOARD_TEST = 0xab;
const CMD_READ_OUTPUT_PORT = 0xd0;
const CMD_WRITE_OUTPUT_PORT = 0xd1;
const CMD_A20_OFF = 0xdd;
const CMD_A20_ON = 0xdf;

const OUTPUT_PORT_RESET = 0x01; // active low: 0 holds the CPU in reset
const OUTPUT_PORT_A20 = 0x02;

export interface KbcOptions {
  /** The guest pulsed the CPU reset line. */
  onReset: () => void;
  setA20: (enabled: boolean) => void;
  a20Enabled: () => boolean;
}

export class KeyboardController implements Stateful<KbcState> {
  readonly stateId = "kbc";
  private commandByte = 0x45; // translation, system flag, keyboard interrupt enabled
  private outputBuffer = -1;
  private pendingCommand = 0;
  private lastWriteWasCommand = 0;

  constructor(private readonly options: KbcOptions) {}

  attach(bus: IoBus): void {
    bus.register(KBC_DATA_PORT, 1, {
      read: () => this.readData(),
      write: (_port, _size, value) => this.writeData(value & 0xff),
    });
    bus.register(KBC_COMMAND_PORT, 1, {
      read: () => this.readStatus(),
      write: (_port, _size, value) => this.writeCommand(value & 0xff),
    });
  }

  private readStatus(): number {
    return (
      // The system flag is bit 2 of the command byte (whatever the guest last wrote).
      (this.commandByte & STATUS_SYSTEM_FLAG) |
      STATUS_UNLOCKED |
      (this.lastWriteWasCommand ? STATUS_COMMAND : 0) |
      (this.outputBuffer >= 0 ? STATUS_OUTPUT_FULL : 0)
    );
  }

  private readData(): number {
    const value = this.outputBuffer;
    this.outputBuffer = -1;
    return value < 0 ? 0 : value;
  }

  private outputPort(): number {
    return OUTPUT_PORT_RESET | (this.options.a20Enabled() ? OUTPUT_PORT_A20 : 0);
  }

  private writeOutputPort(value: number): void {
    this.options.setA20((value & OUTPUT_PORT_A20) !== 0);
    if (!(value & OUTPUT_PORT_RESET)) this.options.onReset();
  }

  private writeCommand(command: number): void {
    this.lastWriteWasCommand = 1;
    this.pendingCommand = 0;
    switch (command) {
      case CMD_READ_COMMAND_BYTE:
        this.outputBuffer = this.commandByte;
        return;
      case CMD_WRITE_COMMAND_BYTE:
      case CMD_WRITE_OUTPUT_PORT:
        this.pendingCommand = command;
        return;
      case CMD_SELF_TEST:
        this.outputBuffer = 0x55;
        return;
      case CMD_KEYBOARD_TEST:
        this.outputBuffer = 0x00; // the interface tests fine; nothing is plugged in
        return;
      case CMD_READ_OUTPUT_PORT:
        this.outputBuffer = this.outputPort();
        return;
      case CMD_A20_OFF:
        this.options.setA20(false);
        return;
      case CMD_A20_ON:
        this.options.setA20(true);
        return;
    }
    // 0xF0-0xFF pulse output port bits 0-3 low for 6 µs where the command's bit is 0.
    if (command >= 0xf0 && !(command & OUTPUT_PORT_RESET)) this.options.onReset();
  }

  private writeData(value: number): void {
    this.lastWriteWasCommand = 0;
    const command = this.pendingCommand;
    this.pendingCommand = 0;
    if (command === CMD_WRITE_COMMAND_BYTE) this.commandByte = value;
    else if (command === CMD_WRITE_OUTPUT_PORT) this.writeOutputPort(value);
    // Bytes for the keyboard go nowhere: no keyboard is attached.
  }

  save(): KbcState {
    return {
      version: KBC_STATE_VERSION,
      commandByte: this.commandByte,
      outputBuffer: this.outputBuffer,
      pendingCommand: this.pendingCommand,
      lastWriteWasCommand: this.lastWriteWasCommand,
    };
  }

  /** Checks a saved state; what it returns replaces the device state. */
  prepareRestore(state: unknown): () => void {
    const s = parseKbcState(state);
    return () => this.apply(s);
  }

  private apply(s: KbcState): void {
    this.commandByte = s.commandByte;
    this.outputBuffer = s.outputBuffer;
    this.pendingCommand = s.pendingCommand;
    this.lastWriteWasCommand = s.lastWriteWasCommand;
  }
}
