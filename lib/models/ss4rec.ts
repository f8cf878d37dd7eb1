/**
 * SS4Rec (Xiao et al. 2025, arXiv 2502.08132) exactly as its official code computes it (SPEC §2).
 *
 * Glossary (SPEC notation; shapes per training step):
 * - `itemSeq` [B, L] item ids right-padded with 0; `seqLen` [B]; `timeGaps` [B, L] Δt in seconds
 *   (the gap from each item to the next interaction, the last one reaching the target's time).
 * - `x` [B, L, H]: E_item[itemSeq] — no positional embedding, no input LN (*code*).
 * - block i (n_layers of them), ONE LayerNorm_i used twice (*code*):
 *   `h = LN_i(dropout(S5(x, Δt)) + x)` (time-aware SSM), `x = LN_i(dropout(Mamba(h)) + h)`
 *   (relation-aware SSM).
 * - `out` [B, H] = x[b, seqLen[b] − 1]; `logits` [B, V] = out · E_itemᵀ (tied embeddings).
 * - loss: CE over all V ids (PAD included as a class, *code*) or BPR with one sampled negative.
 *
 * Parameter names are the official state_dict names, so the golden file and PyTorch users'
 * checkpoints load directly. The top-level `LayerNorm.*` is unused by the official forward pass;
 * it is kept (with zero gradient) so the count matches SPEC's 309,184 for V = 3,417.
 *
 * `model_type` ablations: `full`; `s5_only` (no Mamba sublayer); `mamba_only` (no S5 sublayer);
 * `no_time` (every real gap replaced by one constant, 1 s, so S5 becomes a time-invariant SSM).
 *
 * @module
 */

import { type Batch, type PackedBatch, packedFillers, type SequenceBatch } from "../data/batch.ts";
import { matmul, matmulOps } from "../gpu/ops.ts";
import { historyMaskWords, packHistoryCsr, rankOp } from "../gpu/rank.ts";
import type { Command, Runtime, Tensor } from "../gpu/runtime.ts";
import { addAtLast, gatherLast } from "../nn/elementwise.ts";
import { embedding, gatherRows } from "../nn/embedding.ts";
import { layerNorm } from "../nn/layernorm.ts";
import { bpr, countValid, crossEntropy } from "../train/loss.ts";
import {
  BACKWARD_ARENA,
  type BuildContext,
  type LayerIO,
  type ParamSpec,
  scratchPool,
  splitKWorkspace,
  tokenRows,
} from "../nn/module.ts";
import { ParamStore } from "../nn/params.ts";
import { S5Layer } from "../nn/s5.ts";
import { MambaLayer } from "../nn/mamba.ts";
import { randn } from "../reference/gradcheck.ts";
import type { EvalGraph, LengthOptions, RecModel, TrainGraph, TrainMode } from "./model.ts";

/** Model switches (SPEC §2; RecBole key names in the config). */
export interface SS4RecOptions {
  /** V: item ids including padding 0. */
  numItems: number;
  hiddenSize: number;
  numLayers: number;
  dropoutProb: number;
  /** S5 state size P (d_P). */
  dP: number;
  dtMin: number;
  dtMax: number;
  /** Mamba state size N, conv width, expansion. */
  dState: number;
  dConv: number;
  expand: number;
  modelType: "full" | "s5_only" | "mamba_only" | "no_time";
  lossType: "CE" | "BPR";
  s5ClipEigs: boolean;
  layerNormEps?: number;
  /** Batch slices of the Mamba backward scan (memory vs. time; default: MambaLayer's). */
  mambaScanSlices?: number;
  /**
   * Config `recompute` (default "mamba"). True: every block but the last replays its Mamba
   * forward before its backward (the Mamba layers share one set of saved activations) and S5
   * recomputes its states in its backward — the least memory. "mamba": the Mamba replay only;
   * every S5 layer keeps its own activations, and in prefix mode the replaying Mamba layers keep
   * their in_proj and x_proj outputs and their forward scan's (`PREFIX_KEEP`). False: every layer
   * keeps its own activations (more memory, fewer dispatches per step).
   */
  recompute?: boolean | "mamba";
}

/**
 * Sequence mode's head runs over chunks of target rows whose logits take at most this many bytes
 * (and as much again for their gradient, plus a split-K workspace that grows with the chunk): 24
 * MiB keeps the ML-1M step with its evaluation within 2 GiB under the default `recompute: mamba`
 * (1.98 GiB; 2.01 at 32 MiB; `deno task bench --memory`). The zero-config CPU run (B 32, L 50,
 * V 3,651) still fits its 1,600 positions in one chunk of 1,664 rows.
 */
