/**
 * What the trainer and the evaluator need from a model: a parameter store and two pre-built step
 * graphs (one training step, one full-ranking evaluation step) for a fixed batch shape.
 *
 * Data flows one way: `lib/data` batches are uploaded into the graph's input tensors, the graph's
 * commands run (forward, loss, backward — or forward, scores, ranks), and only small results
 * (a loss accumulator, ranks) come back, read once per epoch or per evaluation.
 *
 * @module
 */

import type { Batch, PackedBatch, SequenceBatch } from "../data/batch.ts";
import type { Command, Tensor } from "../gpu/runtime.ts";
import type { ParamStore } from "../nn/params.ts";

/** How training samples are formed (SPEC §4 and issue 4). */
export type TrainMode = "prefix" | "sequence";

/** One training step for a fixed [B, L] shape: zero grads, forward, loss, backward. */
export interface TrainGraph {
  batch: number;
  maxLen: number;
  /** The length the graph runs at (≤ maxLen; see {@linkcode LengthOptions}). */
  length: number;
  mode: TrainMode;
  /** Packed graphs: their token capacity (batches come through lib/data/batch.ts packBatch). */
  tokens?: number;
  /**
   * Writes a batch of stride `length` (packed when the graph is) into the graph's input tensors
   * (queued; no sync).
   */
  upload(batch: Batch | SequenceBatch | PackedBatch): void;
  /**
   * Everything but the optimiser; ends with gradients in the store's gradient buffer. `upload`
   * may change it to fit the batch (SS4Rec's sequence mode drops head chunks holding no target):
   * read it after each upload.
   */
  commands: Command[];
  /** f32 [2] = [Σ loss over rows, Σ rows], accumulated on the GPU across steps. */
  lossSum: Tensor;
  /** Activations worth watching for NaN/Inf and magnitude (name -> tensor), in forward order. */
  activations: Map<string, Tensor>;
}

/** One full-ranking evaluation step for a fixed [B, L] shape. */
export interface EvalGraph {
  batch: number;
  maxLen: number;
  /** The length the graph runs at (≤ maxLen; see {@linkcode LengthOptions}). */
  length: number;
  /** Packed graphs: their token capacity (batches come through lib/data/batch.ts packBatch). */
  tokens?: number;
  /**
   * Writes a batch of stride `length`, packed when the graph is (and, when history masking is on,
   * the rows' histories).
   */
  upload(batch: Batch | PackedBatch, history?: { offsets: Int32Array; items: Int32Array }): void;
  /** Forward, scores over all items, ranks (SPEC §5). */
  commands: Command[];
  /** The model's per-step scalars (see {@linkcode RecModel.step}). */
  step: Tensor;
  /** u32 [B] rank of each row's target (rows beyond the batch's count are garbage). */
  ranks: Tensor;
  /** f32 [B, V] scores of the last step (for `recommend`). */
  scores: Tensor;
}

/**
 * Running a batch at a trimmed length (lib/models/buckets.ts). `maxLen` stays the padded frame
 * every batch is cut to; `length` (default maxLen) is the length the graph's tensors have. A batch
 * whose rows are all at most `length` long gives the same outputs, losses and gradients (to float
 * rounding) as at maxLen, because a causal model's outputs at t < seqLen never see the padding, and
 * anything indexed by position (dropout masks) is indexed in the maxLen frame.
 */
export interface LengthOptions {
  maxLen: number;
  length?: number;
}

/** A trainable recommender. */
export interface RecModel {
  /** Model name as in configs (`SS4Rec`, `NCF`). */
  readonly name: string;
  /**
   * True when outputs at position t depend only on inputs at positions ≤ t (right padding never
   * matters), so batches may run at trimmed lengths; false when the length is irrelevant or fixed.
   */
  readonly causal: boolean;
  readonly store: ParamStore;
  /** u32 [4] per-step scalars [step (1-based), seed, training flag, 0], written before each step. */
  readonly step: Tensor;
  /**
   * Builds the training step for [batch, length]; `lossSum` (f32 [2]) lets several graphs
   * accumulate into one running loss (default: a fresh zeroed tensor).
   */
  buildTrain(
    options: LengthOptions & { batch: number; mode: TrainMode; lossSum?: Tensor; tokens?: number },
  ): Promise<TrainGraph>;
  /**
   * True when {@linkcode buildEval} and prefix-mode {@linkcode buildTrain} take `tokens`: graphs on
   * packed tokens (no padding; lib/data/batch.ts packBatch), which needs a causal model whose
   * sequence kernels index them.
   */
  readonly packable?: boolean;
  /** Builds the evaluation step for [batch, length], or on `tokens` packed tokens (packable models). */
  buildEval(
    options: LengthOptions & { batch: number; maskHistory: boolean; tokens?: number },
  ): Promise<EvalGraph>;
}
