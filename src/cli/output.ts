// How the CLI prints for people: stdout text, shortened cells, aligned tables, and a progress bar
// on stderr.

/** Writes to stdout (the lines meant for a person or a pipe). */
export const out = (text: string) => process.stdout.write(text);

export function clip(s: string, n: number): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > n ? `${flat.slice(0, n - 1)}…` : flat;
}

export function table(head: string[], rows: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd() + '\n';
  return line(head) + rows.map(line).join('');
}

/** A progress bar on stderr (redrawn in place on a terminal, a line per tenth otherwise). */
export class ProgressBar {
  private lastDraw = 0;
  private lastTenth = -1;
  private readonly tty = process.stderr.isTTY;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly unit: string,
  ) {}

  update(n: number): void {
    const now = Date.now();
    const tenth = this.total === 0 ? 10 : Math.floor((n / this.total) * 10);
    if (this.tty ? now - this.lastDraw < 100 : tenth === this.lastTenth) return;
    this.lastDraw = now;
    this.lastTenth = tenth;
    this.draw(n, this.tty ? '\r' : '', this.tty ? '' : '\n');
  }

  done(): void {
    this.draw(this.total, this.tty ? '\r' : '', '\n');
  }

  private draw(n: number, start: string, end: string): void {
    const ratio = this.total === 0 ? 1 : Math.min(1, n / this.total);
    const width = 30;
    const full = Math.round(ratio * width);
    const bar = '#'.repeat(full) + '-'.repeat(width - full);
    process.stderr.write(
      `${start}${this.label} [${bar}] ${String(Math.round(ratio * 100)).padStart(3)}% ${n}/${this.total} ${this.unit}${end}`,
    );
  }
}
