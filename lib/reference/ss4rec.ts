/**
 * float64 reference of the whole SS4Rec loss (SPEC §2, CE at the last position, dropout off),
 * composed from the per-op references. It is the oracle of `diagnose`'s end-to-end gradient check:
 * central finite differences of this loss against the GPU backward.
 *
 * @module
 */

import { addNormForward } from "./layernorm.ts";
import { crossEntropyForward } from "./loss.ts";
import { MAMBA_PARAM_NAMES, type MambaDims, mambaForward, type MambaParams } from "./mamba.ts";
import { s5Forward } from "./s5.ts";

/** Model sizes and switches the reference needs. */
export interface SS4RecRefOptions {
  numItems: number;
  hidden: number;
  layers: number;
  dP: number;
  dState: number;
  dConv: number;
  expand: number;
  modelType: "full" | "s5_only" | "mamba_only" | "no_time";
  clipEigs: boolean;
  eps?: number;
}

/** One prefix batch: ids [B, L] right-padded, lengths, gaps [B, L] (seconds), targets. */
export interface SS4RecRefBatch {
  itemSeq: ArrayLike<number>;
  seqLen: ArrayLike<number>;
  timeGaps: ArrayLike<number>;
  target: ArrayLike<number>;
  batch: number;
  maxLen: number;
}

/** Mean CE loss of SS4Rec on a batch, all in float64; `params` by state_dict name. */
export function ss4recLossRef(
  params: Map<string, Float64Array>,
  batch: SS4RecRefBatch,
  o: SS4RecRefOptions,
): number {
  const { batch: B, maxLen: L } = batch;
  const H = o.hidden, V = o.numItems, rows = B * L, eps = o.eps ?? 1e-12;
  const p = (n: string) => {
    const v = params.get(n);
    if (!v) throw new Error(`reference: parameter ${n} missing`);
    return v;
  };
  const E = p("item_embedding.weight");
  let x: Float64Array = new Float64Array(rows * H);
  for (let i = 0; i < rows; i++) {
    x.set(E.subarray(batch.itemSeq[i] * H, batch.itemSeq[i] * H + H), i * H);
  }
  const dt = Float64Array.from(batch.timeGaps);
  if (o.modelType === "no_time") {
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < L; t++) {
        dt[b * L + t] = t < batch.seqLen[b] ? 1 : 0;
      }
    }
  }
  const ones = new Float64Array(rows * H).fill(1);
  const dims: MambaDims = {
    B,
    L,
    H,
    E: o.expand * H,
    N: o.dState,
    R: Math.ceil(H / 16),
    K: o.dConv,
  };
  for (let i = 0; i < o.layers; i++) {
    const g = p(`model.${i}.LayerNorm.weight`), be = p(`model.${i}.LayerNorm.bias`);
    if (o.modelType !== "mamba_only") {
      const pre = `model.${i}.S5.seq`;
      const y = s5Forward(
        {
          Lambda: p(`${pre}.Lambda`),
          B: p(`${pre}.B`),
          C: p(`${pre}.C`),
          D: p(`${pre}.D`),
          logStep: p(`${pre}.log_step`),
        },
        x,
        dt,
        { batch: B, seqLen: L, hidden: H, state: o.dP },
        { clipEigs: o.clipEigs },
      );
      x = addNormForward(y, x, ones, g, be, rows, H, eps);
    }
    if (o.modelType !== "s5_only") {
      const mp = Object.fromEntries(
        MAMBA_PARAM_NAMES.map((n) => [n, p(`model.${i}.S6.${n}`)]),
      ) as MambaParams;
      const m = mambaForward(x, mp, dims).out;
      x = addNormForward(m, x, ones, g, be, rows, H, eps);
    }
  }
  const logits = new Float64Array(B * V);
  for (let b = 0; b < B; b++) {
    const t = Math.min(Math.max(batch.seqLen[b], 1), L) - 1;
    const r = x.subarray((b * L + t) * H, (b * L + t) * H + H);
    for (let j = 0; j < V; j++) {
      let s = 0;
      for (let h = 0; h < H; h++) s += r[h] * E[j * H + h];
      logits[b * V + j] = s;
    }
  }
  return crossEntropyForward(logits, batch.target, V).mean;
}
