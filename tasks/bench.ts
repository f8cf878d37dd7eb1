/**
 * `deno task bench`: end-to-end SS4Rec training steps and full-ranking evaluation at ML-1M shapes
 * on synthetic ML-1M-shaped batches (realistic lengths and time gaps), warm-up excluded, steady-state
 * step times (runs of 10 and 40 steps per wait, differenced: Deno's wait for the GPU costs a fixed
 * ~11 ms, see steady); median and spread, peak GPU memory (our allocator's accounting), and the
 * per-kernel breakdown from timestamp queries (and every dispatch of one profiled step in
 * dispatches.md). `--quick` runs CI-sized shapes. `--memory` only
 * builds the training steps and the evaluation graph on a dry-run device and reports their peak
 * memory per buffer.
 *
 * @module
 */

import { Command } from "commander";
import { type Config, ConfigError, loadConfig } from "../lib/config.ts";
import {
  type Batch,
  lengthOrder,
  longestFirst,
  type SequenceBatch,
  tokenCount,
} from "../lib/data/batch.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { dryRunGpu } from "../lib/gpu/dry_run.ts";
import { type Command as GpuCommand, type Op, Runtime } from "../lib/gpu/runtime.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { GradNorm } from "../lib/gpu/reduce.ts";
import { createModel, ss4recOptions } from "../lib/models/factory.ts";
import { SS4Rec } from "../lib/models/ss4rec.ts";
import type { TrainGraph, TrainMode } from "../lib/models/model.ts";
import { rng } from "../lib/reference/gradcheck.ts";
import { modelOptimizer } from "../lib/train/adam.ts";
import { evalGraphsFor, trainGraphsFor } from "../lib/train/trainer.ts";
import { epochPermutation } from "../lib/data/shuffle.ts";
import { median } from "./bench_kernels.ts";
import {
  bucketLength,
  DEFAULT_BUCKET_STEP,
  evalBuckets,
  type EvalGraphs,
  packedEvalGraphs,
  packedTrainGraphs,
  trainBuckets,
} from "../lib/models/buckets.ts";

/** Reference figures of the official PyTorch SS4Rec on the same H100 (GPU.md, issue 6). */
const OFFICIAL: Record<string, string> = {
  "train step L=200": "79 ms",
  // the mean step of the first batches of the shuffled ML-1M prefix epoch (see its row)
  "train step L=200, ML-1M prefix lengths, packed tokens": "79 ms",
  "train step L=50": "33–37 ms",
  "ML-1M epoch (prefix mode, 959 steps)": "≈ 76 s",
  "eval 2,048 users": "35 ms",
  "eval 6,040 users": "104 ms",
  "peak memory (train L=200)": "14.1 GiB",
};

/**
 * A synthetic ML-1M-like batch: lengths skewed to the window (or the given per-row `lengths`),
 * gaps from the real mixture.
 */
export function syntheticBatch(
  B: number,
  L: number,
  V: number,
  seed: number,
  sequence: boolean,
  lengths?: ArrayLike<number>,
) {
  const rand = rng(seed);
  const itemSeq = new Int32Array(B * L), seqLen = new Int32Array(B);
  const timeGaps = new Float32Array(B * L), target = new Int32Array(B);
  const targets = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    // ML-1M: median 96 ratings per user, most prefixes of long users fill the window
    const r = rand() < 0.6 ? L : 1 + Math.floor(rand() * L);
    const len = lengths ? (b < lengths.length ? lengths[b] : 0) : r;
    seqLen[b] = len;
    target[b] = 1 + Math.floor(rand() * (V - 1));
    for (let t = 0; t < len; t++) {
      itemSeq[b * L + t] = 1 + Math.floor(Math.pow(rand(), 2) * (V - 1));
      targets[b * L + t] = 1 + Math.floor(rand() * (V - 1));
      const k = rand();
      timeGaps[b * L + t] = k < 0.5
        ? 0
        : k < 0.8
        ? Math.ceil(rand() * 600)
        : Math.round(86400 * Math.exp(rand() * 6));
    }
  }
  const count = lengths ? Math.min(B, lengths.length) : B;
  const base = { size: B, count, maxLen: L, itemSeq, seqLen, timeGaps, user: new Int32Array(B) };
  return sequence ? { ...base, targets } as SequenceBatch : { ...base, target } as Batch;
}

/** Rating counts of `users` synthetic ML-1M users: log-normal fitted to ML-1M (median ~96, mean ~165), at least 20. */
export function ml1mCounts(users: number): Int32Array {
  const rand = rng(1);
  const counts = new Int32Array(users);
  for (let u = 0; u < users; u++) {
    const z = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
    counts[u] = Math.max(20, Math.round(Math.exp(4.56 + 1.05 * z)));
  }
  return counts;
}

/**
 * Input lengths of the sequence-mode windows of `L` over synthetic ML-1M users (training part:
 * all but 2 items, cut from the oldest as lib/data/batch.ts does), in the epoch's shuffled order.
 */
function ml1mWindowLengths(L: number, users = 6040): Int32Array {
  const lengths: number[] = [];
  for (const n of ml1mCounts(users)) {
    for (let s = 0; s < n - 2; s += L) lengths.push(Math.min(L, n - 2 - s));
  }
  return shuffled(lengths);
}

