import assert from "node:assert/strict";
import { getGpu } from "../lib/gpu/device.ts";
import { grid, Runtime } from "../lib/gpu/runtime.ts";
import { buildDataset } from "../lib/data/dataset.ts";
import type { InteractionTable } from "../lib/data/readers.ts";
import type { Batch } from "../lib/data/batch.ts";
import {
  linearName,
  mlpPairsOp,
  NCF,
  type NCFOptions,
  ncfTrainHistory,
  NEG_SALT,
  NEG_TRIES,
} from "../lib/models/ncf.ts";
import {
  flattenParams,
  mlpPairsReference,
  type NcfDims,
  ncfPairs,
  type NcfParams,
  ncfScores,
  ncfTrainStep,
  unflattenParams,
} from "../lib/reference/ncf.ts";
import { rankReference } from "../lib/reference/rank.ts";
import { packHistoryMask } from "../lib/gpu/rank.ts";
import { rng } from "../lib/reference/gradcheck.ts";
import { trainModel } from "../lib/train/trainer.ts";
import {
  checkGrad,
  checkRow,
  type GradRow,
  type Named,
  type OpRow,
  poisoned,
  randF32,
  randInt,
  stepTensor,
  upload,
} from "./op_table.ts";

// ---------------------------------------------------------------- helpers

interface Shape {
  B: number;
  U: number;
  V: number;
  M: number;
  E: number;
  hidden: [number, number];
  p: number;
}

const SHAPES: Shape[] = [
  { B: 5, U: 7, V: 13, M: 8, E: 4, hidden: [12, 8], p: 0 },
  { B: 6, U: 9, V: 29, M: 4, E: 6, hidden: [10, 4], p: 0.3 },
  { B: 33, U: 20, V: 301, M: 16, E: 8, hidden: [20, 12], p: 0.1 },
];

const SEED = 2020;

function dimsOf(s: Shape): NcfDims {
  return { users1: s.U + 1, items: s.V, mf: s.M, mlp: s.E, hidden: s.hidden };
}

function optionsOf(s: Shape): NCFOptions {
  return {
    numItems: s.V,
    numUsers: s.U,
    mfEmbeddingSize: s.M,
    mlpEmbeddingSize: s.E,
    mlpHiddenSize: s.hidden,
    dropoutProb: s.p,
  };
}

/** Random parameters at a scale where every branch carries signal (f32-exact values). */
function randomParams(s: Shape, rand: () => number): NcfParams {
  const ins = [2 * s.E, ...s.hidden];
  return {
    userMf: randF32((s.U + 1) * s.M, rand, 0.7),
    itemMf: randF32(s.V * s.M, rand, 0.7),
    userMlp: randF32((s.U + 1) * s.E, rand, 0.7),
    itemMlp: randF32(s.V * s.E, rand, 0.7),
    weights: s.hidden.map((o, l) => randF32(o * ins[l], rand, 1 / Math.sqrt(ins[l]))),
    biases: s.hidden.map((o) => randF32(o, rand, 0.2)),
    wp: randF32(s.M + s.hidden[1], rand, 0.5),
    bp: randF32(1, rand, 0.2),
  };
}

function paramNames(): string[] {
  return [
    "user_mf_embedding.weight",
    "item_mf_embedding.weight",
    "user_mlp_embedding.weight",
    "item_mlp_embedding.weight",
    linearName(0, "weight"),
    linearName(1, "weight"),
    linearName(0, "bias"),
    linearName(1, "bias"),
    "predict_layer.weight",
    "predict_layer.bias",
  ];
}

function loadParams(rt: Runtime, model: NCF, P: NcfParams): void {
  const flat = flattenParams(P);
  paramNames().forEach((n, i) => rt.write(model.store.param(n), flat[i]));
}

