/**
 * Length buckets and packed tokens: the graphs a batch runs in, so that its work scales with its
 * real tokens. With length buckets every batch runs at its longest sequence rounded up to a multiple
 * of `step` (its bucket length L_b ≤ L) instead of the padded length L; on packed tokens
 * ({@linkcode PackedGraphs}) it runs its real tokens only, with no padding at all. This file is the
 * one place that knows about it: the trainer and the evaluator ask `forBatch` for the graph of a
 * batch and the batch laid out for that graph.
 *
 * Why results do not change: batches are right-padded and SS4Rec is causal, so the outputs at
 * t < seqLen never see positions ≥ L_b; dropout masks are indexed as at L (`LengthOptions`);
 * sequence-mode losses divide by the step's count of positions, not by a chunk's, and their head
 * chunks (and BPR negatives) follow the positions that have a target, not the layout. What changes
 * is float rounding where a reduction runs over rows (parameter gradients): the padding rows add
 * exact zeros, but the order of the partial sums follows the layout.
 *
 * Memory: the graphs of all buckets place their activations in one {@linkcode Arena}, sized by the
 * graph at L (built first), so k buckets cost about the memory of one graph plus k sets of bind
 * groups and small uniforms; the trainer's evaluation graphs share the same arena. Graphs are
 * built on first use and kept.
 *
 * Batch composition is never changed here: training batches are what the shuffler gives (only
 * their length is trimmed); evaluation orders users by length first (`lengthOrder`, lib/data),
 * which does not change any user's rank.
 *
 * @module
 */

import {
  type Batch,
  type BatchInputs,
  packBatch,
  type PackedBatch,
  packedGranule,
  type SequenceBatch,
  tokenCount,
} from "../data/batch.ts";
import { Arena, type Runtime, type Tensor } from "../gpu/runtime.ts";
import type { EvalGraph, RecModel, TrainGraph, TrainMode } from "./model.ts";

/** Default bucket granularity: lengths 16, 32, …, and L itself. */
export const DEFAULT_BUCKET_STEP = 16;

/** `longest` rounded up to a multiple of `step` (at least one step), capped at `maxLen`; step 0 = maxLen. */
export function bucketLength(longest: number, maxLen: number, step: number): number {
  if (!(step > 0)) return maxLen;
  return Math.min(maxLen, Math.max(1, Math.ceil(longest / step)) * step);
}

/** The longest real row of a batch. */
export function longestRow(batch: BatchInputs): number {
  let m = 0;
  for (let b = 0; b < batch.count; b++) m = Math.max(m, batch.seqLen[b]);
  return m;
}

/**
 * The batch laid out at `length` ≤ its maxLen: the first `length` positions of every row (the
 * per-position arrays `itemSeq`, `timeGaps` and, for sequence batches, `targets`). Every row must
 * fit; the result has `maxLen = length`.
 */
export function trimBatch<T extends BatchInputs>(batch: T, length: number): T {
  const L = batch.maxLen, B = batch.size;
  if (length === L) return batch;
  if (length > L || longestRow(batch) > length) {
    throw new Error(`trimBatch: rows of up to ${longestRow(batch)} of ${L} do not fit ${length}`);
  }
  function cut<A extends Int32Array | Float32Array>(a: A): A {
    const out =
      (a instanceof Int32Array ? new Int32Array(B * length) : new Float32Array(B * length)) as A;
    for (let b = 0; b < B; b++) out.set(a.subarray(b * L, b * L + length), b * length);
    return out;
  }
  const out: T = {
    ...batch,
    maxLen: length,
    itemSeq: cut(batch.itemSeq),
    timeGaps: cut(batch.timeGaps),
  };
  if ("targets" in batch && batch.targets instanceof Int32Array) {
    (out as unknown as { targets: Int32Array }).targets = cut(batch.targets);
  }
  return out;
}

/**
 * Graphs of B rows built lazily per key (a bucket length, or a packed token capacity) into one
 * arena: the graph of the `full` key first, so that it sizes the arena; builds run one at a time.
 */
abstract class GraphSet<G> {
  #graphs = new Map<number, Promise<G>>();
  #building: Promise<unknown> = Promise.resolve();

  constructor(
    readonly rt: Runtime,
    /** Shared transient memory of the graphs, or null (then only the full graph is built). */
    readonly arena: Arena | null,
    readonly batch: number,
    readonly maxLen: number,
    readonly full: number,
    readonly build: (key: number) => Promise<G>,
  ) {}

