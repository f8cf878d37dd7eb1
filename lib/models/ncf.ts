/**
 * NeuMF (He et al. 2017, "Neural Collaborative Filtering") as RecBole's `NeuMF` computes it, on the
 * GPU, with this project's leave-one-out protocol and full-ranking evaluation (SPEC §4–5).
 *
 * Network (RecBole names and layouts, so state_dicts map one to one):
 * - `user_mf_embedding` [U+1, M], `item_mf_embedding` [V, M], `user_mlp_embedding` [U+1, E],
 *   `item_mlp_embedding` [V, E]. Users are this project's dense ids 0..U−1 shifted by one: row 0 is
 *   the padding user, as in RecBole, whose n_users counts its [PAD] user.
 * - GMF: u_mf ⊙ i_mf [M]. MLP (RecBole `MLPLayers`, `mlp_layers.mlp_layers.{3l+1}`): per layer
 *   dropout → Linear → ReLU over concat(u_mlp, i_mlp).
 * - `predict_layer` Linear(M + D → 1) on concat(gmf, mlp_out); sigmoid; pointwise BCE
 *   (BCEWithLogits, mean over the 2B pointwise samples).
 *
 * Training: each prefix sample of the training split gives one positive (the Batch's `user` and
 * `target`; the item sequence is ignored) and one negative drawn on the GPU as RecBole's sampler
 * draws it: an item the user never interacted with in training. `ncf_pairs` draws uniformly over
 * 1..V−1 minus the target with the counter RNG of dropout / BPR (salt {@linkcode NEG_SALT} + the
 * attempt) and redraws while the item is in the row's history bitmask [B, ⌈V/32⌉] (packed on the
 * host in `upload` from {@linkcode NCFOptions.history}), at most {@linkcode NEG_TRIES} draws, then
 * keeps the last one. The history is the user's whole training history (every item up to and
 * including the last training target: RecBole's `used_ids`), not the sample's prefix, so a
 * negative is never an item the user watches later in training. Without `history` the mask is
 * empty and the negative is uniform over all items but the target. A user's first interaction is
 * never a target here (it has no prefix), but it is in the history.
 *
 * Initialisation (RecBole `NeuMF._init_weights` touches only embeddings): embeddings normal(0,
 * 0.01); every Linear keeps PyTorch's default, weight and bias uniform(±1/√fan_in) (MLPLayers'
 * init_method is None in NeuMF, and predict_layer is a plain nn.Linear).
 *
 * Evaluation scores all V items for the row's user by linearity: GMF = (u_mf ⊙ w_p[:M]) · E_mfᵀ is
 * a matmul; layer 1 splits into a_u = W1[:, :E]·u + b1 and b_i = W1[:, E:]·i (b_i for all items
 * once per eval step, stored transposed [H1, V]); the fused `mlp_pairs` kernel computes
 * Σ_j w_p[M+j]·relu(b2[j] + W2[j]·relu(a_u + b_i)) + b_p for all B·V pairs. Ranking uses the logits
 * (sigmoid is monotone; ranking sigmoid outputs would only add f32 saturation ties). The fused
 * scorer supports exactly two hidden layers (RecBole's default [128, 64]) with D % 4 = 0.
 *
 * @module
 */

import type { Batch, SequenceBatch } from "../data/batch.ts";
import type { SequentialDataset } from "../data/dataset.ts";
import { matmul, matmulOps } from "../gpu/ops.ts";
import { historyMaskWords, packHistoryCsr, packHistoryMask, rankOp } from "../gpu/rank.ts";
import { type Command, grid, type Runtime, Tensor } from "../gpu/runtime.ts";
import { dropout } from "../nn/elementwise.ts";
import { embedding, gatherRows } from "../nn/embedding.ts";
import type { BuildContext, ParamSpec } from "../nn/module.ts";
import { ParamStore } from "../nn/params.ts";
import { randn } from "../reference/gradcheck.ts";
import { NCF_NEG_TRIES } from "../reference/ncf.ts";
import type { EvalGraph, LengthOptions, RecModel, TrainGraph, TrainMode } from "./model.ts";