/** A batch of users/targets: the last row is padding, one row has an out-of-range target. */
function makeRows(s: Shape, rand: () => number): { user: Int32Array; target: Int32Array } {
  const user = randInt(s.B, rand, 0, s.U), target = randInt(s.B, rand, 1, s.V);
  user[s.B - 1] = -1;
  target[s.B - 1] = 0;
  if (s.B > 4) target[1] = s.V; // invalid: no loss, no gradient
  return { user, target };
}

/**
 * Random per-user training histories (CSR over users): user u holds a random subset of 1..V−1 of
 * random size; every 4th user holds every item (the sampler's fallback to its last draw), every
 * 4th + 1 none (the first draw is kept).
 */
function randomHistory(
  U: number,
  V: number,
  rand: () => number,
): { offsets: Int32Array; items: Int32Array } {
  const offsets = new Int32Array(U + 1), items: number[] = [];
  for (let u = 0; u < U; u++) {
    const all = Array.from({ length: V - 1 }, (_, i) => i + 1);
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [all[i], all[j]] = [all[j], all[i]];
    }
    const k = u % 4 === 0 ? V - 1 : u % 4 === 1 ? 0 : Math.floor(rand() * (V - 1));
    items.push(...all.slice(0, k));
    offsets[u + 1] = items.length;
  }
  return { offsets, items: Int32Array.from(items) };
}

/** The history of each row's user (empty for padding rows), as the reference sampler takes it. */
function rowHistories(
  user: ArrayLike<number>,
  h: { offsets: Int32Array; items: Int32Array },
): Int32Array[] {
  const U = h.offsets.length - 1;
  return Array.from(
    user,
    (u) => u >= 0 && u < U ? h.items.subarray(h.offsets[u], h.offsets[u + 1]) : new Int32Array(0),
  );
}

function batchOf(rows: { user: Int32Array; target: Int32Array }): Batch {
  const B = rows.user.length;
  return {
    size: B,
    count: B,
    maxLen: 1,
    itemSeq: new Int32Array(B),
    seqLen: new Int32Array(B),
    timeGaps: new Float32Array(B),
    target: rows.target,
    user: rows.user,
  };
}

// ---------------------------------------------------------------- training step vs reference

const trainRow: OpRow<Shape> = {
  name: "ncf train step (pairs, forward, BCE, backward)",
  shapes: SHAPES,
  make: (s, rand) => {
    const P = randomParams(s, rand);
    const rows = makeRows(s, rand);
    const h = randomHistory(s.U, s.V, rand);
    const named: Named = { user: rows.user, target: rows.target, hOff: h.offsets, hItems: h.items };
    flattenParams(P).forEach((a, i) => (named[`p${i}`] = a));
    return named;
  },
  gpu: async (rt, s, inp) => {
    // the second shape packs the history rows per batch instead of from the per-user table
    const prepack = NCF.prepackWords;
    if (s === SHAPES[1]) NCF.prepackWords = 0;
    const model = new NCF(rt, {
      ...optionsOf(s),
      history: { offsets: inp.hOff as Int32Array, items: inp.hItems as Int32Array },
    });
    NCF.prepackWords = prepack;
    const P = unflattenParams(paramNames().map((_, i) => inp[`p${i}`] as Float64Array), 2);
    loadParams(rt, model, P);
    // poison every gradient: the step must clear and then fully write them
    rt.write(model.store.gradAll, new Float32Array(model.store.gradAll.size).fill(NaN));
    const g = await model.buildTrain({ batch: s.B, maxLen: 1, mode: "prefix" });
    g.upload(batchOf({ user: inp.user as Int32Array, target: inp.target as Int32Array }));
    rt.write(model.step, [1, SEED, 1, 0]);
    rt.run(g.commands);
    const grads = await model.store.export("grads");
    const out: Record<string, ArrayLike<number>> = {
      lossSum: await rt.read(g.lossSum),
      logits: await rt.read(g.activations.get("logits")!),
    };
    paramNames().forEach((n, i) => (out[`g${i}`] = grads.get(n)!.data as Float32Array));
    return out;
  },
  reference: (s, inp) => {
    const P = unflattenParams(paramNames().map((_, i) => inp[`p${i}`] as Float64Array), 2);
    const h = { offsets: inp.hOff as Int32Array, items: inp.hItems as Int32Array };
    const pairs = ncfPairs(
      inp.user,
      inp.target,
      s.U,
      s.V,
      SEED,
      NEG_SALT,
      rowHistories(inp.user, h),
    );
    const r = ncfTrainStep(P, dimsOf(s), pairs, { dropout: s.p, seed: SEED, training: true });
    const out: Record<string, ArrayLike<number>> = {
      lossSum: [r.lossSum, r.count],
      logits: r.logits,
    };
    flattenParams(r.grads).forEach((a, i) => (out[`g${i}`] = a));
    return out;
  },
  tol: Object.fromEntries(
    [["lossSum", 1e-5], ["logits", 1e-5], ...paramNames().map((_, i) => [`g${i}`, 1e-4])],
  ),
};

