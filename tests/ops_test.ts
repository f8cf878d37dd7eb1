import assert from "node:assert/strict";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import * as ew from "../lib/reference/elementwise.ts";
import * as lnr from "../lib/reference/layernorm.ts";
import * as embr from "../lib/reference/embedding.ts";
import * as lossr from "../lib/reference/loss.ts";
import * as rankr from "../lib/reference/rank.ts";
import { activation, add, addInPlace, dropout, gatherLast } from "../lib/nn/elementwise.ts";
import { layerNorm, type LayerNormTuning } from "../lib/nn/layernorm.ts";
import { embedding, type EmbeddingTuning } from "../lib/nn/embedding.ts";
import { bpr, crossEntropy } from "../lib/train/loss.ts";
import { metricsOp, packHistoryMask, rankOp } from "../lib/gpu/rank.ts";
import {
  checkGrad,
  checkRow,
  type GradRow,
  type Named,
  type OpRow,
  poisoned,
  randF32,
  randInt,
  stepTensor,
  upload,
} from "./op_table.ts";

// ---------------------------------------------------------------- element-wise

type Act = "silu" | "softplus" | "gelu";
const ACT_REF: Record<Act, [
  (x: Float64Array) => Float64Array,
  (x: Float64Array, dy: Float64Array) => Float64Array,
]> = {
  silu: [ew.siluForward, ew.siluBackward],
  softplus: [ew.softplusForward, ew.softplusBackward],
  gelu: [ew.geluForward, ew.geluBackward],
};

function activationRow(kind: Act): OpRow<number> {
  return {
    name: kind,
    shapes: [1, 257, 4099],
    // scale 8 reaches softplus's threshold and GELU's saturated tails
    make: (n, r) => ({ x: randF32(n, r, 8), dy: randF32(n, r) }),
    gpu: async (rt, n, i) => {
      const x = upload(rt, i.x), dy = upload(rt, i.dy);
      const y = poisoned(rt, [n]), dx = poisoned(rt, [n]);
      const b = await activation(rt, kind, { input: x, output: y, dOutput: dy, dInput: dx });
      rt.run([...b.forward, ...b.backward]);
      return { y: await rt.read(y), dx: await rt.read(dx) };
    },
    reference: (_n, i) => ({
      y: ACT_REF[kind][0](i.x as Float64Array),
      dx: ACT_REF[kind][1](i.x as Float64Array, i.dy as Float64Array),
    }),
    tol: { y: 2e-6, dx: 2e-6 },
  };
}

const addRow: OpRow<number> = {
  name: "add / addInPlace",
  shapes: [1, 1001],
  make: (n, r) => ({ a: randF32(n, r), b: randF32(n, r) }),
  gpu: async (rt, n, i) => {
    const a = upload(rt, i.a), b = upload(rt, i.b), c = poisoned(rt, [n]);
    rt.run([await add(rt, a, b, c), await addInPlace(rt, a, c)]);
    return { c: await rt.read(c), a2: await rt.read(a) };
  },
  reference: (_n, i) => {
    const c = ew.addForward(i.a as Float64Array, i.b as Float64Array);
    return { c, a2: ew.addForward(i.a as Float64Array, c) };
  },
  tol: { c: 1e-7, a2: 1e-7 },
};

interface DropShape {
  n: number;
  p: number;
  training: boolean;
}

const dropoutRow: OpRow<DropShape> = {
  name: "dropout (mask recomputed in backward)",
  shapes: [
    { n: 1000, p: 0.2, training: true },
    { n: 333, p: 0, training: true },
    { n: 517, p: 0.5, training: false },
    { n: 4097, p: 0.7, training: true },
  ],
  make: (s, r) => ({
    x: randF32(s.n, r),
    dy: randF32(s.n, r),
    seed: Uint32Array.of(Math.floor(r() * 2 ** 32)),
  }),
  gpu: async (rt, s, i) => {
    const x = upload(rt, i.x), dy = upload(rt, i.dy);
    const y = poisoned(rt, [s.n]), dx = poisoned(rt, [s.n]);
    const step = stepTensor(rt, i.seed[0], s.training);
    const d = await dropout({ rt, step }, {
      input: x,
      output: y,
      dOutput: dy,
      dInput: dx,
      p: s.p,
      salt: 5,
    });
    rt.run([...d.forward, ...d.backward]);
    return { y: await rt.read(y), dx: await rt.read(dx) };
  },
  reference: (s, i) => {
    const m = ew.dropoutScale(s.n, s.p, i.seed[0], 5, s.training);
    return { y: ew.mulForward(i.x as Float64Array, m), dx: ew.mulForward(i.dy as Float64Array, m) };
  },
  tol: { y: 1e-7, dx: 1e-7 },
};

