// A PIT on its own port bus and manual clock, recording the PIT-clock tick of
// every rising edge of IRQ0: what the PIT tests drive.
import { Pit8254 } from "../../src/devices/pit/device.ts";
import { tickAt } from "../../src/devices/pit/timebase.ts";
import { ManualClock } from "../../src/platform/clock.ts";
import { IoBus } from "../../src/platform/io-bus.ts";

export function pitBoard(clock = new ManualClock()) {
  const risingEdgeTicks: number[] = [];
  let level = false;
  const irq0 = {
    set(next: boolean) {
      if (next && !level) risingEdgeTicks.push(tickAt(clock.now()));
      level = next;
    },
  };
  const pit = new Pit8254({ clock, irq0 });
  const io = new IoBus();
  pit.attach(io);
  return { clock, pit, io, risingEdgeTicks, irqLevel: () => level };
}
