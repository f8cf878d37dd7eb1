/**
 * float64 reference of NeuMF (lib/models/ncf.ts, kernels/ncf.wgsl): the training pairs with their
 * GPU-sampled negatives, the forward (GMF ⊙, MLP with dropout → Linear → ReLU per layer, the
 * prediction layer), the pointwise BCE over each (positive, negative) pair, its full backward, and
 * the full-ranking scores. Also the kernel-level reference of the fused scorer (`mlp_pairs`).
 *
 * Shapes: U1 = users + 1 (row 0 = padding user, as RecBole's n_users), V items (0 = padding),
 * M = mf_embedding_size, E = mlp_embedding_size, hidden = mlp_hidden_size, D = hidden.at(-1).
 *
 * @module
 */

import { dropoutScale, randU32 } from "./elementwise.ts";

/** Sizes of a NeuMF. */
export interface NcfDims {
  /** Users + 1 (row 0 is the padding user). */
  users1: number;
  /** V, including padding item 0. */
  items: number;
  mf: number;
  mlp: number;
  hidden: number[];
}

/** All parameters, row-major (Linear weights [out, in] as in PyTorch). */
export interface NcfParams {
  userMf: Float64Array;
  itemMf: Float64Array;
  userMlp: Float64Array;
  itemMlp: Float64Array;
  weights: Float64Array[];
  biases: Float64Array[];
  /** predict_layer.weight [M + D]. */
  wp: Float64Array;
  /** predict_layer.bias [1]. */
  bp: Float64Array;
}

/** Draws per negative before `ncf_pairs` keeps the last one (kernels/ncf.wgsl NEG_TRIES). */
export const NCF_NEG_TRIES = 16;

/**
 * The pairs `ncf_pairs` builds from a batch: uid/iid [2B] with (user+1, target) at b and
 * (user+1, negative) at B + b; invalid rows (target outside 1..V−1, user outside 0..U−1) are 0.
 *
 * The negative (RecBole's sampler: an item outside the user's history) is drawn like
 * `bprNegatives` (./loss.ts), with an attempt counter: attempt a ∈ 0..tries−1 draws
 * n = 1 + randU32(seed, salt + a, b) mod (V − 2), shifted up by one at or above the target, and
 * keeps it when n ∉ `history[b]`; after `tries` rejections the last draw is kept. Without a
 * history (or with an empty one) this is attempt 0: uniform over 1..V−1 minus the target.
 */