Deno.test(`ncf: ${trainRow.name}`, async () => {
  const rt = new Runtime(await getGpu());
  const res = await checkRow(rt, trainRow);
  for (const out of ["lossSum", "logits", "g"]) {
    const sel = res.filter((r) => out === "g" ? /^g\d/.test(r.output) : r.output === out);
    console.log(
      `  ${out === "g" ? "param grads" : out}: worst rel err ${
        Math.max(...sel.map((r) => r.err)).toExponential(2)
      }`,
    );
  }
});

// ---------------------------------------------------------------- evaluation vs reference

const evalRow: OpRow<Shape> = {
  name: "ncf full-ranking scores and ranks",
  shapes: SHAPES,
  make: (s, rand) => {
    const P = randomParams(s, rand);
    const rows = makeRows(s, rand);
    const named: Named = { user: rows.user, target: rows.target };
    flattenParams(P).forEach((a, i) => (named[`p${i}`] = a));
    return named;
  },
  gpu: async (rt, s, inp) => {
    const model = new NCF(rt, optionsOf(s));
    const P = unflattenParams(paramNames().map((_, i) => inp[`p${i}`] as Float64Array), 2);
    loadParams(rt, model, P);
    const out: Record<string, ArrayLike<number>> = {};
    for (const mask of [false, true]) {
      const g = await model.buildEval({ batch: s.B, maxLen: 1, maskHistory: mask });
      rt.write(g.scores, new Float32Array(s.B * s.V).fill(NaN));
      rt.write(g.ranks, new Uint32Array(s.B).fill(0xFFFFFFFF));
      g.upload(
        batchOf({ user: inp.user as Int32Array, target: inp.target as Int32Array }),
        mask ? histories(s) : undefined,
      );
      rt.write(model.step, [0, 0, 0, 0]);
      rt.run(g.commands);
      const sc = await rt.read(g.scores);
      out[mask ? "ranksMasked" : "ranks"] = await rt.read(g.ranks);
      if (!mask) out.scores = validRows(s, inp.target, sc);
    }
    return out;
  },
  reference: (s, inp) => {
    const P = unflattenParams(paramNames().map((_, i) => inp[`p${i}`] as Float64Array), 2);
    const sc = ncfScores(P, dimsOf(s), inp.user);
    const f32 = Float64Array.from(new Float32Array(sc));
    const h = histories(s);
    return {
      scores: validRows(s, inp.target, sc),
      ranks: rankReference(f32, inp.target, s.V),
      ranksMasked: rankReference(f32, inp.target, s.V, (b, j) => {
        for (let k = h.offsets[b]; k < h.offsets[b + 1]; k++) if (h.items[k] === j) return true;
        return false;
      }),
    };
  },
  // the reference ranks the f32-rounded float64 scores: no near-tie flips with these seeds
  tol: { scores: 1e-5, ranks: 0, ranksMasked: 0 },
};