/** NeuMF options (RecBole key names in the config). */
export interface NCFOptions {
  /** V: item ids including padding 0. */
  numItems: number;
  /** U: dense users 0..U−1 (the tables have U + 1 rows). */
  numUsers: number;
  /** M: mf_embedding_size. */
  mfEmbeddingSize: number;
  /** E: mlp_embedding_size. */
  mlpEmbeddingSize: number;
  /** mlp_hidden_size, e.g. [128, 64]. */
  mlpHiddenSize: number[];
  dropoutProb: number;
  /**
   * Per-user training history as a CSR over the dense users (`items[offsets[u]..offsets[u+1])`,
   * offsets [U+1]): the negative sampler never draws these items for user u (see
   * {@linkcode ncfTrainHistory}). Absent: negatives are uniform over all items but the target.
   */
  history?: { offsets: Int32Array; items: Int32Array };
}

/** The salt of the negative sampler's first draw, +a for attempt a (dropout uses 0..layers−1). */
export const NEG_SALT = 1000;

/** Draws per negative before the sampler keeps the last one (kernels/ncf.wgsl NEG_TRIES). */
export const NEG_TRIES = NCF_NEG_TRIES;

/**
 * Each user's training history as a CSR (RecBole's sampler `used_ids` for the training phase):
 * the items at positions 0..p of the user's time-sorted sequence, p = the user's last training
 * target (every training interaction, the first one included; validation and test items are
 * not). Undefined when `ds` is only sizes (e.g. benchmarks): the sampler then excludes only the
 * target.
 */
export function ncfTrainHistory(
  ds: { numUsers: number } & Partial<Pick<SequentialDataset, "userOffsets" | "items" | "train">>,
): { offsets: Int32Array; items: Int32Array } | undefined {
  const { userOffsets, items, train } = ds;
  if (!userOffsets || !items || !train) return undefined;
  const U = ds.numUsers, last = new Int32Array(U).fill(-1);
  for (let i = 0; i < train.user.length; i++) {
    last[train.user[i]] = Math.max(last[train.user[i]], train.pos[i]);
  }
  const offsets = new Int32Array(U + 1);
  for (let u = 0; u < U; u++) offsets[u + 1] = offsets[u] + last[u] + 1;
  const out = new Int32Array(offsets[U]);
  for (let u = 0; u < U; u++) {
    out.set(items.subarray(userOffsets[u], userOffsets[u] + last[u] + 1), offsets[u]);
  }
  return { offsets, items: out };
}

/** The RecBole parameter name of layer l's Linear. */
export function linearName(l: number, what: "weight" | "bias"): string {
  return `mlp_layers.mlp_layers.${3 * l + 1}.${what}`;
}

/** NeuMF on the GPU. */
export class NCF implements RecModel {
  readonly name = "NCF";
  /** No sequence input: one graph serves every batch. */
  readonly causal = false;
  readonly store: ParamStore;
  readonly step: Tensor;
  /**
   * The per-user history bitmask [U, ⌈V/32⌉] is packed once at construction when it has at most
   * this many u32 words (256 MiB); otherwise `upload` packs each batch's rows from the CSR.
   */
  static prepackWords = 1 << 26;
  /** The per-user history bitmask, when it fits {@linkcode NCF.prepackWords}. */
  readonly #userMask?: Uint32Array;

  /** Declares the parameters and allocates the flat stores (call initialise or load). */
  constructor(readonly rt: Runtime, readonly o: NCFOptions) {
    if (o.numItems < 3) throw new Error("NCF: needs at least 3 item ids (PAD, target, negative)");
    if (o.mlpHiddenSize.length !== 2) {
      throw new Error(
        `NCF: mlp_hidden_size must have exactly 2 layers here (fused full-ranking scorer), got [${o.mlpHiddenSize}]`,
      );
    }
    if (o.mlpHiddenSize[1] % 4 !== 0) {
      throw new Error(
        `NCF: the last mlp_hidden_size (${o.mlpHiddenSize[1]}) must be a multiple of 4`,
      );
    }
    const h = o.history;
    if (h && h.offsets.length !== o.numUsers + 1) {
      throw new Error(`NCF: history offsets need numUsers + 1 = ${o.numUsers + 1} entries`);
    }
    if (h && o.numUsers * historyMaskWords(o.numItems) <= NCF.prepackWords) {
      this.#userMask = packHistoryCsr(h, o.numUsers, o.numItems);
    }
    this.store = new ParamStore(rt, ncfParams(o));
    this.step = rt.tensor([4], "u32", [0, 0, 0, 0], "step");
  }

