// virtio-balloon behind a driver that writes garbage: random descriptor
// tables, rings and indices, random notifications and configuration writes.
// The transport and the device must never throw to the guest's I/O access,
// never touch memory outside guest RAM, and always come back after a reset.
import { describe, expect, it } from "vitest";
import { VirtioBalloon } from "../../src/devices/virtio/balloon/device.ts";
import { ManualClock } from "../../src/platform/clock.ts";
import {
  BOARD_RAM_BYTES,
  createVirtioBoard,
  F_EVENT_IDX,
  F_INDIRECT_DESC,
  F_VERSION_1,
  FakeVirtioDriver,
} from "../helpers/virtio-driver.ts";
import { prng } from "../helpers/prng.ts";

const ROUNDS = Number(process.env.HIVE86_FUZZ_SEEDS ?? 60);

describe("virtio-balloon and a driver that writes garbage", () => {
  it.each(["modern", "legacy"] as const)(
    "never throws and never writes outside RAM (%s)",
    (mode) => {
      for (let seed = 1; seed <= ROUNDS; seed++) {
        const rand = prng(seed * 31 + (mode === "legacy" ? 1 : 0), 0x2545f491);
        const clock = new ManualClock();
        const balloon = new VirtioBalloon({ ramBytes: BOARD_RAM_BYTES, clock, statsIntervalMs: 1 });
        const board = createVirtioBoard(balloon);
        const driver = new FakeVirtioDriver(board, mode);
        const features = F_EVENT_IDX | F_INDIRECT_DESC | (mode === "modern" ? F_VERSION_1 : 0n);
        const queues = driver.init(features | 0x26n, 4);
        balloon.setTargetBytes(rand() % BOARD_RAM_BYTES);
        const step = () => {
          const queue = queues[rand() % queues.length]!;
          switch (rand() % 6) {
            case 0: {
              // Garbage over a descriptor table, an avail ring or anywhere in RAM.
              const at = [queue.rings.desc, queue.rings.avail, rand() % BOARD_RAM_BYTES][
                rand() % 3
              ]!;
              const length = Math.min(1 + (rand() % 512), BOARD_RAM_BYTES - at);
              const bytes = Uint8Array.from({ length }, () => rand() & 0xff);
              board.memory.write(at, bytes);
              break;
            }
            case 1:
              queue.setAvailIdx(rand() & 0xffff);
              break;
            case 2:
              queue.post({ out: [Uint8Array.from({ length: rand() % 64 }, () => rand())] });
              break;
            case 3:
              driver.deviceConfigWrite((rand() % 8) & ~3, 4, rand());
              break;
            case 4:
              clock.advanceBy(rand() % 5_000_000);
              balloon.advance(clock.now());
              break;
            default:
              break;
          }
          queue.notify();
          driver.readIsr();
        };
        for (let i = 0; i < 60; i++) {
          expect(step, `seed ${seed}, step ${i}`).not.toThrow();
        }
        expect(board.guardsIntact(), `seed ${seed}`).toBe(true);
        // Whatever state the device is in, a reset and a fresh probe work.
        driver.init(features | 0x26n, 4);
        expect(driver.status() & 0x40).toBe(0);
        expect(balloon.info().balloonedPages).toBe(0);
      }
    },
    120_000,
  );
});