/** Fake histories: row b masks items b+1 .. b+3 (mod V, never 0). */
function histories(s: Shape): { offsets: Int32Array; items: Int32Array } {
  const offsets = new Int32Array(s.B + 1), items: number[] = [];
  for (let b = 0; b < s.B; b++) {
    for (let k = 1; k <= 3; k++) items.push(1 + (b + k) % (s.V - 1));
    offsets[b + 1] = items.length;
  }
  return { offsets, items: Int32Array.from(items) };
}

function validRows(s: Shape, target: ArrayLike<number>, scores: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let b = 0; b < s.B; b++) {
    if (target[b] > 0 && target[b] < s.V) {
      for (let i = 1; i < s.V; i++) out.push(scores[b * s.V + i]);
    }
  }
  return out;
}

Deno.test(`ncf: ${evalRow.name}`, async () => {
  const rt = new Runtime(await getGpu());
  const res = await checkRow(rt, evalRow);
  for (const r of res) {
    console.log(`  ${r.shape.slice(0, 40)} ${r.output}: ${r.err.toExponential(2)}`);
  }
});

// ---------------------------------------------------------------- the fused scorer alone

interface PairShape {
  B: number;
  V: number;
  H1: number;
  D: number;
}

const mlpPairsRow: OpRow<PairShape> = {
  name: "ncf mlp_pairs (fused B·V scorer)",
  shapes: [{ B: 1, V: 5, H1: 3, D: 4 }, { B: 3, V: 300, H1: 7, D: 8 }, {
    B: 4,
    V: 517,
    H1: 33,
    D: 12,
  }],
  make: (s, r) => {
    const targets = randInt(s.B, r, 1, s.V);
    if (s.B > 1) targets[s.B - 1] = 0; // padding row: left untouched
    return {
      au: randF32(s.B * s.H1, r),
      biT: randF32(s.H1 * s.V, r),
      w2: randF32(s.D * s.H1, r, 0.5),
      b2: randF32(s.D, r, 0.3),
      wo: randF32(s.D, r),
      bp: randF32(1, r),
      scores: randF32(s.B * s.V, r),
      targets,
    };
  },
  gpu: async (rt, s, i) => {
    const w2 = i.w2 as Float64Array, w2t = new Float64Array(s.H1 * s.D);
    for (let j = 0; j < s.D; j++) {
      for (let k = 0; k < s.H1; k++) w2t[k * s.D + j] = w2[j * s.H1 + k];
    }
    const pack = Float64Array.from([...i.b2, ...i.wo, ...i.bp]);
    const scores = upload(rt, i.scores);
    rt.run([
      await mlpPairsOp(
        rt,
        {
          au: upload(rt, i.au),
          biT: upload(rt, padItems(i.biT as Float64Array, s.H1, s.V)),
          w2t: upload(rt, w2t),
          pack: upload(rt, pack),
          targets: upload(rt, i.targets),
          scores,
        },
        s.B,
        s.V,
        s.H1,
        s.D,
      ),
    ]);
    return { scores: await rt.read(scores) };
  },
  reference: (s, i) => ({
    scores: mlpPairsReference(
      {
        au: i.au as Float64Array,
        biT: i.biT as Float64Array,
        w2: i.w2 as Float64Array,
        b2: i.b2 as Float64Array,
        wo: i.wo as Float64Array,
        bp: i.bp[0],
        targets: i.targets,
        scores: i.scores as Float64Array,
      },
      s.B,
      s.V,
      s.H1,
      s.D,
    ),
  }),
};

/** [H1, V] -> [H1, 4·⌈V/4⌉] with zero columns (the kernel's vec4 layout). */
function padItems(x: Float64Array, H1: number, V: number): Float64Array {
  const Vp = Math.ceil(V / 4) * 4, out = new Float64Array(H1 * Vp);
  for (let k = 0; k < H1; k++) out.set(x.subarray(k * V, (k + 1) * V), k * Vp);
  return out;
}

