/**
 * The training loop: epochs of GPU steps without host sync, validation every epoch, early
 * stopping on the validation metric, atomic checkpoints, and a NaN/Inf guard that stops the run
 * with the first non-finite tensor named while the last good checkpoint stays intact.
 *
 * The loop only wires parts together: batches come from `lib/data`, steps from the model's
 * {@linkcode TrainGraph}, the update from {@linkcode Adam}, metrics from `lib/metrics.ts`.
 *
 * @module
 */

import {
  lengthOrder,
  longestFirst,
  makeBatch,
  makeSequenceBatch,
  sequenceWindows,
} from "../data/batch.ts";
import type { SampleSet, SequentialDataset } from "../data/dataset.ts";
import { epochPermutation } from "../data/shuffle.ts";
import { type Arena, type Runtime, Tensor } from "../gpu/runtime.ts";
import { historyOf, metricsFromRanks } from "../metrics.ts";
import {
  DEFAULT_BUCKET_STEP,
  evalBuckets,
  type EvalGraphs,
  packedEvalGraphs,
  packedTrainGraphs,
  trainBuckets,
  type TrainGraphs,
} from "../models/buckets.ts";
import type { RecModel, TrainMode } from "../models/model.ts";
import { type Adam, type AdamState, modelOptimizer } from "./adam.ts";
import { Progress } from "./progress.ts";

/** Everything the loop needs to know, already resolved from the config. */
export interface TrainerOptions {
  epochs: number;
  batchSize: number;
  evalBatchSize: number;
  maxLen: number;
  learningRate: number;
  weightDecay: number;
  /** Clip the global gradient norm to this value (null = no clipping, the official setting). */
  clipGradNorm: number | null;
  /** Stop after this many evaluations that fail to reach the best (ties reach it). */
  stoppingStep: number;
  /** Metric key of `metricsFromRanks`, e.g. `ndcg@10`. */
  validMetric: string;
  topk: number[];
  seed: number;
  mode: TrainMode;
  timestampPrecision: "float64" | "float32";
  maskHistory: boolean;
  /** Length bucket granularity (config `length_bucket`, default 16; 0 = every batch at maxLen). */
  lengthBucket?: number;
  /**
   * Packed tokens (config `packing`, default true) where the model supports them: evaluation, and
   * prefix-mode training steps (lib/models/buckets.ts PackedGraphs).
   */
  packing?: boolean;
  /** Stop after this many training steps in total (0 = no limit; used by quick checks). */
  maxSteps?: number;
  /** Stop after the first epoch that ends past this many seconds of this call (0 = no limit). */
  timeBudgetSeconds?: number;
  /**
   * The evaluation graphs validation runs on (default: {@linkcode evalGraphsFor} these options).
   * The training steps are built in their arena (the two never run at the same time), so pass
   * them in to evaluate other splits after training on the same graphs, adding no memory.
   */
  evalGraphs?: EvalGraphs;
}

/** One line of `metrics.jsonl`. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valid: Record<string, number>;
  seconds: number;
  stepsPerSecond: number;
}

/** Hooks the caller (the train task) uses for output: logs, checkpoints, reports. */
export interface TrainerHooks {
  log(line: string): void;
  /** Called after every epoch with the record and whether it is the best so far. */
  epochEnd(record: EpochRecord, best: boolean, state: TrainerState, adam: Adam): Promise<void>;
}

/** Resumable state of a run (saved in checkpoints). */
export interface TrainerState {
  epoch: number;
  step: number;
  bestEpoch: number;
  bestScore: number;
  badEvals: number;
  history: EpochRecord[];
  /** Why the run ended: `epochs`, `early stopping`, `max steps` or `time budget`. */
  stoppedBy?: string;
}

/** Raised when a loss or parameter becomes NaN/Inf; names the first offending tensor. */
export class NonFiniteError extends Error {
  override name = "NonFiniteError";
}

/** The histories ({@linkcode historyOf}) of the rows of an evaluation split, as CSR, for masking. */
function historiesOf(ds: SequentialDataset, set: SampleSet, rows: ArrayLike<number>) {
  const each = Array.from(rows, (s) => historyOf(ds, set, s));
  const offsets = new Int32Array(rows.length + 1);
  each.forEach((h, i) => offsets[i + 1] = offsets[i] + h.length);
  const items = new Int32Array(offsets[rows.length]);
  each.forEach((h, i) => items.set(h, offsets[i]));
  return { offsets, items };
}

/**
 * Full-ranking evaluation of `set` (SPEC §5): users ordered by length so each batch runs at a
 * short bucket length (lib/models/buckets.ts; a user's rank does not depend on its batch), ranks
 * computed on the GPU, copied into one buffer for the whole split, read back once and put back
 * in the split's order.
 */
