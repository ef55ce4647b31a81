/**
 * Stop strings over streamed text: finds the first occurrence of any stop string and holds back the tail that could
 * still become one, so streamed output never shows part of a stop string.
 */
export class StopStringMatcher {
  private readonly stops: string[];
  private full = '';
  private emitted = 0;
  stopped = false;

  constructor(stops: readonly string[] = []) {
    this.stops = stops.filter((s) => s.length > 0);
  }

  /** All text so far, cut before the stop string once one is found. */
  get text(): string {
    return this.full;
  }

  /** Add a decoded piece; returns the text that is now safe to show. */
  push(piece: string): string {
    if (this.stopped) return '';
    const from = this.full.length;
    this.full += piece;
    let cut = -1;
    for (const s of this.stops) {
      const i = this.full.indexOf(s, Math.max(0, from - s.length + 1));
      if (i >= 0 && (cut < 0 || i < cut)) cut = i;
    }
    if (cut >= 0) {
      this.full = this.full.slice(0, cut);
      this.stopped = true;
      return this.release(this.full.length);
    }
    let hold = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, this.full.length); k > hold; k--) {
        if (this.full.endsWith(s.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return this.release(this.full.length - hold);
  }

  /** The held-back tail (generation ended without a stop string). */
  flush(): string {
    return this.release(this.full.length);
  }

  private release(end: number): string {
    if (end <= this.emitted) return '';
    const out = this.full.slice(this.emitted, end);
    this.emitted = end;
    return out;
  }
}
