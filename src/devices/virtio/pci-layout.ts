// How a transitional virtio-pci function presents itself (virtio 1.1, 4.1):
// its IDs, the vendor-specific capabilities that locate the modern
// structures, and where those structures sit in its BARs.

export const VIRTIO_PCI_VENDOR_ID = 0x1af4;

/**
 * The PCI device IDs the specification assigns to transitional devices
 * (4.1.2.1), by virtio device type: not type-derived (the balloon is 0x1002).
 */
export const TRANSITIONAL_DEVICE_IDS: ReadonlyMap<number, number> = new Map([
  [1, 0x1000], // network card
  [2, 0x1001], // block device
  [5, 0x1002], // memory balloon (traditional)
  [3, 0x1003], // console
  [8, 0x1004], // SCSI host
  [4, 0x1005], // entropy source
  [9, 0x1009], // 9P transport
]);
/** The range Linux's drivers take as transitional (the type then comes from the subsystem ID). */
export const TRANSITIONAL_ID_FIRST = 0x1000;
export const TRANSITIONAL_ID_LAST = 0x103f;
/** Legacy drivers refuse any other revision. */
export const VIRTIO_PCI_REVISION = 0;

export const PCI_CAP_ID_VENDOR = 0x09;

// cfg_type values.
export const CFG_TYPE_COMMON = 1;
export const CFG_TYPE_NOTIFY = 2;
export const CFG_TYPE_ISR = 3;
export const CFG_TYPE_DEVICE = 4;
export const CFG_TYPE_PCI_CFG = 5;

// struct virtio_pci_cap field offsets (from the capability's start).
export const CAP_LENGTH_BYTE = 2;
export const CAP_CFG_TYPE = 3;
export const CAP_BAR = 4;
export const CAP_ID = 5;
export const CAP_OFFSET = 8;
export const CAP_LENGTH = 12;
/** struct virtio_pci_notify_cap: the multiplier follows the common part. */
export const CAP_NOTIFY_MULTIPLIER = 16;
/** struct virtio_pci_cfg_cap: the data window follows the common part. */
export const CAP_PCI_CFG_DATA = 16;

export const VIRTIO_CAP_SIZE = 16;
export const NOTIFY_CAP_SIZE = 20;
export const PCI_CFG_CAP_SIZE = 20;

/** BAR0: the legacy interface, in I/O space. */
export const LEGACY_BAR = 0;
/** The modern structures, in a 32-bit memory BAR (where QEMU puts its 64-bit one). */
export const MODERN_BAR = 4;

// The modern BAR: one page per structure, so each could be mapped alone.
export const MODERN_REGION_SIZE = 0x1000;
export const COMMON_REGION = 0x0000;
export const ISR_REGION = 0x1000;
export const DEVICE_REGION = 0x2000;
export const NOTIFY_REGION = 0x3000;
export const MODERN_BAR_SIZE = 0x4000;
/** Queue n is notified at NOTIFY_REGION + n * this. */
export const NOTIFY_OFF_MULTIPLIER = 4;

/** Bytes of the legacy registers before the device configuration (no MSI-X). */
export const LEGACY_CONFIG_OFFSET = 20;
/** Room left for device configuration in the largest (256-byte) I/O BAR. */
export const MAX_CONFIG_SIZE = 256 - LEGACY_CONFIG_OFFSET;
