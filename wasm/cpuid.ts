// The CPUID table: a Pentium II-class CPU without an FPU, MMX, FXSR or SSE
// (a coherent set: the guest kernel emulates x87 through #NM). The host may
// replace or add leaves, e.g. the hypervisor leaves at 0x40000000.
import { CPUID_BASE, CPUID_MAX } from "./layout";

const ENTRY_BYTES: u32 = 24; // leaf, subleaf (0xFFFFFFFF = any), eax, ebx, ecx, edx
let entries: u32 = 0;

export const FEATURES_EDX: u32 =
  (1 << 3) | // PSE
  (1 << 4) | // TSC
  (1 << 5) | // MSR
  (1 << 8) | // CMPXCHG8B
  (1 << 15); // CMOV

/** Entries in the table (each ENTRY_BYTES at CPUID_BASE): the host saves and restores them. */
export function cpuidCount(): u32 {
  return entries;
}

/** An empty table, for a restore that sets every entry itself. */
export function cpuidClear(): void {
  entries = 0;
}

export function cpuidReset(): void {
  entries = 0;
  // "GenuineIntel"; highest basic leaf 2
  cpuidSet(0, 0xffffffff, 2, 0x756e6547, 0x6c65746e, 0x49656e69);
  // family 6, model 5, stepping 2 (Pentium II)
  cpuidSet(1, 0xffffffff, 0x0652, 0, 0, FEATURES_EDX);
  cpuidSet(2, 0xffffffff, 1, 0, 0, 0);
  cpuidSet(0x80000000, 0xffffffff, 0x80000004, 0, 0, 0);
  cpuidSet(0x80000001, 0xffffffff, 0, 0, 0, 0);
  // Brand string "hive86 virtual i686 CPU"
  cpuidSet(0x80000002, 0xffffffff, 0x65766968, 0x76203638, 0x75747269, 0x69206c61);
  cpuidSet(0x80000003, 0xffffffff, 0x20363836, 0x00555043, 0, 0);
  cpuidSet(0x80000004, 0xffffffff, 0, 0, 0, 0);
}

function find(leaf: u32, subleaf: u32): u32 {
  for (let i: u32 = 0; i < entries; i++) {
    const e = CPUID_BASE + i * ENTRY_BYTES;
    if (load<u32>(e) == leaf) {
      const s = load<u32>(e + 4);
      if (s == 0xffffffff || s == subleaf) return e;
    }
  }
  return 0;
}

export function cpuidSet(leaf: u32, subleaf: u32, a: u32, b: u32, c: u32, d: u32): void {
  let e = find(leaf, subleaf);
  if (e == 0 || load<u32>(e + 4) != subleaf) {
    if (entries >= CPUID_MAX) return;
    e = CPUID_BASE + entries * ENTRY_BYTES;
    entries++;
  }
  store<u32>(e, leaf);
  store<u32>(e + 4, subleaf);
  store<u32>(e + 8, a);
  store<u32>(e + 12, b);
  store<u32>(e + 16, c);
  store<u32>(e + 20, d);
}

export let cpuidA: u32 = 0;
export let cpuidB: u32 = 0;
export let cpuidC: u32 = 0;
export let cpuidD: u32 = 0;

// Unknown leaves answer as Intel CPUs do: with the highest basic leaf.
export function cpuidLookup(leaf: u32, subleaf: u32): void {
  let e = find(leaf, subleaf);
  if (e == 0) {
    const maxBasic = find(0, 0);
    const top = maxBasic ? load<u32>(maxBasic + 8) : 0;
    const isHypervisorRange = leaf >= 0x40000000 && leaf < 0x50000000;
    e = isHypervisorRange ? 0 : find(top, subleaf);
  }
  if (e == 0) {
    cpuidA = 0; cpuidB = 0; cpuidC = 0; cpuidD = 0;
    return;
  }
  cpuidA = load<u32>(e + 8);
  cpuidB = load<u32>(e + 12);
  cpuidC = load<u32>(e + 16);
  cpuidD = load<u32>(e + 20);
}
