/**
 * A bounded queue in front of `parallel` generation slots. `acquire` resolves with a release function once a slot
 * is free, in arrival order; with `queueSize` requests already waiting it fails at once with a 429 and a Retry-After
 * estimated from recent run times. A waiting request whose signal aborts (its client went away) leaves the queue.
 */
import { ApiError } from './errors.js';

interface Waiter {
  resolve: (release: () => void) => void;
  reject: (err: unknown) => void;
  cleanup: () => void;
}

export class Scheduler {
  private running = 0;
  private readonly queue: Waiter[] = [];
  /** Mean seconds of recent runs (exponential average), for Retry-After. */
  private meanSeconds = 1;
  completed = 0;

  constructor(
    readonly parallel: number,
    readonly queueSize: number,
  ) {}

  get active(): number {
    return this.running;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Seconds until a slot is likely free for a new request. */
  retryAfter(): number {
    return Math.max(1, Math.ceil((this.meanSeconds * (this.queue.length + 1)) / this.parallel));
  }

  acquire(signal?: AbortSignal): Promise<() => void> {
    signal?.throwIfAborted();
    if (this.running < this.parallel && this.queue.length === 0) return Promise.resolve(this.slot());
    if (this.queue.length >= this.queueSize) {
      const s = String(this.retryAfter());
      return Promise.reject(
        new ApiError(429, `the server is busy: ${this.running} requests running and ${this.queue.length} waiting (the queue holds ${this.queueSize}); retry after ${s} s`, 'rate_limit_error', null, 'queue_full', { 'retry-after': s }),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(signal!.reason);
      };
      const waiter: Waiter = { resolve, reject, cleanup: () => signal?.removeEventListener('abort', onAbort) };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(waiter);
    });
  }

  private slot(): () => void {
    this.running++;
    const t0 = performance.now();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.running--;
      this.completed++;
      this.meanSeconds = 0.8 * this.meanSeconds + 0.2 * ((performance.now() - t0) / 1000);
      const next = this.queue.shift();
      if (next) {
        next.cleanup();
        next.resolve(this.slot());
      }
    };
  }
}
