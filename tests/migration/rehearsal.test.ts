// The rehearsal a receiving worker runs ahead of a guest: a tiny machine goes
// through a whole arrival (its pages written, its state restored, started)
// and is left paused, so nothing runs behind the worker's back.
import { describe, expect, it } from "vitest";
import { rehearseArrival } from "../../src/migration/rehearsal.ts";
import { sharedCodec } from "./helpers.ts";

describe("rehearseArrival", () => {
  it("takes a tiny machine through an arrival and leaves it paused", async () => {
    const codec = await sharedCodec();
    for (let i = 0; i < 3; i++) {
      const machine = await rehearseArrival(codec);
      expect(machine.runState).toBe("paused");
      expect(machine.core.memory.ramBytes).toBe(4 * 1024 * 1024);
      // The rehearsal's two pages arrived through the codec.
      expect([...machine.core.memory.read(4096, 8192)].every((byte) => byte === 0x5a)).toBe(true);
      expect(machine.core.memory.read8(0)).toBe(0);
    }
  });
});
