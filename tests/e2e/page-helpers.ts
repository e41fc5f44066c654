// What the browser tests share: reading the xterm.js terminal and typing a
// command into it.
import { expect, type Page } from "@playwright/test";

export async function terminalText(page: Page): Promise<string> {
  return page.locator("#terminal .xterm-rows").innerText();
}

/** Opens the demo and waits until the guest's shell prompt is on screen. */
export async function bootDemo(page: Page): Promise<void> {
  await page.goto("/");
  await expect(page.locator("body")).toHaveAttribute("data-boot-state", "prompt");
  await page.locator("#terminal").click();
}

/**
 * Types a command and returns what the regexp's first group captures on the
 * screen (only the visible rows exist in the DOM: make the pattern unique).
 */
export async function runAndCapture(page: Page, command: string, pattern: RegExp): Promise<string> {
  await page.locator("#terminal").click(); // the keyboard may be on another control
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
  let captured = "";
  await expect
    .poll(async () => {
      captured = pattern.exec(await terminalText(page))?.[1] ?? "";
      return captured !== "";
    })
    .toBe(true);
  return captured;
}

/** Everything in the terminal's buffer, scrollback included (the page's window.hive86.terminal). */
export async function consoleText(page: Page): Promise<string> {
  return page.evaluate(() => {
    const { terminal } = (window as unknown as { hive86: { terminal: XtermLike } }).hive86;
    const buffer = terminal.buffer.active;
    const lines: string[] = [];
    for (let i = 0; i < buffer.length; i++) {
      const line = buffer.getLine(i);
      if (!line) continue;
      // A wrapped row continues the line before it.
      if (line.isWrapped && lines.length > 0)
        lines[lines.length - 1] += line.translateToString(true);
      else lines.push(line.translateToString(true));
    }
    return lines.join("\n");
  });
}

interface XtermLike {
  buffer: {
    active: {
      length: number;
      getLine(
        i: number,
      ): { isWrapped: boolean; translateToString(trim: boolean): string } | undefined;
    };
  };
}