// ---------------------------------------------------------------- layer norm

interface LnShape {
  rows: number;
  dim: number;
  residual: boolean;
  p: number;
  eps: number;
  /** With `residual`: dRes = dz + D·dA (`skipAdd`, D = the input `dk`). */
  skipAdd?: boolean;
}

function lnInputs(s: LnShape, r: () => number): Named {
  return {
    a: randF32(s.rows * s.dim, r, 2),
    res: randF32(s.rows * s.dim, r),
    gamma: randF32(s.dim, r, 0.5).map((v) => v + 1),
    beta: randF32(s.dim, r, 0.3),
    dy: randF32(s.rows * s.dim, r),
    g0: randF32(s.dim, r), // initial grad contents: the backward must ADD
    b0: randF32(s.dim, r),
    d0: randF32(s.dim, r), // gradSkip's initial contents
    seed: Uint32Array.of(Math.floor(r() * 2 ** 32)),
    dk: randF32(s.dim, r), // skipAdd's D
  };
}

const lnRow: OpRow<LnShape> = {
  name: "layerNorm (plain and fused dropout + residual)",
  shapes: [
    { rows: 3, dim: 64, residual: false, p: 0, eps: 1e-12 },
    { rows: 7, dim: 33, residual: false, p: 0, eps: 1e-5 },
    { rows: 5, dim: 200, residual: true, p: 0, eps: 1e-12 },
    { rows: 9, dim: 64, residual: true, p: 0.2, eps: 1e-12 },
    { rows: 4100, dim: 17, residual: true, p: 0.3, eps: 1e-12 }, // > 2,048 rows: several rows per part
    { rows: 9, dim: 64, residual: true, p: 0.2, eps: 1e-12, skipAdd: true },
    { rows: 6, dim: 33, residual: true, p: 0.2, eps: 1e-12, skipAdd: true },
  ],
  make: lnInputs,
  gpu: async (rt, s, i) => {
    const n = s.rows * s.dim;
    const step = stepTensor(rt, i.seed[0], true);
    const gradGamma = upload(rt, i.g0), gradBeta = upload(rt, i.b0);
    // with a residual, also S5's skip gradient Σ dA·res (added into gradSkip)
    const gradSkip = s.residual ? upload(rt, i.d0) : undefined;
    const out = poisoned(rt, [n]), dA = poisoned(rt, [n]), dRes = poisoned(rt, [n]);
    const b = await layerNorm({ rt, step }, {
      gamma: upload(rt, i.gamma),
      beta: upload(rt, i.beta),
      gradGamma,
      gradBeta,
      gradSkip,
      skipAdd: s.skipAdd ? upload(rt, i.dk) : undefined,
      input: upload(rt, i.a),
      residual: s.residual ? upload(rt, i.res) : undefined,
      output: out,
      dOutput: upload(rt, i.dy),
      dInput: dA,
      dResidual: s.residual ? dRes : undefined,
      dropout: s.p ? { p: s.p, salt: 11 } : undefined,
      rows: s.rows,
      dim: s.dim,
      eps: s.eps,
    });
    rt.run([...b.forward, ...b.backward]);
    const o: Record<string, ArrayLike<number>> = {
      y: await rt.read(out),
      dA: await rt.read(dA),
      gradGamma: await rt.read(gradGamma),
      gradBeta: await rt.read(gradBeta),
    };
    if (s.residual) o.dRes = await rt.read(dRes);
    if (gradSkip) o.gradSkip = await rt.read(gradSkip);
    return o;
  },
  reference: (s, i) => {
    const mask = ew.dropoutScale(s.rows * s.dim, s.p, i.seed[0], 11, true);
    const res = s.residual ? i.res as Float64Array : null;
    const y = lnr.addNormForward(
      i.a as Float64Array,
      res,
      mask,
      i.gamma as Float64Array,
      i.beta as Float64Array,
      s.rows,
      s.dim,
      s.eps,
    );
    const g = lnr.addNormBackward(
      i.a as Float64Array,
      res,
      mask,
      i.gamma as Float64Array,
      i.dy as Float64Array,
      s.rows,
      s.dim,
      s.eps,
    );
    const o: Record<string, ArrayLike<number>> = {
      y,
      dA: g.dA,
      gradGamma: ew.addForward(i.g0 as Float64Array, g.dgamma),
      gradBeta: ew.addForward(i.b0 as Float64Array, g.dbeta),
    };
    if (s.residual) {
      o.dRes = s.skipAdd
        ? g.dRes.map((v, k) => v + (i.dk as Float64Array)[k % s.dim] * g.dA[k])
        : g.dRes;
      // Σ_rows dA·res per column, added to its initial contents
      const d = Float64Array.from(i.d0);
      for (let r = 0; r < s.rows; r++) {
        for (let c = 0; c < s.dim; c++) d[c] += g.dA[r * s.dim + c] * res![r * s.dim + c];
      }
      o.gradSkip = d;
    }
    return o;
  },
  tol: { y: 5e-6, dA: 2e-5, dRes: 2e-5, gradGamma: 2e-5, gradBeta: 2e-5, gradSkip: 5e-5 },
};