Deno.test(`ncf: ${mlpPairsRow.name}`, async () => {
  const rt = new Runtime(await getGpu());
  const res = await checkRow(rt, mlpPairsRow);
  console.log(`  worst rel err ${Math.max(...res.map((r) => r.err)).toExponential(2)}`);
});

// ---------------------------------------------------------------- negatives

/** Runs `ncf_pairs` alone on a batch with per-row history bitmasks. */
async function runPairs(
  rt: Runtime,
  rows: { user: Int32Array; target: Int32Array },
  U: number,
  V: number,
  seed: number,
  history: ArrayLike<number>[],
): Promise<{ uid: Int32Array; iid: Int32Array }> {
  const B = rows.user.length;
  const uid = poisoned(rt, [2 * B], "i32"), iid = poisoned(rt, [2 * B], "i32");
  const k = await rt.kernel("ncf", "ncf_pairs");
  rt.run([
    rt.op(k, [
      upload(rt, rows.user),
      upload(rt, rows.target),
      stepTensor(rt, seed, true),
      uid,
      iid,
      upload(rt, packHistoryMask(history, V)),
    ], {
      params: [B, V, NEG_SALT, U],
      workgroups: grid(B),
    }),
  ]);
  return {
    uid: Int32Array.from(await rt.read(uid)),
    iid: Int32Array.from(await rt.read(iid)),
  };
}

Deno.test("ncf: negative sampler matches the reference bit for bit and is uniform", async () => {
  const rt = new Runtime(await getGpu());
  const B = 20_000, V = 11, U = 50, rand = rng(5);
  const user = randInt(B, rand, 0, U), target = randInt(B, rand, 1, V);
  target[3] = 0;
  user[4] = -1;
  target[5] = V;
  const none = Array.from({ length: B }, () => [] as number[]);
  const got = await runPairs(rt, { user, target }, U, V, 77, none);
  const want = ncfPairs(user, target, U, V, 77, NEG_SALT);
  assert.deepEqual(Array.from(got.uid), Array.from(want.uid));
  assert.deepEqual(Array.from(got.iid), Array.from(want.iid));
  const gotI = got.iid;
  for (const b of [3, 4, 5]) assert.equal(gotI[B + b], 0);
  // negatives: never the target, never 0, uniform over the other V-2 ids
  const hist = new Float64Array(V);
  let n = 0;
  for (let b = 0; b < B; b++) {
    if (gotI[b] === 0) continue;
    assert.notEqual(gotI[B + b], gotI[b]);
    assert.ok(gotI[B + b] >= 1 && gotI[B + b] < V);
    hist[gotI[B + b]]++;
    n++;
  }
  // each id is a negative for rows whose target differs: expected n·(1 − 1/(V−1))/(V−2)
  const expect = n * (1 - 1 / (V - 1)) / (V - 2);
  for (let j = 1; j < V; j++) assert.ok(Math.abs(hist[j] - expect) < 6 * Math.sqrt(expect), `${j}`);
});

