// A tab list: click or arrow keys choose a tab, its pane shows, the others hide.

export class Tabs {
  /** Called with the chosen tab's id. */
  onchange: (id: string) => void = () => {};
  private readonly tabs: HTMLButtonElement[];

  constructor(list: HTMLElement) {
    this.tabs = [...list.querySelectorAll<HTMLButtonElement>('[role="tab"]')];
    for (const tab of this.tabs) tab.addEventListener("click", () => this.select(tab.id));
    list.addEventListener("keydown", (event) => {
      const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
      if (!step) return;
      const at = this.tabs.findIndex((tab) => tab.getAttribute("aria-selected") === "true");
      const next = this.tabs[(at + step + this.tabs.length) % this.tabs.length]!;
      this.select(next.id);
      next.focus();
      event.preventDefault();
    });
  }

  get selected(): string {
    return this.tabs.find((tab) => tab.getAttribute("aria-selected") === "true")?.id ?? "";
  }

  select(id: string): void {
    for (const tab of this.tabs) {
      const on = tab.id === id;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      const pane = document.getElementById(tab.getAttribute("aria-controls") ?? "");
      if (pane) pane.hidden = !on;
    }
    this.onchange(id);
  }
}
