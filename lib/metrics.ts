/**
 * Full-ranking evaluation (SPEC §5): ranks over all items, then HR@K, NDCG@K and MRR@K.
 *
 * rank = 1 + #(items scoring strictly higher than the target) + #(other items scoring equal):
 * ties count against the target, so a constant scorer gets rank V-1 (the worst) instead of 1.
 * The padding id 0 never competes. History items are not masked by default (RecBole's
 * convention for sequential models); `maskHistory` removes them from the competition.
 *
 * @module
 */

import type { SampleSet, SequentialDataset } from "./data/dataset.ts";

/** Options of {@link rankOf}. */
export interface RankOptions {
  /** Item ids to exclude from the competition (the target itself is never excluded). */
  exclude?: ArrayLike<number>;
}

/**
 * CPU reference rank of `target` among ids 1..V-1 of `scores` (length V; id 0 = padding is
 * skipped as if scored -inf). NaN scores never beat the target; a NaN target score gives rank
 * V-1 minus excluded items (the worst), so a broken model cannot look good.
 */
export function rankOf(
  scores: ArrayLike<number>,
  target: number,
  options: RankOptions = {},
): number {
  const v = scores.length;
  if (target < 1 || target >= v) throw new RangeError(`target ${target} outside 1..${v - 1}`);
  const t = scores[target];
  let excluded: Set<number> | null = null;
  if (options.exclude && options.exclude.length > 0) {
    excluded = new Set<number>();
    for (let i = 0; i < options.exclude.length; i++) {
      if (options.exclude[i] !== target) excluded.add(options.exclude[i]);
    }
  }
  if (Number.isNaN(t)) {
    let competitors = 0;
    for (let i = 1; i < v; i++) if (!excluded?.has(i)) competitors++;
    return competitors;
  }
  let beaten = 0; // strictly higher, plus other items with an equal score
  for (let i = 1; i < v; i++) {
    if (i === target || (excluded !== null && excluded.has(i))) continue;
    if (scores[i] >= t) beaten++;
  }
  return 1 + beaten;
}

/** Metric names produced by {@link metricsFromRanks}, e.g. `hr@10`, `ndcg@10`, `mrr@10`. */
export type MetricValues = Record<string, number>;

/**
 * HR@K = mean 1[rank <= K]; MRR@K = mean (rank <= K ? 1/rank : 0);
 * NDCG@K = mean (rank <= K ? 1/log2(rank+1) : 0). Keys are lower case: `hr@5`, `ndcg@10`, ...
 */
export function metricsFromRanks(
  ranks: ArrayLike<number>,
  ks: readonly number[] = [5, 10, 20],
): MetricValues {
  const out: MetricValues = {};
  const n = ranks.length;
  for (const k of ks) {
    let hr = 0, ndcg = 0, mrr = 0;
    for (let i = 0; i < n; i++) {
      const r = ranks[i];
      if (r <= k) {
        hr += 1;
        ndcg += 1 / Math.log2(r + 1);
        mrr += 1 / r;
      }
    }
    out[`hr@${k}`] = n > 0 ? hr / n : 0;
    out[`ndcg@${k}`] = n > 0 ? ndcg / n : 0;
    out[`mrr@${k}`] = n > 0 ? mrr / n : 0;
  }
  return out;
}

/** Items the user interacted with before the sample's target (the whole prefix, not the window). */
export function historyOf(ds: SequentialDataset, set: SampleSet, index: number): Int32Array {
  const off = ds.userOffsets[set.user[index]];
  return ds.items.subarray(off, off + set.pos[index]);
}

/** Options of {@link rankSamples}. */
export interface RankSamplesOptions {
  /** Exclude each sample's history items from the competition (default false, RecBole's). */
  maskHistory?: boolean;
}

/**
 * Rank every sample of `set` with a scorer returning V scores for a sample index.
 * The target is the item at the sample's position.
 */
export function rankSamples(
  ds: SequentialDataset,
  set: SampleSet,
  scorer: (sampleIndex: number) => ArrayLike<number>,
  options: RankSamplesOptions = {},
): Int32Array {
  const ranks = new Int32Array(set.user.length);
  for (let s = 0; s < ranks.length; s++) {
    const target = ds.items[ds.userOffsets[set.user[s]] + set.pos[s]];
    ranks[s] = rankOf(scorer(s), target, {
      exclude: options.maskHistory ? historyOf(ds, set, s) : undefined,
    });
  }
  return ranks;
}

/**
 * MostPop scores: how often each item occurs in the training interactions, i.e. each user's
 * sequence up to and including their last training target (everything but the validation and
 * test items). Counting these, rather than only training targets, reproduces SPEC §6's MostPop
 * numbers exactly with the tie rule of {@link rankOf}. Padding gets -Infinity.
 */
export function mostPopularScores(ds: SequentialDataset): Float64Array {
  const scores = new Float64Array(ds.numItems);
  const last = new Int32Array(ds.numUsers).fill(-1);
  const { user, pos } = ds.train;
  for (let s = 0; s < user.length; s++) if (pos[s] > last[user[s]]) last[user[s]] = pos[s];
  for (let u = 0; u < ds.numUsers; u++) {
    const off = ds.userOffsets[u];
    for (let j = 0; j <= last[u]; j++) scores[ds.items[off + j]]++;
  }
  scores[0] = -Infinity;
  return scores;
}

/** Ranks of the MostPop baseline on a split, through the same {@link rankOf} path as models. */
export function mostPopularRanks(
  ds: SequentialDataset,
  set: SampleSet,
  options: RankSamplesOptions = {},
): Int32Array {
  const scores = mostPopularScores(ds);
  return rankSamples(ds, set, () => scores, options);
}

/** HR/NDCG/MRR@`ks` of the MostPop baseline on a split (train, experiments). */
export function mostPopularMetrics(
  ds: SequentialDataset,
  set: SampleSet,
  options: RankSamplesOptions & { ks?: readonly number[] } = {},
): MetricValues {
  return metricsFromRanks(mostPopularRanks(ds, set, options), options.ks);
}
