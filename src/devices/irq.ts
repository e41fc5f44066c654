// An interrupt request line from a device to an interrupt controller.
// Level semantics: the device drives it high or low; edge-triggered inputs
// of the controller react to the low-to-high transition.
export interface IrqLine {
  set(level: boolean): void;
}

/** A line that goes nowhere (a device not wired to a controller). */
export const UNCONNECTED: IrqLine = { set() {} };
