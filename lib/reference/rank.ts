/**
 * float64 reference of full-ranking evaluation (SPEC §5): the target's rank among items 1..V−1,
 * ties counting against the target, and the HR / NDCG / MRR sums at K = 5, 10, 20.
 *
 * @module
 */

/**
 * rank = 1 + #{j ∈ 1..V−1, j ≠ target, not masked : !(s_j < s_target)} (so equal scores count
 * against the target, and NaN anywhere counts against it too); 0 for padding rows (target 0).
 * `masked(b, j)` says whether item j is excluded for row b (history masking); the target never is.
 */
export function rankReference(
  scores: ArrayLike<number>,
  targets: ArrayLike<number>,
  vocab: number,
  masked: (b: number, j: number) => boolean = () => false,
): Uint32Array {
  const B = targets.length, ranks = new Uint32Array(B);
  for (let b = 0; b < B; b++) {
    const t = targets[b];
    if (t <= 0 || t >= vocab) continue;
    const st = scores[b * vocab + t];
    let r = 1;
    for (let j = 1; j < vocab; j++) {
      if (j === t || masked(b, j)) continue;
      if (!(scores[b * vocab + j] < st)) r++;
    }
    ranks[b] = r;
  }
  return ranks;
}

/** The cutoffs of every metric, in the order of {@linkcode metricSums}. */
export const METRIC_KS = [5, 10, 20] as const;

/**
 * Sums over valid rows (rank > 0): [count, HR@5, HR@10, HR@20, NDCG@5, NDCG@10, NDCG@20,
 * MRR@5, MRR@10, MRR@20]; divide by count for the means.
 */
export function metricSums(ranks: ArrayLike<number>): Float64Array {
  const s = new Float64Array(10);
  for (let i = 0; i < ranks.length; i++) {
    const r = ranks[i];
    if (r === 0) continue;
    s[0]++;
    METRIC_KS.forEach((k, q) => {
      if (r > k) return;
      s[1 + q] += 1;
      s[4 + q] += 1 / Math.log2(r + 1);
      s[7 + q] += 1 / r;
    });
  }
  return s;
}
