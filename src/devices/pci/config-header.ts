// Layout of the type-0 PCI configuration header (PCI Local Bus spec 3.0, 6.1)
// and the bits of its command and status registers.

export const CONFIG_SPACE_SIZE = 256;

export const REG_VENDOR_ID = 0x00;
export const REG_DEVICE_ID = 0x02;
export const REG_COMMAND = 0x04;
export const REG_STATUS = 0x06;
export const REG_REVISION = 0x08;
/** Programming interface, subclass and base class, low byte first. */
export const REG_CLASS_CODE = 0x09;
export const REG_CACHE_LINE_SIZE = 0x0c;
export const REG_LATENCY_TIMER = 0x0d;
export const REG_HEADER_TYPE = 0x0e;
export const REG_BAR0 = 0x10;
export const BAR_COUNT = 6;
export const REG_SUBSYSTEM_VENDOR_ID = 0x2c;
export const REG_SUBSYSTEM_ID = 0x2e;
export const REG_CAPABILITIES = 0x34;
export const REG_INTERRUPT_LINE = 0x3c;
export const REG_INTERRUPT_PIN = 0x3d;
/** Where device-specific registers and capabilities start. */
export const DEVICE_SPECIFIC_START = 0x40;

export const COMMAND_IO = 0x0001;
export const COMMAND_MEMORY = 0x0002;
export const COMMAND_BUS_MASTER = 0x0004;
export const COMMAND_PARITY_RESPONSE = 0x0040;
export const COMMAND_SERR = 0x0100;
export const COMMAND_INTX_DISABLE = 0x0400;

export const STATUS_INTERRUPT = 0x0008;
export const STATUS_CAPABILITIES = 0x0010;
export const STATUS_DEVSEL_MEDIUM = 0x0200;
/** Error bits the device sets and software clears by writing 1. */
export const STATUS_ERRORS = 0xf900;

export const HEADER_TYPE_MULTI_FUNCTION = 0x80;

export const BAR_SPACE_IO = 0x1;
export const BAR_MEMORY_PREFETCHABLE = 0x8;
export const BAR_MEMORY_TYPE_MASK = 0x6;
export const BAR_MEMORY_TYPE_64 = 0x4;

/** PCI_CLASS codes as (base class << 16) | (subclass << 8) | programming interface. */
export const CLASS_HOST_BRIDGE = 0x060000;
export const CLASS_ISA_BRIDGE = 0x060100;

export const VENDOR_INTEL = 0x8086;
/** What an absent function answers for its vendor ID (and everything else). */
export const VENDOR_NONE = 0xffff;

export const MAX_SLOTS = 32;
export const MAX_FUNCTIONS = 8;
/** INTA#..INTD# are interrupt pins 1..4; 0 means the function has no interrupt. */
export const INTERRUPT_PIN_COUNT = 4;