const HEAD_CHUNK_BYTES = 24 << 20;

/**
 * What the replaying Mamba layers keep of their own in prefix-mode training under `recompute:
 * mamba` (`LayerIO.keep`): the in_proj and x_proj outputs and the forward scan's output and
 * checkpoints, so block 0's replay is the conv alone. The last block's last-steps-only build left
 * the room (it shares only in_proj's x half and the conv output; its own scan output and final
 * states are [B, E] and [B, N, E], and its ∂xc lives in its backward arena; sequence mode has
 * none: its step with its evaluation is at 1.98 GiB). Keeping xz (0.2 GiB) instead of xc (0.1
 * GiB) saves in_proj's replay (0.26 ms) for the conv's (0.1 ms) for the same memory, since the
 * last block's share of xz halves; keeping the scan's y and checkpoints (which no other layer
 * needs then) saves the replayed scan (0.36 ms) for 16 MB (session 11).
 */
const PREFIX_KEEP = ["xz", "xdbl", "scan"] as const;

/** The constant gap (seconds) that `no_time` feeds instead of real gaps. */
export const NO_TIME_GAP = 1;

/** SS4Rec on the GPU. */
export class SS4Rec implements RecModel {
  readonly name = "SS4Rec";
  readonly causal = true;
  /** Packed evaluation needs the per-channel Mamba scan (N ≤ 32), which indexes packed tokens. */
  get packable(): boolean {
    return this.mamba.every((m) => m.scanPerChannel);
  }
  readonly store: ParamStore;
  readonly step: Tensor;
  readonly s5: S5Layer[] = [];
  readonly mamba: MambaLayer[] = [];

  /** Declares the parameters and allocates the flat stores (call {@linkcode ParamStore.initialise} or load). */
  constructor(readonly rt: Runtime, readonly o: SS4RecOptions) {
    const H = o.hiddenSize;
    for (let i = 0; i < o.numLayers; i++) {
      this.s5.push(
        new S5Layer(`model.${i}.S5.seq`, {
          hidden: H,
          state: o.dP,
          dtMin: o.dtMin,
          dtMax: o.dtMax,
          clipEigs: o.s5ClipEigs,
          keepActivations: (o.recompute ?? "mamba") !== true,
        }),
      );
      this.mamba.push(
        new MambaLayer(`model.${i}.S6`, {
          hidden: H,
          state: o.dState,
          conv: o.dConv,
          expand: o.expand,
          scanSlices: o.mambaScanSlices,
          keepActivations: o.recompute === false,
        }),
      );
    }
    this.store = new ParamStore(rt, ss4recParams(o, this.s5, this.mamba));
    this.step = rt.tensor([4], "u32", [0, 0, 0, 0], "step");
  }

