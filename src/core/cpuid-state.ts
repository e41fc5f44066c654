// The CPUID table as machine state: what the guest reads with CPUID (the
// CPU's identity and features, the hypervisor leaves) travels with it, so a
// restored guest sees the same CPU it booted on.
import { expectIntArray, expectObject, expectVersion } from "../platform/state-check.ts";
import type { Stateful } from "../platform/stateful.ts";
import type { Core, CpuidEntry } from "./core.ts";

export const CPUID_STATE_VERSION = 1;

export interface CpuidState {
  version: typeof CPUID_STATE_VERSION;
  /** [leaf, subleaf, eax, ebx, ecx, edx] per entry, in table order. */
  entries: number[][];
}

const U32_MAX = 0xffffffff;

export class CpuidTableState implements Stateful<CpuidState> {
  readonly stateId = "cpuid";

  constructor(private readonly core: Core) {}

  save(): CpuidState {
    return {
      version: CPUID_STATE_VERSION,
      entries: this.core
        .cpuidTable()
        .map(({ leaf, subleaf, eax, ebx, ecx, edx }) => [leaf, subleaf, eax, ebx, ecx, edx]),
    };
  }

  prepareRestore(state: unknown): () => void {
    const what = "CPUID state";
    const fields = expectObject(state, what);
    expectVersion(fields, CPUID_STATE_VERSION, what);
    const rows = fields.entries;
    const max = this.core.layout.CPUID_MAX;
    if (!Array.isArray(rows) || rows.length > max) {
      throw new TypeError(`${what}.entries must be an array of at most ${max} entries`);
    }
    const entries: CpuidEntry[] = rows.map((row: unknown, i) => {
      const [leaf, subleaf, eax, ebx, ecx, edx] = expectIntArray(
        { row },
        "row",
        0,
        U32_MAX,
        6,
        6,
        `${what}.entries[${i}]`,
      );
      return { leaf: leaf!, subleaf: subleaf!, eax: eax!, ebx: ebx!, ecx: ecx!, edx: edx! };
    });
    return () => this.core.replaceCpuidTable(entries);
  }
}