export async function evaluate(
  rt: Runtime,
  ds: SequentialDataset,
  graphs: EvalGraphs,
  set: SampleSet,
  options: { topk: number[]; timestampPrecision: "float64" | "float32"; maskHistory: boolean },
): Promise<{ metrics: Record<string, number>; ranks: Uint32Array }> {
  const n = set.user.length;
  const { maxLen, batch: B } = graphs;
  const order = lengthOrder(Int32Array.from(set.pos, (p) => Math.min(p, maxLen)));
  const all: Tensor = rt.tensor([Math.max(n, 1)], "u32", undefined, "ranks");
  for (let start = 0; start < n; start += B) {
    const rows = order.subarray(start, Math.min(start + B, n));
    const { graph, batch } = await graphs.forBatch(makeBatch(ds, set, rows, {
      maxLen,
      batchSize: B,
      timestampPrecision: options.timestampPrecision,
    }));
    graph.upload(batch, options.maskHistory ? historiesOf(ds, set, rows) : undefined);
    const part = new Tensor(all.buffer, start * 4, [rows.length], "u32");
    const got = new Tensor(graph.ranks.buffer, graph.ranks.offset, [rows.length], "u32");
    rt.write(graph.step, [0, 0, 0, 0]); // training flag off: no dropout
    rt.run([...graph.commands, { copy: got, to: part }]);
  }
  const sorted = (await rt.read(all) as Uint32Array).subarray(0, n);
  rt.free(all);
  const ranks = new Uint32Array(n);
  for (let i = 0; i < n; i++) ranks[order[i]] = sorted[i];
  return { metrics: metricsFromRanks(ranks, options.topk), ranks };
}

/**
 * The evaluation graphs a trainer config asks for, built on use: on packed tokens where the model
 * supports it and `packing` is not off, else one per bucket length.
 */
export function evalGraphsFor(
  model: RecModel,
  options: Pick<
    TrainerOptions,
    "evalBatchSize" | "maxLen" | "maskHistory" | "lengthBucket" | "packing"
  >,
): EvalGraphs {
  if (model.packable && options.packing !== false) {
    return packedEvalGraphs(model, {
      batch: options.evalBatchSize,
      maxLen: options.maxLen,
      maskHistory: options.maskHistory,
    });
  }
  return evalBuckets(model, {
    batch: options.evalBatchSize,
    maxLen: options.maxLen,
    maskHistory: options.maskHistory,
    step: options.lengthBucket ?? DEFAULT_BUCKET_STEP,
  });
}

/**
 * The training graphs a run builds (built on use): on packed tokens for prefix mode where the model
 * supports them and `packing` is not off, else one per bucket length; in `arena` (the evaluation
 * graphs'), which the first one built sizes.
 */
export function trainGraphsFor(
  model: RecModel,
  options: Pick<TrainerOptions, "batchSize" | "maxLen" | "mode" | "lengthBucket" | "packing">,
  arena: Arena | null,
): { graphs: TrainGraphs; lossSum: Tensor } {
  const { batchSize: batch, maxLen, mode } = options;
  if (model.packable && options.packing !== false && mode === "prefix") {
    return packedTrainGraphs(model, { batch, maxLen, arena });
  }
  const step = options.lengthBucket ?? DEFAULT_BUCKET_STEP;
  return trainBuckets(model, { batch, maxLen, mode, step, arena });
}

