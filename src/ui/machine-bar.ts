// The console's bar: the machine's state, RAM, speed and uptime, and its
// controls: pause, resume, boot a new guest, save and restore snapshots.
import type { VmStatus } from "../worker/vm-worker.ts";
import { element } from "./dom.ts";
import { mib } from "./format.ts";

export interface MachineControls {
  pause(): void;
  resume(): void;
  boot(): void;
  saveSnapshot(): void;
  restoreSnapshot(file: File): void;
}

export class MachineBar {
  private readonly fields = {
    state: element("#vm-state"),
    ram: element("#vm-ram"),
    mips: element("#vm-mips"),
    uptime: element("#vm-uptime"),
  };
  private readonly pauseButton = element<HTMLButtonElement>("#pause");
  private readonly resumeButton = element<HTMLButtonElement>("#resume");
  private readonly bootButton = element<HTMLButtonElement>("#boot-guest");
  private readonly saveButton = element<HTMLButtonElement>("#snapshot-save");
  private readonly restoreInput = element<HTMLInputElement>("#snapshot-restore");
  private readonly info = element("#snapshot-info");

  constructor(controls: MachineControls) {
    this.pauseButton.addEventListener("click", () => controls.pause());
    this.resumeButton.addEventListener("click", () => controls.resume());
    this.bootButton.addEventListener("click", () => controls.boot());
    this.saveButton.addEventListener("click", () => controls.saveSnapshot());
    this.restoreInput.addEventListener("change", () => {
      const file = this.restoreInput.files?.[0];
      this.restoreInput.value = "";
      if (file) controls.restoreSnapshot(file);
    });
  }

  /** Shows a status; null: the tab has no guest. */
  update(status: VmStatus | null): void {
    const f = this.fields;
    f.state.textContent = status
      ? status.stopReason
        ? `${status.state} (${status.stopReason})`
        : status.state
      : "empty";
    f.ram.textContent = status ? mib(status.ramBytes) : "—";
    f.mips.textContent = status ? status.mips.toFixed(1) : "—";
    f.uptime.textContent = status ? `${status.guestSeconds.toFixed(1)} s` : "—";
    this.pauseButton.disabled = status?.state !== "running";
    this.resumeButton.disabled = status?.state !== "paused";
    this.bootButton.hidden = status !== null;
    this.saveButton.disabled = status?.state !== "running" && status?.state !== "paused";
  }

  say(text: string): void {
    this.info.textContent = text;
  }
}