Deno.test("ncf: history-excluding negatives match the reference bit for bit", async () => {
  const rt = new Runtime(await getGpu());
  for (const [B, V, U] of [[20_000, 11, 50], [3_000, 301, 40], [700, 1000, 9]]) {
    const rand = rng(V);
    const user = randInt(B, rand, 0, U), target = randInt(B, rand, 1, V);
    target[3] = 0;
    user[4] = -1;
    target[5] = V;
    const h = randomHistory(U, V, rand);
    const rows = rowHistories(user, h);
    // the target is a training item, so in the user's history (RecBole's used_ids)
    rows.forEach((r, b) => (rows[b] = target[b] > 0 ? Int32Array.from([...r, target[b]]) : r));
    const got = await runPairs(rt, { user, target }, U, V, 77, rows);
    const want = ncfPairs(user, target, U, V, 77, NEG_SALT, rows);
    assert.deepEqual(Array.from(got.uid), Array.from(want.uid), `uid V=${V}`);
    assert.deepEqual(Array.from(got.iid), Array.from(want.iid), `iid V=${V}`);
    // outside the history unless the user holds (nearly) every item; never the target
    let inHistory = 0, expectIn = 0, valid = 0;
    for (let b = 0; b < B; b++) {
      if (got.iid[b] === 0) continue;
      valid++;
      const neg = got.iid[B + b], seen = new Set(rows[b]);
      assert.notEqual(neg, target[b]);
      assert.ok(neg >= 1 && neg < V);
      if (seen.has(neg)) inHistory++;
      // P(all NEG_TRIES draws in the history) = f^NEG_TRIES, f = (|history| − 1)/(V − 2)
      expectIn += ((seen.size - 1) / (V - 2)) ** NEG_TRIES;
    }
    assert.ok(
      inHistory <= expectIn + 6 * Math.sqrt(expectIn) + 1,
      `V=${V}: ${inHistory} of ${valid} negatives in the history (expected ${expectIn.toFixed(1)})`,
    );
  }
});

Deno.test("ncf: negatives are uniform over the items outside a fixed history", async () => {
  const rt = new Runtime(await getGpu());
  const B = 30_000, V = 13, U = 3;
  const user = new Int32Array(B).fill(1), target = new Int32Array(B).fill(2);
  const history = Array.from({ length: B }, () => [2, 3, 5, 7, 11]);
  const got = await runPairs(rt, { user, target }, U, V, 9, history);
  const hist = new Float64Array(V);
  for (let b = 0; b < B; b++) hist[got.iid[B + b]]++;
  const free = [1, 4, 6, 8, 9, 10, 12], expect = B / free.length;
  for (const j of free) assert.ok(Math.abs(hist[j] - expect) < 6 * Math.sqrt(expect), `${j}`);
  // 4 of the 11 proposals are in the history: all 16 draws rejected with (4/11)^16 ≈ 1e-7
  for (const j of [3, 5, 7, 11]) assert.ok(hist[j] <= 2, `${j}: ${hist[j]}`);
  assert.equal(hist[2], 0);
});

Deno.test("ncf: training history CSR is every item up to the last training target", () => {
  const ds = buildDataset(syntheticTable(), {
    userInterNumInterval: null,
    itemInterNumInterval: null,
  });
  const h = ncfTrainHistory(ds)!;
  assert.equal(h.offsets.length, ds.numUsers + 1);
  for (let u = 0; u < ds.numUsers; u++) {
    const off = ds.userOffsets[u], n = ds.userOffsets[u + 1] - off;
    // leave-one-out: the last two interactions are validation and test (n ≥ 4 here)
    assert.deepEqual(
      Array.from(h.items.subarray(h.offsets[u], h.offsets[u + 1])),
      Array.from(ds.items.subarray(off, off + n - 2)),
    );
  }
  // every training target is in its user's history; the held-out items are not counted
  assert.equal(h.items.length, ds.stats.interactions - ds.valid.user.length - ds.test.user.length);
  assert.equal(ncfTrainHistory({ numUsers: 3 }), undefined);
});

// ---------------------------------------------------------------- reference gradients

function gradRow(s: Shape): GradRow {
  return {
    name: `ncf reference backward ${JSON.stringify(s)}`,
    inputs: (r) => {
      const P = randomParams(s, r);
      return flattenParams(P);
    },
    forward: (xs) => {
      const r = ncfTrainStep(unflattenParams(xs, 2), dimsOf(s), pairsFor(s), {
        dropout: s.p,
        seed: SEED,
        training: true,
      });
      return Float64Array.of(r.loss);
    },
    backward: (xs, dOut) => {
      const r = ncfTrainStep(unflattenParams(xs, 2), dimsOf(s), pairsFor(s), {
        dropout: s.p,
        seed: SEED,
        training: true,
      });
      return flattenParams(r.grads).map((g) => g.map((v) => v * dOut[0]));
    },
    tol: 1e-5,
    floor: 1e-6,
  };
}