/** Trains `model` on `ds` until the epoch budget or early stopping ends it. */
export async function trainModel(
  rt: Runtime,
  ds: SequentialDataset,
  model: RecModel,
  options: TrainerOptions,
  hooks: TrainerHooks,
  resume?: { state: TrainerState; optimizer: AdamState },
): Promise<TrainerState> {
  const mode = options.mode;
  const evalGraphs = options.evalGraphs ?? evalGraphsFor(model, options);
  const { graphs, lossSum } = trainGraphsFor(model, options, evalGraphs.arena);
  await graphs.first(); // first in the arena: it sizes it
  const { adam, commands: update } = await modelOptimizer(rt, model, {
    lr: options.learningRate,
    weightDecay: options.weightDecay,
    clipGradNorm: options.clipGradNorm,
  });
  const state: TrainerState = resume?.state ?? {
    epoch: 0,
    step: 0,
    bestEpoch: -1,
    bestScore: -Infinity,
    badEvals: 0,
    history: [],
  };
  if (resume) adam.load(resume.optimizer);
  const windows = mode === "sequence" ? sequenceWindows(ds, { maxLen: options.maxLen }) : null;
  const numSamples = windows ? windows.user.length : ds.train.user.length;
  const stepsPerEpoch = Math.ceil(numSamples / options.batchSize);
  const batchOpts = {
    maxLen: options.maxLen,
    batchSize: options.batchSize,
    timestampPrecision: options.timestampPrecision,
  };
  const started = performance.now();
  state.stoppedBy = "epochs";
  while (state.epoch < options.epochs) {
    const epoch = state.epoch;
    const t0 = performance.now();
    const perm = epochPermutation(numSamples, { seed: options.seed, epoch });
    rt.run([{ clear: lossSum }]);
    const bar = new Progress(`epoch ${epoch + 1}`, stepsPerEpoch);
    let shownLoss: number | undefined;
    let pendingRead = false;
    let steps = 0;
    for (let s = 0; s < stepsPerEpoch; s++) {
      const idx = perm.subarray(s * options.batchSize, (s + 1) * options.batchSize);
      // rows longest first: the loss is a mean over rows, and the GPU's scans balance better
      const { graph, batch } = await graphs.forBatch(longestFirst(
        windows
          ? makeSequenceBatch(ds, windows, idx, batchOpts)
          : makeBatch(ds, ds.train, idx, batchOpts),
      ));
      graph.upload(batch);
      state.step++;
      rt.write(model.step, [state.step, options.seed, 1, 0]);
      rt.run([...graph.commands, ...update]);
      steps++;
      // A running loss for the bar without stalling the queue: at most one read in flight.
      if (!pendingRead && s % 20 === 19) {
        pendingRead = true;
        // a failed read is reported by the end-of-epoch read; here it only ends the display
        rt.read(lossSum).then((v) => {
          shownLoss = v[0] / Math.max(v[1], 1);
        }).catch(() => {}).finally(() => pendingRead = false);
      }
      bar.update(s + 1, shownLoss);
      if (options.maxSteps && state.step >= options.maxSteps) break;
    }
    const [lossTotal, rows] = await rt.read(lossSum) as Float32Array;
    bar.done();
    const trainLoss = lossTotal / Math.max(rows, 1);
    const seconds = (performance.now() - t0) / 1000;
    if (!Number.isFinite(trainLoss)) {
      const bad = await firstNonFinite(model);
      throw new NonFiniteError(
        `training loss became ${trainLoss} in epoch ${epoch + 1}` +
          (bad ? `; first non-finite parameter: ${bad}` : "") +
          "; the last good checkpoint is kept (try s5_clip_eigs: true or clip_grad_norm)",
      );
    }
    const valid = (await evaluate(rt, ds, evalGraphs, ds.valid, options)).metrics;
    const score = valid[options.validMetric];
    const best = score >= state.bestScore;
    if (best) {
      state.bestScore = score;
      state.bestEpoch = epoch;
      state.badEvals = 0;
    } else state.badEvals++;
    const record: EpochRecord = {
      epoch: epoch + 1,
      trainLoss,
      valid,
      seconds,
      stepsPerSecond: steps / seconds,
    };
    state.history.push(record);
    state.epoch++;
    const shown = options.topk.flatMap((k) => [`hr@${k}`, `ndcg@${k}`]).filter((k) => k in valid)
      .map((k) => `${k} ${valid[k].toFixed(4)}`).join("  ");
    hooks.log(
      `epoch ${epoch + 1}: loss ${trainLoss.toFixed(4)}  valid ${shown}  ` +
        `(${seconds.toFixed(1)} s, ${(steps / seconds).toFixed(1)} steps/s)${
          best ? "  *best" : ""
        }`,
    );
    await hooks.epochEnd(record, best, state, adam);
    if (options.maxSteps && state.step >= options.maxSteps) {
      state.stoppedBy = "max steps";
      break;
    }
    if (state.badEvals >= options.stoppingStep) {
      hooks.log(`early stop: ${options.validMetric} did not improve for ${state.badEvals} epochs`);
      state.stoppedBy = "early stopping";
      break;
    }
    const budget = options.timeBudgetSeconds ?? 0;
    if (
      budget > 0 && state.epoch < options.epochs && (performance.now() - started) / 1000 > budget
    ) {
      hooks.log(`time budget of ${budget} s reached`);
      state.stoppedBy = "time budget";
      break;
    }
  }
  return state;
}

/** Name of the first parameter tensor holding a NaN/Inf, or null. */
export async function firstNonFinite(model: RecModel): Promise<string | null> {
  const params = await model.store.export("params");
  for (const [name, t] of params) {
    for (const v of t.data as Float32Array) if (!Number.isFinite(v)) return name;
  }
  return null;
}
