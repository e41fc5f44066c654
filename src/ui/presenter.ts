// Presenter mode (large type, high contrast) and the keyboard shortcuts a
// person on stage uses: M migrate, B balloon, S snapshot, F full screen for
// the focused panel, P presenter mode, ? help. The console takes every key
// for the guest, so shortcuts work with the focus anywhere else.
import { element } from "./dom.ts";

export interface ShortcutActions {
  migrate(): void;
  balloon(): void;
  snapshot(): void;
}

export class Presenter {
  /** Presenter mode changed (colours and sizes are new: charts redraw). */
  onchange: (on: boolean) => void = () => {};

  private readonly toggle = element<HTMLButtonElement>("#presenter-toggle");
  private readonly help = element<HTMLElement>("#help");
  /** The panel a person last clicked or focused: F makes it full screen. */
  private focusedPanel: HTMLElement | null = null;

  constructor(private readonly actions: ShortcutActions) {
    this.toggle.addEventListener("click", () => this.set(!this.on));
    element("#help-open").addEventListener("click", () => this.showHelp(true));
    element("#help-close").addEventListener("click", () => this.showHelp(false));
    document.addEventListener("keydown", (event) => this.key(event));
    for (const panel of document.querySelectorAll<HTMLElement>(".panel")) {
      panel.addEventListener("pointerdown", () => (this.focusedPanel = panel));
      panel.addEventListener("focusin", () => (this.focusedPanel = panel));
    }
    if (new URLSearchParams(location.search).has("presenter")) this.set(true);
  }

  get on(): boolean {
    return document.body.dataset.presenter === "true";
  }

  set(on: boolean): void {
    document.body.dataset.presenter = String(on);
    this.toggle.setAttribute("aria-pressed", String(on));
    this.onchange(on);
  }

  private showHelp(show: boolean): void {
    this.help.hidden = !show;
    if (show) element<HTMLButtonElement>("#help-close").focus();
  }

  private key(event: KeyboardEvent): void {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target as HTMLElement | null;
    // Typing goes where it is typed: the guest's console, a text field.
    if (target?.closest("#terminal, input, select, textarea")) return;
    if (event.key === "Escape") {
      if (!this.help.hidden) this.showHelp(false);
      const maximized = document.querySelector<HTMLElement>(".panel.maximized");
      if (maximized) this.restore(maximized);
      return;
    }
    const action: Record<string, () => void> = {
      m: () => this.actions.migrate(),
      b: () => this.actions.balloon(),
      s: () => this.actions.snapshot(),
      f: () => void this.fullScreen(),
      p: () => this.set(!this.on),
      "?": () => this.showHelp(this.help.hidden === true),
    };
    const run = action[event.key.toLowerCase()];
    if (!run) return;
    event.preventDefault();
    run();
  }

  /**
   * F: the focused panel fills the window (and the screen, where the browser
   * allows it); F again, or Escape, brings the dashboard back.
   */
  private async fullScreen(): Promise<void> {
    const maximized = document.querySelector<HTMLElement>(".panel.maximized");
    if (maximized) {
      this.restore(maximized);
      return;
    }
    const panel = this.focusedPanel ?? element<HTMLElement>("#panel-side");
    panel.classList.add("maximized");
    document.body.dataset.maximized = panel.id;
    await panel.requestFullscreen?.().catch(() => undefined); // refused: the window will do
  }

  private restore(panel: HTMLElement): void {
    panel.classList.remove("maximized");
    delete document.body.dataset.maximized;
    if (document.fullscreenElement) void document.exitFullscreen().catch(() => undefined);
  }
}
