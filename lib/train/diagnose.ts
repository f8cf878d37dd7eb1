/**
 * diagnose-gradients: are the gradients right, and do they stay healthy in real training?
 *
 * 1. {@linkcode modelGradcheck}: a small instance of the configured SS4Rec; every parameter
 *    tensor's GPU gradient against central finite differences of the float64 reference loss.
 * 2. {@linkcode gradientHealth}: N real training steps; every K steps the GPU computes per-tensor
 *    gradient norms, max |activation| per layer output and a NaN/Inf detector (first offending
 *    tensor in forward order), read back once per K steps (GPU.md rule 1); the host adds
 *    update/weight ratios and the S5/Mamba quantities that blow up first.
 * 3. {@linkcode verdict}: exploding / vanishing / non-finite / dead / S5-unstable flags, each with
 *    the likely cause in words and a suggested config change.
 *
 * @module
 */

import type { Config } from "../config.ts";
import { makeBatch, makeSequenceBatch, sequenceWindows } from "../data/batch.ts";
import type { SequentialDataset } from "../data/dataset.ts";
import { epochPermutation } from "../data/shuffle.ts";
import { TensorStats } from "../gpu/reduce.ts";
import type { Runtime } from "../gpu/runtime.ts";
import { ss4recOptions } from "../models/factory.ts";
import { SS4Rec } from "../models/ss4rec.ts";
import { randn, rng } from "../reference/gradcheck.ts";
import { ss4recLossRef } from "../reference/ss4rec.ts";
import {
  MAMBA_PARAM_NAMES,
  type MambaDims,
  mambaForward,
  type MambaParams,
} from "../reference/mamba.ts";
import { s5Forward } from "../reference/s5.ts";
import { MambaLayer } from "../nn/mamba.ts";
import { ParamStore } from "../nn/params.ts";
import { S5Layer } from "../nn/s5.ts";
import { modelOptimizer } from "./adam.ts";

/** One row of the end-to-end gradient check. */
export interface GradcheckRow {
  tensor: string;
  /** ‖g − fd‖ / ‖fd‖ over the checked entries. */
  relError: number;
  /** Finite-difference noise bound used for tiny gradients. */
  noise: number;
  worst: { index: number; analytic: number; numeric: number };
  pass: boolean;
  note?: string;
}

/** Parameters the official forward never uses (their gradient is zero by design). */
export const UNUSED_PARAMS = new Set(["LayerNorm.weight", "LayerNorm.bias"]);

/** The layer a parameter belongs to, for per-layer summaries. */
export function layerOf(name: string): string {
  if (name.startsWith("item_embedding")) return "embedding";
  if (UNUSED_PARAMS.has(name)) return "unused LayerNorm";
  const m = /^model\.(\d+)\.(S5|S6|LayerNorm)/.exec(name);
  if (!m) return name;
  return `block${m[1]}.${m[2] === "S6" ? "Mamba" : m[2]}`;
}

/** The layer that produced a tracked tensor (`activation block1.s5_out`, `grad model.0.S6.D`). */
export function layerOfTensor(tracked: string): string {
  const [kind, name] = tracked.split(" ");
  if (kind === "grad") return layerOf(name);
  const m = /^block(\d+)\.(\w+)$/.exec(name ?? "");
  if (m) {
    const sub = m[2] === "s5_out" ? "S5" : m[2] === "mamba_out" ? "Mamba" : "LayerNorm";
    return `block${m[1]}.${sub}`;
  }
  return name === "item_emb" ? "embedding" : "head";
}

/** A synthetic prefix batch with the gap mixture of real data (ties, seconds, hours, days). */
function syntheticBatch(V: number, B: number, L: number, seed: number) {
  const rand = rng(seed);
  const itemSeq = new Int32Array(B * L), seqLen = new Int32Array(B);
  const timeGaps = new Float32Array(B * L), target = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    seqLen[b] = b === 0 ? L : 1 + Math.floor(rand() * L);
    target[b] = 1 + Math.floor(rand() * (V - 1));
    for (let t = 0; t < seqLen[b]; t++) {
      itemSeq[b * L + t] = 1 + Math.floor(rand() * (V - 1));
      const kind = rand();
      timeGaps[b * L + t] = kind < 0.25
        ? 0
        : kind < 0.5
        ? Math.ceil(rand() * 9)
        : kind < 0.75
        ? Math.round(60 + rand() * 21600)
        : Math.round(86400 * Math.exp(rand() * Math.log(300)));
    }
  }
  return {
    size: B,
    count: B,
    maxLen: L,
    itemSeq,
    seqLen,
    timeGaps,
    target,
    user: new Int32Array(B),
  };
}

