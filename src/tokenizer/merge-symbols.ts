/**
 * The merge loop llama.cpp's SPM and BPE sessions share, on text: symbols are ranges of `text`, linked both ways;
 * the adjacent pair with the lowest priority merges first (the leftmost on ties), its neighbours are queued again,
 * until no adjacent pair can merge.
 */
import { PriorityQueue } from './priority-queue.js';

interface Bigram {
  left: number;
  right: number;
  priority: number;
  /** Combined length when queued: a different sum later means one side has changed since. */
  size: number;
}

/**
 * `starts`: each symbol's first code unit in `text`, ascending (a symbol runs to the next one's start).
 * `priority(start, leftLength, rightLength)`: the pair `text.substr(start, leftLength)` + the `rightLength` code units
 * after it — lower merges first — or undefined when the pair does not merge. Returns the final symbols' text in order.
 */
export function mergeSymbols(
  text: string,
  starts: ArrayLike<number>,
  priority: (start: number, leftLength: number, rightLength: number) => number | undefined,
): string[] {
  const n = starts.length;
  const start = new Int32Array(n);
  const len = new Int32Array(n); // 0: merged away
  const prev = new Int32Array(n);
  const next = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    start[i] = starts[i]!;
    len[i] = (i + 1 < n ? starts[i + 1]! : text.length) - starts[i]!;
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  const queue = new PriorityQueue<Bigram>((a, b) => a.priority < b.priority || (a.priority === b.priority && a.left < b.left));
  const tryAdd = (left: number, right: number): void => {
    if (left < 0 || right < 0) return;
    const p = priority(start[left]!, len[left]!, len[right]!);
    if (p === undefined) return;
    queue.push({ left, right, priority: p, size: len[left]! + len[right]! });
  };
  for (let i = 1; i < n; i++) tryAdd(i - 1, i);
  while (queue.size > 0) {
    const b = queue.pop()!;
    const l = b.left;
    const r = b.right;
    if (len[l] === 0 || len[r] === 0 || len[l]! + len[r]! !== b.size) continue;
    len[l] = b.size;
    len[r] = 0;
    next[l] = next[r]!;
    if (next[r]! >= 0) prev[next[r]!] = l;
    tryAdd(prev[l]!, l);
    tryAdd(l, next[l]!);
  }
  const pieces: string[] = [];
  for (let i = 0; i !== -1 && n > 0; i = next[i]!) pieces.push(text.substr(start[i]!, len[i]!));
  return pieces;
}