  #ctx(
    batch: number,
    seqLen: number,
    forwardOnly = false,
    packed?: BuildContext["packed"],
  ): BuildContext {
    return {
      packed,
      rt: this.rt,
      param: (n) => this.store.param(n),
      grad: (n) => this.store.grad(n),
      batch,
      seqLen,
      step: this.step,
      scratch: scratchPool(this.rt),
      forwardOnly,
    };
  }

  /**
   * The encoder shared by training and evaluation: embedding, blocks, and their backward.
   * Returns the final activations [B, L, H] and the gradient tensor the head fills. Forward-only
   * (`ctx.forwardOnly`, evaluation) it builds no backward, and the activations, consumed as the
   * forward goes, rotate through three [B, L, H] buffers (none is kept for a backward): the block
   * inputs and LayerNorm outputs alternate between two, every sublayer's output takes the third.
   */
  async #encoder(
    ctx: BuildContext,
    inputs: {
      itemSeq: Tensor;
      seqLen: Tensor;
      timeGaps: Tensor;
      paddedLength: number;
      /**
       * [B, H] to receive each row's output at its last valid step (then the encoder's output), when
       * no other step's output is wanted (evaluation, prefix-mode training). A last Mamba sublayer
       * then computes its scan output, out_proj and LayerNorm at those steps only; in training,
       * `dLast` [B, H] is the gradient of `last` (then the encoder's `dOutput`).
       */
      last?: Tensor;
      dLast?: Tensor;
      /** Saved activations the replaying Mamba layers keep as their own (`LayerIO.keep`). */
      keep?: LayerIO["keep"];
      /** Packed tokens (ctx.packed): [B] i32, the token of each row's last step (−1: none). */
      lastToken?: Tensor;
    },
  ) {
    const { rt, batch: B, seqLen: L } = ctx;
    const H = this.o.hiddenSize, V = this.o.numItems, rows = tokenRows(ctx);
    const act = (name: string) =>
      rt.tensor(ctx.packed ? [rows, H] : [B, L, H], "f32", undefined, name);
    const useS5 = this.o.modelType !== "mamba_only", useMamba = this.o.modelType !== "s5_only";
    const fwdOnly = !!ctx.forwardOnly;
    // the backward arena at the size of the layer kind that needs most, requested first so that
    // every layer carves its backward temporaries (forward-only: its forward temporaries) from
    // this one buffer
    ctx.scratch?.(BACKWARD_ARENA, [
      Math.max(
        ...(useS5 ? this.s5 : []).map((l) => l.backwardArena(ctx)),
        ...(useMamba ? this.mamba : []).map((l) => l.backwardArena(ctx)),
      ),
    ]);
    // Activation gradients [B, L, H] rotate through three buffers. In backward order, sublayer k
    // (output gradient dOut_k, gradient of its branch dBranch_k) hands dOut_{k−1} to the one
    // before it; while it runs only dOut_k, dBranch_k and dOut_{k−1} are live, so
    // dOut_k = ring[k mod 3] and dBranch_k = ring[(k + 1) mod 3] never collide.
    const ring = fwdOnly ? [] : [0, 1, 2].map((i) => act(`d_activation.${i}`));
    const activations = new Map<string, Tensor>();
    const pair = fwdOnly ? [act("activation.0"), act("activation.1")] : [];
    const branch = fwdOnly ? act("activation.branch") : undefined;
    const x0 = fwdOnly ? pair[0] : act("item_emb"), dx0 = ring.at(0);
    const table = this.store.param("item_embedding.weight");
    const gradTable = fwdOnly ? undefined : this.store.grad("item_embedding.weight");
    const emb = await embedding(rt, {
      table,
      gradTable,
      ids: inputs.itemSeq,
      output: x0,
      dOutput: dx0,
      tokens: rows,
      dim: H,
      vocab: V,
    });
    activations.set("item_emb", x0);
    const forward: Command[] = [...emb.forward];
    const blockBackward: Command[][] = [];
    let x = x0, dx: Tensor | undefined = dx0, k = 0;
    /** Evaluation: each row's [B, L, H] `input` at its last valid step into [B, H] `output`. */
    const pickLast = async (input: Tensor, output: Tensor) => {
      if (!inputs.lastToken) {
        return gatherLast(rt, {
          input,
          lengths: inputs.seqLen,
          output,
          batch: B,
          seqLen: L,
          dim: H,
        });
      }
      // packed: the rows of the last tokens
      return { forward: [await gatherRows(rt, inputs.lastToken, input, output)], backward: [] };
    };
    for (let i = 0; i < this.o.numLayers; i++) {
      const ln = {
        gamma: this.store.param(`model.${i}.LayerNorm.weight`),
        beta: this.store.param(`model.${i}.LayerNorm.bias`),
        gradGamma: this.store.grad(`model.${i}.LayerNorm.weight`),
        gradBeta: this.store.grad(`model.${i}.LayerNorm.bias`),
        rows,
        dim: H,
        eps: this.o.layerNormEps ?? 1e-12,
      };
      const back: Command[] = [];
      // Layers of one kind share their saved activations (ctx.scratch): only the last block's
      // are intact at its backward, every earlier block recomputes its own first (unless every
      // layer keeps its own: `recompute` false).
      const replay = this.o.recompute !== false && i < this.o.numLayers - 1;
      // out = LN_i(dropout(layer(input)) + input); backward: LN (gives d(layer out) and the
      // residual's share of d(input)), then the layer, which adds its share to d(input).
      const sublayer = async (
        layer: S5Layer | MambaLayer,
        input: Tensor,
        dInput: Tensor | undefined,
        name: string,
        salt: number,
      ) => {
        k++;
        const lastBlock = i === this.o.numLayers - 1;
        if (inputs.last && layer instanceof MambaLayer && layer.scanPerChannel && lastBlock) {
          // the last sublayer: LN(Mamba(x) + x) at each row's last valid step only (its z, scan
          // output, out_proj, LayerNorm and their gradients; the scan still runs over every step)
          const rowsLast = (what: string) => rt.tensor([B, H], "f32", undefined, what);
          const inputLast = rowsLast("activation.last_input");
          const pick = await pickLast(input, inputLast);
          const dInputLast = fwdOnly ? undefined : rowsLast("d_activation.last_input");
          const dBranchLast = fwdOnly ? undefined : rowsLast("d_activation.last_branch");
          const built = await layer.build(ctx, {
            input,
            lengths: inputs.seqLen,
            lastOnly: inputLast,
            lastTokens: inputs.lastToken,
            output: rowsLast("activation.last_branch"),
            dOutput: dBranchLast,
            dLastOnly: dInputLast,
            dInputTarget: dInput,
          });
          const norm = await layerNorm(ctx, {
            ...ln,
            rows: B,
            input: built.output,
            residual: inputLast,
            output: inputs.last,
            dOutput: inputs.dLast,
            dInput: dBranchLast,
            dResidual: dInputLast,
            // masks drawn per row of the [B, H] (the same whatever L or packing)
            dropout: { p: this.o.dropoutProb, salt },
          });
          forward.push(...pick.forward, ...built.forward, ...norm.forward);
          if (fwdOnly) return { out: inputs.last, dOut: undefined };
          // dInput: Mamba's share at every step (overwritten), then the last steps' share (the
          // residual's and the gate's, in dInputLast) added
          const addLast = await addAtLast(rt, {
            dOutput: dInputLast!,
            dInput: dInput!,
            batch: B,
            seqLen: L,
            dim: H,
            ...(inputs.lastToken ? { rows: inputs.lastToken } : { lengths: inputs.seqLen }),
          });
          back.unshift(...norm.backward, ...built.backward, addLast);
          activations.set(`block${i}.${name}`, built.output);
          activations.set(`block${i}.out`, inputs.last);
          return { out: inputs.last, dOut: inputs.dLast };
        }
        const dBranch = ring.at((k + 1) % 3);
        const lookup = k === 1 && layer instanceof S5Layer;
        const built = await layer.build(ctx, {
          input,
          dOutput: dBranch,
          timeGaps: inputs.timeGaps,
          lengths: inputs.seqLen,
          output: branch,
          // its input gradient is added to the residual's, which the LayerNorm backward wrote
          dInputAccumulate: dInput,
          keep: replay && layer instanceof MambaLayer ? inputs.keep : undefined,
          // S5's dD = Σ dy·u comes from the LayerNorm backward below (it reads dy's source and u)
          skipGradByCaller: layer instanceof S5Layer,
          // the first sublayer reads the item embedding: an S5 there gathers its input projection
          // and sends its gradient to the table by id (its skip term's share: the LN below)
          lookup: lookup
            ? {
              ids: inputs.itemSeq,
              table,
              grad: gradTable && emb.sumById && { table: gradTable, sumById: emb.sumById },
            }
            : undefined,
        });
        const out = fwdOnly
          ? pair[input === pair[0] ? 1 : 0]
          : act(`block${i}.${name === "s5_out" ? "h1" : "out"}`);
        const dOut = ring.at(k % 3);
        const norm = await layerNorm(ctx, {
          ...ln,
          input: built.output,
          residual: input,
          output: out,
          dOutput: dOut,
          dInput: dBranch,
          dResidual: dInput,
          gradSkip: layer instanceof S5Layer && !fwdOnly
            ? this.store.grad(`${layer.prefix}.D`)
            : undefined,
          skipAdd: lookup && !fwdOnly ? this.store.param(`${layer.prefix}.D`) : undefined,
          // masks indexed as at the padded length, so a trimmed graph draws the same ones
          dropout: {
            p: this.o.dropoutProb,
            salt,
            // packed tokens: drawn per packed row (another draw than the padded layout's)
            frame: ctx.packed ? undefined : { length: L, paddedLength: inputs.paddedLength },
          },
        });
        forward.push(...built.forward, ...norm.forward);
        if (fwdOnly) return { out, dOut };
        back.unshift(
          ...norm.backward,
          ...(replay ? built.recompute ?? [] : []),
          ...built.backward,
        );
        activations.set(`block${i}.${name}`, built.output);
        activations.set(`block${i}.${name === "s5_out" ? "h1" : "out"}`, out);
        return { out, dOut };
      };
      if (useS5) {
        ({ out: x, dOut: dx } = await sublayer(this.s5[i], x, dx, "s5_out", 2 * i));
      }
      if (useMamba) {
        ({ out: x, dOut: dx } = await sublayer(this.mamba[i], x, dx, "mamba_out", 2 * i + 1));
      }
      blockBackward.push(back);
    }
    if (inputs.last && x !== inputs.last) {
      // the last sublayer ran at every step (S5, or Mamba without the per-channel scan): pick each
      // row's last valid one
      forward.push(...(await pickLast(x, inputs.last)).forward);
      x = inputs.last;
    }
    const backward = blockBackward.reverse().flat();
    // the backward's counting sort expects a zeroed workspace (it leaves it zeroed, but in a
    // length-bucket arena another graph may have used the memory since)
    if (emb.workspace) {
      backward.unshift({ clear: emb.workspace }, ...emb.sort);
      backward.push(...emb.sums);
    }
    return { output: x, dOutput: dx, forward, backward, activations };
  }

  /** Builds the training step (see {@linkcode RecModel.buildTrain}). */
  async buildTrain(
    options: LengthOptions & {
      batch: number;
      mode: TrainMode;
      lossSum?: Tensor;
      tokens?: number;
    },
  ): Promise<TrainGraph> {
    const { batch: B, mode } = options;
    const L = graphLength(options), rows = B * L;
    const rt = this.rt, H = this.o.hiddenSize, V = this.o.numItems;
    if (options.tokens !== undefined && mode !== "prefix") {
      throw new Error("SS4Rec: packed training is for train_mode prefix");
    }
    const input = this.#inputs(B, L, options.tokens), T = options.tokens;
    const ctx = this.#ctx(input.R, L, false, input.packed);
    const seqLen = input.seqLen;
    const target = rt.tensor([mode === "sequence" ? B * L : B], "i32", undefined, "target");
    // Prefix mode scores each row's last step only: every row's representation there [R, H] (R: the
    // graph's rows, filler rows of packed tokens too) and its gradient. A last Mamba sublayer with
    // the per-channel scan computes its output there only and writes them itself; else they are
    // picked from the encoder's output.
    const prefix = mode === "prefix"
      ? {
        rep: rt.tensor([input.R, H], "f32", undefined, "seq_output"),
        dRep: rt.tensor([input.R, H], "f32", undefined, "d_seq_output"),
        atLast: this.o.modelType !== "s5_only" && !!this.mamba.at(-1)?.scanPerChannel,
      }
      : undefined;
    const enc = await this.#encoder(ctx, {
      itemSeq: input.itemSeq,
      seqLen,
      timeGaps: input.timeGaps,
      paddedLength: options.maxLen,
      lastToken: input.lastToken,
      ...(prefix?.atLast ? { last: prefix.rep, dLast: prefix.dRep } : {}),
      keep: prefix?.atLast && (this.o.recompute ?? "mamba") === "mamba" ? PREFIX_KEEP : undefined,
    });
    const lossSum = options.lossSum ?? rt.tensor([2], "f32", [0, 0], "loss_sum");
    const E = this.store.param("item_embedding.weight");
    const dE = this.store.grad("item_embedding.weight");
    // The head: representations [n, H] -> logits = rep·Eᵀ -> loss -> dE += dlogitsᵀ·rep and
    // d rep = dlogits·E. Sequence mode scores every position, in row chunks so the [n, V] logits
    // stay under a fixed size; every chunk divides by the step's count of valid positions, so the
    // gradient is that of the step's mean loss whatever the chunking (and the trimmed length).
    const head: Command[] = [];
    const workspace = splitKWorkspace(ctx);
    const chunks: Command[][] = [];
    let count: Tensor | undefined;
    let chunk = B;
    let slots: { row: Tensor; slot: Tensor } | null = null;
    let compact: { forward: Command; backward: Command } | null = null;
    let reps: { rep: Tensor; dRep: Tensor; target: Tensor; n: number }[];
    let last: Awaited<ReturnType<typeof gatherLast>> | null = null;
    // packed, picked from the encoder's output: [T] the row (< B) whose last token each token is,
    // −1 for the others (filled by upload)
    const tokenSlot = T === undefined || prefix?.atLast
      ? null
      : rt.tensor([T], "i32", undefined, "token_slot");
    // the head writes the gradients of the B real rows only: the filler rows' must be 0 where the
    // encoder reads them all
    let fillerClear: Command | null = null;
    if (prefix) {
      const { rep, dRep } = prefix;
      if (prefix.atLast) {
        if (input.R > B) fillerClear = { clear: dRep.rows(B, input.R - B) };
      } else if (input.packed) {
        // every row's output at its last token (filler rows too: R rows), and back: each token
        // gets the gradient of the row it ends (0 for the others)
        last = {
          forward: [await gatherRows(rt, input.lastToken!, enc.output, rep)],
          // only the B real rows' gradients are written (the slots name no filler row)
          backward: [await gatherRows(rt, tokenSlot!, dRep, enc.dOutput!)],
        };
      } else {
        last = await gatherLast(rt, {
          input: enc.output,
          lengths: seqLen,
          output: rep,
          dOutput: dRep,
          dInput: enc.dOutput!,
          batch: B,
          seqLen: L,
          dim: H,
        });
      }
      // the head reads the first B rows (all of them unless packed tokens add filler rows)
      const realRows = (t: Tensor) => t.rows(0, B);
      reps = [{ rep: realRows(rep), dRep: realRows(dRep), target, n: B }];
      enc.activations.set("seq_output", realRows(rep));
    } else {
      // Only positions with a target go through the head: upload lists them (slot -> row of the
      // [B·L] layout and back, -1 elsewhere; `target` holds the slots' targets), their rows are
      // gathered into a compact [B·L, H] buffer, and a step runs only the head chunks that hold
      // slots (upload sets `commands`), so padding positions cost no logits.
      // chunk boundaries do not depend on L, so a trimmed batch cuts its slots where the padded
      // one does (and BPR draws the same negatives)
      // (a multiple of 64 rows: each chunk's target view starts 256-byte aligned)
      chunk = Math.max(256, Math.floor(HEAD_CHUNK_BYTES / (4 * V)) & ~63);
      const rep = rt.tensor([rows, H], "f32", undefined, "head_rows");
      // a chunk's d rep is its head's last op, when its rep is no longer read: same memory
      const dRep = rep;
      slots = {
        row: rt.tensor([rows], "i32", undefined, "head_slot_row"),
        slot: rt.tensor([rows], "i32", undefined, "head_row_slot"),
      };
      compact = {
        forward: await gatherRows(rt, slots.row, enc.output, rep),
        backward: await gatherRows(rt, slots.slot, dRep, enc.dOutput!),
      };
      reps = [];
      for (let r0 = 0; r0 < rows; r0 += chunk) {
        const n = Math.min(chunk, rows - r0);
        reps.push({
          rep: rep.rows(r0, n),
          dRep: dRep.rows(r0, n),
          target: target.rows(r0, n),
          n,
        });
      }
      count = rt.tensor([2], "f32", undefined, "loss_count");
      head.push(await countValid(rt, { targets: target, count, rows, vocab: V }));
    }
    const maxRows = Math.max(...reps.map((r) => r.n));
    const logitsAll = rt.tensor([maxRows, V], "f32", undefined, "logits");
    const dLogitsAll = rt.tensor([maxRows, V], "f32", undefined, "d_logits");
    enc.activations.set("logits", logitsAll);
    for (const [j, { rep, dRep, target: t, n }] of reps.entries()) {
      const logits = logitsAll.rows(0, n), dLogits = dLogitsAll.rows(0, n);
      const io = { logits, targets: t, dLogits, rows: n, vocab: V, accumulator: lossSum, count };
      const loss = this.o.lossType === "BPR"
        ? await bpr(ctx, { ...io, salt: 100 + j })
        : await crossEntropy(rt, io);
      chunks.push([
        await matmul(rt, { a: rep, b: E, c: logits }, { m: n, n: V, k: H, transB: true }),
        ...loss.forward,
        ...loss.backward,
        // dE = dlogitsᵀ·rep has K = rows: split-K keeps a big GPU busy (deterministic reduce)
        ...await matmulOps(rt, { a: dLogits, b: rep, c: dE, workspace }, {
          m: V,
          n: H,
          k: n,
          transA: true,
          beta: 1,
        }),
        ...await matmulOps(rt, { a: dLogits, b: E, c: dRep, workspace }, { m: n, n: H, k: V }),
      ]);
    }
    /** The step with the first `k` head chunks. */
    const commands = (k: number): Command[] => [
      { clear: this.store.gradAll },
      ...(fillerClear ? [fillerClear] : []),
      ...enc.forward,
      ...(last ? last.forward : []),
      ...(compact ? [compact.forward] : []),
      ...head,
      ...chunks.slice(0, k).flat(),
      ...(last ? last.backward : []),
      ...(compact ? [compact.backward] : []),
      ...enc.backward,
    ];
    const lastSlot = new Int32Array(tokenSlot ? T! : 0);
    // host side of the slot lists, refilled by every upload
    const row = new Int32Array(slots ? rows : 0), slot = new Int32Array(slots ? rows : 0);
    const slotTargets = new Int32Array(slots ? rows : 0);
    const graph: TrainGraph = {
      batch: B,
      maxLen: options.maxLen,
      length: L,
      tokens: T,
      mode,
      commands: commands(chunks.length),
      lossSum,
      activations: enc.activations,
      upload(batch: Batch | SequenceBatch | PackedBatch) {
        input.write(batch);
        if ("starts" in batch && tokenSlot) {
          lastSlot.fill(-1);
          for (let b = 0; b < B; b++) if (batch.lastToken[b] >= 0) lastSlot[batch.lastToken[b]] = b;
          rt.write(tokenSlot!, lastSlot);
        }
        if (!slots) {
          rt.write(target, "targets" in batch ? batch.targets : batch.target);
          return;
        }
        if (!("targets" in batch)) throw new Error("SS4Rec: sequence mode needs sequence batches");
        row.fill(-1);
        slot.fill(-1);
        slotTargets.fill(0);
        let n = 0;
        for (let r = 0; r < rows; r++) {
          if (batch.targets[r] <= 0) continue;
          row[n] = r;
          slot[r] = n;
          slotTargets[n++] = batch.targets[r];
        }
        rt.write(slots.row, row);
        rt.write(slots.slot, slot);
        rt.write(target, slotTargets);
        graph.commands = commands(Math.ceil(n / chunk));
      },
    };
    return graph;
  }

  /**
   * The input tensors of a graph: [B, L] padded, or on `T` packed tokens (lib/data/batch.ts
   * packBatch) with the filler rows after the B rows (R rows in all: the encoder runs over R, the
   * heads over the first B), and `write`, which uploads a batch of the matching layout.
   */
  #inputs(B: number, L: number, T: number | undefined) {
    const rt = this.rt;
    if (T !== undefined && !(Number.isInteger(T) && T >= 1 && T <= B * L)) {
      throw new Error(`SS4Rec: packed capacity ${T} outside 1..${B * L}`);
    }
    const R = T === undefined ? B : B + packedFillers(B, L);
    const seqLen = rt.tensor([R], "i32", undefined, "seq_len");
    const packed = T === undefined ? undefined : {
      tokens: T,
      lengths: seqLen,
      starts: rt.tensor([R + 1], "i32", undefined, "row_starts"),
    };
    const lastToken = packed && rt.tensor([R], "i32", undefined, "last_token");
    const itemSeq = rt.tensor(packed ? [T!] : [B, L], "i32", undefined, "item_seq");
    const timeGaps = rt.tensor(packed ? [T!] : [B, L], "f32", undefined, "time_gaps");
    const noTime = this.o.modelType === "no_time";
    const write = (batch: Batch | SequenceBatch | PackedBatch) => {
      checkStride(batch, L);
      if (!!packed !== "starts" in batch) {
        throw new Error(`SS4Rec: a ${packed ? "padded" : "packed"} batch for a graph without it`);
      }
      rt.write(itemSeq, batch.itemSeq);
      if ("starts" in batch) {
        rt.write(seqLen, batch.rowLengths);
        rt.write(packed!.starts, batch.starts);
        rt.write(lastToken!, batch.lastToken);
        // no_time: the real tokens come first, the filler rows' gaps stay 0
        rt.write(
          timeGaps,
          noTime
            ? batch.timeGaps.map((g, i) => i < batch.tokens ? NO_TIME_GAP : g)
            : batch.timeGaps,
        );
        return;
      }
      rt.write(seqLen, batch.seqLen);
      rt.write(timeGaps, noTime ? constantGaps(batch.seqLen, L) : batch.timeGaps);
    };
    return { R, seqLen, packed, lastToken, itemSeq, timeGaps, write };
  }

  /** Builds the evaluation step (see {@linkcode RecModel.buildEval}). */
  async buildEval(
    options: LengthOptions & { batch: number; maskHistory: boolean; tokens?: number },
  ): Promise<EvalGraph> {
    const B = options.batch, L = graphLength(options);
    const rt = this.rt, H = this.o.hiddenSize, V = this.o.numItems;
    const input = this.#inputs(B, L, options.tokens);
    // forward only: nothing of the backward is allocated (BuildContext.forwardOnly)
    const ctx = this.#ctx(input.R, L, true, input.packed);
    const target = rt.tensor([B], "i32", undefined, "target");
    // each row's output at its last step (packed: the filler rows' too, which nothing reads)
    const rep = rt.tensor([input.R, H], "f32", undefined, "seq_output");
    const enc = await this.#encoder(ctx, {
      itemSeq: input.itemSeq,
      seqLen: input.seqLen,
      timeGaps: input.timeGaps,
      paddedLength: options.maxLen,
      last: rep,
      lastToken: input.lastToken,
    });
    const scores = rt.tensor([B, V], "f32", undefined, "scores");
    const ranks = rt.tensor([B], "u32", undefined, "ranks");
    const historyMask = options.maskHistory
      ? rt.tensor([B * historyMaskWords(V)], "u32", undefined, "history_mask")
      : undefined;
    const E = this.store.param("item_embedding.weight");
    return {
      batch: B,
      maxLen: options.maxLen,
      length: L,
      tokens: options.tokens,
      step: this.step,
      ranks,
      scores,
      commands: [
        ...enc.forward,
        await matmul(rt, { a: rep.rows(0, B), b: E, c: scores }, {
          m: B,
          n: V,
          k: H,
          transB: true,
        }),
        await rankOp(rt, { scores, targets: target, ranks, rows: B, vocab: V, historyMask }),
      ],
      upload(batch: Batch | PackedBatch, history?: { offsets: Int32Array; items: Int32Array }) {
        input.write(batch);
        rt.write(target, batch.target);
        if (historyMask) {
          rt.write(historyMask, packHistoryCsr(history, B, V));
        }
      },
    };
  }
}