/**
 * An analytic gradient `g` of a scalar loss against central finite differences in float64: the
 * largest-|g| entry plus random ones are perturbed in `x` (the float64 parameters the `loss`
 * closure reads). Passes within 1% relative, or within the finite-difference noise for gradients
 * too small to resolve.
 */
function compareWithFiniteDifferences(
  g: Float32Array,
  x: Float64Array,
  loss: () => number,
  o: { samples: number; rand: () => number; lossScale: number },
): Omit<GradcheckRow, "tensor"> {
  let best = 0;
  for (let i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[best])) best = i;
  const idx = [best];
  while (idx.length < Math.min(o.samples, g.length)) idx.push(Math.floor(o.rand() * g.length));
  let num = 0, den = 0, noise = 0;
  let worst = { index: best, analytic: g[best], numeric: 0, err: -1 };
  for (const i of idx) {
    const orig = x[i], h = 1e-5 * Math.max(1, Math.abs(orig));
    x[i] = orig + h;
    const lp = loss();
    x[i] = orig - h;
    const lm = loss();
    x[i] = orig;
    const fd = (lp - lm) / (2 * h);
    noise = Math.max(noise, (4 * Number.EPSILON * o.lossScale) / h);
    num += (g[i] - fd) ** 2;
    den += fd * fd;
    const err = Math.abs(g[i] - fd);
    if (err > worst.err) worst = { index: i, analytic: g[i], numeric: fd, err };
  }
  const abs = Math.sqrt(num), rel = den > 0 ? abs / Math.sqrt(den) : abs;
  return {
    relError: rel,
    noise,
    worst: { index: worst.index, analytic: worst.analytic, numeric: worst.numeric },
    pass: Number.isFinite(abs) && (rel <= 1e-2 || abs <= 10 * noise * Math.sqrt(idx.length)),
  };
}

/**
 * Gradient check of the configured SS4Rec at a small size (V items, B rows, L steps): the WGSL
 * backward against central differences of the float64 reference, `samples` entries per tensor
 * (always including the largest |gradient|).
 */
export async function modelGradcheck(
  rt: Runtime,
  cfg: Config,
  options: { numItems?: number; batch?: number; maxLen?: number; samples?: number; seed?: number } =
    {},
): Promise<GradcheckRow[]> {
  const V = options.numItems ?? 40, B = options.batch ?? 3, L = options.maxLen ?? 6;
  const samples = options.samples ?? 4, seed = options.seed ?? cfg.seed;
  const mo = ss4recOptions(cfg, V);
  const model = new SS4Rec(rt, mo);
  model.store.initialise(seed);
  const graph = await model.buildTrain({ batch: B, maxLen: L, mode: "prefix" });
  const batch = syntheticBatch(V, B, L, seed + 1);
  graph.upload(batch);
  rt.write(model.step, [1, seed, 0, 0]); // training flag 0: no dropout, as the reference
  rt.run(graph.commands);
  const grads = await model.store.export("grads");
  const params = new Map<string, Float64Array>();
  for (const [k, v] of await model.store.export("params")) {
    params.set(k, Float64Array.from(v.data as Float32Array));
  }
  const refOpts = {
    numItems: V,
    hidden: mo.hiddenSize,
    layers: mo.numLayers,
    dP: mo.dP,
    dState: mo.dState,
    dConv: mo.dConv,
    expand: mo.expand,
    modelType: mo.modelType,
    clipEigs: mo.s5ClipEigs,
  };
  const refBatch = { ...batch, batch: B, maxLen: L };
  const loss0 = ss4recLossRef(params, refBatch, refOpts);
  const rand = rng(seed + 2);
  const rows: GradcheckRow[] = [];
  for (const [name, gt] of grads) {
    const g = gt.data as Float32Array;
    const x = params.get(name)!;
    if (UNUSED_PARAMS.has(name)) {
      const zero = g.every((v) => v === 0);
      rows.push({
        tensor: name,
        relError: zero ? 0 : Infinity,
        noise: 0,
        worst: { index: 0, analytic: g[0], numeric: 0 },
        pass: zero,
        note: "unused by the official forward: gradient must be exactly 0",
      });
      continue;
    }
    rows.push({
      tensor: name,
      ...compareWithFiniteDifferences(g, x, () => ss4recLossRef(params, refBatch, refOpts), {
        samples,
        rand,
        lossScale: Math.abs(loss0),
      }),
    });
  }
  return rows;
}

