/**
 * Length buckets (lib/models/buckets.ts) on the shipped ml-latest-small: evaluation at bucket
 * lengths gives exactly the ranks of the padded evaluation; a training step at a trimmed length
 * gives the padded step's loss and gradients (prefix and sequence mode, dropout on, several loss
 * chunks) while its activations live in an arena poisoned with NaN first (so no kernel may rely on
 * zeroed or private memory); several buckets' graphs cost about one graph's memory.
 */
import assert from "node:assert/strict";
import {
  type Batch,
  lengthOrder,
  makeBatch,
  makeSequenceBatch,
  type SequenceBatch,
  sequenceWindows,
} from "../lib/data/batch.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { type Arena, Runtime } from "../lib/gpu/runtime.ts";
import {
  bucketLength,
  evalBuckets,
  type LengthBuckets,
  longestRow,
  packedEvalGraphs,
  packedTrainGraphs,
  trainBuckets,
  trimBatch,
} from "../lib/models/buckets.ts";
import { createModel, ss4recOptions } from "../lib/models/factory.ts";
import { SS4Rec } from "../lib/models/ss4rec.ts";
import type { EvalGraph, TrainMode } from "../lib/models/model.ts";
import { evaluate } from "../lib/train/trainer.ts";
import { smallSS4Rec } from "./model_fixtures.ts";

const L = 64;
const { cfg, ds } = await smallSS4Rec(L);
const gpu = await getGpu();

function poison(rt: Runtime, arena: Arena | null): void {
  assert.ok(arena && arena.chunks.length > 0, "the bucketed graphs use an arena");
  for (const c of arena.chunks) {
    rt.device.queue.writeBuffer(c, 0, new Float32Array(c.size / 4).fill(NaN));
  }
}

Deno.test("buckets: lengths, trimming and the evaluation order", () => {
  assert.deepEqual([1, 16, 17, 190, 200].map((n) => bucketLength(n, 200, 16)), [
    16,
    16,
    32,
    192,
    200,
  ]);
  assert.equal(bucketLength(5, 200, 0), 200);
  const batch = makeBatch(ds, ds.valid, [3, 1, 4, 1, 5], { maxLen: L, batchSize: 8 });
  const n = longestRow(batch);
  const t = trimBatch(batch, n);
  assert.equal(t.maxLen, n);
  for (let b = 0; b < 8; b++) {
    for (let i = 0; i < L; i++) {
      const inside = i < n;
      assert.equal(inside ? t.itemSeq[b * n + i] : 0, batch.itemSeq[b * L + i]);
      assert.equal(inside ? t.timeGaps[b * n + i] : 0, batch.timeGaps[b * L + i]);
    }
  }
  assert.throws(() => trimBatch(batch, n - 1), /do not fit/);
  assert.deepEqual([...lengthOrder([5, 2, 5, 1, 2])], [0, 2, 1, 4, 3]);
});

for (const maskHistory of [false, true]) {
  Deno.test(
    `buckets: evaluation at bucket lengths and on packed tokens gives the padded ranks on real data (history ${
      maskHistory ? "masked" : "not masked"
    })`,
    async () => {
      const ranks: Uint32Array[] = [];
      const bytes: number[] = [];
      let lengths: number[] = [], capacities: number[] = [];
      for (const step of [0, 16, -1]) {
        const rt = new Runtime(gpu);
        const model = createModel(rt, cfg, ds);
        model.store.initialise(cfg.seed);
        // step −1: packed tokens
        const packed = step < 0
          ? packedEvalGraphs(model, { batch: 96, maxLen: L, maskHistory })
          : null;
        const graphs = packed ?? evalBuckets(model, { batch: 96, maxLen: L, maskHistory, step });
        if (packed) {
          await packed.graph(96 * L);
          poison(rt, packed.arena);
        } else if (step) {
          const buckets = graphs as LengthBuckets<EvalGraph>;
          for (const n of [16, 32, 48, 64]) await buckets.graph(n);
          poison(rt, buckets.arena);
        }
        const got = await evaluate(rt, ds, graphs, ds.valid, {
          topk: [10],
          timestampPrecision: "float64",
          maskHistory,
        });
        ranks.push(got.ranks);
        bytes.push(rt.liveBytes);
        if (packed) capacities = packed.capacities;
        else if (step) lengths = (graphs as LengthBuckets<EvalGraph>).lengths;
        rt.dispose();
      }
      assert.ok(lengths.length >= 3 && lengths[0] < L, `buckets used: ${lengths}`);
      assert.ok(capacities.length >= 2, `packed capacities used: ${capacities}`);
      assert.deepEqual(ranks[1], ranks[0]);
      assert.deepEqual(ranks[2], ranks[0]);
      // ${lengths.length} graphs in one arena: about the memory of the one padded graph
      assert.ok(bytes[1] < 1.1 * bytes[0], `bucketed ${bytes[1]} B vs padded ${bytes[0]} B`);
    },
  );
}

