// Finding the page's elements: a missing one is a broken page, said at once.

export function element<T extends HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`the page has no ${selector}`);
  return found;
}

/** Offers `data` to the user as a file called `name`. */
export function download(data: Blob, name: string): void {
  const url = URL.createObjectURL(data);
  const link = document.createElement("a");
  link.href = url;
  link.download = name;
  link.click();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** A file-name-safe stamp of now, e.g. 2026-12-04T21-30-00-000Z. */
export function timestamp(): string {
  return new Date().toISOString().replace(/[:.]/g, "-");
}
