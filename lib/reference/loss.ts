/**
 * float64 references of the losses: softmax cross-entropy over all V classes (PAD column 0 is a
 * normal class) and BPR with one sampled negative. Rows whose target is 0 (or out of range) are
 * padding: no loss, no gradient; the mean is over the `count` valid rows.
 *
 * @module
 */

import { randU32 } from "./elementwise.ts";

function valid(t: number, vocab: number): boolean {
  return t > 0 && t < vocab;
}

/** Per-row CE loss (0 on padding rows), the mean over valid rows, and their count. */
export function crossEntropyForward(
  logits: Float64Array,
  targets: ArrayLike<number>,
  vocab: number,
): { loss: Float64Array; mean: number; count: number } {
  const B = targets.length, loss = new Float64Array(B);
  let sum = 0, count = 0;
  for (let b = 0; b < B; b++) {
    if (!valid(targets[b], vocab)) continue;
    let m = -Infinity;
    for (let j = 0; j < vocab; j++) m = Math.max(m, logits[b * vocab + j]);
    let s = 0;
    for (let j = 0; j < vocab; j++) s += Math.exp(logits[b * vocab + j] - m);
    loss[b] = m + Math.log(s) - logits[b * vocab + targets[b]];
    sum += loss[b];
    count++;
  }
  return { loss, mean: count ? sum / count : 0, count };
}

/** d(mean loss)/d logits = (softmax − onehot)/count on valid rows, 0 on padding rows; × dMean. */
export function crossEntropyBackward(
  logits: Float64Array,
  targets: ArrayLike<number>,
  vocab: number,
  dMean = 1,
): Float64Array {
  const B = targets.length, d = new Float64Array(B * vocab);
  let count = 0;
  for (let b = 0; b < B; b++) if (valid(targets[b], vocab)) count++;
  if (!count) return d;
  for (let b = 0; b < B; b++) {
    if (!valid(targets[b], vocab)) continue;
    let m = -Infinity;
    for (let j = 0; j < vocab; j++) m = Math.max(m, logits[b * vocab + j]);
    let s = 0;
    for (let j = 0; j < vocab; j++) s += Math.exp(logits[b * vocab + j] - m);
    for (let j = 0; j < vocab; j++) {
      const p = Math.exp(logits[b * vocab + j] - m) / s;
      d[b * vocab + j] = dMean * (p - (j === targets[b] ? 1 : 0)) / count;
    }
  }
  return d;
}

/**
 * The BPR negative of each row, as the GPU samples it: uniform over 1..V−1 without the target,
 * `1 + randU32(seed, salt, b) mod (V − 2)`, shifted up by one at or above the target. 0 on padding.
 */
export function bprNegatives(
  targets: ArrayLike<number>,
  vocab: number,
  seed: number,
  salt: number,
): Int32Array {
  return Int32Array.from(targets, (t, b) => {
    if (!valid(t, vocab)) return 0;
    let n = 1 + (randU32(seed, salt, b) % (vocab - 2));
    if (n >= t) n++;
    return n;
  });
}

/** Per-row BPR loss −log σ(s_pos − s_neg) (0 on padding rows), mean and count. */
export function bprForward(
  logits: Float64Array,
  targets: ArrayLike<number>,
  negatives: ArrayLike<number>,
  vocab: number,
): { loss: Float64Array; mean: number; count: number } {
  const B = targets.length, loss = new Float64Array(B);
  let sum = 0, count = 0;
  for (let b = 0; b < B; b++) {
    if (!valid(targets[b], vocab)) continue;
    const d = logits[b * vocab + targets[b]] - logits[b * vocab + negatives[b]];
    // −log σ(d) = softplus(−d), written stably
    loss[b] = Math.max(-d, 0) + Math.log1p(Math.exp(-Math.abs(d)));
    sum += loss[b];
    count++;
  }
  return { loss, mean: count ? sum / count : 0, count };
}

/** d(mean BPR)/d logits: −σ(−d)/count at the target, +σ(−d)/count at the negative. */
export function bprBackward(
  logits: Float64Array,
  targets: ArrayLike<number>,
  negatives: ArrayLike<number>,
  vocab: number,
  dMean = 1,
): Float64Array {
  const B = targets.length, g = new Float64Array(B * vocab);
  let count = 0;
  for (let b = 0; b < B; b++) if (valid(targets[b], vocab)) count++;
  for (let b = 0; b < B; b++) {
    if (!valid(targets[b], vocab)) continue;
    const d = logits[b * vocab + targets[b]] - logits[b * vocab + negatives[b]];
    const c = dMean / (1 + Math.exp(d)) / count;
    g[b * vocab + targets[b]] -= c;
    g[b * vocab + negatives[b]] += c;
  }
  return g;
}