/** What {@linkcode gradientHealth} records at each sampled step. */
export interface HealthSample {
  step: number;
  loss: number;
  gradNorm: number;
  /** Per parameter tensor: gradient norm, weight norm, mean update/weight ratio per step. */
  tensors: Record<string, { grad: number; weight: number; updateRatio: number }>;
  /** Per layer: gradient norm (root of the sum over its tensors). */
  layers: Record<string, number>;
  /** Max |x| per activation (layer output), forward order. */
  activations: Record<string, number>;
  /** Per S5 layer: max Re(Λ) (after the clamp when on), min |Λ|, max |Λ·s| over this batch. */
  s5: { maxReLambda: number; minAbsLambda: number; maxLambdaS: number }[];
  /** Per Mamba layer: an upper bound of max Δ·|A| over this batch. */
  mamba: { maxDtA: number }[];
  /** First non-finite tensor in forward order (activations, then gradients), if any. */
  bad: { tensor: string; element: number; regions: number } | null;
  /** Largest time gap in the batch (seconds). */
  maxGap: number;
}

/** Ways to reproduce the seed project's failure on purpose. */
export interface Injection {
  /** Set Re(Λ) of this S5 layer to +0.5 (index; -1 = last layer). */
  lambdaPositive?: number;
  /** Multiply every time gap by this factor. */
  gapScale?: number;
}

