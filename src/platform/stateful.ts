// What every part of the machine with state implements, so snapshots and
// migrations take all of them from one list and none can be forgotten.
// Restoring is two-phase: prepareRestore checks a saved state completely and
// changes nothing; the function it returns applies it and cannot fail. A
// machine prepares every component first, so a refused state leaves it as it was.

export interface Stateful<State = unknown> {
  /** This component's key in the machine state; unique within a machine. */
  readonly stateId: string;
  /** Plain, versioned, JSON-friendly data. */
  save(): State;
  /** Checks `state` (TypeError/RangeError when refused) and returns what applies it. */
  prepareRestore(state: unknown): () => void;
}

/** Checks and applies a state in one step (a refused state throws and changes nothing). */
export function restoreComponent(component: Stateful, state: unknown): void {
  component.prepareRestore(state)();
}