function pairsFor(s: Shape) {
  const r = (seed: number) => {
    let a = seed;
    return () => ((a = (a * 1103515245 + 12345) >>> 0) / 4294967296);
  };
  const rows = makeRows(s, r(9));
  return ncfPairs(rows.user, rows.target, s.U, s.V, SEED, NEG_SALT);
}

Deno.test("ncf: gradcheck of the float64 reference (every parameter)", () => {
  for (const s of SHAPES.slice(0, 2)) {
    const res = checkGrad(gradRow(s));
    console.log(
      `  ${JSON.stringify(s)}: worst ${
        Math.max(...res.map((r) => r.maxRelError)).toExponential(2)
      }`,
    );
  }
});

// ---------------------------------------------------------------- end-to-end smoke

function syntheticTable(): InteractionTable {
  // 60 users in 3 taste groups, 45 items in 3 groups: a user mostly watches its group's items
  const users: string[] = [], items: string[] = [];
  const u: number[] = [], it: number[] = [], ts: number[] = [];
  let a = 12345;
  const rand = () => ((a = (a * 1103515245 + 12345) >>> 0) / 4294967296);
  for (let i = 0; i < 45; i++) items.push(`i${i}`);
  for (let x = 0; x < 60; x++) {
    users.push(`u${x}`);
    const g = x % 3;
    for (let k = 0; k < 15; k++) {
      const grp = rand() < 0.9 ? g : Math.floor(rand() * 3);
      u.push(x);
      it.push(grp * 15 + Math.floor(rand() * 15));
      ts.push(1000 * x + k);
    }
  }
  return {
    rows: u.length,
    user: Int32Array.from(u),
    item: Int32Array.from(it),
    rating: new Float32Array(u.length).fill(1),
    timestamp: Float64Array.from(ts),
    rawUserIds: users,
    rawItemIds: items,
    skippedRows: 0,
    layout: {} as InteractionTable["layout"],
  };
}

Deno.test("ncf: end-to-end training on synthetic data lowers the loss", async () => {
  const rt = new Runtime(await getGpu());
  const ds = buildDataset(syntheticTable(), {
    userInterNumInterval: null,
    itemInterNumInterval: null,
  });
  const model = new NCF(rt, {
    numItems: ds.numItems,
    numUsers: ds.numUsers,
    mfEmbeddingSize: 16,
    mlpEmbeddingSize: 16,
    mlpHiddenSize: [32, 16],
    dropoutProb: 0.1,
    history: ncfTrainHistory(ds),
  });
  model.store.initialise(2020);
  const losses: number[] = [];
  const state = await trainModel(rt, ds, model, {
    epochs: 8,
    batchSize: 128,
    evalBatchSize: 64,
    maxLen: 4,
    learningRate: 0.01,
    weightDecay: 0,
    clipGradNorm: null,
    stoppingStep: 100,
    validMetric: "ndcg@10",
    topk: [5, 10, 20],
    seed: 2020,
    mode: "prefix",
    timestampPrecision: "float64",
    maskHistory: true,
  }, {
    log: () => {},
    epochEnd(record) {
      losses.push(record.trainLoss);
      return Promise.resolve();
    },
  });
  console.log(
    `  losses ${losses.map((l) => l.toFixed(4)).join(" ")}; last valid hr@10 ${
      state.history.at(-1)!.valid["hr@10"].toFixed(3)
    }`,
  );
  assert.equal(state.epoch, 8);
  assert.ok(Math.abs(losses[0] - Math.log(2)) < 0.05, `first epoch loss ${losses[0]} ≈ ln 2`);
  assert.ok(losses.at(-1)! < losses[0] - 0.1, `loss ${losses[0]} -> ${losses.at(-1)}`);
  for (let i = 1; i < losses.length; i++) assert.ok(Number.isFinite(losses[i]));
});
