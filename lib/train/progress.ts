/**
 * A one-line progress bar on stderr (steps/s, loss, ETA), redrawn in place on a terminal and
 * printed sparsely otherwise so CI logs stay short.
 *
 * @module
 */

/** Progress of one epoch. */
export class Progress {
  #start = performance.now();
  #lastDraw = 0;
  #tty = Deno.stderr.isTerminal();
  #enc = new TextEncoder();

  /** Starts a bar of `total` steps labelled `label`. */
  constructor(readonly label: string, readonly total: number) {}

  /** Updates the bar after `done` steps; `loss` is the latest known running loss, if any. */
  update(done: number, loss?: number): void {
    const now = performance.now();
    if (done < this.total && now - this.#lastDraw < (this.#tty ? 200 : 30000)) return;
    this.#lastDraw = now;
    const secs = (now - this.#start) / 1000;
    const rate = done / Math.max(secs, 1e-9);
    const eta = rate > 0 ? (this.total - done) / rate : 0;
    const width = 24;
    const filled = Math.round((done / Math.max(this.total, 1)) * width);
    const bar = "#".repeat(filled) + "-".repeat(width - filled);
    const lossText = loss === undefined || Number.isNaN(loss) ? "" : ` loss ${loss.toFixed(4)}`;
    const line = `${this.label} [${bar}] ${done}/${this.total} ${rate.toFixed(1)} steps/s` +
      `${lossText} ETA ${eta.toFixed(0)}s`;
    Deno.stderr.writeSync(this.#enc.encode(this.#tty ? `\r${line}\x1b[K` : `${line}\n`));
  }

  /** Ends the bar's line. */
  done(): void {
    if (this.#tty) Deno.stderr.writeSync(this.#enc.encode("\r\x1b[K"));
  }
}
