// The core's memory layout, read once from the globals the wasm module exports
// (wasm/layout.ts re-exported by wasm/index.ts), so TypeScript and
// AssemblyScript cannot drift apart.

export const LAYOUT_NAMES = [
  "STATE_BASE",
  "CPUID_BASE",
  "CPUID_MAX",
  "TLB_TAGS",
  "TLB_DELTA",
  "TLB_ENTRIES",
  "DIRTY_BASE",
  "DIRTY_BYTES",
  "HARVEST_BASE",
  "SCRATCH_BASE",
  "RAM_BASE",
  "MAX_RAM",
  "TLB_READ_SUPER",
  "TLB_WRITE_SUPER",
  "TLB_READ_USER",
  "TLB_WRITE_USER",
  "S_REGS",
  "S_EIP",
  "S_FLAGS",
  "S_SEGS",
  "SEG_SIZE",
  "SEG_SEL",
  "SEG_BASE",
  "SEG_LIMIT",
  "SEG_ACCESS",
  "S_GDTR_BASE",
  "S_GDTR_LIMIT",
  "S_IDTR_BASE",
  "S_IDTR_LIMIT",
  "S_CR0",
  "S_CR2",
  "S_CR3",
  "S_CR4",
  "S_DR",
  "S_CPL",
  "S_HALTED",
  "S_INTR",
  "S_SHADOW",
  "S_ICOUNT",
  "S_SYSENTER_CS",
  "S_SYSENTER_ESP",
  "S_SYSENTER_EIP",
  "S_A20_MASK",
  "S_NMI",
  "S_FAULT_VEC",
  "S_FAULT_CODE",
  "S_FAULT_DEPTH",
  "S_STOP",
  "S_DIRTY_ON",
  "S_RAM_SIZE",
  "S_ROM_START",
  "S_ROM_END",
  "S_ROM_SIZE",
  "S_MSR_LO",
  "S_MSR_HI",
  "S_APIC_BASE",
  "S_MISC_ENABLE",
  "S_EXIT_REASON",
  "S_FAULT_LINEAR",
  "S_INSN_EIP",
  "S_INSN_ESP",
  "S_TRIPLE_FAULTS",
  "S_PAT_LO",
  "S_PAT_HI",
  "S_END",
  "EXIT_BUDGET",
  "EXIT_HALT",
  "EXIT_TRIPLE_FAULT",
  "EXIT_STOP",
  "EXIT_HALT_NO_IF",
  "EXIT_BREAKPOINT",
] as const;

export type LayoutName = (typeof LAYOUT_NAMES)[number];
export type Layout = Readonly<Record<LayoutName, number>>;

/** Reads every layout constant from the module's exports; throws if one is missing. */
export function readLayout(exports: WebAssembly.Exports): Layout {
  const layout: Partial<Record<LayoutName, number>> = {};
  for (const name of LAYOUT_NAMES) {
    const global = exports[name];
    if (!(global instanceof WebAssembly.Global)) {
      throw new Error(`hive86 core: the wasm module does not export the layout constant ${name}`);
    }
    // Globals holding u32 values come back as signed i32: normalize.
    layout[name] = Number(global.value) >>> 0;
  }
  return Object.freeze(layout as Record<LayoutName, number>);
}