  #ctx(batch: number): BuildContext {
    return {
      rt: this.rt,
      param: (n) => this.store.param(n),
      grad: (n) => this.store.grad(n),
      batch,
      seqLen: 1,
      step: this.step,
    };
  }

  async #k(entry: string) {
    return await this.rt.kernel("ncf", entry);
  }

  /** Builds the training step (see {@linkcode RecModel.buildTrain}); the sequence is ignored. */
  async buildTrain(
    options: LengthOptions & { batch: number; mode: TrainMode; lossSum?: Tensor },
  ): Promise<TrainGraph> {
    if (options.mode !== "prefix") throw new Error("NCF: train_mode must be prefix");
    const { batch: B, maxLen: L } = options;
    const rt = this.rt, o = this.o, s = this.store;
    const V = o.numItems, U1 = o.numUsers + 1, M = o.mfEmbeddingSize, E = o.mlpEmbeddingSize;
    const hidden = o.mlpHiddenSize, D = hidden[hidden.length - 1], W = M + D, N = 2 * B;
    const ctx = this.#ctx(B);
    const t = (shape: number[], name: string, dtype: "f32" | "i32" = "f32") =>
      rt.tensor(shape, dtype, undefined, name);
    const user = t([B], "user", "i32"), target = t([B], "target", "i32");
    const uid = t([N], "uid", "i32"), iid = t([N], "iid", "i32");
    const words = historyMaskWords(V);
    const negMask = rt.tensor([B * words], "u32", undefined, "neg_history_mask");
    const maskRows = new Uint32Array(B * words);
    const activations = new Map<string, Tensor>();
    const forward: Command[] = [
      rt.op(await this.#k("ncf_pairs"), [user, target, this.step, uid, iid, negMask], {
        params: [B, V, NEG_SALT, o.numUsers],
        workgroups: grid(B),
      }),
    ];
    const backward: Command[] = [];
    const embBackward: Command[] = [];
    const lookup = async (table: string, ids: Tensor, vocab: number, dim: number) => {
      const out = t([N, dim], table), dOut = t([N, dim], `d_${table}`);
      const e = await embedding(rt, {
        table: s.param(`${table}.weight`),
        gradTable: s.grad(`${table}.weight`),
        ids,
        output: out,
        dOutput: dOut,
        tokens: N,
        dim,
        vocab,
      });
      forward.push(...e.forward);
      embBackward.push(...e.backward);
      activations.set(table, out);
      return { out, dOut };
    };
    const umf = await lookup("user_mf_embedding", uid, U1, M);
    const imf = await lookup("item_mf_embedding", iid, V, M);
    const umlp = await lookup("user_mlp_embedding", uid, U1, E);
    const imlp = await lookup("item_mlp_embedding", iid, V, E);
    // MLP input x0 = [u_mlp, i_mlp]
    const x0 = t([N, 2 * E], "mlp_input"), dx0 = t([N, 2 * E], "d_mlp_input");
    forward.push(
      rt.op(await this.#k("concat2"), [umlp.out, imlp.out, x0], {
        params: [N, E, E, 0],
        workgroups: grid(N * 2 * E),
      }),
    );
    activations.set("mlp_input", x0);
    const ins = [2 * E, ...hidden];
    let x = x0, dx = dx0;
    const layerBackward: Command[][] = [];
    for (let l = 0; l < hidden.length; l++) {
      const din = ins[l], dout = ins[l + 1];
      const Wl = s.param(linearName(l, "weight")), bl = s.param(linearName(l, "bias"));
      const dWl = s.grad(linearName(l, "weight")), dbl = s.grad(linearName(l, "bias"));
      const xd = t([N, din], `mlp${l}.dropped`), dxd = t([N, din], `mlp${l}.d_dropped`);
      const y = t([N, dout], `mlp${l}.out`), dy = t([N, dout], `mlp${l}.d_out`);
      const dpre = t([N, dout], `mlp${l}.d_pre`);
      const drop = await dropout(ctx, {
        input: x,
        output: xd,
        dOutput: dxd,
        dInput: dx,
        p: o.dropoutProb,
        salt: l,
      });
      forward.push(
        ...drop.forward,
        await matmul(rt, { a: xd, b: Wl, c: y }, { m: N, n: dout, k: din, transB: true }),
        rt.op(await this.#k("bias_act"), [y, bl], {
          params: [N, dout, 1, 0],
          workgroups: grid(N * dout),
        }),
      );
      layerBackward.push([
        rt.op(await this.#k("relu_backward"), [y, dy, dpre], {
          params: [N * dout],
          workgroups: grid(N * dout),
        }),
        await this.#colsum(dpre, dbl, N, dout, dout, 0),
        ...await matmulOps(rt, { a: dpre, b: xd, c: dWl }, {
          m: dout,
          n: din,
          k: N,
          transA: true,
          beta: 1,
        }),
        await matmul(rt, { a: dpre, b: Wl, c: dxd }, { m: N, n: din, k: dout }),
        ...drop.backward,
      ]);
      activations.set(`mlp${l}.out`, y);
      x = y;
      dx = dy;
    }
    // head: z = [gmf, mlp_out] -> logits -> BCE; backward to dz, then to the branches
    const z = t([N, W], "head_input"), dz = t([N, W], "d_head_input");
    const logits = t([N], "logits"), loss = t([B], "loss"), g = t([N], "d_logits");
    const stats = t([2], "loss_stats");
    const lossSum = options.lossSum ?? rt.tensor([2], "f32", [0, 0], "loss_sum");
    const wp = s.param("predict_layer.weight"), bp = s.param("predict_layer.bias");
    const pos = new Tensor(iid.buffer, iid.offset, [B], "i32", "iid_pos");
    forward.push(
      rt.op(await this.#k("gmf_concat"), [umf.out, imf.out, x, z], {
        params: [N, M, D],
        workgroups: grid(N * W),
      }),
      rt.op(await this.#k("head_forward"), [z, wp, bp, iid, logits, loss], {
        params: [B, W],
        workgroups: grid(B),
      }),
      rt.op(await rt.kernel("loss", "loss_reduce"), [loss, pos, stats, lossSum], {
        params: [B, V, 0, 0],
        workgroups: 1,
      }),
    );
    activations.set("head_input", z);
    activations.set("logits", logits);
    backward.push(
      rt.op(await this.#k("head_dlogit"), [logits, iid, stats, g], {
        params: [B],
        workgroups: grid(N),
      }),
      rt.op(await this.#k("head_dz"), [g, wp, dz], { params: [N, W], workgroups: grid(N * W) }),
      await matmul(rt, { a: g, b: z, c: s.grad("predict_layer.weight") }, {
        m: 1,
        n: W,
        k: N,
        transA: true,
        beta: 1,
      }),
      await this.#colsum(g, s.grad("predict_layer.bias"), N, 1, 1, 0),
      rt.op(await this.#k("gmf_concat_backward"), [dz, umf.out, imf.out, umf.dOut, imf.dOut, dx], {
        params: [N, M, D],
        workgroups: grid(N * W),
      }),
      ...layerBackward.reverse().flat(),
      rt.op(await this.#k("split2"), [dx0, umlp.dOut, imlp.dOut], {
        params: [N, E, E],
        workgroups: grid(N * 2 * E),
      }),
      ...embBackward,
    );
    const userMask = this.#userMask, history = o.history;
    /** The rows' history bitmask: copied from the per-user table, or packed from the CSR. */
    const packRows = (users: Int32Array): Uint32Array => {
      if (!history) return maskRows;
      if (!userMask) {
        const none = new Int32Array(0);
        return packHistoryMask(
          Array.from(
            users,
            (u) =>
              u >= 0 && u < o.numUsers
                ? history.items.subarray(history.offsets[u], history.offsets[u + 1])
                : none,
          ),
          V,
        );
      }
      for (let b = 0; b < B; b++) {
        const u = users[b], row = maskRows.subarray(b * words, (b + 1) * words);
        if (u >= 0 && u < o.numUsers) row.set(userMask.subarray(u * words, (u + 1) * words));
        else row.fill(0);
      }
      return maskRows;
    };
    return {
      batch: B,
      maxLen: L,
      length: options.length ?? L,
      mode: "prefix",
      commands: [{ clear: s.gradAll }, ...forward, ...backward],
      lossSum,
      activations,
      upload(batch: Batch | SequenceBatch) {
        if (!("user" in batch) || !("target" in batch)) {
          throw new Error("NCF: needs prefix batches (user, target)");
        }
        rt.write(user, batch.user);
        rt.write(target, batch.target);
        if (history) rt.write(negMask, packRows(batch.user)); // else stays all zeros
      },
    };
  }

  /** out[c] += Σ_r x[r·ld + off + c] (deterministic column sums). */
  async #colsum(x: Tensor, out: Tensor, rows: number, cols: number, ld: number, off: number) {
    return this.rt.op(await this.#k("colsum"), [x, out], {
      params: [rows, cols, ld, off],
      workgroups: grid(cols, 1),
    });
  }

  /** Builds the evaluation step (see {@linkcode RecModel.buildEval}). */
  async buildEval(
    options: LengthOptions & { batch: number; maskHistory: boolean },
  ): Promise<EvalGraph> {
    const { batch: B, maxLen: L } = options;
    const rt = this.rt, o = this.o, s = this.store;
    const V = o.numItems, U1 = o.numUsers + 1, M = o.mfEmbeddingSize, E = o.mlpEmbeddingSize;
    const [H1, D] = o.mlpHiddenSize;
    const t = (shape: number[], name: string, dtype: "f32" | "i32" = "f32") =>
      rt.tensor(shape, dtype, undefined, name);
    const user = t([B], "user", "i32"), target = t([B], "target", "i32");
    const uid = t([B], "uid", "i32");
    const umf = t([B, M], "user_mf"), umlp = t([B, E], "user_mlp");
    const uw = t([B, M], "user_mf_scaled");
    const xu = t([B, 2 * E], "mlp_input_user"), au = t([B, H1], "mlp0_user");
    // items padded to Vp = 4·⌈V/4⌉ rows (zeros: fresh buffers are zeroed) for the vec4 reads
    const Vp = Math.ceil(V / 4) * 4;
    const xi = t([Vp, 2 * E], "mlp_input_items"), biT = t([H1, Vp], "mlp0_items_t");
    const w2t = t([H1, D], "mlp1_weight_t"), pack = t([2 * D + 1], "head_pack");
    const scores = t([B, V], "scores");
    const ranks = rt.tensor([B], "u32", undefined, "ranks");
    const historyMask = options.maskHistory
      ? rt.tensor([B * historyMaskWords(V)], "u32", undefined, "history_mask")
      : undefined;
    const gatherOp = (table: Tensor, out: Tensor, vocab: number, dim: number) =>
      gatherRows(rt, uid, table, out, { n: B, dim, vocab });
    const wp = s.param("predict_layer.weight");
    const W1 = s.param(linearName(0, "weight")), W2 = s.param(linearName(1, "weight"));
    const commands: Command[] = [
      rt.op(await this.#k("user_ids"), [user, uid], {
        params: [B, 0, 0, o.numUsers],
        workgroups: grid(B),
      }),
      await gatherOp(s.param("user_mf_embedding.weight"), umf, U1, M),
      await gatherOp(s.param("user_mlp_embedding.weight"), umlp, U1, E),
      // GMF: scores = (u_mf ⊙ w_p[:M]) · E_mfᵀ
      rt.op(await this.#k("scale_cols"), [umf, wp, uw], {
        params: [B, M],
        workgroups: grid(B * M),
      }),
      await matmul(rt, { a: uw, b: s.param("item_mf_embedding.weight"), c: scores }, {
        m: B,
        n: V,
        k: M,
        transB: true,
      }),
      // layer 1, user half (+ b1): au = [u_mlp, 0] · W1ᵀ + b1
      rt.op(await this.#k("concat2"), [umlp, umlp, xu], {
        params: [B, E, E, 2],
        workgroups: grid(B * 2 * E),
      }),
      await matmul(rt, { a: xu, b: W1, c: au }, { m: B, n: H1, k: 2 * E, transB: true }),
      rt.op(await this.#k("bias_act"), [au, s.param(linearName(0, "bias"))], {
        params: [B, H1, 0, 0],
        workgroups: grid(B * H1),
      }),
      // layer 1, item half for all items, transposed: biT = W1 · [0, E_mlp]ᵀ
      rt.op(await this.#k("concat2"), [
        s.param("item_mlp_embedding.weight"),
        s.param("item_mlp_embedding.weight"),
        xi,
      ], {
        params: [V, E, E, 1],
        workgroups: grid(V * 2 * E),
      }),
      await matmul(rt, { a: W1, b: xi, c: biT }, { m: H1, n: Vp, k: 2 * E, transB: true }),
      rt.op(await this.#k("transpose"), [W2, w2t], { params: [D, H1], workgroups: grid(D * H1) }),
      rt.op(await this.#k("pack_head"), [
        s.param(linearName(1, "bias")),
        wp,
        s.param("predict_layer.bias"),
        pack,
      ], {
        params: [D, M],
        workgroups: grid(2 * D + 1),
      }),
      await mlpPairsOp(rt, { au, biT, w2t, pack, targets: target, scores }, B, V, H1, D),
      await rankOp(rt, { scores, targets: target, ranks, rows: B, vocab: V, historyMask }),
    ];
    return {
      batch: B,
      maxLen: L,
      length: options.length ?? L,
      step: this.step,
      ranks,
      scores,
      commands,
      upload(batch: Batch, history?: { offsets: Int32Array; items: Int32Array }) {
        rt.write(user, batch.user);
        rt.write(target, batch.target);
        if (historyMask) {
          rt.write(historyMask, packHistoryCsr(history, B, V));
        }
      },
    };
  }
}

