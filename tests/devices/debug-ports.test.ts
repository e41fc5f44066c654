import { describe, expect, it } from "vitest";
import { DebugPorts } from "../../src/devices/debug-ports.ts";
import { IoBus } from "../../src/platform/io-bus.ts";

describe("DebugPorts", () => {
  it("sends debugcon bytes (the low byte of any write) to the sink", () => {
    const bytes: number[] = [];
    const bus = new IoBus();
    new DebugPorts({ onDebugconByte: (b) => bytes.push(b) }).attach(bus);
    bus.write(0xe9, 1, 0x48);
    bus.write(0xe9, 2, 0x0169);
    expect(bytes).toEqual([0x48, 0x69]);
    expect(bus.read(0xe9, 1)).toBe(0xe9); // lets guests detect the port
  });

  it("records the last POST code and how many were written", () => {
    const bus = new IoBus();
    const ports = new DebugPorts();
    ports.attach(bus);
    expect(ports.lastPostCode).toBeNull();
    bus.write(0x80, 1, 0x11);
    bus.write(0x80, 1, 0x55);
    expect(ports.lastPostCode).toBe(0x55);
    expect(ports.postCodeCount).toBe(2);
  });

  it("turns an isa-debug-exit write of V into exit status (V << 1) | 1", () => {
    const bus = new IoBus();
    const exits: number[] = [];
    const ports = new DebugPorts({ onExit: (status) => exits.push(status) });
    ports.attach(bus);
    expect(ports.exitStatus).toBeNull();
    bus.write(0xf4, 1, 0x21);
    expect(ports.exitStatus).toBe(67);
    expect(exits).toEqual([67]);
    bus.write(0xf4, 1, 0);
    expect(ports.exitStatus).toBe(1);
  });
});
