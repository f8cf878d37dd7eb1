/**
 * Evaluation graphs are built forward-only ({@linkcode BuildContext.forwardOnly}): on the shipped
 * ml-latest-small their ranks equal the ranks of the training graph's forward pass (its logits,
 * ranked by the float64 reference) for every SS4Rec block layout, also at bucket lengths in an
 * arena shared with the training graph (as the trainer builds them) and poisoned with NaN first,
 * and on packed tokens (no padding at all);
 * and they allocate only what the forward needs.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../lib/config.ts";
import { lengthOrder, makeBatch } from "../lib/data/batch.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { dryRunGpu } from "../lib/gpu/dry_run.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { evalBuckets, packedEvalGraphs, trainBuckets } from "../lib/models/buckets.ts";
import { createModel } from "../lib/models/factory.ts";
import type { SS4Rec } from "../lib/models/ss4rec.ts";
import { rankReference } from "../lib/reference/rank.ts";
import { evalGraphsFor, evaluate, trainModel } from "../lib/train/trainer.ts";
import { smallSS4Rec } from "./model_fixtures.ts";

// evaluation batches twice the training batch, as in configs/ss4rec.yaml
const L = 64, B = 64, EB = 128;
const { cfg: base, ds } = await smallSS4Rec(L);
const gpu = await getGpu();
const options = { topk: [10], timestampPrecision: "float64" as const, maskHistory: false };

for (const modelType of ["full", "s5_only", "mamba_only", "no_time"] as const) {
  Deno.test(`forward-only evaluation (${modelType}): ranks of the training graph's forward, padded, bucketed and packed in a shared poisoned arena`, async () => {
    const cfg = { ...base, model_type: modelType };
    const rt = new Runtime(gpu);
    const model = createModel(rt, cfg, ds);
    model.store.initialise(cfg.seed);
    const V = ds.numItems, n = ds.valid.user.length;
    // the reference: each batch through the training step with dropout off, logits ranked on the host
    const train = await model.buildTrain({ batch: B, maxLen: L, mode: "prefix" });
    const want = new Uint32Array(n);
    const order = lengthOrder(Int32Array.from(ds.valid.pos, (p) => Math.min(p, L)));
    for (let s = 0; s < n; s += B) {
      const rows = order.subarray(s, Math.min(s + B, n));
      const batch = makeBatch(ds, ds.valid, rows, { maxLen: L, batchSize: B });
      train.upload(batch);
      rt.write(model.step, [1, 7, 0, 0]);
      rt.run(train.commands);
      const logits = await rt.read(train.activations.get("logits")!);
      const r = rankReference(
        logits.subarray(0, rows.length * V),
        batch.target.subarray(0, rows.length),
        V,
      );
      rows.forEach((row, i) => want[row] = r[i]);
    }
    assert.ok(want.every((r) => r > 0), "every validation user has a rank");
    // padded: one graph at L
    const padded = evalBuckets(model, { batch: EB, maxLen: L, maskHistory: false, step: 0 });
    const a = await evaluate(rt, ds, padded, ds.valid, options);
    assert.deepEqual(a.ranks, want);
    // bucketed, in the training buckets' arena (sized by the training step at L, built first)
    const tb = trainBuckets(model, { batch: B, maxLen: L, mode: "prefix", step: 16 });
    await tb.graphs.graph(L);
    const arena = tb.graphs.arena!;
    const eb = evalBuckets(model, { batch: EB, maxLen: L, maskHistory: false, step: 16, arena });
    for (const len of [16, 32, 48, 64]) await eb.graph(len);
    for (const c of arena.chunks) {
      rt.device.queue.writeBuffer(c, 0, new Float32Array(c.size / 4).fill(NaN));
    }
    const b = await evaluate(rt, ds, eb, ds.valid, options);
    assert.ok(eb.lengths.length >= 3, `buckets used: ${eb.lengths}`);
    assert.deepEqual(b.ranks, want);
    assert.equal(arena.overflowBytes, 0, "the evaluation graphs fit the training step's arena");
    // packed tokens, in the same arena (poisoned again)
    const packed = packedEvalGraphs(model, { batch: EB, maxLen: L, maskHistory: false, arena });
    await packed.graph(EB * L);
    for (const c of arena.chunks) {
      rt.device.queue.writeBuffer(c, 0, new Float32Array(c.size / 4).fill(NaN));
    }
    const c = await evaluate(rt, ds, packed, ds.valid, options);
    assert.ok(packed.capacities.length >= 2, `capacities used: ${packed.capacities}`);
    assert.deepEqual(c.ranks, want);
    assert.equal(arena.overflowBytes, 0, "the packed graphs fit the training step's arena");
    rt.dispose();
  });
}

Deno.test("forward-only evaluation graph at B 2,048, L 200 (dry run, H100 limits): forward buffers only, less than the training step", async () => {
  const cfg = loadConfig("configs/ss4rec.yaml", []);
  const shape = { numItems: 3417, numUsers: 6040 };
  const peak = async (build: (m: SS4Rec) => Promise<unknown>) => {
    const rt = new Runtime(dryRunGpu());
    const model = createModel(rt, cfg, shape) as SS4Rec;
    await build(model);
    return { peak: rt.peakBytes, labels: rt.allocations() };
  };
  const evalGraph = await peak((m) => m.buildEval({ batch: 2048, maxLen: 200, maskHistory: true }));
  const train = await peak((m) => m.buildTrain({ batch: 1024, maxLen: 200, mode: "prefix" }));
  // nothing of a backward: no activation gradients, checkpoints (a 16-byte placeholder binding),
  // embedding sort workspace, LayerNorm partials, split-K workspace or saved Mamba activations
  const backwardOnly = /^(d_|scratch\.mamba\.|emb\.|ln\.partial|scratch\.matmul)|ckpt/;
  const found = evalGraph.labels.filter((a) => backwardOnly.test(a.label) && a.bytes > 16);
  assert.deepEqual(found, []);
  const MiB = 2 ** 20, H = 64, act = 2048 * 200 * H * 4;
  // three [B, L, H] activations, the forward temporaries of the widest layer (Mamba: xz, xc, xdbl
  // and y, [B·L, 2E + E + (R + 2N) + E]) and the scores
  const arena = evalGraph.labels.find((a) => a.label === "scratch.backward")!;
  assert.equal(arena.bytes, 2048 * 200 * (256 + 128 + 68 + 128) * 4);
  assert.equal(evalGraph.labels.filter((a) => a.bytes === act).length, 3);
  assert.ok(evalGraph.peak < 1.25 * 2 ** 30, `eval graph ${(evalGraph.peak / MiB).toFixed(0)} MiB`);
  assert.ok(evalGraph.peak < train.peak, `eval ${evalGraph.peak} B, training step ${train.peak} B`);
});

Deno.test("the test evaluation after training adds no transient memory in the trainer's arena", async () => {
  const rt = new Runtime(gpu);
  const model = createModel(rt, base, ds);
  model.store.initialise(base.seed);
  const trainer = {
    epochs: 1,
    batchSize: B,
    evalBatchSize: EB,
    maxLen: L,
    learningRate: 1e-3,
    weightDecay: 0,
    clipGradNorm: null,
    stoppingStep: 10,
    validMetric: "ndcg@10",
    topk: [10],
    seed: base.seed,
    mode: "prefix" as const,
    timestampPrecision: "float64" as const,
    maskHistory: false,
    maxSteps: 2,
  };
  const options = { ...trainer, evalGraphs: evalGraphsFor(model, trainer) };
  const arena = options.evalGraphs.arena!;
  await trainModel(rt, ds, model, options, { log() {}, epochEnd: () => Promise.resolve() });
  const trained = rt.liveBytes;
  assert.ok(arena.chunks.length > 0, "the trainer built its graphs in the given arena");
  const test = await evaluate(rt, ds, options.evalGraphs, ds.test, options);
  assert.ok(test.ranks.every((r) => r > 0));
  assert.equal(rt.liveBytes, trained);
  assert.equal(arena.overflowBytes, 0);
  rt.dispose();
});