const lnTwiceRow: OpRow<{ rows: number; dim: number }> = {
  name: "layerNorm used twice accumulates gamma/beta grads",
  shapes: [{ rows: 6, dim: 64 }, { rows: 11, dim: 31 }],
  make: (s, r) => ({
    ...lnInputs({ ...s, residual: true, p: 0, eps: 1e-12 }, r),
    x2: randF32(s.rows * s.dim, r),
    dy2: randF32(s.rows * s.dim, r),
  }),
  gpu: async (rt, s, i) => {
    const n = s.rows * s.dim;
    const step = stepTensor(rt, 1, false);
    const gamma = upload(rt, i.gamma), beta = upload(rt, i.beta);
    const gradGamma = upload(rt, i.g0), gradBeta = upload(rt, i.b0);
    const cmds = [];
    for (const [x, dy] of [[i.a, i.dy], [i.x2, i.dy2]]) {
      const b = await layerNorm({ rt, step }, {
        gamma,
        beta,
        gradGamma,
        gradBeta,
        input: upload(rt, x),
        residual: upload(rt, i.res),
        output: poisoned(rt, [n]),
        dOutput: upload(rt, dy),
        dInput: poisoned(rt, [n]),
        dResidual: poisoned(rt, [n]),
        rows: s.rows,
        dim: s.dim,
        eps: 1e-12,
      });
      cmds.push(...b.forward, ...b.backward);
    }
    rt.run(cmds);
    return { gradGamma: await rt.read(gradGamma), gradBeta: await rt.read(gradBeta) };
  },
  reference: (s, i) => {
    let gg = i.g0 as Float64Array, gb = i.b0 as Float64Array;
    for (const [x, dy] of [[i.a, i.dy], [i.x2, i.dy2]] as Float64Array[][]) {
      const g = lnr.addNormBackward(
        x,
        i.res as Float64Array,
        new Float64Array(x.length).fill(1),
        i.gamma as Float64Array,
        dy,
        s.rows,
        s.dim,
        1e-12,
      );
      gg = ew.addForward(gg, g.dgamma);
      gb = ew.addForward(gb, g.dbeta);
    }
    return { gradGamma: gg, gradBeta: gb };
  },
  tol: { gradGamma: 2e-5, gradBeta: 2e-5 },
};

