// The PIT carries its counters forward in closed form. These tests program it
// at random and check that jumping over many clocks at once gives exactly what
// a PIT looked at on every single clock gives: same reads, same IRQ0 edges,
// and deadlines that land on those edges.
import { describe, expect, it } from "vitest";
import { timeOfTick } from "../../src/devices/pit/timebase.ts";
import { pitBoard } from "../helpers/pit-board.ts";

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = Math.imul(state ^ (state >>> 15), state | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

type Action = { tick: number; port: number; value: number };

/** Random guest programming of counters 0 and 2 and of gate 2, at random clocks. */
function scenario(seed: number, length: number): Action[] {
  const rand = random(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const actions: Action[] = [];
  let tick = 10;
  while (tick < length) {
    tick += 1 + pick(400);
    const counter = rand() < 0.5 ? 0 : 2;
    const choice = pick(10);
    if (choice < 3) {
      const access = 1 + pick(3);
      const control = (counter << 6) | (access << 4) | (pick(8) << 1) | (rand() < 0.2 ? 1 : 0);
      actions.push({ tick, port: 0x43, value: control });
      // The count usually follows at once, sometimes a little later.
      const count = [2, 3, 5, 6, 7, 64, 255, 257, 0x19][pick(9)]!;
      const at = tick + (rand() < 0.7 ? 0 : 1 + pick(5));
      if (access !== 2) actions.push({ tick: at, port: 0x40 + counter, value: count & 0xff });
      if (access !== 1) actions.push({ tick: at, port: 0x40 + counter, value: count >> 8 });
    } else if (choice < 6) {
      actions.push({ tick, port: 0x40 + counter, value: 1 + pick(200) });
    } else {
      actions.push({ tick, port: 0x61, value: pick(2) });
    }
  }
  // Stable: accesses at one clock keep their order.
  return actions.filter((a) => a.tick <= length).sort((a, b) => a.tick - b.tick);
}

function board() {
  const { clock, pit, io, risingEdgeTicks: edges } = pitBoard();
  edges.length = 0;
  const goToTick = (n: number) => clock.advanceBy(timeOfTick(n) - clock.now());
  /** What the guest can see without disturbing the counters: status bytes and OUT2. */
  const observe = () => {
    io.write(0x43, 1, 0xea); // read-back status of counters 0 and 2
    return [io.read(0x40, 1), io.read(0x42, 1), io.read(0x61, 1) & 0x20];
  };
  return { clock, pit, io, edges, goToTick, observe };
}

describe("8254 closed-form timing against clock-by-clock stepping", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it(`random programming #${seed}`, () => {
      const length = 20_000;
      const actions = scenario(seed, length);
      const stepped = board();
      const jumping = board();
      const steppedSeen = new Map<number, number[]>();
      let next = 0;
      for (let tick = 1; tick <= length; tick++) {
        stepped.goToTick(tick);
        stepped.pit.advance(stepped.clock.now());
        while (next < actions.length && actions[next]!.tick === tick) {
          stepped.io.write(actions[next]!.port, 1, actions[next]!.value);
          next++;
        }
        steppedSeen.set(tick, stepped.observe());
      }
      // The jumping board sleeps from deadline to deadline and wakes for the guest's accesses.
      const runTo = (tick: number) => {
        const end = timeOfTick(tick);
        for (;;) {
          const deadline = jumping.pit.nextDeadline();
          if (deadline > end) break;
          jumping.clock.advanceBy(deadline - jumping.clock.now());
          jumping.pit.advance(jumping.clock.now());
        }
        jumping.goToTick(tick);
      };
      let compared = 0;
      actions.forEach((action, i) => {
        runTo(action.tick);
        jumping.io.write(action.port, 1, action.value);
        if (actions[i + 1]?.tick === action.tick) return; // observe after the tick's last access
        expect(jumping.observe(), `tick ${action.tick}`).toEqual(steppedSeen.get(action.tick));
        compared++;
      });
      runTo(length);
      jumping.pit.advance(jumping.clock.now());
      expect(jumping.observe()).toEqual(steppedSeen.get(length));
      expect(jumping.edges).toEqual(stepped.edges);
      expect(stepped.edges.length).toBeGreaterThan(10);
      expect(compared).toBeGreaterThan(50);
    });
  }
});
