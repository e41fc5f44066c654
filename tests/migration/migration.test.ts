// The migration engine end to end in one process: two real machines, a guest
// that dirties memory all the while, an in-memory wire.
import { afterEach, describe, expect, it } from "vitest";
import type { Machine } from "../../src/machine/machine.ts";
import { receiveMigration } from "../../src/migration/destination.ts";
import { migrateOut } from "../../src/migration/source.ts";
import { memoryTransportPair } from "../../src/migration/transports/memory.ts";
import {
  counterOf,
  faultyPair,
  RAM,
  ramOf,
  runningDirtier,
  sharedCodec,
  sleep,
} from "./helpers.ts";

const machines: Machine[] = [];
afterEach(async () => {
  for (const machine of machines.splice(0)) await machine.pause();
});

async function destinationFor(transport: Parameters<typeof receiveMigration>[0], extra = {}) {
  const codec = await sharedCodec();
  return receiveMigration(transport, {
    codec,
    createMachine: async (config) => {
      const { Machine } = await import("../../src/machine/machine.ts");
      const machine = await Machine.fromConfig(config);
      machines.push(machine);
      return machine;
    },
    ...extra,
  });
}

describe("live migration between two machines", () => {
  it("moves a guest that keeps writing memory: RAM and state equal, and it runs on", async () => {
    const codec = await sharedCodec();
    const source = await runningDirtier();
    machines.push(source);
    await sleep(100);
    const [a, b] = memoryTransportPair();
    const incoming = destinationFor(b);
    const trace = await migrateOut(source, a, { codec, verify: true });
    const { machine: destination, trace: arrived } = await incoming;
    expect(trace.outcome, trace.reason ?? "").toBe("completed");
    expect(arrived.outcome).toBe("completed");
    expect(trace.verify?.match).toBe(true);
    expect(trace.rounds.length).toBeGreaterThanOrEqual(2);
    expect(trace.rounds[0]!.dataPages).toBeGreaterThan(100);
    expect(trace.rounds.at(-1)!.final).toBe(true);
    expect(trace.downtimeMs).toBeGreaterThan(0);
    expect(source.runState).toBe("paused");
    expect(destination!.runState).toBe("running");
    // The source is frozen where it stopped; the destination carries on from there.
    const handedOver = counterOf(source);
    await sleep(100);
    expect(counterOf(source)).toBe(handedOver);
    expect(counterOf(destination!)).toBeGreaterThan(handedOver);
    expect(destination!.now()).toBeGreaterThan(source.now());
  });

  it("leaves RAM byte for byte equal at the switchover", async () => {
    const codec = await sharedCodec();
    const source = await runningDirtier();
    machines.push(source);
    const [a, b] = memoryTransportPair();
    let destination: Machine | null = null;
    const incoming = receiveMigration(b, {
      codec,
      createMachine: async (config) => {
        const { Machine } = await import("../../src/machine/machine.ts");
        destination = await Machine.fromConfig(config);
        machines.push(destination);
        // Hold the guest here: compare before it runs.
        const start = destination.start.bind(destination);
        destination.start = () => undefined;
        (destination as unknown as { startLater: typeof start }).startLater = start;
        return destination;
      },
    });
    const trace = await migrateOut(source, a, { codec });
    await incoming;
    expect(trace.outcome).toBe("completed");
    expect(ramOf(destination!).equals(ramOf(source))).toBe(true);
    expect(JSON.stringify(destination!.saveState())).toBe(JSON.stringify(source.saveState()));
  });
});

