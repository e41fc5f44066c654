// The v86 side of the boot benchmark, on a page of the same Chromium that
// runs hive86: boots the same bzImage and initramfs on v86 (npm package
// `v86`, with Debian's SeaBIOS) and times it from run() until the shell
// prompt shows on serial0. The driver calls window.bootV86().
import { V86 } from "v86";

export interface V86BootRequest {
  wasm: string;
  bios: string;
  vgaBios: string | null;
  kernel: string;
  initrd: string;
  cmdline: string;
  ramBytes: number;
  /** v86's disable_jit option: its interpreter only. */
  disableJit: boolean;
  prompt: string;
  /** Console lines to time, as in boot-runner.ts. */
  milestones: string[];
  timeoutMs: number;
}

export interface V86BootResult {
  /** Wall seconds from run() (files loaded, wasm compiled) to the prompt. */
  seconds: number;
  /** Wall seconds from run() to the first byte on serial0 (SeaBIOS itself prints nothing there). */
  firstOutputSeconds: number;
  /** v86's instruction counter at the prompt (it includes SeaBIOS). */
  instructions: number;
  outputBytes: number;
  milestones: Record<string, number>;
  visibility: DocumentVisibilityState;
}

function bootV86(request: V86BootRequest): Promise<V86BootResult> {
  return new Promise((resolve, reject) => {
    let text = "";
    let startedAt = -1;
    let firstAt = -1;
    let settled = false;
    const milestones: Record<string, number> = {};
    // No screen container: v86 draws to a dummy screen; the VGA card still exists.
    const emulator = new V86({
      wasm_path: request.wasm,
      memory_size: request.ramBytes,
      bios: { url: request.bios },
      ...(request.vgaBios ? { vga_bios: { url: request.vgaBios } } : {}),
      bzimage: { url: request.kernel },
      initrd: { url: request.initrd },
      cmdline: request.cmdline,
      autostart: false,
      disable_jit: request.disableJit,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
    });
    const settle = (outcome: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void emulator
        .stop()
        .then(() => emulator.destroy())
        .catch(() => {})
        .then(outcome);
    };
    const timer = setTimeout(() => {
      const ran =
        startedAt < 0 ? "never started" : `${emulator.get_instruction_counter()} instructions`;
      settle(() =>
        reject(
          new Error(
            `v86: no prompt after ${request.timeoutMs} ms (${ran}); serial0 tail:\n` +
              text.slice(-1500),
          ),
        ),
      );
    }, request.timeoutMs);

    emulator.add_listener("emulator-loaded", () => {
      startedAt = performance.now();
      void emulator.run();
    });
    emulator.add_listener("download-error", (e) =>
      settle(() => reject(new Error(`v86: could not load ${e.file_name}`))),
    );
    emulator.add_listener("serial0-output-byte", (byte) => {
      if (settled) return;
      const now = performance.now();
      if (firstAt < 0) firstAt = now;
      text += String.fromCharCode(byte);
      for (const line of request.milestones) {
        if (!(line in milestones) && text.endsWith(line)) {
          milestones[line] = (now - startedAt) / 1000;
        }
      }
      if (!text.endsWith(request.prompt)) return;
      const instructions = emulator.get_instruction_counter();
      settle(() =>
        resolve({
          seconds: (now - startedAt) / 1000,
          firstOutputSeconds: (firstAt - startedAt) / 1000,
          instructions,
          outputBytes: text.length,
          milestones,
          visibility: document.visibilityState,
        }),
      );
    });
  });
}

(globalThis as unknown as { bootV86: typeof bootV86 }).bootV86 = bootV86;