/** Runs `steps` training steps of the configured SS4Rec and samples its health every `every`. */
export async function gradientHealth(
  rt: Runtime,
  cfg: Config,
  ds: SequentialDataset,
  options: {
    steps: number;
    every: number;
    batch?: number;
    maxLen?: number;
    inject?: Injection;
    /** Start from these parameters (a run's checkpoint) instead of the initialisation. */
    load?: (model: SS4Rec) => void;
    onSample?: (s: HealthSample) => void;
  },
): Promise<HealthSample[]> {
  const B = options.batch ?? cfg.train_batch_size, L = options.maxLen ?? cfg.MAX_ITEM_LIST_LENGTH;
  const mo = ss4recOptions(cfg, ds.numItems);
  const model = new SS4Rec(rt, mo);
  model.store.initialise(cfg.seed);
  options.load?.(model);
  const inj = options.inject ?? {};
  if (inj.lambdaPositive !== undefined) {
    const layer = inj.lambdaPositive < 0 ? mo.numLayers + inj.lambdaPositive : inj.lambdaPositive;
    const name = `model.${layer}.S5.seq.Lambda`;
    const lam = (await model.store.export("params")).get(name)!.data as Float32Array;
    for (let p = 0; p < lam.length; p += 2) lam[p] = 0.5;
    rt.write(model.store.param(name), lam);
  }
  const mode = cfg.train_mode;
  const graph = await model.buildTrain({ batch: B, maxLen: L, mode });
  const { commands: update } = await modelOptimizer(rt, model, {
    lr: cfg.learning_rate,
    weightDecay: cfg.weight_decay,
    clipGradNorm: cfg.clip_grad_norm,
  });
  const specs = model.store.specs;
  const actNames = [...graph.activations.keys()];
  const stats = await new TensorStats(rt, [
    ...actNames.map((n) => ({ name: `activation ${n}`, tensor: graph.activations.get(n)! })),
    ...specs.map((s) => ({ name: `grad ${s.name}`, tensor: model.store.grad(s.name) })),
  ]).init();
  const windows = mode === "sequence" ? sequenceWindows(ds, { maxLen: L }) : null;
  const n = windows ? windows.user.length : ds.train.user.length;
  const batchOpts = { maxLen: L, batchSize: B, timestampPrecision: cfg.timestamp_precision };
  let prev = await model.store.export("params");
  let prevStep = 0, prevLoss = 0, prevRows = 0;
  const out: HealthSample[] = [];
  const perEpoch = Math.ceil(n / B);
  let perm = epochPermutation(n, { seed: cfg.seed, epoch: 0 });
  for (let step = 1; step <= options.steps; step++) {
    const s = (step - 1) % perEpoch;
    if (s === 0 && step > 1) {
      perm = epochPermutation(n, { seed: cfg.seed, epoch: (step - 1) / perEpoch });
    }
    const idx = perm.subarray(s * B, (s + 1) * B);
    const batch = windows
      ? makeSequenceBatch(ds, windows, idx, batchOpts)
      : makeBatch(ds, ds.train, idx, batchOpts);
    if (inj.gapScale) batch.timeGaps.forEach((v, i) => batch.timeGaps[i] = v * inj.gapScale!);
    graph.upload(batch);
    rt.write(model.step, [step, cfg.seed, 1, 0]);
    const sample = step % options.every === 0 || step === 1 || step === options.steps;
    if (!sample) {
      rt.run([...graph.commands, ...update]);
      continue;
    }
    // A sampled step reads the parameters its forward used (before the update): once Adam has
    // applied a non-finite gradient they would no longer show what caused it.
    rt.run([...graph.commands, ...stats.ops()]);
    const params = await model.store.export("params");
    rt.run(update);
    const [lossSum, rows] = await rt.read(graph.lossSum) as Float32Array;
    const { regions, bad } = await stats.read();
    const tensors: HealthSample["tensors"] = {};
    const layers: Record<string, number> = {};
    let total = 0;
    specs.forEach((spec, j) => {
      // a region holding NaN/Inf has no meaningful norm (the GPU sums finite values only)
      const region = regions[actNames.length + j];
      const g = region.firstBad >= 0 ? NaN : region.norm;
      const w = params.get(spec.name)!.data as Float32Array,
        p0 = prev.get(spec.name)!.data as Float32Array;
      let wn = 0, dn = 0;
      for (let i = 0; i < w.length; i++) {
        wn += w[i] * w[i];
        dn += (w[i] - p0[i]) ** 2;
      }
      tensors[spec.name] = {
        grad: g,
        weight: Math.sqrt(wn),
        updateRatio: Math.sqrt(dn) / Math.max(Math.sqrt(wn), 1e-12) / Math.max(step - prevStep, 1),
      };
      const layer = layerOf(spec.name);
      layers[layer] = Math.sqrt((layers[layer] ?? 0) ** 2 + g * g);
      total += g * g;
    });
    const activations: Record<string, number> = {};
    actNames.forEach((a, j) => activations[a] = regions[j].maxAbs);
    let maxGap = 0;
    for (const v of batch.timeGaps) if (v > maxGap) maxGap = v;
    const s5: HealthSample["s5"] = [], mamba: HealthSample["mamba"] = [];
    for (let i = 0; i < mo.numLayers; i++) {
      const lam = params.get(`model.${i}.S5.seq.Lambda`)!.data as Float32Array;
      const ls = params.get(`model.${i}.S5.seq.log_step`)!.data as Float32Array;
      let maxRe = -Infinity, minAbs = Infinity, maxLs = 0;
      for (let p = 0; p < ls.length; p++) {
        const re = mo.s5ClipEigs ? Math.min(lam[2 * p], -1e-4) : lam[2 * p], im = lam[2 * p + 1];
        const abs = Math.hypot(re, im);
        maxRe = Math.max(maxRe, re);
        minAbs = Math.min(minAbs, abs);
        maxLs = Math.max(maxLs, abs * Math.exp(ls[p]) * maxGap);
      }
      s5.push({ maxReLambda: maxRe, minAbsLambda: minAbs, maxLambdaS: maxLs });
      mamba.push({ maxDtA: mambaDtABound(params, i, mo.hiddenSize, activations[`block${i}.h1`]) });
    }
    const rec: HealthSample = {
      step,
      loss: (lossSum - prevLoss) / Math.max(rows - prevRows, 1),
      gradNorm: Math.sqrt(total),
      tensors,
      layers,
      activations,
      s5,
      mamba,
      bad: bad
        ? { tensor: bad.name, element: bad.element, regions: bad.regions }
        : Number.isFinite(lossSum)
        ? null
        : { tensor: "loss", element: 0, regions: 1 },
      maxGap,
    };
    out.push(rec);
    options.onSample?.(rec);
    prev = params;
    prevStep = step;
    prevLoss = lossSum;
    prevRows = rows;
  }
  return out;
}