  /** The graph of one key (built on first use; the full one first, to size the arena). */
  graph(key: number): Promise<G> {
    if (key !== this.full && this.arena && !this.#graphs.has(this.full)) {
      return this.graph(this.full).then(() => this.graph(key));
    }
    let g = this.#graphs.get(key);
    if (!g) {
      const arena = this.arena;
      const build = () => this.build(key);
      // an arena is laid out by one build at a time
      g = this.#building.then(() => arena ? this.rt.inArena(arena, build) : build());
      this.#building = g.catch(() => {});
      this.#graphs.set(key, g);
    }
    return g;
  }

  /** The graph that sizes the arena (built first). */
  first(): Promise<G> {
    return this.graph(this.full);
  }

  /** The keys built so far, ascending. */
  protected get keys(): number[] {
    return [...this.#graphs.keys()].sort((a, b) => a - b);
  }
}

/** The graphs of one kind (training or evaluation steps) for every bucket length, built lazily. */
export class LengthBuckets<G extends { length: number; batch: number }> extends GraphSet<G> {
  /**
   * `build(length)` makes the graph of one length; `step` 0 (or `maxLen` itself) turns bucketing
   * off: every batch runs at maxLen, as without this class. `arena` shares the transient memory
   * of other graphs that never run at the same time (the training and the evaluation steps).
   */
  constructor(
    rt: Runtime,
    readonly options: {
      batch: number;
      maxLen: number;
      step: number;
      build: (length: number) => Promise<G>;
      arena?: Arena | null;
    },
  ) {
    const on = options.step > 0 && options.step < options.maxLen;
    super(
      rt,
      on ? options.arena ?? new Arena() : null,
      options.batch,
      options.maxLen,
      options.maxLen,
      options.build,
    );
  }

  /** The bucket length a batch runs at. */
  lengthOf(batch: BatchInputs): number {
    return this.arena
      ? bucketLength(longestRow(batch), this.options.maxLen, this.options.step)
      : this.options.maxLen;
  }

  /** The graph for a batch and the batch laid out at that graph's length. */
  async forBatch<T extends BatchInputs>(batch: T): Promise<{ graph: G; batch: T }> {
    const length = this.lengthOf(batch);
    return { graph: await this.graph(length), batch: trimBatch(batch, length) };
  }

  /** The lengths built so far, ascending. */
  get lengths(): number[] {
    return this.keys;
  }
}

/** The evaluation graphs of a configuration, whatever their layout (what evaluation needs). */
export interface EvalGraphs {
  readonly batch: number;
  readonly maxLen: number;
  /** Their transient memory (the training graphs may share it), or null. */
  readonly arena: Arena | null;
  /** The graph that sizes the arena (built first). */
  first(): Promise<EvalGraph>;
  /** The graph for a batch and the batch laid out for it. */
  forBatch(batch: Batch): Promise<{ graph: EvalGraph; batch: Batch | PackedBatch }>;
}

/** The training graphs of a run, by bucket length or on packed tokens (what training needs). */
export interface TrainGraphs {
  /** The graph that sizes the shared arena (built first). */
  first(): Promise<TrainGraph>;
  /** The graph for a batch and the batch laid out for it. */
  forBatch(
    batch: Batch | SequenceBatch,
  ): Promise<{ graph: TrainGraph; batch: Batch | SequenceBatch | PackedBatch }>;
}

/**
 * Graphs on packed tokens (lib/data/batch.ts packBatch): a batch runs only its real tokens, no
 * padding, in the graph of its token count rounded up to a multiple of `packedGranule` tokens
 * (capped at B·L), whose short filler rows take the rest. Every per-token product is the one of the
 * padded graph (only the rows' places differ), so outputs, losses and gradients equal the padded
 * graph's to float rounding; dropout masks are drawn per packed row, so with dropout on they are
 * another draw. The graphs share one arena, sized by the B·L one (built first).
 */
export class PackedGraphs<G> extends GraphSet<G> {
  /** `build(capacity)` makes the graph of B rows (plus the filler rows) on `capacity` tokens. */
  constructor(
    rt: Runtime,
    readonly options: {
      batch: number;
      maxLen: number;
      build: (capacity: number) => Promise<G>;
      arena?: Arena | null;
    },
  ) {
    const { batch, maxLen } = options;
    super(rt, options.arena ?? new Arena(), batch, maxLen, batch * maxLen, options.build);
  }