// Every kernel variant regardless of the adapter's defaults: lanes per row, vec4 or scalar, row
// groups per backward workgroup (several, and a last part with rows past the end).
const lnTunedRow: OpRow<LnShape & LayerNormTuning> = {
  ...lnRow,
  name: "layerNorm kernel variants (lanes, vec4, groups per part)",
  shapes: [
    { rows: 1000, dim: 64, residual: true, p: 0.2, eps: 1e-12, lanes: 16, vec4: true },
    { rows: 999, dim: 64, residual: true, p: 0.2, eps: 1e-12, lanes: 16, groupsPerPart: 3 },
    { rows: 1001, dim: 64, residual: true, p: 0.1, eps: 1e-12, lanes: 4, groupsPerPart: 2 },
    { rows: 301, dim: 64, residual: false, p: 0.3, eps: 1e-5, lanes: 1, vec4: true },
    { rows: 130, dim: 64, residual: true, p: 0.2, eps: 1e-12, lanes: 32, vec4: false },
    { rows: 77, dim: 128, residual: true, p: 0.2, eps: 1e-12, lanes: 8, groupsPerPart: 2 },
    { rows: 40, dim: 512, residual: true, p: 0.2, eps: 1e-12, lanes: 32 },
    { rows: 50, dim: 36, residual: true, p: 0.2, eps: 1e-12, lanes: 2, vec4: true },
    { rows: 60, dim: 200, residual: true, p: 0.2, eps: 1e-12, lanes: 16, vec4: false },
  ],
  gpu: async (rt, s, i) => {
    const n = s.rows * s.dim;
    const step = stepTensor(rt, i.seed[0], true);
    const gradGamma = upload(rt, i.g0), gradBeta = upload(rt, i.b0);
    // with a residual, also S5's skip gradient Σ dA·res (added into gradSkip)
    const gradSkip = s.residual ? upload(rt, i.d0) : undefined;
    const out = poisoned(rt, [n]), dA = poisoned(rt, [n]), dRes = poisoned(rt, [n]);
    const b = await layerNorm({ rt, step }, {
      gamma: upload(rt, i.gamma),
      beta: upload(rt, i.beta),
      gradGamma,
      gradBeta,
      gradSkip,
      input: upload(rt, i.a),
      residual: s.residual ? upload(rt, i.res) : undefined,
      output: out,
      dOutput: upload(rt, i.dy),
      dInput: dA,
      dResidual: s.residual ? dRes : undefined,
      dropout: s.p ? { p: s.p, salt: 11 } : undefined,
      rows: s.rows,
      dim: s.dim,
      eps: s.eps,
      lanes: s.lanes,
      vec4: s.vec4,
      groupsPerPart: s.groupsPerPart,
    });
    rt.run([...b.forward, ...b.backward]);
    const o: Record<string, ArrayLike<number>> = {
      y: await rt.read(out),
      dA: await rt.read(dA),
      gradGamma: await rt.read(gradGamma),
      gradBeta: await rt.read(gradBeta),
    };
    if (s.residual) o.dRes = await rt.read(dRes);
    if (gradSkip) o.gradSkip = await rt.read(gradSkip);
    return o;
  },
};

// ---------------------------------------------------------------- embedding, gather-last

interface EmbShape {
  n: number;
  vocab: number;
  dim: number;
}

const embRow: OpRow<EmbShape> = {
  name: "embedding gather + deterministic scatter-add (padding 0)",
  shapes: [
    { n: 37, vocab: 11, dim: 8 },
    { n: 600, vocab: 50, dim: 64 },
    { n: 1000, vocab: 5, dim: 3 }, // heavy duplicates: long segments
    { n: 300, vocab: 3417, dim: 70 }, // dim > 64: two column blocks
  ],
  make: (s, r) => {
    const ids = randInt(s.n, r, 0, s.vocab);
    for (let k = 0; k < s.n; k += 7) ids[k] = 0; // padding positions
    return {
      ids,
      table: randF32(s.vocab * s.dim, r),
      dOut: randF32(s.n * s.dim, r),
      g0: randF32(s.vocab * s.dim, r),
    };
  },
  gpu: async (rt, s, i) => {
    const out = poisoned(rt, [s.n, s.dim]);
    const gradTable = upload(rt, i.g0);
    const b = await embedding(rt, {
      table: upload(rt, i.table),
      gradTable,
      ids: upload(rt, i.ids),
      output: out,
      dOutput: upload(rt, i.dOut),
      tokens: s.n,
      dim: s.dim,
      vocab: s.vocab,
    });
    rt.run([...b.forward, ...b.backward]);
    const first = await rt.read(gradTable);
    // a second step from the same state must add exactly the same bits (deterministic sums and
    // the counts reset by the scan)
    rt.run(b.backward);
    const second = await rt.read(gradTable);
    const again = first.map((v, k) => second[k] - v);
    const firstDelta = first.map((v, k) => v - (i.g0 as Float64Array)[k]);
    return { out: await rt.read(out), dTable: first, secondDelta: again, firstDelta };
  },
  reference: (s, i) => {
    const d = embr.embeddingBackward(i.ids, i.dOut as Float64Array, s.vocab, s.dim);
    return {
      out: embr.embeddingForward(i.ids, i.table as Float64Array, s.vocab, s.dim),
      dTable: ew.addForward(i.g0 as Float64Array, d),
      secondDelta: d,
      firstDelta: d,
    };
  },
  tol: { out: 0, dTable: 1e-6, secondDelta: 2e-5, firstDelta: 2e-5 },
};