/**
 * Upper bound of max Δ·|A| of Mamba layer i: Δ = softplus(dt_proj(dtr) + b) with dtr = x_proj
 * rows of xc, |xc| ≤ max|silu(conv)| — bounded through the block input's max |h| and the weights'
 * L1 norms (cheap, from parameters alone; Δ itself never leaves the fused scan).
 */
function mambaDtABound(
  params: Map<string, { data: unknown }>,
  i: number,
  H: number,
  maxH: number | undefined,
): number {
  const get = (n: string) => params.get(`model.${i}.S6.${n}`)?.data as Float32Array | undefined;
  const inW = get("in_proj.weight"), xW = get("x_proj.weight"), dtW = get("dt_proj.weight");
  const dtB = get("dt_proj.bias"), aLog = get("A_log"), convW = get("conv1d.weight");
  const convB = get("conv1d.bias");
  if (!inW || !xW || !dtW || !dtB || !aLog || !convW || !convB) return NaN;
  const E = dtB.length, R = dtW.length / E, K = convW.length / E;
  const h = maxH ?? 1;
  let maxX = 0; // bound of |xi| per channel, then of |xc|
  const xcMax = new Float64Array(E);
  for (let e = 0; e < E; e++) {
    let l1 = 0;
    for (let j = 0; j < H; j++) l1 += Math.abs(inW[e * H + j]);
    let c = Math.abs(convB[e]);
    for (let k = 0; k < K; k++) c += Math.abs(convW[e * K + k]) * l1 * h;
    xcMax[e] = c; // |silu(v)| ≤ |v|
    maxX = Math.max(maxX, c);
  }
  let maxDtr = 0;
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let e = 0; e < E; e++) s += Math.abs(xW[r * E + e]) * xcMax[e];
    maxDtr = Math.max(maxDtr, s);
  }
  let maxA = 0;
  for (const v of aLog) maxA = Math.max(maxA, Math.exp(v));
  let best = 0;
  for (let e = 0; e < E; e++) {
    let pre = dtB[e];
    for (let r = 0; r < R; r++) pre += Math.abs(dtW[e * R + r]) * maxDtr;
    const delta = pre > 20 ? pre : Math.log1p(Math.exp(pre));
    best = Math.max(best, delta * maxA);
  }
  return best;
}

/** One finding of the verdict. */
export interface Finding {
  kind: "nonfinite" | "exploding" | "vanishing" | "dead" | "s5_unstable" | "gradcheck" | "unused";
  severity: "fail" | "warn" | "info";
  layer: string;
  message: string;
  suggestion: string;
}

