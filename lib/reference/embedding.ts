/**
 * float64 references of the embedding lookup (with padding_idx = 0 semantics in the backward) and
 * of gather-last (seq_output[b] = x[b, len_b − 1]).
 *
 * @module
 */

/** out[r, :] = table[ids[r], :]; ids outside [0, vocab) give a zero row. */
export function embeddingForward(
  ids: ArrayLike<number>,
  table: Float64Array,
  vocab: number,
  dim: number,
): Float64Array {
  const out = new Float64Array(ids.length * dim);
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r];
    if (id < 0 || id >= vocab) continue;
    for (let h = 0; h < dim; h++) out[r * dim + h] = table[id * dim + h];
  }
  return out;
}

/** dTable[v, :] = Σ_{r: ids[r] = v} dOut[r, :] for v ≠ 0 (padding row 0 gets no lookup gradient). */
export function embeddingBackward(
  ids: ArrayLike<number>,
  dOut: Float64Array,
  vocab: number,
  dim: number,
): Float64Array {
  const d = new Float64Array(vocab * dim);
  for (let r = 0; r < ids.length; r++) {
    const id = ids[r];
    if (id <= 0 || id >= vocab) continue;
    for (let h = 0; h < dim; h++) d[id * dim + h] += dOut[r * dim + h];
  }
  return d;
}

/** The position gather-last reads: clamp(len, 1, L) − 1. */
export function lastIndex(len: number, seqLen: number): number {
  return Math.min(Math.max(len, 1), seqLen) - 1;
}

/** out[b, :] = x[b, len_b − 1, :] for x [B, L, H]. */
export function gatherLastForward(
  x: Float64Array,
  lengths: ArrayLike<number>,
  seqLen: number,
  dim: number,
): Float64Array {
  const B = lengths.length, out = new Float64Array(B * dim);
  for (let b = 0; b < B; b++) {
    const t = lastIndex(lengths[b], seqLen);
    for (let h = 0; h < dim; h++) out[b * dim + h] = x[(b * seqLen + t) * dim + h];
  }
  return out;
}

/** dx[b, len_b − 1, :] = dOut[b, :], zero elsewhere. */
export function gatherLastBackward(
  dOut: Float64Array,
  lengths: ArrayLike<number>,
  seqLen: number,
  dim: number,
): Float64Array {
  const B = lengths.length, dx = new Float64Array(B * seqLen * dim);
  for (let b = 0; b < B; b++) {
    const t = lastIndex(lengths[b], seqLen);
    for (let h = 0; h < dim; h++) dx[(b * seqLen + t) * dim + h] = dOut[b * dim + h];
  }
  return dx;
}