export function ncfPairs(
  user: ArrayLike<number>,
  target: ArrayLike<number>,
  numUsers: number,
  vocab: number,
  seed: number,
  salt: number,
  history?: ArrayLike<number>[],
  tries = NCF_NEG_TRIES,
): { uid: Int32Array; iid: Int32Array } {
  const B = user.length;
  const uid = new Int32Array(2 * B), iid = new Int32Array(2 * B);
  for (let b = 0; b < B; b++) {
    const u = user[b], t = target[b];
    if (!(t > 0 && t < vocab && u >= 0 && u < numUsers)) continue;
    const seen = new Set(Array.from(history?.[b] ?? []));
    let n = 0;
    for (let a = 0; a < tries; a++) {
      n = 1 + randU32(seed, salt + a, b) % (vocab - 2);
      if (n >= t) n++;
      if (!seen.has(n)) break;
    }
    uid[b] = uid[B + b] = u + 1;
    iid[b] = t;
    iid[B + b] = n;
  }
  return { uid, iid };
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

/** Parameter gradients, same layout as {@linkcode NcfParams}. */
export type NcfGrads = NcfParams;

/** What {@linkcode ncfTrainStep} computes. */
export interface NcfStepResult {
  /** Σ over valid pairs of (BCE(pos, 1) + BCE(neg, 0)) / 2. */
  lossSum: number;
  /** Valid pairs. */
  count: number;
  /** Mean loss (lossSum / count). */
  loss: number;
  /** [2B] logits. */
  logits: Float64Array;
  grads: NcfGrads;
}

/**
 * One training step's forward and backward on the pairs (uid, iid) [2B]. Dropout before each
 * Linear uses the GPU's counter masks: salt l for layer l, seed `seed`, over the [2B, in_l] input.
 */
export function ncfTrainStep(
  P: NcfParams,
  d: NcfDims,
  pairs: { uid: Int32Array; iid: Int32Array },
  options: { dropout: number; seed: number; training: boolean },
): NcfStepResult {
  const { uid, iid } = pairs;
  const N = uid.length, B = N / 2, M = d.mf, E = d.mlp, L = d.hidden.length;
  const D = d.hidden[L - 1], W = M + D;
  // forward
  const umf = new Float64Array(N * M), imf = new Float64Array(N * M);
  const x0 = new Float64Array(N * 2 * E);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < M; h++) {
      umf[n * M + h] = P.userMf[uid[n] * M + h];
      imf[n * M + h] = P.itemMf[iid[n] * M + h];
    }
    for (let h = 0; h < E; h++) {
      x0[n * 2 * E + h] = P.userMlp[uid[n] * E + h];
      x0[n * 2 * E + E + h] = P.itemMlp[iid[n] * E + h];
    }
  }
  const xs: Float64Array[] = [x0], xds: Float64Array[] = [], masks: Float64Array[] = [];
  const ins = [2 * E, ...d.hidden];
  for (let l = 0; l < L; l++) {
    const x = xs[l], din = ins[l], dout = ins[l + 1];
    const mask = dropoutScale(N * din, options.dropout, options.seed, l, options.training);
    const xd = x.map((v, i) => v * mask[i]);
    const y = new Float64Array(N * dout);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < dout; o++) {
        let s = P.biases[l][o];
        for (let k = 0; k < din; k++) s += xd[n * din + k] * P.weights[l][o * din + k];
        y[n * dout + o] = Math.max(s, 0);
      }
    }
    masks.push(mask);
    xds.push(xd);
    xs.push(y);
  }
  const hL = xs[L];
  const z = new Float64Array(N * W);
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < M; h++) z[n * W + h] = umf[n * M + h] * imf[n * M + h];
    for (let j = 0; j < D; j++) z[n * W + M + j] = hL[n * D + j];
  }
  const logits = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    let s = P.bp[0];
    for (let c = 0; c < W; c++) s += z[n * W + c] * P.wp[c];
    logits[n] = s;
  }
  let lossSum = 0, count = 0;
  for (let b = 0; b < B; b++) {
    if (iid[b] <= 0) continue;
    count++;
    lossSum += 0.5 * (softplus(-logits[b]) + softplus(logits[B + b]));
  }
  // backward of the mean loss
  const g = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const b = n % B;
    if (iid[b] <= 0 || count === 0) continue;
    g[n] = (sigmoid(logits[n]) - (n < B ? 1 : 0)) / (2 * count);
  }
  const grads: NcfGrads = {
    userMf: new Float64Array(P.userMf.length),
    itemMf: new Float64Array(P.itemMf.length),
    userMlp: new Float64Array(P.userMlp.length),
    itemMlp: new Float64Array(P.itemMlp.length),
    weights: P.weights.map((w) => new Float64Array(w.length)),
    biases: P.biases.map((w) => new Float64Array(w.length)),
    wp: new Float64Array(W),
    bp: new Float64Array(1),
  };
  let dy = new Float64Array(N * D);
  for (let n = 0; n < N; n++) {
    grads.bp[0] += g[n];
    for (let c = 0; c < W; c++) grads.wp[c] += g[n] * z[n * W + c];
    for (let h = 0; h < M; h++) {
      const dz = g[n] * P.wp[h];
      // padding row 0 gets no lookup gradient (embedding.ts convention)
      if (uid[n] > 0) grads.userMf[uid[n] * M + h] += dz * imf[n * M + h];
      if (iid[n] > 0) grads.itemMf[iid[n] * M + h] += dz * umf[n * M + h];
    }
    for (let j = 0; j < D; j++) dy[n * D + j] = g[n] * P.wp[M + j];
  }
  for (let l = L - 1; l >= 0; l--) {
    const din = ins[l], dout = ins[l + 1], y = xs[l + 1], xd = xds[l];
    const dx = new Float64Array(N * din);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < dout; o++) {
        const dp = y[n * dout + o] > 0 ? dy[n * dout + o] : 0;
        if (dp === 0) continue;
        grads.biases[l][o] += dp;
        for (let k = 0; k < din; k++) {
          grads.weights[l][o * din + k] += dp * xd[n * din + k];
          dx[n * din + k] += dp * P.weights[l][o * din + k];
        }
      }
    }
    for (let i = 0; i < dx.length; i++) dx[i] *= masks[l][i];
    dy = dx;
  }
  for (let n = 0; n < N; n++) {
    for (let h = 0; h < E; h++) {
      if (uid[n] > 0) grads.userMlp[uid[n] * E + h] += dy[n * 2 * E + h];
      if (iid[n] > 0) grads.itemMlp[iid[n] * E + h] += dy[n * 2 * E + E + h];
    }
  }
  return { lossSum, count, loss: count ? lossSum / count : 0, logits, grads };
}

