// Dirty logging for the machine's users (the migration, a memory view): each
// opens a reader, and every harvest of the core's bitmap feeds all open
// readers. A harvest clears the core's bits, so two users harvesting on their
// own would each miss what the other took: a page the migration never
// learns was written is a silently corrupted guest. Pages the balloon holds
// are left out: they are zero, and the guest has promised not to touch them.
import type { Core } from "../core/core.ts";
import { PageBitmap } from "../platform/page-bitmap.ts";

export class DirtyLog {
  private readonly readers = new Set<DirtyLogReader>();
  private readonly pages: number;

  constructor(
    private readonly core: Core,
    private readonly ballooned: PageBitmap | null,
  ) {
    this.pages = core.memory.ramBytes / 4096;
    // Nobody logs yet: the core need not track (opening a reader starts it).
    core.setDirtyTracking(false);
  }

  /** True while a reader is open (the core tracks writes). */
  get active(): boolean {
    return this.readers.size > 0;
  }

  /** Starts logging for a new user: it sees the pages written from now on. */
  open(): DirtyLogReader {
    if (this.readers.size === 0) {
      this.core.setDirtyTracking(true);
      this.core.harvestDirtyWords(); // what device writes left while nobody logged
    } else {
      this.harvest(); // the earlier readers' due; the new one starts empty
    }
    const reader = new DirtyLogReader(this, new PageBitmap(this.pages));
    this.readers.add(reader);
    return reader;
  }

  /** Moves the core's dirty bits into every open reader. Cheap: a copy and an OR of the bitmap. */
  harvest(): void {
    if (this.readers.size === 0) return;
    const words = this.core.harvestDirtyWords();
    if (!words) return;
    const except = this.ballooned?.words;
    for (const reader of this.readers) reader.pending.addWords(words, except);
  }

  /** @internal */
  close(reader: DirtyLogReader): void {
    if (!this.readers.delete(reader)) return;
    if (this.readers.size === 0) this.core.setDirtyTracking(false);
  }
}

export class DirtyLogReader {
  /** @internal the pages written since this reader's last collect(). */
  constructor(
    private readonly log: DirtyLog,
    readonly pending: PageBitmap,
  ) {}

  /** The pages written since the last collect() (or since open), and starts a new set. */
  collect(): PageBitmap {
    this.log.harvest();
    const taken = new PageBitmap(this.pending.pages);
    taken.addAll(this.pending);
    this.pending.clear();
    return taken;
  }

  /** Stops logging for this user. */
  close(): void {
    this.log.close(this);
  }
}