/** Input lengths of the prefix-mode samples (training targets 1..n−3, window L), shuffled. */
function ml1mPrefixLengths(L: number, users = 6040): Int32Array {
  const lengths: number[] = [];
  for (const n of ml1mCounts(users)) for (let p = 1; p <= n - 3; p++) lengths.push(Math.min(p, L));
  return shuffled(lengths);
}

function shuffled(xs: number[]): Int32Array {
  const perm = epochPermutation(xs.length, { seed: 2020, epoch: 0 });
  return Int32Array.from(perm, (i) => xs[i]);
}

/** Bucket length of each batch of `B` consecutive rows. */
function batchBuckets(lengths: Int32Array, B: number, L: number): number[] {
  const out: number[] = [];
  for (let s = 0; s < lengths.length; s += B) {
    out.push(bucketLength(Math.max(...lengths.subarray(s, s + B)), L, DEFAULT_BUCKET_STEP));
  }
  return out;
}

/** Wall time (ms) of `reps` runs of `f`: median, min, max. */
async function timed(reps: number, f: () => Promise<void>) {
  const times: number[] = [];
  for (let r = 0; r < reps; r++) {
    const s = performance.now();
    await f();
    times.push(performance.now() - s);
  }
  return spread(times);
}

/**
 * Steady-state milliseconds per unit of work (a training step, an evaluation pass), without the
 * fixed cost of the wait that ends a timed run: Deno's wait for the GPU (`onSubmittedWorkDone`,
 * `mapAsync`) returns ~11 ms after the GPU is done whatever it ran (its device poll sleeps 10 ms;
 * kernels/lab/sync_probe.ts), so n units and one wait take n·t + ~13 ms, and dividing by n alone
 * would add 1/n of that to t (1.1–1.3 ms per step at 10 steps per wait). Each repetition runs
 * `lo` units and then `hi` units, each followed by one `wait`, and contributes (T_hi − T_lo) /
 * (hi − lo). The trainer waits once per epoch, so this is the per-step rate of its epochs.
 * `now` is the clock (tests pass their own).
 */
export async function steady(
  reps: number,
  lo: number,
  hi: number,
  run: (n: number) => void | Promise<void>,
  wait: () => Promise<unknown>,
  now: () => number = () => performance.now(),
) {
  const per: number[] = [];
  for (let r = 0; r < reps; r++) {
    const a = now();
    await run(lo);
    await wait();
    const b = now();
    await run(hi);
    await wait();
    per.push(((now() - b) - (b - a)) / (hi - lo));
  }
  return spread(per);
}