// The counting sort over several blocks and segments cut into several chunks, with a hot id owning
// most tokens; the backward must give the same bits when run again on the same gradient.
const embTunedRow: OpRow<EmbShape & EmbeddingTuning & { hot: number }> = {
  name: "embedding backward: blocks, chunks, a hot id, bitwise reruns",
  shapes: [
    { n: 3000, vocab: 40, dim: 8, blockTokens: 256, chunk: 16, hot: 0.9 },
    { n: 2049, vocab: 3417, dim: 64, blockTokens: 512, chunk: 7, hot: 0.3 },
    { n: 700, vocab: 6, dim: 33, blockTokens: 256, chunk: 1, hot: 0 },
    { n: 5000, vocab: 100, dim: 16, hot: 0.99 },
  ],
  make: (s, r) => {
    const ids = randInt(s.n, r, 0, s.vocab + 2); // some ids past the vocab: no gradient
    for (let k = 0; k < s.n; k++) if (r() < s.hot) ids[k] = 3;
    for (let k = 0; k < s.n; k += 11) ids[k] = 0;
    return { ids, dOut: randF32(s.n * s.dim, r), g0: randF32(s.vocab * s.dim, r) };
  },
  gpu: async (rt, s, i) => {
    const gradTable = upload(rt, i.g0);
    const b = await embedding(rt, {
      table: rt.tensor([s.vocab, s.dim]),
      gradTable,
      ids: upload(rt, i.ids),
      output: poisoned(rt, [s.n, s.dim]),
      dOutput: upload(rt, i.dOut),
      tokens: s.n,
      dim: s.dim,
      vocab: s.vocab,
      blockTokens: s.blockTokens,
      chunk: s.chunk,
    });
    rt.run(b.backward);
    const first = await rt.read(gradTable);
    rt.write(gradTable, i.g0);
    rt.run(b.backward);
    const again = await rt.read(gradTable);
    assert.ok(first.every((v, k) => Object.is(v, again[k])), "rerun changed bits");
    return { dTable: first };
  },
  reference: (s, i) => ({
    dTable: ew.addForward(
      i.g0 as Float64Array,
      embr.embeddingBackward(i.ids, i.dOut as Float64Array, s.vocab, s.dim),
    ),
  }),
  tol: { dTable: 2e-6 },
};

interface GlShape {
  batch: number;
  seqLen: number;
  dim: number;
}

const gatherLastRow: OpRow<GlShape> = {
  name: "gatherLast",
  // dims that are multiples of 4 take the vec4 backward, 5 the scalar one
  shapes: [{ batch: 3, seqLen: 5, dim: 4 }, { batch: 7, seqLen: 16, dim: 64 }, {
    batch: 4,
    seqLen: 6,
    dim: 5,
  }],
  make: (s, r) => {
    const lengths = randInt(s.batch, r, 1, s.seqLen + 1);
    lengths[0] = s.seqLen;
    lengths[s.batch - 1] = 1;
    return {
      lengths,
      x: randF32(s.batch * s.seqLen * s.dim, r),
      dOut: randF32(s.batch * s.dim, r),
    };
  },
  gpu: async (rt, s, i) => {
    const out = poisoned(rt, [s.batch, s.dim]);
    const dx = poisoned(rt, [s.batch, s.seqLen, s.dim]);
    const b = await gatherLast(rt, {
      input: upload(rt, i.x),
      lengths: upload(rt, i.lengths),
      output: out,
      dOutput: upload(rt, i.dOut),
      dInput: dx,
      ...s,
    });
    rt.run([...b.forward, ...b.backward]);
    return { out: await rt.read(out), dx: await rt.read(dx) };
  },
  reference: (s, i) => ({
    out: embr.gatherLastForward(i.x as Float64Array, i.lengths, s.seqLen, s.dim),
    dx: embr.gatherLastBackward(i.dOut as Float64Array, i.lengths, s.seqLen, s.dim),
  }),
  tol: { out: 0, dx: 0 },
};

// ---------------------------------------------------------------- losses

interface LossShape {
  rows: number;
  vocab: number;
}

