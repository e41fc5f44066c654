// Fixed layout of the core's linear memory. TypeScript reads the same offsets
// through the exported globals in index.ts, so the two sides cannot drift.

// Regions
export const STATE_BASE: u32 = 0x1000; // CPU state block, 4 KiB
export const CPUID_BASE: u32 = 0x2000; // CPUID table: CPUID_MAX entries of 6 u32
export const CPUID_MAX: u32 = 64;
export const TLB_TAGS: u32 = 0x4000; // TLB_ENTRIES u32 tags: page | permission bits
export const TLB_DELTA: u32 = 0xc000; // TLB_ENTRIES u32: host address of page - virtual page
export const TLB_ENTRIES: u32 = 8192;
export const DIRTY_BASE: u32 = 0x20000; // 1 bit per 4 KiB guest page, up to 2 GiB of RAM
export const DIRTY_BYTES: u32 = 0x10000;
export const HARVEST_BASE: u32 = 0x30000; // copy of the bitmap made by dirtyHarvest()
export const SCRATCH_BASE: u32 = 0x40000; // 64 KiB for host <-> core transfers
export const RAM_BASE: u32 = 0x100000; // guest-physical 0 lives here
export const MAX_RAM: u32 = 0x80000000;

// TLB permission bits in a tag's low 12 bits
export const TLB_READ_SUPER: u32 = 1;
export const TLB_WRITE_SUPER: u32 = 2;
export const TLB_READ_USER: u32 = 4;
export const TLB_WRITE_USER: u32 = 8;

// CPU state block: offsets from STATE_BASE
export const S_REGS: u32 = 0x00; // eax ecx edx ebx esp ebp esi edi (x86 encoding order)
export const S_EIP: u32 = 0x20;
export const S_FLAGS: u32 = 0x24; // EFLAGS, materialized whenever run() returns
// Segment registers ES CS SS DS FS GS, then LDTR and TR: 16 bytes each
// (selector, base, limit, access rights = descriptor bits 40..55 as in LAR >> 8)
export const S_SEGS: u32 = 0x40;
export const SEG_SIZE: u32 = 16;
export const SEG_SEL: u32 = 0;
export const SEG_BASE: u32 = 4;
export const SEG_LIMIT: u32 = 8;
export const SEG_ACCESS: u32 = 12;
export const S_GDTR_BASE: u32 = 0xc0;
export const S_GDTR_LIMIT: u32 = 0xc4;
export const S_IDTR_BASE: u32 = 0xc8;
export const S_IDTR_LIMIT: u32 = 0xcc;
export const S_CR0: u32 = 0xd0;
export const S_CR2: u32 = 0xd4;
export const S_CR3: u32 = 0xd8;
export const S_CR4: u32 = 0xdc;
export const S_DR: u32 = 0xe0; // dr0..dr7
export const S_CPL: u32 = 0x100;
export const S_HALTED: u32 = 0x104;
export const S_INTR: u32 = 0x108; // external interrupt line level (1 = asserted)
export const S_SHADOW: u32 = 0x10c; // interrupts inhibited for one instruction (STI, MOV SS)
export const S_ICOUNT: u32 = 0x110; // u64 instructions retired
export const S_SYSENTER_CS: u32 = 0x118;
export const S_SYSENTER_ESP: u32 = 0x11c;
export const S_SYSENTER_EIP: u32 = 0x120;
export const S_A20_MASK: u32 = 0x124;
export const S_NMI: u32 = 0x128; // NMI pending
export const S_FAULT_VEC: u32 = 0x130; // exception waiting for delivery, or -1
export const S_FAULT_CODE: u32 = 0x134; // its error code, or -1 when it has none
export const S_FAULT_DEPTH: u32 = 0x138; // nesting during delivery (double/triple fault)
export const S_STOP: u32 = 0x13c; // host asked run() to return
export const S_DIRTY_ON: u32 = 0x140;
export const S_RAM_SIZE: u32 = 0x144;
export const S_ROM_START: u32 = 0x148; // read-only guest-physical range inside RAM
export const S_ROM_END: u32 = 0x14c;
export const S_ROM_SIZE: u32 = 0x150; // size of the image aliased below 4 GiB
export const S_MSR_LO: u32 = 0x154; // host MSR handler result
export const S_MSR_HI: u32 = 0x158;
export const S_APIC_BASE: u32 = 0x15c; // IA32_APIC_BASE low half (read-only to the guest)
export const S_MISC_ENABLE: u32 = 0x160;
export const S_EXIT_REASON: u32 = 0x164;
export const S_FAULT_LINEAR: u32 = 0x168; // last faulting linear address (debug aid)
export const S_INSN_EIP: u32 = 0x16c; // EIP of the instruction being executed
export const S_INSN_ESP: u32 = 0x170; // ESP at its start, restored on a fault
export const S_TRIPLE_FAULTS: u32 = 0x174;
export const S_PAT_LO: u32 = 0x178;
export const S_PAT_HI: u32 = 0x17c;
export const S_END: u32 = 0x180;

// run() results
export const EXIT_BUDGET: u32 = 0; // executed the requested number of instructions
export const EXIT_HALT: u32 = 1; // HLT: waiting for an interrupt
export const EXIT_TRIPLE_FAULT: u32 = 2; // the CPU was reset by a triple fault
export const EXIT_STOP: u32 = 3; // the host called requestStop()
export const EXIT_HALT_NO_IF: u32 = 4; // HLT with IF=0 and no NMI: only a reset wakes it
export const EXIT_BREAKPOINT: u32 = 5; // runDebug(): EIP reached the host's breakpoint