  /** The capacity of the graph that runs `tokens` tokens. */
  capacityOf(tokens: number): number {
    const { batch: B, maxLen: L } = this.options, g = packedGranule(B, L);
    return Math.min(B * L, Math.max(1, Math.ceil(tokens / g)) * g);
  }

  /** The graph for a batch and the batch packed for it (prefix batches only). */
  async forBatch(batch: Batch | SequenceBatch): Promise<{ graph: G; batch: PackedBatch }> {
    if ("targets" in batch) throw new Error("packed graphs: no sequence-mode batches");
    if (batch.size !== this.options.batch || batch.maxLen !== this.options.maxLen) {
      throw new Error(
        `packed graphs: a [${batch.size}, ${batch.maxLen}] batch for [${this.batch}, ${this.maxLen}] graphs`,
      );
    }
    const capacity = this.capacityOf(tokenCount(batch));
    return { graph: await this.graph(capacity), batch: packBatch(batch, capacity) };
  }

  /** The capacities built so far, ascending. */
  get capacities(): number[] {
    return this.keys;
  }
}

/** The evaluation steps of a packable model on packed tokens. */
export function packedEvalGraphs(
  model: RecModel,
  options: { batch: number; maxLen: number; maskHistory: boolean; arena?: Arena | null },
): PackedGraphs<EvalGraph> {
  if (!model.packable) throw new Error(`${model.name}: no packed evaluation`);
  const { batch, maxLen, maskHistory } = options;
  return new PackedGraphs(model.store.rt, {
    batch,
    maxLen,
    build: (tokens) => model.buildEval({ batch, maxLen, maskHistory, tokens }),
    arena: options.arena,
  });
}

/** Training graphs of every bucket length; they all add into one running loss. */
export interface TrainBuckets {
  graphs: LengthBuckets<TrainGraph>;
  /** f32 [2] running [Σ loss, Σ count] of every graph (clear it to start an epoch). */
  lossSum: Tensor;
}

/** The training steps of `model` per bucket length (`step` 0: always maxLen). */
export function trainBuckets(
  model: RecModel,
  options: { batch: number; maxLen: number; mode: TrainMode; step: number; arena?: Arena | null },
): TrainBuckets {
  const rt = model.store.rt;
  const lossSum = rt.tensor([2], "f32", [0, 0], "loss_sum");
  const { batch, maxLen, mode } = options;
  const graphs = new LengthBuckets<TrainGraph>(rt, {
    batch,
    maxLen,
    step: model.causal ? options.step : 0,
    build: (length) => model.buildTrain({ batch, maxLen, length, mode, lossSum }),
    arena: options.arena,
  });
  return { graphs, lossSum };
}

/**
 * The prefix-mode training steps of a packable model on packed tokens (one graph per capacity),
 * all adding into one running loss.
 */
export function packedTrainGraphs(
  model: RecModel,
  options: { batch: number; maxLen: number; arena?: Arena | null },
): { graphs: PackedGraphs<TrainGraph>; lossSum: Tensor } {
  if (!model.packable) throw new Error(`${model.name}: no packed training`);
  const rt = model.store.rt;
  const lossSum = rt.tensor([2], "f32", [0, 0], "loss_sum");
  const { batch, maxLen } = options;
  const graphs = new PackedGraphs<TrainGraph>(rt, {
    batch,
    maxLen,
    build: (tokens) => model.buildTrain({ batch, maxLen, mode: "prefix", lossSum, tokens }),
    arena: options.arena,
  });
  return { graphs, lossSum };
}

/** The evaluation steps of `model` per bucket length (`step` 0: always maxLen). */
export function evalBuckets(
  model: RecModel,
  options: {
    batch: number;
    maxLen: number;
    maskHistory: boolean;
    step: number;
    arena?: Arena | null;
  },
): LengthBuckets<EvalGraph> {
  const { batch, maxLen, maskHistory } = options;
  return new LengthBuckets<EvalGraph>(model.store.rt, {
    batch,
    maxLen,
    step: model.causal ? options.step : 0,
    build: (length) => model.buildEval({ batch, maxLen, length, maskHistory }),
    arena: options.arena,
  });
}