function lossInputs(s: LossShape, r: () => number): Named {
  const targets = randInt(s.rows, r, 1, s.vocab);
  targets[s.rows - 1] = 0; // a padding row
  return {
    logits: randF32(s.rows * s.vocab, r, 3),
    targets,
    acc0: Float64Array.of(1.5, 2),
    seed: Uint32Array.of(Math.floor(r() * 2 ** 32)),
  };
}

const LOSS_SHAPES: LossShape[] = [{ rows: 4, vocab: 10 }, { rows: 5, vocab: 257 }, {
  rows: 9,
  vocab: 3417,
}];

const ceRow: OpRow<LossShape> = {
  name: "softmax cross-entropy",
  shapes: LOSS_SHAPES,
  make: lossInputs,
  gpu: async (rt, s, i) => {
    const dLogits = poisoned(rt, [s.rows, s.vocab]);
    const accumulator = upload(rt, i.acc0);
    const b = await crossEntropy(rt, {
      logits: upload(rt, i.logits),
      targets: upload(rt, i.targets),
      dLogits,
      rows: s.rows,
      vocab: s.vocab,
      accumulator,
    });
    rt.run([...b.forward, ...b.backward]);
    return {
      loss: await rt.read(b.loss),
      stats: await rt.read(b.stats),
      acc: await rt.read(accumulator),
      dLogits: await rt.read(dLogits),
    };
  },
  reference: (s, i) => {
    const f = lossr.crossEntropyForward(i.logits as Float64Array, i.targets, s.vocab);
    return {
      loss: f.loss,
      stats: [f.mean, f.count],
      acc: [1.5 + f.mean * f.count, 2 + f.count],
      dLogits: lossr.crossEntropyBackward(i.logits as Float64Array, i.targets, s.vocab),
    };
  },
  tol: { loss: 2e-6, stats: 2e-6, acc: 2e-6, dLogits: 5e-6 },
};

// The separate forward/backward path, and vocabs past the 4,096 logits cached in registers.
const ceVariantsRow: OpRow<LossShape & { fused: boolean }> = {
  ...ceRow,
  name: "softmax cross-entropy: separate backward, long rows",
  shapes: [
    { rows: 5, vocab: 257, fused: false },
    { rows: 7, vocab: 3417, fused: false },
    { rows: 3, vocab: 9001, fused: true },
    { rows: 2, vocab: 4097, fused: true },
    { rows: 4, vocab: 9001, fused: false },
  ],
  gpu: async (rt, s, i) => {
    const dLogits = poisoned(rt, [s.rows, s.vocab]);
    const accumulator = upload(rt, i.acc0);
    const b = await crossEntropy(rt, {
      logits: upload(rt, i.logits),
      targets: upload(rt, i.targets),
      dLogits,
      rows: s.rows,
      vocab: s.vocab,
      accumulator,
      fused: s.fused,
    });
    rt.run([...b.forward, ...b.backward]);
    return {
      loss: await rt.read(b.loss),
      stats: await rt.read(b.stats),
      acc: await rt.read(accumulator),
      dLogits: await rt.read(dLogits),
    };
  },
};

const bprRow: OpRow<LossShape> = {
  name: "BPR with a GPU-sampled negative",
  shapes: LOSS_SHAPES,
  make: lossInputs,
  gpu: async (rt, s, i) => {
    const dLogits = poisoned(rt, [s.rows, s.vocab]);
    const accumulator = upload(rt, i.acc0);
    const step = stepTensor(rt, i.seed[0], true);
    const b = await bpr({ rt, step }, {
      logits: upload(rt, i.logits),
      targets: upload(rt, i.targets),
      dLogits,
      rows: s.rows,
      vocab: s.vocab,
      accumulator,
      salt: 3,
    });
    rt.run([...b.forward, ...b.backward]);
    return {
      negatives: await rt.read(b.negatives),
      loss: await rt.read(b.loss),
      stats: await rt.read(b.stats),
      acc: await rt.read(accumulator),
      dLogits: await rt.read(dLogits),
    };
  },
  reference: (s, i) => {
    const neg = lossr.bprNegatives(i.targets, s.vocab, i.seed[0], 3);
    const f = lossr.bprForward(i.logits as Float64Array, i.targets, neg, s.vocab);
    return {
      negatives: neg,
      loss: f.loss,
      stats: [f.mean, f.count],
      acc: [1.5 + f.mean * f.count, 2 + f.count],
      dLogits: lossr.bprBackward(i.logits as Float64Array, i.targets, neg, s.vocab),
    };
  },
  tol: { negatives: 0, loss: 2e-6, stats: 2e-6, acc: 2e-6, dLogits: 2e-6 },
};