/** Median, min and max of a sample. */
function spread(xs: number[]) {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

function scaled(t: { median: number; min: number; max: number }, k: number) {
  return { median: t.median * k, min: t.min * k, max: t.max * k };
}

/** Entry point of `bench`; returns the exit code. */
export async function benchMain(args: string[]): Promise<number> {
  const program = new Command("bench")
    .option("--quick", "small shapes (CI smoke test on a software adapter)")
    .option(
      "--steps <n>",
      "steps of the shorter of each repetition's two timed runs (the longer runs 4 times as many)",
      (v: string) => parseInt(v, 10),
    )
    .option(
      "--reps <n>",
      "repetitions (median and spread over them)",
      (v: string) => parseInt(v, 10),
    )
    .option("-o, --out <dir>", "where bench.json and bench.md go", "runs/bench")
    .option("--no-profile", "skip the per-kernel breakdown")
    .option(
      "--scan-slices <n>",
      "batch slices of the Mamba backward scan (default: the layer's; fewer = more memory)",
      (v: string) => parseInt(v, 10),
    )
    .option(
      "-s, --set <key=value>",
      "override a key of configs/ss4rec.yaml, e.g. recompute=false",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option(
      "--memory",
      "only build the training steps and the evaluation graph on a dry-run device with the " +
        "H100's limits (nothing runs) and report peak GPU memory with a per-tensor breakdown " +
        "(memory.md, memory.json)",
    )
    .exitOverride();
  try {
    program.parse(args, { from: "user" });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<
    {
      quick?: boolean;
      steps?: number;
      reps?: number;
      out: string;
      profile: boolean;
      memory?: boolean;
      scanSlices?: number;
      set: string[];
    }
  >();
  const V = o.quick ? 500 : 3417, users = o.quick ? 64 : 6040;
  const shapes: { name: string; B: number; L: number; mode: TrainMode }[] = o.quick
    ? [{ name: "train step L=20", B: 8, L: 20, mode: "prefix" }]
    : [
      { name: "train step L=200", B: 1024, L: 200, mode: "prefix" },
      { name: "train step L=50", B: 1024, L: 50, mode: "prefix" },
      // how a step scales with B (would splitting a batch into length groups pay?)
      { name: "train step B=256, L=200", B: 256, L: 200, mode: "prefix" },
      { name: "train step L=200, sequence mode", B: 1024, L: 200, mode: "sequence" },
    ];
  const steps = o.steps ?? (o.quick ? 2 : 10), reps = o.reps ?? (o.quick ? 2 : 5);
  // the longer of each repetition's two timed runs, in multiples of `steps` (see steady)
  const LONG = 4;
  let cfg: Config;
  try {
    cfg = loadConfig("configs/ss4rec.yaml", o.set);
  } catch (e) {
    console.error(`bench: ${(e as Error).message}`);
    return e instanceof ConfigError ? 2 : 1;
  }
  const build = { scanSlices: o.scanSlices };
  // evaluation at eval_batch_size 2,048 (twice the training batch), L = 200
  const evalShape = o.quick ? { B: 16, L: 20 } : { B: 2048, L: 200 };
  if (o.memory) {
    return await memoryReport(cfg, { shapes, evalShape, V, users, out: o.out, args, build });
  }
  const gpu = await getGpu();
  type Row = { what: string; median: number; min: number; max: number; unit: string };
  const rows: Row[] = [];
  // progress on stderr as each figure is measured (the tables come at the end)
  rows.push = (...r: Row[]) => {
    for (const x of r) console.error(`bench: ${x.what}: ${x.median.toFixed(3)} ${x.unit}`);
    return Array.prototype.push.apply(rows, r);
  };
  const breakdown: Breakdown = {}, evalBreakdown: Breakdown = {}, packedBreakdown: Breakdown = {};
  const dispatches: string[] = [], evalDispatches: string[] = [];
  // the training step on packed tokens; the evaluation graph of the first ML-1M-length batch, per
  // layout
  const packedDispatches: string[] = [];
  const firstBatch: Record<string, string[]> = {};
  const t0 = performance.now();
  let peak = 0;
  const rt = new Runtime(gpu);
  for (const shape of shapes) {
    rt.dispose(); // each shape starts with an empty device (peak memory is per shape)
    rt.peakBytes = 0;
    const tb = performance.now();
    const { model, graph, tail, commands: cmds } = await buildStep(rt, cfg, shape, {
      numItems: V,
      numUsers: users,
    }, build);
    const buildMs = performance.now() - tb;
    // rows longest first, as lib/train/trainer.ts uploads them
    const batches = [0, 1, 2].map((i) =>
      longestFirst(syntheticBatch(shape.B, shape.L, V, 7 + i, shape.mode === "sequence"))
    );
    let step = 0;
    /** One training step of `g` on `b` (upload, step counter, step + optimiser), no sync. */
    const runStep = (g: TrainGraph, b: Batch | SequenceBatch) => {
      g.upload(b);
      rt.write(model.step, [++step, 1, 1, 0]);
      rt.run([...g.commands, ...tail]);
    };
    const one = () => runStep(graph, batches[step % 3]);
    for (let i = 0; i < 3; i++) one();
    await rt.sync();
    const encode: number[] = [];
    const sync = () => rt.sync();
    /** Steady-state ms per call of `stepAt(i)` (i counts the calls of a run; see steady). */
    const stepRate = (stepAt: (i: number) => void | Promise<void>) =>
      steady(reps, steps, LONG * steps, async (n) => {
        for (let i = 0; i < n; i++) await stepAt(i);
      }, sync);
    const per = await stepRate(() => {
      const e = performance.now();
      one();
      encode.push(performance.now() - e);
    });
    const shapePeak = rt.peakBytes;
    if (shape.mode === "sequence") {
      // A whole ML-1M-shaped epoch: 6,040 users with ML-1M's rating counts (min 20, mean ~165,
      // heavy tail), each history cut into windows of L; all steps timed with one sync.
      const lengths = ml1mWindowLengths(shape.L, o.quick ? users : 6040);
      const windows = lengths.length;
      const epochSteps = Math.ceil(windows / shape.B);
      const epoch = Array.from({ length: epochSteps }, (_, i) =>
        longestFirst(syntheticBatch(
          shape.B,
          shape.L,
          V,
          50 + i,
          true,
          lengths.subarray(i * shape.B, (i + 1) * shape.B),
        )));
      // Padded: every batch at L (the head scores only positions with a target).
      const padded = await timed(Math.min(reps, 3), async () => {
        for (const b of epoch) runStep(graph, b);
        await rt.sync();
      });
      rows.push({
        what: `ML-1M-shaped epoch, sequence mode (${windows} windows, ${epochSteps} steps)`,
        ...scaled(padded, 1 / 1000),
        unit: "s",
      });
      // The same epoch, each batch at its length bucket.
      const tb = trainBuckets(model, {
        batch: shape.B,
        maxLen: shape.L,
        mode: "sequence",
        step: DEFAULT_BUCKET_STEP,
      });
      const runEpoch = async () => {
        for (const b of epoch) {
          const { graph: g, batch } = await tb.graphs.forBatch(b);
          runStep(g, batch);
        }
        await rt.sync();
      };
      await runEpoch(); // builds the buckets' graphs
      const bucketed = await timed(Math.min(reps, 3), runEpoch);
      const used = batchBuckets(lengths, shape.B, shape.L);
      const fill = lengths.reduce((a, b) => a + b, 0) / (windows * shape.L);
      rows.push({
        what: `ML-1M-shaped epoch, sequence mode, length buckets (real lengths, ${
          (100 * fill).toFixed(0)
        }% of L filled; L_b per step: ${used.join(" ")})`,
        ...scaled(bucketed, 1 / 1000),
        unit: "s",
      });
      rows.push({
        what: `${shape.name}, length buckets: arena for ${tb.graphs.lengths.length} graphs`,
        median: (tb.graphs.arena?.bytes ?? 0) / 2 ** 30,
        min: NaN,
        max: NaN,
        unit: "GiB",
      });
    }
    rows.push({ what: shape.name, ...per, unit: "ms" });
    if (shape.mode === "prefix" && (o.quick || (shape.L === 200 && shape.B === 1024))) {
      // The strictest reading of "a step at B, L": every row at the full window (the official
      // code pads every row to L, so its step time does not depend on the lengths; ours does)
      const full = [0, 1, 2].map((i) =>
        syntheticBatch(shape.B, shape.L, V, 7 + i, false, new Array(shape.B).fill(shape.L))
      );
      let k = 0;
      const fullStep = () => runStep(graph, full[k++ % 3]);
      for (let i = 0; i < 3; i++) fullStep();
      await rt.sync();
      const fullPer = await stepRate(fullStep);
      rows.push({ what: `${shape.name}, every row at L (100% filled)`, ...fullPer, unit: "ms" });
      // the official log's 959 steps per ML-1M epoch, from the measured step time
      rows.push({
        what: "ML-1M epoch (prefix mode, 959 steps)",
        ...scaled(per, 959 / 1000),
        unit: "s",
      });
      // With length buckets: the bucket of every batch of the shuffled real length mix, each
      // distinct bucket's step timed (L's is the step above).
      const used = batchBuckets(
        ml1mPrefixLengths(shape.L, o.quick ? users : 6040),
        shape.B,
        shape.L,
      );
      const hist = new Map<number, number>();
      for (const b of used) hist.set(b, (hist.get(b) ?? 0) + 1);
      const tb = trainBuckets(model, {
        batch: shape.B,
        maxLen: shape.L,
        mode: "prefix",
        step: DEFAULT_BUCKET_STEP,
      });
      let est = { median: 0, min: 0, max: 0 };
      for (const [len, count] of hist) {
        let t = per;
        if (len !== shape.L) {
          const rows = Array.from(
            { length: shape.B },
            (_, b) => b === 0 ? len : 1 + (b * 7919) % len,
          );
          const b = longestFirst(syntheticBatch(shape.B, shape.L, V, 70, false, rows));
          const { graph: g, batch } = await tb.graphs.forBatch(b);
          const stepAt = () => runStep(g, batch);
          stepAt();
          await rt.sync();
          t = await stepRate(stepAt);
        }
        est = {
          median: est.median + count * t.median / 1000,
          min: est.min + count * t.min / 1000,
          max: est.max + count * t.max / 1000,
        };
      }
      rows.push({
        what:
          `ML-1M epoch (prefix mode, real length mix, length buckets: ${used.length} steps; L_b ${
            [...hist].sort((a, b) => b[0] - a[0]).map(([l, c]) => `${l}×${c}`).join(", ")
          })`,
        ...est,
        unit: "s",
      });
      // On packed tokens (lib/models/buckets.ts PackedGraphs, as the trainer runs prefix mode):
      // the step above on the same three batches, and the real length mix's epoch, estimated
      // from its first `sample` steps (one graph per capacity, built before timing).
      const pk = packedTrainGraphs(model, { batch: shape.B, maxLen: shape.L });
      const stepPacked = async (b: Batch) => {
        const { graph: g, batch } = await pk.graphs.forBatch(b);
        runStep(g, batch);
      };
      for (const b of batches) await stepPacked(b as Batch);
      await rt.sync();
      const same = await stepRate((i) => stepPacked(batches[i % 3] as Batch));
      rows.push({
        what: `${shape.name}, packed tokens (the same batches)`,
        ...same,
        unit: "ms",
      });
      if (o.profile && shape === shapes[0]) {
        // queued behind 20 steps, so that the card runs at its working clock (an idle H100
        // drops to 345 MHz: session 13's profile of this step, taken after a wait, read 4x slow)
        for (let i = 0; i < 20; i++) await stepPacked(batches[i % 3] as Batch);
        const { graph: g, batch } = await pk.graphs.forBatch(batches[0] as Batch);
        g.upload(batch);
        await profileInto(rt, packedBreakdown, g.commands, packedDispatches);
      }
      const mix = ml1mPrefixLengths(shape.L, o.quick ? users : 6040);
      const sample = Math.min(o.quick ? 4 : 48, Math.floor(mix.length / shape.B));
      const epochSteps = Math.ceil(mix.length / shape.B);
      const real = Array.from({ length: sample }, (_, i) =>
        longestFirst(
          syntheticBatch(
            shape.B,
            shape.L,
            V,
            90 + i,
            false,
            mix.subarray(i * shape.B, (i + 1) * shape.B),
          ),
        ) as Batch);
      for (const b of real) await stepPacked(b);
      await rt.sync();
      const fill = mix.reduce((a, b) => a + b, 0) / (mix.length * shape.L);
      // steady state: the sample once and then twice between waits (the epoch's one wait at its
      // end, ~13 ms, left out)
      const realPer = await steady(Math.min(reps, 3), sample, 2 * sample, async (n) => {
        for (let i = 0; i < n; i++) await stepPacked(real[i % sample]);
      }, sync);
      // The step on the data the official figure describes: the official code pads every row to
      // L, so its 79 ms holds for any batch and is its epoch's 76 s / 959 steps of ML-1M batches;
      // ours depends on the lengths. The fixed batches above put 60 % of rows at L (80 % of the
      // window filled), ML-1M's prefix samples 34 % (59 % filled).
      rows.push({
        what: `${shape.name}, ML-1M prefix lengths, packed tokens`,
        ...realPer,
        unit: "ms",
      });
      rows.push({
        what: `ML-1M epoch (prefix mode, real length mix, ${
          (100 * fill).toFixed(0)
        }% of L filled, packed tokens: ${epochSteps} steps, estimated from ${sample}; capacities ${
          pk.graphs.capacities.join(" ")
        })`,
        ...scaled(realPer, epochSteps / 1000),
        unit: "s",
      });
    }
    rows.push({
      what: `${shape.name}: host upload + encode + submit`,
      ...spread(encode),
      unit: "ms",
    });
    rows.push({
      what: `${shape.name}: build (pipelines + buffers)`,
      median: buildMs,
      min: buildMs,
      max: buildMs,
      unit: "ms",
    });
    peak = Math.max(peak, shapePeak);
    rows.push({
      what: `${shape.name}: peak GPU memory`,
      median: shapePeak / 2 ** 30,
      min: NaN,
      max: NaN,
      unit: "GiB",
    });
    if (o.profile && shape === shapes[0]) {
      // queued behind 20 steps, at the card's working clock (as the packed step's profile above)
      for (let i = 0; i < 20; i++) runStep(graph, batches[i % 3]);
      await profileInto(rt, breakdown, cmds, dispatches);
    }
  }
  // What one wait for the GPU costs when the GPU is idle (Deno's device poll: see steady).
  rows.push({
    what: "waiting for the GPU once, nothing running (rt.sync)",
    ...await timed(7, () => rt.sync()),
    unit: "ms",
  });
  // Full-ranking evaluation of all users (eval batch 2,048, L = 200 or 20).
  {
    rt.dispose();
    const L = o.quick ? 20 : 200, EB = o.quick ? 32 : 2048;
    const model = createModel(rt, cfg, { numItems: V, numUsers: users });
    model.store.initialise(cfg.seed);
    const g = await model.buildEval({ batch: EB, maxLen: L, maskHistory: false });
    const batches = [0, 1, 2].map((i) => syntheticBatch(EB, L, V, 30 + i, false) as Batch);
    const pass = (n: number) => {
      for (let s = 0; s < n; s += EB) {
        g.upload(batches[(s / EB) % 3]);
        rt.write(g.step, [0, 0, 0, 0]);
        rt.run(g.commands);
      }
    };
    pass(EB);
    await rt.read(g.ranks);
    if (o.profile) await profileInto(rt, evalBreakdown, g.commands, evalDispatches);
    for (
      const [name, n] of [[`eval ${EB.toLocaleString("en")} users`, EB], [
        `eval ${users.toLocaleString("en")} users`,
        users,
      ]] as const
    ) {
      const t = await timed(reps, async () => {
        pass(n);
        await rt.read(g.ranks); // ranks back on the host, as evaluation needs them
      });
      rows.push({ what: name, ...t, unit: "ms" });
    }
    // All users with ML-1M's lengths (history before the test item, cut to L): padded, and
    // ordered by length with each batch at its bucket (as lib/train/trainer.ts evaluates).
    // "GPU time per pass": without the fixed ~11 ms of Deno's mapAsync read-back (see steady).
    const lengths = Int32Array.from(ml1mCounts(users), (n) => Math.min(n - 1, L));
    const sorted = Int32Array.from(lengthOrder(lengths), (i) => lengths[i]);
    const batchesOf = (size: number) =>
      Array.from(
        { length: Math.ceil(users / size) },
        (_, i) =>
          syntheticBatch(
            size,
            L,
            V,
            60 + i,
            false,
            sorted.subarray(i * size, (i + 1) * size),
          ) as Batch,
      );
    const evalBatches = batchesOf(EB);
    let lastRanks = g.ranks;
    /**
     * Evaluation passes over the ML-1M-length batches at eval batch `size` through `graphs`
     * (length buckets or packed tokens), with the key each batch runs at (`keyOf`), after a first
     * pass that builds the graphs; at EB, when profiling, the first batch's graph goes into
     * dispatches.md under `layout`.
     */
    const layoutRun = async (
      graphs: EvalGraphs,
      size: number,
      layout: string,
      keyOf: (b: Batch) => number,
    ) => {
      const batches = size === EB ? evalBatches : batchesOf(size);
      const pass = async () => {
        for (const b of batches) {
          const { graph: e, batch } = await graphs.forBatch(b);
          e.upload(batch);
          rt.write(e.step, [0, 0, 0, 0]);
          rt.run(e.commands);
          lastRanks = e.ranks;
        }
      };
      await pass();
      await rt.read(lastRanks);
      if (o.profile && size === EB) {
        const { graph: e, batch } = await graphs.forBatch(batches[0]);
        e.upload(batch);
        await profileInto(rt, {}, e.commands, firstBatch[layout] = []);
      }
      return { pass, used: batches.map(keyOf) };
    };
    const bucketed = (size: number) =>
      layoutRun(
        evalBuckets(model, {
          batch: size,
          maxLen: L,
          maskHistory: false,
          step: DEFAULT_BUCKET_STEP,
        }),
        size,
        "length bucket",
        (b) => bucketLength(Math.max(...b.seqLen), L, DEFAULT_BUCKET_STEP),
      );
    /** The same batches on packed tokens (no padding; lib/models/buckets.ts PackedGraphs). */
    const packedRun = (size: number) => {
      const pg = packedEvalGraphs(model, { batch: size, maxLen: L, maskHistory: false });
      return layoutRun(pg, size, "packed tokens", (b) => pg.capacityOf(tokenCount(b)));
    };
    const paddedPass = () => {
      for (const b of evalBatches) {
        g.upload(b);
        rt.write(g.step, [0, 0, 0, 0]);
        rt.run(g.commands);
      }
      return Promise.resolve();
    };
    const small = Math.max(8, EB / 4);
    const atEB = await bucketed(EB), atSmall = await bucketed(small);
    // packed: at the eval batch, and all users in one batch
    const packed = await packedRun(EB), packedAll = await packedRun(users);
    const tokens = evalBatches.reduce((a, b) => a + tokenCount(b), 0).toLocaleString("en");
    const many = 10;
    const n = users.toLocaleString("en");
    for (
      const [what, pass] of [
        [`eval ${n} users, ML-1M lengths, padded`, paddedPass],
        [
          `eval ${n} users, ML-1M lengths, length buckets (L_b ${atEB.used.join(" ")})`,
          atEB.pass,
        ],
        [
          `eval ${n} users, ML-1M lengths, length buckets, eval batch ${small} (L_b ${
            atSmall.used.join(" ")
          })`,
          atSmall.pass,
        ],
        [
          `eval ${n} users, ML-1M lengths, packed tokens (${tokens} tokens in capacities ${
            packed.used.join(" ")
          })`,
          packed.pass,
        ],
        [
          `eval ${n} users, ML-1M lengths, packed tokens, one batch of ${n} (capacity ${packedAll.used})`,
          packedAll.pass,
        ],
      ] as const
    ) {
      rows.push({
        what,
        ...await timed(reps, async () => {
          await pass();
          await rt.read(lastRanks);
        }),
        unit: "ms",
      });
      rows.push({
        what: `${what}: GPU time per pass (steady state, 1 and ${1 + many} passes per read)`,
        ...await steady(reps, 1, 1 + many, async (k) => {
          for (let i = 0; i < k; i++) await pass();
        }, () => rt.read(lastRanks)),
        unit: "ms",
      });
    }
  }
  const date = new Date().toISOString();
  const md = [
    `# ss4rec bench (${o.quick ? "quick" : "ML-1M shapes"})`,
    "",
    `- adapter: ${gpu.adapterName}${gpu.isFallback ? " (software)" : ""}`,
    `- date: ${date}`,
    `- command: deno task bench ${args.join(" ")}`,
    `- shapes: V = ${V}, H = 64, 2 blocks, P = 32, E = 128, N = 32; warm-up excluded`,
    `- step times: steady state, (T(${LONG * steps} steps) − T(${steps} steps)) / ${
      (LONG - 1) * steps
    }, each run ended by one wait for the GPU (which Deno makes cost a fixed ~11 ms: the last row); median and spread over ${reps} repetitions`,
    "",
    "| what | median | min | max | official PyTorch (H100) |",
    "|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${r.what} | ${r.median.toFixed(r.unit === "GiB" ? 3 : 2)} ${r.unit} | ${
        Number.isNaN(r.min) ? "" : r.min.toFixed(2)
      } | ${Number.isNaN(r.max) ? "" : r.max.toFixed(2)} | ${OFFICIAL[r.what] ?? ""} |`
    ),
    "",
    `Peak GPU memory over all training shapes: ${(peak / 2 ** 30).toFixed(3)} GiB (official: ${
      OFFICIAL["peak memory (train L=200)"]
    }).`,
    "",
    `## Per-kernel breakdown (${shapes[0].name}, one dispatch per pass with timestamp queries)`,
    "",
    "| kernel | dispatches | ms |",
    "|---|---|---|",
    ...breakdownRows(breakdown),
    "",
    `## Per-kernel breakdown (${shapes[0].name}, packed tokens, the first of the same batches)`,
    "",
    "| kernel | dispatches | ms |",
    "|---|---|---|",
    ...breakdownRows(packedBreakdown),
    "",
    `## Per-kernel breakdown (evaluation graph, ${
      o.quick ? 32 : 2048
    } users at the full length, one dispatch per pass)`,
    "",
    "| kernel | dispatches | ms |",
    "|---|---|---|",
    ...breakdownRows(evalBreakdown),
    "",
    `Total bench time ${((performance.now() - t0) / 1000).toFixed(1)} s.`,
    "",
  ].join("\n");
  await Deno.mkdir(o.out, { recursive: true });
  await writeFileAtomic(
    `${o.out}/bench.json`,
    JSON.stringify(
      {
        adapter: gpu.adapterName,
        date,
        rows,
        breakdown,
        packedBreakdown,
        evalBreakdown,
        peakBytes: peak,
      },
      null,
      2,
    ) +
      "\n",
  );
  await writeFileAtomic(`${o.out}/bench.md`, md);
  if (dispatches.length) {
    const head = ["| # | kernel | tensors [params] | workgroups | µs |", "|---|---|---|---|---|"];
    await writeFileAtomic(
      `${o.out}/dispatches.md`,
      [
        `# Every dispatch of one profiled run (${gpu.adapterName}, ${date})`,
        "",
        `## ${shapes[0].name}`,
        "",
        ...head,
        ...dispatches,
        "",
        `## ${shapes[0].name}, packed tokens (the first of the same batches)`,
        "",
        ...head,
        ...packedDispatches,
        "",
        "## evaluation graph",
        "",
        ...head,
        ...evalDispatches,
        "",
        ...Object.entries(firstBatch).flatMap(([layout, list]) => [
          `## evaluation graph of the first ML-1M-length batch, ${layout}`,
          "",
          ...head,
          ...list,
          "",
        ]),
      ].join("\n"),
    );
  }
  console.log(md);
  return 0;
}

/** The configured model with initialised parameters (`build.scanSlices` overrides SS4Rec's). */
function benchModel(
  rt: Runtime,
  cfg: Config,
  ds: { numItems: number; numUsers: number },
  build: { scanSlices?: number } = {},
) {
  const model = build.scanSlices && cfg.model.toLowerCase() === "ss4rec"
    ? new SS4Rec(rt, { ...ss4recOptions(cfg, ds.numItems), mambaScanSlices: build.scanSlices })
    : createModel(rt, cfg, ds);
  model.store.initialise(cfg.seed);
  return model;
}

/** Bytes per buffer label of what `rt` holds now. */
function buffersOf(rt: Runtime): Record<string, number> {
  const buffers: Record<string, number> = {};
  for (const a of rt.allocations()) buffers[a.label] = (buffers[a.label] ?? 0) + a.bytes;
  return buffers;
}

/** Builds one training step (model, optimiser, gradient norm: what the bench runs) on `rt`. */
export async function buildStep(
  rt: Runtime,
  cfg: Config,
  shape: { B: number; L: number; mode: TrainMode },
  ds: { numItems: number; numUsers: number },
  build: { scanSlices?: number } = {},
) {
  const model = benchModel(rt, cfg, ds, build);
  const graph = await model.buildTrain({ batch: shape.B, maxLen: shape.L, mode: shape.mode });
  // the official setting (no clipping) plus the global gradient norm diagnostics keep on
  const { commands: update } = await modelOptimizer(rt, model, {
    lr: cfg.learning_rate,
    weightDecay: 0,
    clipGradNorm: null,
  });
  const norm = await new GradNorm(rt, model.store.gradAll).init();
  // graph.commands may change with each upload (sequence mode): run [...graph.commands, ...tail]
  const tail = [...norm.ops(), ...update];
  return { model, graph, tail, commands: [...graph.commands, ...tail] };
}

/**
 * `bench --memory`: the peak of our allocator's accounting (`Runtime.peakBytes`) per training
 * shape, of the evaluation graph, and of a training step and evaluation graph built into one
 * arena as lib/train/trainer.ts builds them, from builds on a dry-run device (lib/gpu/dry_run.ts)
 * with the H100's limits — the figure a GPU run reports, without a GPU — and the buffers behind
 * the first training shape and the evaluation graph, largest first.
 */
async function memoryReport(
  cfg: Config,
  o: {
    shapes: { name: string; B: number; L: number; mode: TrainMode }[];
    evalShape: { B: number; L: number };
    V: number;
    users: number;
    out: string;
    args: string[];
    build: { scanSlices?: number };
  },
): Promise<number> {
  const MiB = 2 ** 20;
  const lines = [
    "# ss4rec bench --memory",
    "",
    `- device: dry run with the NVIDIA H100's limits (nothing allocated or run; lib/gpu/dry_run.ts)`,
    `- date: ${new Date().toISOString()}`,
    `- command: deno task bench ${o.args.join(" ")}`,
    `- model: configs/ss4rec.yaml, V = ${o.V}; optimiser and gradient norm included; Mamba ` +
    `backward scan in ${o.build.scanSlices ?? "the default number of"} batch slices`,
    "",
    "| training step | peak GPU memory |",
    "|---|---|",
  ];
  const shapes: { name: string; peakBytes: number; buffers: Record<string, number> }[] = [];
  for (const shape of o.shapes) {
    const rt = new Runtime(dryRunGpu());
    await buildStep(rt, cfg, shape, { numItems: o.V, numUsers: o.users }, o.build);
    shapes.push({ name: shape.name, peakBytes: rt.peakBytes, buffers: buffersOf(rt) });
    lines.push(`| ${shape.name} | ${(rt.peakBytes / 2 ** 30).toFixed(3)} GiB |`);
  }
  const ds = { numItems: o.V, numUsers: o.users };
  const { B: EB, L: EL } = o.evalShape;
  const evalName = `eval B=${EB}, L=${EL}`;
  // the evaluation graph alone (model parameters included)
  let evalGraph: { name: string; peakBytes: number; buffers: Record<string, number> };
  {
    const rt = new Runtime(dryRunGpu());
    const model = benchModel(rt, cfg, ds, o.build);
    await model.buildEval({ batch: EB, maxLen: EL, maskHistory: false });
    evalGraph = { name: evalName, peakBytes: rt.peakBytes, buffers: buffersOf(rt) };
  }
  lines.push(
    "",
    "| evaluation graph | peak GPU memory |",
    "|---|---|",
    `| ${evalName} | ${(evalGraph.peakBytes / 2 ** 30).toFixed(3)} GiB |`,
  );
  // what the trainer builds: the training step at L (sizing the arena), the optimiser, then the
  // evaluation graph at L in the same arena (what does not fit gets buffers of its own: the
  // arena's overflow)
  const combined: {
    name: string;
    peakBytes: number;
    arenaBytes: number;
    overflowBytes: number;
  }[] = [];
  lines.push(
    "",
    "| trainer: training step + evaluation graph in one arena | peak GPU memory | arena | " +
      "overflow |",
    "|---|---|---|---|",
  );
  for (const shape of o.shapes.filter((s) => s.L === EL && s.B * 2 === EB)) {
    const rt = new Runtime(dryRunGpu());
    const model = benchModel(rt, cfg, ds, o.build);
    // the trainer's own choice of graphs (packed tokens in prefix mode), in its order
    const trainer = {
      batchSize: shape.B,
      evalBatchSize: EB,
      maxLen: shape.L,
      mode: shape.mode,
      maskHistory: false,
      lengthBucket: DEFAULT_BUCKET_STEP,
      packing: true,
    };
    const evals = evalGraphsFor(model, trainer);
    const { graphs } = trainGraphsFor(model, trainer, evals.arena);
    await graphs.first();
    await modelOptimizer(rt, model, { lr: cfg.learning_rate, weightDecay: 0, clipGradNorm: null });
    await evals.first();
    const arena = evals.arena!;
    const name = `${shape.name} + ${evalName}`;
    combined.push({
      name,
      peakBytes: rt.peakBytes,
      arenaBytes: arena.bytes,
      overflowBytes: arena.overflowBytes,
    });
    const gib = (b: number) => `${(b / 2 ** 30).toFixed(3)} GiB`;
    lines.push(
      `| ${name} | ${gib(rt.peakBytes)} | ${gib(arena.bytes)} | ${gib(arena.overflowBytes)} |`,
    );
  }
  const table = (what: { name: string; peakBytes: number; buffers: Record<string, number> }) => [
    "",
    `## Buffers of ${what.name} (label: total over buffers with that label)`,
    "",
    "| buffer | MiB | share |",
    "|---|---|---|",
    ...Object.entries(what.buffers).sort((a, b) => b[1] - a[1]).filter(([, b]) => b >= MiB / 10)
      .map(([k, b]) =>
        `| ${k} | ${(b / MiB).toFixed(1)} | ${(100 * b / what.peakBytes).toFixed(1)} % |`
      ),
  ];
  lines.push(...table(shapes[0]), ...table(evalGraph), "");
  const md = lines.join("\n");
  await Deno.mkdir(o.out, { recursive: true });
  await writeFileAtomic(
    `${o.out}/memory.json`,
    JSON.stringify({ shapes, eval: evalGraph, combined }, null, 2) + "\n",
  );
  await writeFileAtomic(`${o.out}/memory.md`, md);
  console.log(md);
  return 0;
}

if (import.meta.main) Deno.exit(await benchMain(Deno.args));

/** Per kernel label: summed ms and dispatch count of one profiled run. */
type Breakdown = Record<string, { ms: number; count: number }>;

/**
 * Adds one timestamp-profiled run of `commands`' dispatches (per kernel label) into `into`, and
 * appends each dispatch in order (label, tensors and params, workgroups, µs) to `list`.
 */
async function profileInto(
  rt: Runtime,
  into: Breakdown,
  commands: readonly GpuCommand[],
  list: string[],
) {
  // the graph's clears run in their places (the embedding backward needs its workspace zeroed)
  const ops = commands.filter((c): c is Op => "pipeline" in c);
  const t = await rt.profile(commands);
  if (!t) return;
  ops.forEach((op, i) => {
    const b = into[op.label] ??= { ms: 0, count: 0 };
    b.ms += t[i] / 1e6;
    b.count++;
    list.push(
      `| ${i} | ${op.label} | ${op.detail} | ${op.workgroups.join("×")} | ${
        (t[i] / 1e3).toFixed(1)
      } |`,
    );
  });
}

/** Markdown rows of a breakdown, slowest kernel first. */
function breakdownRows(b: Breakdown): string[] {
  return Object.entries(b).sort((x, y) => y[1].ms - x[1].ms).map(([k, v]) =>
    `| ${k} | ${v.count} | ${v.ms.toFixed(3)} |`
  );
}
