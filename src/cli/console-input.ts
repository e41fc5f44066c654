// Splits the terminal's input between the guest's serial port and the hive86
// monitor. Ctrl-A is the escape key, as in QEMU: Ctrl-A x quits, Ctrl-A c
// switches to the monitor (and back), Ctrl-A a sends a literal Ctrl-A.

export const ESCAPE = 0x01;

export interface ConsoleInputSink {
  /** Bytes for the guest. */
  toGuest(bytes: Uint8Array): void;
  /** A complete monitor command line. */
  monitorLine(line: string): void;
  /** Echo for what is typed at the monitor prompt (the terminal is raw). */
  echo(text: string): void;
  quit(): void;
  help(): void;
  monitorToggled(active: boolean): void;
}

export class ConsoleInput {
  private afterEscape = false;
  private monitorActive = false;
  private line = "";

  constructor(private readonly sink: ConsoleInputSink) {}

  get inMonitor(): boolean {
    return this.monitorActive;
  }

  feed(chunk: Uint8Array): void {
    const guest: number[] = [];
    const flush = () => {
      if (guest.length) this.sink.toGuest(Uint8Array.from(guest.splice(0)));
    };
    for (const byte of chunk) {
      if (this.afterEscape) {
        this.afterEscape = false;
        flush();
        this.escapeCommand(byte, guest);
      } else if (byte === ESCAPE) {
        this.afterEscape = true;
      } else if (this.monitorActive) {
        this.monitorByte(byte);
      } else {
        guest.push(byte);
      }
    }
    flush();
  }

  private escapeCommand(byte: number, guest: number[]): void {
    switch (String.fromCharCode(byte).toLowerCase()) {
      case "x":
        this.sink.quit();
        return;
      case "c":
        this.monitorActive = !this.monitorActive;
        this.line = "";
        this.sink.monitorToggled(this.monitorActive);
        return;
      case "h":
        this.sink.help();
        return;
      case "a":
        if (this.monitorActive) return;
        guest.push(ESCAPE);
        return;
      default:
        // Unknown escapes are dropped, as QEMU does.
        return;
    }
  }

  private monitorByte(byte: number): void {
    if (byte === 0x0d || byte === 0x0a) {
      this.sink.echo("\r\n");
      const line = this.line.trim();
      this.line = "";
      if (line) this.sink.monitorLine(line);
      return;
    }
    if (byte === 0x7f || byte === 0x08) {
      if (this.line.length) {
        this.line = this.line.slice(0, -1);
        this.sink.echo("\b \b");
      }
      return;
    }
    if (byte === 0x03) {
      this.line = "";
      this.sink.echo("^C\r\n");
      return;
    }
    if (byte >= 0x20 && byte < 0x7f) {
      const char = String.fromCharCode(byte);
      this.line += char;
      this.sink.echo(char);
    }
  }
}