// ---------------------------------------------------------------- ranking

interface RankShape {
  rows: number;
  vocab: number;
  mask: boolean;
}

const rankRow: OpRow<RankShape> = {
  name: "rank + HR/NDCG/MRR sums",
  shapes: [
    { rows: 5, vocab: 10, mask: false },
    { rows: 33, vocab: 3417, mask: true },
    { rows: 7, vocab: 300, mask: false },
  ],
  make: (s, r) => {
    // coarse scores: ties are frequent, so the tie rule is exercised
    const scores = randF32(s.rows * s.vocab, r, 2).map((v) => Math.round(v * 4) / 4);
    const targets = randInt(s.rows, r, 1, s.vocab);
    targets[s.rows - 1] = 0;
    // a near-best target in row 0 so small ranks (inside @5) occur
    scores[targets[0]] = 20;
    scores[0] = 100; // padding column never counts
    const hist = Array.from({ length: s.rows }, () => randInt(5, r, 0, s.vocab));
    return { scores, targets, mask: packHistoryMask(hist, s.vocab) };
  },
  gpu: async (rt, s, i) => {
    const ranks = poisoned(rt, [s.rows], "u32");
    const acc = upload(rt, Float64Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10));
    const rank = await rankOp(rt, {
      scores: upload(rt, i.scores),
      targets: upload(rt, i.targets),
      ranks,
      rows: s.rows,
      vocab: s.vocab,
      historyMask: s.mask ? upload(rt, i.mask) : undefined,
    });
    rt.run([rank, await metricsOp(rt, { ranks, accumulator: acc, rows: s.rows })]);
    return { ranks: await rt.read(ranks), sums: await rt.read(acc) };
  },
  reference: (s, i) => {
    const w = Math.ceil(s.vocab / 32), m = i.mask;
    const masked = s.mask
      ? (b: number, j: number) => ((m[b * w + (j >>> 5)] >>> (j & 31)) & 1) === 1
      : undefined;
    const ranks = rankr.rankReference(i.scores, i.targets, s.vocab, masked);
    return { ranks, sums: rankr.metricSums(ranks).map((v, k) => v + k + 1) };
  },
  tol: { ranks: 0, sums: 1e-6 },
};

// ---------------------------------------------------------------- gradchecks of the references

const GRAD_ROWS: GradRow[] = [
  ...(["silu", "softplus", "gelu"] as Act[]).map((k) => ({
    name: k,
    forward: (x: Float64Array[]) => ACT_REF[k][0](x[0]),
    backward: (x: Float64Array[], d: Float64Array) => [ACT_REF[k][1](x[0], d)],
    inputs: (r: () => number) => [randF32(40, r, 4)],
    floor: 1e-3,
  })),
  {
    name: "addNorm (dropout mask, residual, gamma, beta)",
    forward: ([a, res, g, b]) =>
      lnr.addNormForward(a, res, ew.dropoutScale(a.length, 0.3, 9, 1, true), g, b, 3, 7, 1e-12),
    backward: ([a, res, g], d) => {
      const r = lnr.addNormBackward(
        a,
        res,
        ew.dropoutScale(a.length, 0.3, 9, 1, true),
        g,
        d,
        3,
        7,
        1e-12,
      );
      return [r.dA, r.dRes, r.dgamma, r.dbeta];
    },
    inputs: (r) => [randF32(21, r), randF32(21, r), randF32(7, r), randF32(7, r)],
  },
  {
    // ids free of 0: there the padding_idx gradient is the true derivative
    name: "embedding (table)",
    forward: ([t]) => embr.embeddingForward([1, 2, 3, 2, 4, 4, 4], t, 5, 3),
    backward: (_x, d) => [embr.embeddingBackward([1, 2, 3, 2, 4, 4, 4], d, 5, 3)],
    inputs: (r) => [randF32(15, r)],
  },
  {
    name: "gatherLast",
    forward: ([x]) => embr.gatherLastForward(x, [2, 1, 3], 3, 2),
    backward: (_x, d) => [embr.gatherLastBackward(d, [2, 1, 3], 3, 2)],
    inputs: (r) => [randF32(18, r)],
  },
  {
    name: "cross-entropy mean",
    forward: ([l]) => Float64Array.of(lossr.crossEntropyForward(l, [3, 0, 1, 4], 5).mean),
    backward: ([l], d) => [lossr.crossEntropyBackward(l, [3, 0, 1, 4], 5, d[0])],
    inputs: (r) => [randF32(20, r, 2)],
  },
  {
    name: "BPR mean",
    forward: ([l]) => Float64Array.of(lossr.bprForward(l, [3, 0, 1, 4], [1, 0, 2, 3], 5).mean),
    backward: ([l], d) => [lossr.bprBackward(l, [3, 0, 1, 4], [1, 0, 2, 3], 5, d[0])],
    inputs: (r) => [randF32(20, r, 2)],
  },
];