describe("when a migration fails", () => {
  const faults: Array<{
    side: "source" | "destination";
    type: string;
    nth?: number;
    action: "close" | "corrupt" | "stall";
    phase: string;
    expect: RegExp;
  }> = [
    {
      side: "source",
      type: "HELLO",
      action: "close",
      phase: "the handshake",
      expect: /connection closed/,
    },
    {
      side: "destination",
      type: "WELCOME",
      action: "close",
      phase: "the handshake",
      expect: /connection closed/,
    },
    {
      side: "source",
      type: "PAGES",
      nth: 1,
      action: "close",
      phase: "round 0",
      expect: /connection closed/,
    },
    {
      side: "source",
      type: "PAGES",
      nth: 2,
      action: "corrupt",
      phase: "round 0",
      expect: /damaged on the way/,
    },
    {
      side: "destination",
      type: "ROUND_ACK",
      action: "close",
      phase: "between rounds",
      expect: /connection closed/,
    },
    {
      side: "source",
      type: "ROUND_END",
      nth: 1,
      action: "close",
      phase: "mid-round",
      expect: /connection closed/,
    },
    {
      side: "source",
      type: "ROUND_END",
      nth: 1,
      action: "corrupt",
      phase: "mid-round",
      expect: /broke the protocol/,
    },
    {
      side: "destination",
      type: "ROUND_ACK",
      action: "stall",
      phase: "between rounds",
      expect: /destination went silent for 2 s/,
    },
    {
      side: "source",
      type: "STATE",
      action: "close",
      phase: "the state transfer",
      expect: /connection closed/,
    },
    {
      side: "source",
      type: "STATE",
      action: "corrupt",
      phase: "the state transfer",
      expect: /damaged on the way/,
    },
    {
      side: "destination",
      type: "READY",
      action: "close",
      phase: "after the state, before the resume",
      expect: /connection closed/,
    },
    {
      side: "destination",
      type: "READY",
      action: "stall",
      phase: "after the state, before the resume",
      expect: /destination went silent for 2 s/,
    },
  ];
  for (const fault of faults) {
    it(`${fault.phase}: ${fault.action} at ${fault.side} ${fault.type}${fault.nth ? ` #${fault.nth}` : ""}: the source runs on, the destination drops all, a retry succeeds`, async () => {
      const codec = await sharedCodec();
      const source = await runningDirtier();
      machines.push(source);
      await sleep(50);
      const [a, b] = faultyPair(fault);
      const incoming = destinationFor(b, { timeoutMs: 2000 });
      const trace = await migrateOut(source, a, { codec, timeoutMs: 2000 });
      const arrived = await incoming;
      expect(trace.outcome).toBe("abandoned");
      expect(trace.reason).toMatch(fault.expect);
      expect(arrived.machine).toBeNull();
      expect(arrived.trace.outcome).toBe("abandoned");
      expect(source.runState).toBe("running");
      const before = counterOf(source);
      await sleep(50);
      expect(counterOf(source)).toBeGreaterThan(before);
      // The same guest moves on the next try.
      const [c, d] = memoryTransportPair();
      const retried = destinationFor(d);
      const retry = await migrateOut(source, c, { codec, verify: true });
      expect(retry.outcome, retry.reason ?? "").toBe("completed");
      expect(retry.verify?.match).toBe(true);
      expect((await retried).machine?.runState).toBe("running");
    });
  }

  it("a destination that stops taking data without closing: the source gives up in time and runs on", async () => {
    const codec = await sharedCodec();
    const source = await runningDirtier();
    machines.push(source);
    const [a, b] = faultyPair({ side: "source", type: "PAGES", nth: 1, action: "jam" });
    const incoming = destinationFor(b, { timeoutMs: 5000 });
    const started = performance.now();
    const trace = await migrateOut(source, a, { codec, timeoutMs: 1000 });
    expect(trace.outcome).toBe("abandoned");
    expect(trace.reason).toMatch(/the destination stopped taking data for 1 s/);
    expect(performance.now() - started).toBeLessThan(3000);
    expect(source.runState).toBe("running");
    expect((await incoming).machine).toBeNull();
  });

  it("a cancel on the source's side before GO leaves the guest running there", async () => {
    const codec = await sharedCodec();
    const source = await runningDirtier();
    machines.push(source);
    const [a, b] = memoryTransportPair({ bytesPerSecond: 1e6 }); // round 0 takes a while
    const incoming = destinationFor(b);
    const cancel = new AbortController();
    const migrating = migrateOut(source, a, { codec, signal: cancel.signal });
    await sleep(100);
    cancel.abort();
    const trace = await migrating;
    expect(trace.outcome).toBe("abandoned");
    expect(trace.reason).toBe("cancelled on this side");
    const arrived = await incoming;
    expect(arrived.machine).toBeNull();
    expect(arrived.trace.reason).toMatch(/cancelled on this side/);
    expect(source.runState).toBe("running");
  });

  it("a destination that refuses the machine says why, and the guest stays", async () => {
    const codec = await sharedCodec();
    const source = await runningDirtier();
    machines.push(source);
    const [a, b] = memoryTransportPair();
    const incoming = destinationFor(b, { maxRamBytes: RAM / 2 });
    const trace = await migrateOut(source, a, { codec });
    expect(trace.outcome).toBe("abandoned");
    expect(trace.reason).toMatch(/the guest has 4 MiB of RAM; this host takes at most 2 MiB/);
    expect((await incoming).machine).toBeNull();
    expect(source.runState).toBe("running");
  });

  it("a destination whose machine differs refuses with the difference", async () => {
    const codec = await sharedCodec();
    const source = await runningDirtier();
    machines.push(source);
    const [a, b] = memoryTransportPair();
    const incoming = receiveMigration(b, {
      codec,
      createMachine: async (config) => {
        const { Machine } = await import("../../src/machine/machine.ts");
        return Machine.fromConfig({ ...config, kvmClock: false });
      },
    });
    const trace = await migrateOut(source, a, { codec });
    expect(trace.reason).toMatch(/made with kvm-clock, this machine has not/);
    expect((await incoming).machine).toBeNull();
  });
});