/**
 * Two runs of one training step agree: the same count, the loss and every gradient within 1e-5
 * (relative to the largest gradient), b's all finite, and more than 1,000 gradients non-zero.
 */
type StepResult = { loss: ArrayLike<number>; grads: ArrayLike<number> };

function assertSameStep(a: StepResult, b: StepResult): void {
  assert.equal(b.loss[1], a.loss[1]);
  assert.ok(
    Math.abs(b.loss[0] - a.loss[0]) <= 1e-5 * Math.abs(a.loss[0]),
    `${b.loss} vs ${a.loss}`,
  );
  let scale = 0, worst = 0, nonzero = 0;
  for (let i = 0; i < a.grads.length; i++) scale = Math.max(scale, Math.abs(a.grads[i]));
  for (let i = 0; i < a.grads.length; i++) {
    assert.ok(Number.isFinite(b.grads[i]), `gradient ${i} is ${b.grads[i]}`);
    worst = Math.max(worst, Math.abs(a.grads[i] - b.grads[i]));
    if (a.grads[i] !== 0) nonzero++;
  }
  assert.ok(nonzero > 1000, `${nonzero} non-zero gradients`);
  assert.ok(worst <= 1e-5 * scale, `max |Δgrad| ${worst} (largest gradient ${scale})`);
}

/** Runs one training step per graph and returns [loss sum, count] and the gradients. */
async function step(mode: TrainMode, loss: "CE" | "BPR") {
  const rt = new Runtime(gpu);
  const model = createModel(rt, { ...cfg, loss_type: loss }, ds);
  model.store.initialise(cfg.seed);
  // sequence: more positions than one head chunk holds (24 MiB of logits: 1,664 rows at this V)
  const B = mode === "prefix" ? 48 : 96;
  // real rows no longer than 40 (so the bucket, 48, is shorter than L = 64)
  let batch: Batch | SequenceBatch;
  if (mode === "prefix") {
    const idx: number[] = [];
    for (let i = 0; i < ds.train.user.length && idx.length < B; i += 7) {
      if (ds.train.pos[i] <= 40 && ds.train.pos[i] > 25) idx.push(i);
    }
    batch = makeBatch(ds, ds.train, idx, { maxLen: L, batchSize: B });
  } else {
    const w = sequenceWindows(ds, { maxLen: L });
    const idx: number[] = [];
    for (let i = 0; i < w.user.length && idx.length < B - 2; i++) {
      if (w.end[i] - w.start[i] <= 40) idx.push(i);
    }
    batch = makeSequenceBatch(ds, w, idx, { maxLen: L, batchSize: B });
  }
  const padded = trainBuckets(model, { batch: B, maxLen: L, mode, step: 0 });
  const bucketed = trainBuckets(model, { batch: B, maxLen: L, mode, step: 16 });
  const out = [];
  for (const set of [padded, bucketed]) {
    const { graph, batch: b } = await set.graphs.forBatch(batch);
    if (set === bucketed) {
      assert.equal(graph.length, 48);
      poison(rt, set.graphs.arena);
    } else assert.equal(graph.length, L);
    graph.upload(b);
    rt.write(model.step, [1, 99, 1, 0]); // training: dropout on
    rt.run(graph.commands);
    out.push({ loss: await rt.read(set.lossSum), grads: await rt.read(model.store.gradAll) });
  }
  rt.dispose();
  return out;
}

for (
  const [mode, loss] of [["prefix", "CE"], ["sequence", "CE"], ["prefix", "BPR"], [
    "sequence",
    "BPR",
  ]] as const
) {
  Deno.test(`buckets: a ${mode}-mode ${loss} training step at the bucket length gives the padded loss and gradients`, async () => {
    const [a, b] = await step(mode, loss);
    assert.ok(a.loss[1] > (mode === "prefix" ? 40 : 2048), `valid rows: ${a.loss[1]}`);
    assertSameStep(a, b);
  });
}