const ROWS = [
  activationRow("silu"),
  activationRow("softplus"),
  activationRow("gelu"),
  addRow,
  dropoutRow,
  lnRow,
  lnTwiceRow,
  lnTunedRow,
  embRow,
  embTunedRow,
  gatherLastRow,
  ceRow,
  ceVariantsRow,
  bprRow,
  rankRow,
] as OpRow<unknown>[];

for (const row of ROWS) {
  Deno.test(`ops: ${row.name}`, async () => {
    const rt = new Runtime(await getGpu());
    const res = await checkRow(rt, row);
    const worst = Math.max(...res.map((r) => r.err));
    console.log(
      `  ${row.name}: ${res.length} comparisons, worst rel err ${worst.toExponential(2)}`,
    );
  });
}

Deno.test("ops: gradcheck of every reference backward", () => {
  for (const row of GRAD_ROWS) {
    const res = checkGrad(row);
    console.log(
      `  ${row.name}: worst ${Math.max(...res.map((r) => r.maxRelError)).toExponential(2)}`,
    );
  }
});

Deno.test("ops: dropout keep-rate and salts are independent", async () => {
  const rt = new Runtime(await getGpu());
  const n = 200_000, p = 0.2;
  const x = upload(rt, new Float64Array(n).fill(1));
  const step = stepTensor(rt, 2020, true);
  const y1 = poisoned(rt, [n]), y2 = poisoned(rt, [n]);
  const d1 = await dropout({ rt, step }, { input: x, output: y1, p, salt: 1 });
  const d2 = await dropout({ rt, step }, { input: x, output: y2, p, salt: 2 });
  rt.run([...d1.forward, ...d2.forward]);
  const a = await rt.read(y1), b = await rt.read(y2);
  let keep = 0, both = 0;
  for (let i = 0; i < n; i++) {
    keep += a[i] !== 0 ? 1 : 0;
    both += a[i] !== 0 && b[i] !== 0 ? 1 : 0;
  }
  // binomial std of the keep fraction is sqrt(p(1-p)/n) ≈ 9e-4: 5 sigma bounds
  const sd = Math.sqrt(p * (1 - p) / n);
  assert.ok(Math.abs(keep / n - (1 - p)) < 5 * sd, `keep rate ${keep / n}`);
  assert.ok(Math.abs(both / n - (1 - p) ** 2) < 5 * sd, `joint keep ${both / n}`);
  assert.ok(Math.abs(a[0] - 1 / (1 - p)) < 1e-6 || a[0] === 0);
});

Deno.test("ops: rank counts ties and NaN against the target", async () => {
  const rt = new Runtime(await getGpu());
  const V = 6;
  // row 0: all equal -> rank V-1 (5 candidates 1..5, target among them -> 1 + 4)
  // row 1: NaN target -> last; row 2: target best, column 0 huge -> 1
  const scores = [1, 1, 1, 1, 1, 1, 0, 1, NaN, 2, 3, 4, 99, 5, 1, 2, 3, 4];
  const targets = Int32Array.of(3, 2, 1);
  const ranks = poisoned(rt, [3], "u32");
  rt.run([
    await rankOp(rt, {
      scores: rt.tensor([3, V], "f32", scores),
      targets: upload(rt, targets),
      ranks,
      rows: 3,
      vocab: V,
    }),
  ]);
  assert.deepEqual(Array.from(await rt.read(ranks)), [5, 5, 1]);
  assert.deepEqual(Array.from(rankr.rankReference(scores, targets, V)), [5, 5, 1]);
});
