// Boot progress read off the guest's console: the kernel's messages pass
// known milestones on the way to the shell prompt.

export interface BootMilestone {
  pattern: RegExp;
  label: string;
  /** Fraction of the boot done once this message appeared. */
  done: number;
}

export const BOOT_MILESTONES: readonly BootMilestone[] = [
  { pattern: /Linux version/, label: "kernel started", done: 0.15 },
  { pattern: /Memory: \d+K/, label: "memory set up", done: 0.3 },
  { pattern: /PCI: Probing PCI hardware/, label: "probing PCI", done: 0.45 },
  { pattern: /Serial: 8250/, label: "serial driver", done: 0.6 },
  { pattern: /Freeing initrd memory/, label: "initramfs unpacked", done: 0.75 },
  { pattern: /Run \/init/, label: "starting /init", done: 0.9 },
  { pattern: /hive86:\/# /, label: "shell ready", done: 1 },
];

/** Follows console output and reports the latest milestone reached. */
export class BootProgress {
  private tail = "";
  private reached = -1;

  constructor(private readonly onProgress: (milestone: BootMilestone) => void) {}

  get finished(): boolean {
    return this.reached === BOOT_MILESTONES.length - 1;
  }

  feed(text: string): void {
    if (this.finished) return;
    // Keep enough of the previous chunk for a message split across chunks.
    this.tail = (this.tail + text).slice(-512);
    for (let i = this.reached + 1; i < BOOT_MILESTONES.length; i++) {
      if (BOOT_MILESTONES[i]!.pattern.test(this.tail)) {
        this.reached = i;
        this.onProgress(BOOT_MILESTONES[i]!);
      }
    }
  }
}