/** The length a graph is built for: `length` when given (1..maxLen), else maxLen. */
function graphLength(o: LengthOptions): number {
  const L = o.length ?? o.maxLen;
  if (!(Number.isInteger(L) && L >= 1 && L <= o.maxLen)) {
    throw new Error(`SS4Rec: length ${L} outside 1..maxLen ${o.maxLen}`);
  }
  return L;
}

/** Batches must be laid out at the graph's length (lib/models/buckets.ts trims them). */
function checkStride(batch: { maxLen: number }, L: number): void {
  if (batch.maxLen !== L) {
    throw new Error(`SS4Rec: batch of stride ${batch.maxLen} uploaded to a graph of length ${L}`);
  }
}

/** Gaps of `no_time`: {@linkcode NO_TIME_GAP} at every real position, 0 on padding. */
function constantGaps(seqLen: Int32Array, L: number): Float32Array {
  const out = new Float32Array(seqLen.length * L);
  for (let b = 0; b < seqLen.length; b++) out.fill(NO_TIME_GAP, b * L, b * L + seqLen[b]);
  return out;
}

/** The parameter list in official state_dict order, with the official initialisation. */
function ss4recParams(o: SS4RecOptions, s5: S5Layer[], mamba: MambaLayer[]): ParamSpec[] {
  const H = o.hiddenSize;
  const normal = (n: number) => (rand: () => number) => randn(n, rand, 0.02);
  const ones = (n: number) => () => new Float64Array(n).fill(1);
  const zeros = (n: number) => () => new Float64Array(n);
  const specs: ParamSpec[] = [
    { name: "item_embedding.weight", shape: [o.numItems, H], init: normal(o.numItems * H) },
    { name: "LayerNorm.weight", shape: [H], init: ones(H) },
    { name: "LayerNorm.bias", shape: [H], init: zeros(H) },
  ];
  for (let i = 0; i < o.numLayers; i++) {
    specs.push(...s5[i].params(), ...mamba[i].params());
    specs.push(
      { name: `model.${i}.LayerNorm.weight`, shape: [H], init: ones(H) },
      { name: `model.${i}.LayerNorm.bias`, shape: [H], init: zeros(H) },
    );
  }
  return specs;
}
