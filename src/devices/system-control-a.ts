// System control port A (port 0x92, "fast A20 and reset"): bit 1 gates A20,
// writing bit 0 as 1 resets the CPU. Its state is the A20 gate, which the CPU
// state carries, so the port keeps none of its own.
import type { IoBus } from "../platform/io-bus.ts";

export const SYSTEM_CONTROL_A_PORT = 0x92;
const FAST_RESET = 0x01;
const A20_ENABLE = 0x02;

export interface SystemControlAOptions {
  onReset: () => void;
  setA20: (enabled: boolean) => void;
  a20Enabled: () => boolean;
}

export function attachSystemControlA(bus: IoBus, options: SystemControlAOptions): void {
  bus.register(SYSTEM_CONTROL_A_PORT, 1, {
    read: () => (options.a20Enabled() ? A20_ENABLE : 0),
    write: (_port, _size, value) => {
      options.setA20((value & A20_ENABLE) !== 0);
      if (value & FAST_RESET) options.onReset();
    },
  });
}