/**
 * The fused full-ranking scorer (kernels/ncf.wgsl `mlp_pairs`): scores[b, i] += Σ_j wo[j]·relu(
 * b2[j] + Σ_k W2[j, k]·relu(au[b, k] + biT[k, i])) + bp for rows with a valid target.
 * `biT` is [H1, 4·⌈V/4⌉] (items padded to a multiple of 4); `w2t` is W2ᵀ [H1, D]; `pack` =
 * [b2, wo, bp] [2D + 1]; D must be a multiple of 4.
 */
export async function mlpPairsOp(
  rt: Runtime,
  io: { au: Tensor; biT: Tensor; w2t: Tensor; pack: Tensor; targets: Tensor; scores: Tensor },
  B: number,
  V: number,
  H1: number,
  D: number,
) {
  if (D % 4 !== 0) throw new Error(`mlpPairsOp: D = ${D} must be a multiple of 4`);
  if (io.biT.size < H1 * Math.ceil(V / 4) * 4) throw new Error("mlpPairsOp: biT needs [H1, Vp]");
  const k = await rt.kernel("ncf", "mlp_pairs");
  const y = Math.min(B, 65535), zz = Math.ceil(B / 65535);
  return rt.op(k, [io.au, io.biT, io.w2t, io.pack, io.targets, io.scores], {
    params: [B, V, H1, D],
    workgroups: [Math.ceil(V / 256), y, zz],
  });
}

