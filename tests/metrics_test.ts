import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { loadDataset } from "../lib/data/mod.ts";
import {
  metricsFromRanks,
  mostPopularRanks,
  mostPopularScores,
  rankOf,
  rankSamples,
} from "../lib/metrics.ts";
import { SHARED } from "./shared.ts";

const ROOT = new URL("../", import.meta.url);
const MLS = fileURLToPath(new URL("data/ml-latest-small/ratings.csv", ROOT));
const ML100K = fileURLToPath(new URL("data/ml-100k/u.data", SHARED));

function close(a: number, b: number, eps = 1e-12): void {
  ok(Math.abs(a - b) <= eps, `${a} != ${b}`);
}

Deno.test("rankOf: strictly higher plus equal others; padding ignored", () => {
  //              pad  1    2    3    4    5
  const scores = [9, 0.5, 0.9, 0.5, 0.1, 0.5];
  assertEquals(rankOf(scores, 2), 1);
  // item 1: item 2 higher, items 3 and 5 equal -> 1 + 1 + 2
  assertEquals(rankOf(scores, 1), 4);
  assertEquals(rankOf(scores, 4), 5);
  // the padding score (9) never counts
  assertEquals(rankOf([100, 1, 2], 2), 1);
});

Deno.test("rankOf: constant scores give the worst rank V-1", () => {
  const v = 50;
  const scores = new Float32Array(v).fill(0.25);
  for (const t of [1, 17, 49]) assertEquals(rankOf(scores, t), v - 1);
});

Deno.test("rankOf: exclusion (history mask) never drops the target; NaN is worst", () => {
  const scores = [0, 5, 4, 3, 2];
  assertEquals(rankOf(scores, 3), 3);
  assertEquals(rankOf(scores, 3, { exclude: [1, 3] }), 2);
  assertEquals(rankOf([0, NaN, 1, 2], 1), 3);
  assertEquals(rankOf([0, NaN, 1, 2], 3), 1);
});

Deno.test("metricsFromRanks: hand-computed values", () => {
  const m = metricsFromRanks([1, 3, 6, 11, 25], [5, 10, 20]);
  close(m["hr@5"], 2 / 5);
  close(m["hr@10"], 3 / 5);
  close(m["hr@20"], 4 / 5);
  close(m["mrr@5"], (1 + 1 / 3) / 5);
  close(m["mrr@10"], (1 + 1 / 3 + 1 / 6) / 5);
  close(m["ndcg@5"], (1 + 1 / 2) / 5); // 1/log2(2) + 1/log2(4)
  close(m["ndcg@10"], (1 + 1 / 2 + 1 / Math.log2(7)) / 5);
  close(m["ndcg@20"], (1 + 1 / 2 + 1 / Math.log2(7) + 1 / Math.log2(12)) / 5);
  assertEquals(Object.keys(metricsFromRanks([1], [10])).sort(), ["hr@10", "mrr@10", "ndcg@10"]);
});

Deno.test("MostPop on ml-latest-small matches SPEC §6 (0.0213 / 0.0102 / 0.0069)", async () => {
  const ds = await loadDataset(MLS);
  const m = metricsFromRanks(mostPopularRanks(ds, ds.test));
  assertEquals(
    [m["hr@10"], m["ndcg@10"], m["mrr@10"]].map((x) => x.toFixed(4)),
    ["0.0213", "0.0102", "0.0069"],
  );
  // the same path with an explicit scorer gives the same ranks
  const scores = mostPopularScores(ds);
  assertEquals(rankSamples(ds, ds.test, () => scores), mostPopularRanks(ds, ds.test));
});

Deno.test({
  name: "MostPop on ml-100k matches SPEC §6 (0.0498 / 0.0220 / 0.0136)",
  ignore: (() => {
    try {
      Deno.statSync(ML100K);
      return false;
    } catch {
      return true;
    }
  })(),
  async fn() {
    const ds = await loadDataset(ML100K);
    const m = metricsFromRanks(mostPopularRanks(ds, ds.test));
    assertEquals(
      [m["hr@10"], m["ndcg@10"], m["mrr@10"]].map((x) => x.toFixed(4)),
      ["0.0498", "0.0220", "0.0136"],
    );
  },
});