/** Turns the samples (and gradcheck rows) into findings with causes and suggested changes. */
export function verdict(
  samples: HealthSample[],
  gradcheck: GradcheckRow[] | null,
  cfg: Config,
): Finding[] {
  const f: Finding[] = [];
  for (const r of gradcheck ?? []) {
    if (!r.pass) {
      f.push({
        kind: "gradcheck",
        severity: "fail",
        layer: layerOf(r.tensor),
        message: `gradient of ${r.tensor} disagrees with finite differences (relative error ` +
          `${r.relError.toExponential(2)}; worst entry ${r.worst.index}: analytic ` +
          `${r.worst.analytic.toExponential(3)} vs numeric ${r.worst.numeric.toExponential(3)})`,
        suggestion: "a backward kernel is wrong: run `deno task test` and report the failing op",
      });
    }
  }
  if (!samples.length) return f;
  const firstS5 = (pred: (s: HealthSample["s5"][number]) => boolean) => {
    for (const s of samples) {
      const i = s.s5.findIndex(pred);
      if (i >= 0) return { step: s.step, layer: i, s };
    }
    return null;
  };
  const positive = firstS5((q) => q.maxReLambda > 0);
  const bad = samples.find((s) => s.bad);
  if (bad) {
    const cause = positive && positive.step <= bad.step
      ? ` Likely cause: Re(Lambda) of S5 layer ${positive.layer} became positive ` +
        `(${
          positive.s.s5[positive.layer].maxReLambda.toFixed(3)
        }) by step ${positive.step}; with ` +
        `time gaps of up to ${positive.s.maxGap.toExponential(2)} s, exp(Lambda·s) overflows ` +
        `(|Lambda·s| up to ${positive.s.s5[positive.layer].maxLambdaS.toExponential(2)}).`
      : "";
    const layer = layerOfTensor(bad.bad!.tensor);
    f.push({
      kind: "nonfinite",
      severity: "fail",
      layer: positive && positive.step <= bad.step ? `block${positive.layer}.S5` : layer,
      message: `NaN/Inf first seen by step ${bad.step} in ${bad.bad!.tensor} (element ` +
        `${bad.bad!.element}; ${bad.bad!.regions} tensors affected).${cause}`,
      suggestion: positive
        ? "set s5_clip_eigs: true (clamps Re(Lambda) <= -1e-4), and/or clip_grad_norm: 1.0"
        : "set clip_grad_norm: 1.0 and lower learning_rate (e.g. 3e-4)",
    });
  } else if (positive) {
    f.push({
      kind: "s5_unstable",
      severity: "fail",
      layer: `block${positive.layer}.S5`,
      message: `Re(Lambda) of S5 layer ${positive.layer} became positive ` +
        `(${
          positive.s.s5[positive.layer].maxReLambda.toFixed(4)
        }) at step ${positive.step}; with ` +
        `time gaps of up to ${positive.s.maxGap.toExponential(2)} s this overflows as soon as ` +
        `Re(Lambda)·s exceeds ~88`,
      suggestion: "set s5_clip_eigs: true, or clip_grad_norm: 1.0",
    });
  }
  // growth, dead and vanishing are judged on the steps before anything went non-finite
  const clean = samples.filter((s) => !s.bad && Number.isFinite(s.gradNorm));
  const finite = clean;
  if (finite.length >= 3) {
    const third = Math.max(1, Math.floor(finite.length / 3));
    const med = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    const early = med(finite.slice(0, third).map((s) => s.gradNorm));
    const late = med(finite.slice(-third).map((s) => s.gradNorm));
    const peak = Math.max(...finite.map((s) => s.gradNorm));
    if (late > 10 * early || peak > 1e3 * Math.max(early, 1e-12)) {
      const grow = Object.keys(finite[0].layers).map((l) => ({
        l,
        r: finite[finite.length - 1].layers[l] / Math.max(finite[0].layers[l], 1e-30),
      })).sort((a, b) => b.r - a.r)[0];
      f.push({
        kind: "exploding",
        severity: "fail",
        layer: grow.l,
        message: `gradient norm grew from ${early.toExponential(2)} to ${late.toExponential(2)} ` +
          `(peak ${peak.toExponential(2)}); fastest-growing layer: ${grow.l} (×${
            grow.r.toExponential(2)
          })`,
        suggestion: `set clip_grad_norm: 1.0 and lower learning_rate (now ${cfg.learning_rate})`,
      });
    }
  }
  if (!clean.length) return f;
  const last = clean[clean.length - 1];
  for (const [name, t] of Object.entries(last.tensors)) {
    const everZero = clean.every((s) => s.tensors[name]?.grad === 0);
    if (UNUSED_PARAMS.has(name)) {
      if (everZero) {
        f.push({
          kind: "unused",
          severity: "info",
          layer: "unused LayerNorm",
          message: `${name} has zero gradient: unused by the official forward pass (expected)`,
          suggestion: "none",
        });
      }
      continue;
    }
    if (everZero) {
      f.push({
        kind: "dead",
        severity: cfg.model_type === "full" ? "fail" : "info",
        layer: layerOf(name),
        message: `${name} never received a gradient` +
          (cfg.model_type === "full" ? "" : ` (expected: model_type ${cfg.model_type} skips it)`),
        suggestion: cfg.model_type === "full"
          ? "check the layer is wired into the forward pass"
          : "none",
      });
    } else if (
      clean.every((s) => s.tensors[name].grad < 1e-10 * Math.max(s.tensors[name].weight, 1e-30))
    ) {
      f.push({
        kind: "vanishing",
        severity: "warn",
        layer: layerOf(name),
        message:
          `${name}: gradient norm ${t.grad.toExponential(2)} is < 1e-10 of its weight norm ` +
          `${t.weight.toExponential(2)} at every sampled step`,
        suggestion: "expected for Mamba's dt_proj/A_log at init (tiny by design); otherwise " +
          "check LayerNorm eps and the residual path",
      });
    }
  }
  return f;
}