Deno.test("buckets: a sequence-mode step (compact head) equals the prefix-mode step over the same targets", async () => {
  // users whose whole training sequence fits one window: position t of the window predicts what
  // the prefix sample (user, t + 1) predicts, from the same inputs (SequenceWindows' doc)
  const rt = new Runtime(gpu);
  const model = createModel(rt, cfg, ds);
  model.store.initialise(cfg.seed);
  const w = sequenceWindows(ds, { maxLen: L });
  const wins: number[] = [];
  for (let i = 0; i < w.user.length && wins.length < 8; i += 5) {
    if (
      w.start[i] === 0 && w.end[i] <= 40 && (i + 1 >= w.user.length || w.user[i + 1] !== w.user[i])
    ) {
      wins.push(i);
    }
  }
  const users = new Set(wins.map((i) => w.user[i]));
  const samples: number[] = [];
  for (let i = 0; i < ds.train.user.length; i++) if (users.has(ds.train.user[i])) samples.push(i);
  const out = [];
  for (const mode of ["sequence", "prefix"] as const) {
    const { graphs, lossSum } = trainBuckets(model, {
      batch: mode === "sequence" ? wins.length : samples.length,
      maxLen: L,
      mode,
      step: 16,
    });
    const { graph, batch } = await graphs.forBatch(
      mode === "sequence"
        ? makeSequenceBatch(ds, w, wins, { maxLen: L })
        : makeBatch(ds, ds.train, samples, { maxLen: L }),
    );
    graph.upload(batch);
    rt.write(model.step, [1, 99, 0, 0]); // dropout off: the two layouts draw different masks
    rt.run(graph.commands);
    out.push({ loss: await rt.read(lossSum), grads: await rt.read(model.store.gradAll) });
  }
  rt.dispose();
  const [s, p] = out;
  assert.ok(wins.length === 8 && samples.length > 150, `${wins.length} windows, ${samples.length}`);
  assert.equal(s.loss[1], samples.length);
  assert.equal(p.loss[1], samples.length);
  assert.ok(Math.abs(s.loss[0] - p.loss[0]) <= 1e-5 * p.loss[0], `${s.loss} vs ${p.loss}`);
  let scale = 0, worst = 0;
  for (let i = 0; i < p.grads.length; i++) {
    scale = Math.max(scale, Math.abs(p.grads[i]));
    worst = Math.max(worst, Math.abs(p.grads[i] - s.grads[i]));
  }
  assert.ok(worst <= 1e-5 * scale, `max |Δgrad| ${worst} (largest gradient ${scale})`);
});

for (const loss of ["CE", "BPR"] as const) {
  Deno.test(`packed tokens: a prefix-mode ${loss} training step gives the padded loss and gradients (dropout off), also in a poisoned arena`, async () => {
    const rt = new Runtime(gpu);
    // the Mamba backward scan in 3 batch slices: packed, a slice finds its rows' tokens by offset
    const model = new SS4Rec(rt, {
      ...ss4recOptions({ ...cfg, loss_type: loss }, ds.numItems),
      mambaScanSlices: 3,
    });
    model.store.initialise(cfg.seed);
    // prefixes of every length, from 1 to beyond the window (cut to L)
    const B = 48, idx: number[] = [];
    for (let i = 0; i < ds.train.user.length && idx.length < B - 3; i += 11) idx.push(i);
    const batch = makeBatch(ds, ds.train, idx, { maxLen: L, batchSize: B });
    const lens = [...batch.seqLen.subarray(0, idx.length)];
    assert.ok(Math.min(...lens) < 10 && lens.filter((n) => n === L).length >= 3, `${lens}`);
    const padded = trainBuckets(model, { batch: B, maxLen: L, mode: "prefix", step: 0 });
    const packed = packedTrainGraphs(model, { batch: B, maxLen: L });
    await packed.graphs.first();
    poison(rt, packed.graphs.arena);
    const out = [];
    for (const set of [padded, packed]) {
      const { graph, batch: b } = await set.graphs.forBatch(batch);
      if (set === packed) assert.ok(graph.tokens! < B * L, `capacity ${graph.tokens}`);
      graph.upload(b);
      rt.write(model.step, [1, 99, 0, 0]); // dropout off: the layouts draw different masks
      rt.run([{ clear: set.lossSum }, ...graph.commands]);
      out.push({ loss: await rt.read(set.lossSum), grads: await rt.read(model.store.gradAll) });
    }
    rt.dispose();
    const [a, b] = out;
    assert.equal(a.loss[1], idx.length);
    assertSameStep(a, b);
  });
}
