import {
  deepStrictEqual as assertEquals,
  notDeepStrictEqual,
  throws as assertThrows,
} from "node:assert/strict";
import {
  buildDataset,
  epochPermutation,
  longestFirst,
  makeBatch,
  makeSequenceBatch,
  mulberry32,
  packBatch,
  sequenceWindows,
  tokenCount,
} from "../lib/data/mod.ts";
import { tableOf } from "./data_fixtures.ts";

const NO_FILTER = { userInterNumInterval: null, itemInterNumInterval: null };

// One user, 6 interactions: items 1..6 (dense ids follow first appearance), times below.
const TIMES = [1000, 1010, 1010, 1100, 1_000_000_007, 1_000_000_100];
function sixItems() {
  return buildDataset(tableOf(TIMES.map((t, k) => ["u", `m${k + 1}`, t])), NO_FILTER);
}

Deno.test("makeBatch: window, right padding, SPEC §1 gaps, padding rows", () => {
  const ds = sixItems();
  // test sample: pos 5 (target m6), input m1..m5
  assertEquals(Array.from(ds.test.pos), [5]);
  const b = makeBatch(ds, ds.test, [0], { maxLen: 7, batchSize: 2 });
  assertEquals(b.size, 2);
  assertEquals(b.count, 1);
  assertEquals(Array.from(b.itemSeq), [1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals(Array.from(b.seqLen), [5, 0]);
  assertEquals(Array.from(b.target), [6, 0]);
  assertEquals(Array.from(b.user), [0, -1]);
  assertEquals(Array.from(b.timeGaps.subarray(0, 7)), [
    10,
    0,
    90,
    Math.fround(999_998_907),
    93,
    0,
    0,
  ]);
  // sliding window L = 3: last three inputs m3 m4 m5, gaps reach the target
  const w = makeBatch(ds, ds.test, [0], { maxLen: 3 });
  assertEquals(Array.from(w.itemSeq), [3, 4, 5]);
  assertEquals(Array.from(w.timeGaps), [90, Math.fround(999_998_907), 93]);
});

Deno.test("makeBatch: float32 timestamp precision rounds absolute times first", () => {
  const ds = sixItems();
  const b = makeBatch(ds, ds.test, [0], { maxLen: 5, timestampPrecision: "float32" });
  const f = Math.fround;
  const expected = [1010, 1010, 1100, 1_000_000_007, 1_000_000_100].map((t, i) =>
    f(f(t) - f(TIMES[i]))
  );
  assertEquals(Array.from(b.timeGaps), expected);
  // near 1e9 float32 spacing is 64 s: the 93 s gap becomes 64 or 128
  notDeepStrictEqual(b.timeGaps[4], 93);
});

Deno.test("sequence windows: non-overlapping chunks of the training part", () => {
  const ds = sixItems(); // train targets: pos 1..3, valid 4, test 5
  const win = sequenceWindows(ds, { maxLen: 2 });
  assertEquals(Array.from(win.start), [0, 2]);
  assertEquals(Array.from(win.end), [2, 3]);
  const b = makeSequenceBatch(ds, win, [0, 1], { maxLen: 2 });
  assertEquals(Array.from(b.itemSeq), [1, 2, 3, 0]);
  assertEquals(Array.from(b.targets), [2, 3, 4, 0]);
  assertEquals(Array.from(b.seqLen), [2, 1]);
  assertEquals(Array.from(b.timeGaps), [10, 0, 90, 0]);
  // with L large enough a single window equals prefix mode position by position
  const one = makeSequenceBatch(ds, sequenceWindows(ds, { maxLen: 10 }), [0], { maxLen: 10 });
  const prefix = makeBatch(ds, ds.train, [2], { maxLen: 10 }); // pos 3
  assertEquals(one.itemSeq.subarray(0, 3), prefix.itemSeq.subarray(0, 3));
  assertEquals(one.timeGaps.subarray(0, 3), prefix.timeGaps.subarray(0, 3));
  assertEquals(one.targets[2], prefix.target[0]);
});

Deno.test("seeded shuffling is deterministic and a permutation", () => {
  const a = epochPermutation(1000, { seed: 2020, epoch: 3 });
  const b = epochPermutation(1000, { seed: 2020, epoch: 3 });
  const c = epochPermutation(1000, { seed: 2020, epoch: 4 });
  assertEquals(a, b);
  notDeepStrictEqual(a, c);
  assertEquals(Array.from(a).sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  const r = mulberry32(1);
  const first = [r(), r()];
  const r2 = mulberry32(1);
  assertEquals([r2(), r2()], first);
});

Deno.test("longestFirst: rows reordered by length, each row's items, gaps and target moved together, padding rows last", () => {
  // three users of 6, 3 and 4 interactions: test samples of input length 5, 2 and 3
  const rows: [string, string, number][] = [];
  for (const [u, n] of [["a", 6], ["b", 3], ["c", 4]] as const) {
    for (let k = 0; k < n; k++) rows.push([u, `m${u}${k}`, 1000 + 10 * k * (u === "b" ? 3 : 1)]);
  }
  const ds = buildDataset(tableOf(rows), NO_FILTER);
  const b = makeBatch(ds, ds.test, [1, 0, 2], { maxLen: 6, batchSize: 4 });
  const s = longestFirst(b);
  const order = [...b.seqLen].map((_, i) => i).sort((x, y) => b.seqLen[y] - b.seqLen[x] || x - y);
  assertEquals([...s.seqLen], [...b.seqLen].sort((x, y) => y - x));
  assertEquals(s.seqLen[3], 0); // the padding row stays last
  order.forEach((r, i) => {
    assertEquals(s.itemSeq.subarray(i * 6, i * 6 + 6), b.itemSeq.subarray(r * 6, r * 6 + 6));
    assertEquals(s.timeGaps.subarray(i * 6, i * 6 + 6), b.timeGaps.subarray(r * 6, r * 6 + 6));
    assertEquals(s.target[i], b.target[r]);
    assertEquals(s.user[i], b.user[r]);
  });
  notDeepStrictEqual([...s.seqLen], [...b.seqLen]); // the input was not already in order
  // sequence batches move their per-position targets with the row
  const w = sequenceWindows(ds, { maxLen: 6 });
  const sb = makeSequenceBatch(ds, w, [1, 0, 2], { maxLen: 6 });
  const ss = longestFirst(sb);
  const so = [...sb.seqLen].map((_, i) => i).sort((x, y) => sb.seqLen[y] - sb.seqLen[x] || x - y);
  so.forEach((r, i) => {
    assertEquals(ss.targets.subarray(i * 6, i * 6 + 6), sb.targets.subarray(r * 6, r * 6 + 6));
  });
});

Deno.test("packBatch: each row's real steps one after another, filler rows over the rest, row starts, last tokens", () => {
  // rows of lengths 2, 3, 0, 1 at L = 4 (item ids 10·row + step + 1, gaps 0.5 + 10·row + step)
  const L = 4, lens = [2, 3, 0, 1];
  const itemSeq = new Int32Array(4 * L), timeGaps = new Float32Array(4 * L);
  lens.forEach((n, b) => {
    for (let t = 0; t < n; t++) {
      itemSeq[b * L + t] = 10 * b + t + 1;
      timeGaps[b * L + t] = 0.5 + 10 * b + t;
    }
  });
  const batch = {
    size: 4,
    count: 4,
    maxLen: L,
    itemSeq,
    seqLen: Int32Array.from(lens),
    timeGaps,
    user: Int32Array.from([5, 6, 7, 8]),
    target: Int32Array.from([9, 8, 7, 6]),
  };
  assertEquals(tokenCount(batch), 6);
  // 13 tokens: the 6 real ones, then two filler rows of 4 and 3 (item 0, gap 0)
  const p = packBatch(batch, 13, 2);
  assertEquals([...p.rowLengths], [2, 3, 0, 1, 4, 3]);
  assertEquals([...p.starts], [0, 2, 5, 5, 6, 10, 13]);
  assertEquals([...p.itemSeq], [1, 2, 11, 12, 13, 31, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals([...p.timeGaps].slice(0, 7), [0.5, 1.5, 10.5, 11.5, 12.5, 30.5, 0]);
  assertEquals([...p.lastToken], [1, 4, -1, 5, 9, 12]);
  assertEquals([p.tokens, p.capacity, p.size], [6, 13, 4]);
  assertEquals(p.target, batch.target);
  assertEquals(p.user, batch.user);
  assertThrows(() => packBatch(batch, 5, 2), /6 tokens and 2 filler rows of 4 cannot fill 5/);
  assertThrows(() => packBatch(batch, 15, 2), /cannot fill 15/);
});