/** One row of {@linkcode layerGradchecks}: a layer's tensor, GPU backward vs finite differences. */
export interface LayerGradcheckRow extends GradcheckRow {
  op: string;
}

/**
 * `diagnose --ops`: each SSM layer on its own (S5, Mamba) at the configured sizes on a small
 * batch — the WGSL backward of ⟨dy, layer(u)⟩ for every parameter and the input, against central
 * differences of the layer's float64 reference.
 */
export async function layerGradchecks(
  rt: Runtime,
  cfg: Config,
  options: { batch?: number; seqLen?: number; samples?: number; seed?: number } = {},
): Promise<LayerGradcheckRow[]> {
  const B = options.batch ?? 2, L = options.seqLen ?? 7, samples = options.samples ?? 4;
  const seed = options.seed ?? cfg.seed, H = cfg.hidden_size;
  const rand = rng(seed);
  const gaps = syntheticBatch(3, B, L, seed).timeGaps;
  const u = Float32Array.from(randn(B * L * H, rand));
  const dy = Float32Array.from(randn(B * L * H, rand));
  const s5 = new S5Layer("s5", {
    hidden: H,
    state: cfg.d_P,
    dtMin: cfg.dt_min,
    dtMax: cfg.dt_max,
    clipEigs: cfg.s5_clip_eigs,
  });
  const mamba = new MambaLayer("mamba", {
    hidden: H,
    state: cfg.d_state,
    conv: cfg.d_conv,
    expand: cfg.expand,
  });
  const mdims: MambaDims = { B, L, H, E: mamba.E, N: mamba.N, R: mamba.R, K: mamba.K };
  const layers = [
    {
      op: "S5",
      layer: s5,
      ref: (p: (n: string) => Float64Array, x: Float64Array) =>
        s5Forward(
          {
            Lambda: p("s5.Lambda"),
            B: p("s5.B"),
            C: p("s5.C"),
            D: p("s5.D"),
            logStep: p("s5.log_step"),
          },
          x,
          Float64Array.from(gaps),
          { batch: B, seqLen: L, hidden: H, state: cfg.d_P },
          { clipEigs: cfg.s5_clip_eigs },
        ),
    },
    {
      op: "Mamba",
      layer: mamba,
      ref: (p: (n: string) => Float64Array, x: Float64Array) =>
        mambaForward(
          x,
          Object.fromEntries(MAMBA_PARAM_NAMES.map((n) => [n, p(`mamba.${n}`)])) as MambaParams,
          mdims,
        ).out,
    },
  ];
  const rows: LayerGradcheckRow[] = [];
  for (const { op, layer, ref } of layers) {
    const store = new ParamStore(rt, layer.params());
    store.initialise(seed);
    const step = rt.tensor([4], "u32", [1, seed, 0, 0], "step");
    const ctx = {
      rt,
      param: (n: string) => store.param(n),
      grad: (n: string) => store.grad(n),
      batch: B,
      seqLen: L,
      step,
    };
    const input = rt.tensor([B, L, H], "f32", u), dOutput = rt.tensor([B, L, H], "f32", dy);
    const timeGaps = rt.tensor([B, L], "f32", gaps);
    const built = await layer.build(ctx, { input, dOutput, timeGaps });
    rt.run([{ clear: store.gradAll }, ...built.forward, ...built.backward]);
    const grads = await store.export("grads");
    grads.set("input", { dtype: "F32", shape: [B, L, H], data: await rt.read(built.dInput!) });
    const params = new Map<string, Float64Array>();
    for (const [k, v] of await store.export("params")) {
      params.set(k, Float64Array.from(v.data as Float32Array));
    }
    const x64 = Float64Array.from(u), dy64 = Float64Array.from(dy);
    params.set("input", x64);
    const loss = () => {
      const y = ref((n) => params.get(n)!, x64);
      let s = 0;
      for (let i = 0; i < y.length; i++) s += y[i] * dy64[i];
      return s;
    };
    const loss0 = Math.abs(loss()) || 1;
    for (const [name, gt] of grads) {
      const g = gt.data as Float32Array, x = params.get(name)!;
      rows.push({
        op,
        tensor: name,
        ...compareWithFiniteDifferences(g, x, loss, { samples, rand, lossScale: loss0 }),
      });
    }
  }
  return rows;
}