/** Parameters in RecBole's state_dict order with RecBole's initialisation. */
export function ncfParams(o: NCFOptions): ParamSpec[] {
  const U1 = o.numUsers + 1, V = o.numItems, M = o.mfEmbeddingSize, E = o.mlpEmbeddingSize;
  const normal = (n: number) => (rand: () => number) => randn(n, rand, 0.01);
  // PyTorch nn.Linear default: kaiming_uniform(a=√5) = U(±1/√fan_in) for the weight, same bound
  // for the bias.
  const uniform = (n: number, fanIn: number) => (rand: () => number) => {
    const bound = 1 / Math.sqrt(fanIn);
    return Float64Array.from({ length: n }, () => (2 * rand() - 1) * bound);
  };
  const specs: ParamSpec[] = [
    { name: "user_mf_embedding.weight", shape: [U1, M], init: normal(U1 * M) },
    { name: "item_mf_embedding.weight", shape: [V, M], init: normal(V * M) },
    { name: "user_mlp_embedding.weight", shape: [U1, E], init: normal(U1 * E) },
    { name: "item_mlp_embedding.weight", shape: [V, E], init: normal(V * E) },
  ];
  const ins = [2 * E, ...o.mlpHiddenSize];
  for (let l = 0; l < o.mlpHiddenSize.length; l++) {
    const din = ins[l], dout = ins[l + 1];
    specs.push(
      { name: linearName(l, "weight"), shape: [dout, din], init: uniform(dout * din, din) },
      { name: linearName(l, "bias"), shape: [dout], init: uniform(dout, din) },
    );
  }
  const W = M + o.mlpHiddenSize[o.mlpHiddenSize.length - 1];
  specs.push(
    { name: "predict_layer.weight", shape: [1, W], init: uniform(W, W) },
    { name: "predict_layer.bias", shape: [1], init: uniform(1, W) },
  );
  return specs;
}