/** Full-ranking logits [B, V] of users (dense ids, −1 = padding row → the padding user row 0). */
export function ncfScores(P: NcfParams, d: NcfDims, users: ArrayLike<number>): Float64Array {
  const B = users.length, V = d.items, M = d.mf, E = d.mlp, L = d.hidden.length;
  const D = d.hidden[L - 1];
  const out = new Float64Array(B * V);
  const ins = [2 * E, ...d.hidden];
  for (let b = 0; b < B; b++) {
    const u = users[b] >= 0 && users[b] < d.users1 - 1 ? users[b] + 1 : 0;
    for (let i = 0; i < V; i++) {
      let s = P.bp[0];
      for (let h = 0; h < M; h++) s += P.wp[h] * P.userMf[u * M + h] * P.itemMf[i * M + h];
      let x = new Float64Array(2 * E);
      for (let h = 0; h < E; h++) {
        x[h] = P.userMlp[u * E + h];
        x[E + h] = P.itemMlp[i * E + h];
      }
      for (let l = 0; l < L; l++) {
        const din = ins[l], dout = ins[l + 1], y = new Float64Array(dout);
        for (let o = 0; o < dout; o++) {
          let t = P.biases[l][o];
          for (let k = 0; k < din; k++) t += x[k] * P.weights[l][o * din + k];
          y[o] = Math.max(t, 0);
        }
        x = y;
      }
      for (let j = 0; j < D; j++) s += P.wp[M + j] * x[j];
      out[b * V + i] = s;
    }
  }
  return out;
}

/**
 * Reference of the fused scorer `mlp_pairs`: scores[b, i] + Σ_j wo[j]·relu(b2[j] +
 * Σ_k W2[j, k]·relu(au[b, k] + biT[k, i])) + bp for rows with a valid target, unchanged otherwise.
 * W2 is [D, H1] (PyTorch layout); the kernel receives it transposed.
 */
export function mlpPairsReference(
  io: {
    au: Float64Array;
    biT: Float64Array;
    w2: Float64Array;
    b2: Float64Array;
    wo: Float64Array;
    bp: number;
    targets: ArrayLike<number>;
    scores: Float64Array;
  },
  B: number,
  V: number,
  H1: number,
  D: number,
): Float64Array {
  const out = io.scores.slice();
  const h = new Float64Array(H1);
  for (let b = 0; b < B; b++) {
    const t = io.targets[b];
    if (!(t > 0 && t < V)) continue;
    for (let i = 0; i < V; i++) {
      for (let k = 0; k < H1; k++) h[k] = Math.max(io.au[b * H1 + k] + io.biT[k * V + i], 0);
      let s = io.bp;
      for (let j = 0; j < D; j++) {
        let a = io.b2[j];
        for (let k = 0; k < H1; k++) a += io.w2[j * H1 + k] * h[k];
        s += io.wo[j] * Math.max(a, 0);
      }
      out[b * V + i] += s;
    }
  }
  return out;
}

/** Loss of the pairs as a function of all parameters flattened (for finite differences). */
export function flattenParams(P: NcfParams): Float64Array[] {
  return [P.userMf, P.itemMf, P.userMlp, P.itemMlp, ...P.weights, ...P.biases, P.wp, P.bp];
}

/** The inverse of {@linkcode flattenParams}. */
export function unflattenParams(xs: Float64Array[], layers: number): NcfParams {
  return {
    userMf: xs[0],
    itemMf: xs[1],
    userMlp: xs[2],
    itemMlp: xs[3],
    weights: xs.slice(4, 4 + layers),
    biases: xs.slice(4 + layers, 4 + 2 * layers),
    wp: xs[4 + 2 * layers],
    bp: xs[5 + 2 * layers],
  };
}
