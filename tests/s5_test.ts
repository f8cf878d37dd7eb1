import assert from "node:assert/strict";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { gradcheck, randn, relErr, rng } from "../lib/reference/gradcheck.ts";
import {
  discretize,
  s5Backward,
  type S5Dims,
  s5Forward,
  type S5Options,
  type S5Params,
} from "../lib/reference/s5.ts";
import { dplrHippo, hippoLegS, s5ParamSpecs } from "../lib/nn/hippo.ts";
import { S5Layer } from "../lib/nn/s5.ts";
import { type BuildContext, type BuiltLayer, type LayerIO, scratchPool } from "../lib/nn/module.ts";
import { embedding } from "../lib/nn/embedding.ts";
import { SHARED } from "./shared.ts";

/** Gaps like the golden file's: 0 (ties), 1–9 s, 1 min – 6 h, 1 day – 3e7 s log-uniform. */
function mixedGaps(n: number, rand: () => number): Float64Array {
  return Float64Array.from({ length: n }, () => {
    const r = rand();
    if (r < 0.15) return 0;
    if (r < 0.4) return 1 + Math.floor(rand() * 9);
    if (r < 0.7) return Math.round(60 * Math.exp(rand() * Math.log(360)));
    return Math.round(86400 * Math.exp(rand() * Math.log(3e7 / 86400)));
  });
}

/** Random parameters, stable (Re Λ < 0) with moderate frequencies so finite differences behave. */
function randomParams(h: number, p: number, rand: () => number): S5Params {
  const lam = new Float64Array(2 * p);
  for (let i = 0; i < p; i++) {
    lam[2 * i] = -(0.05 + rand());
    lam[2 * i + 1] = 3 * (rand() - 0.5);
  }
  return {
    Lambda: lam,
    B: randn(p * h * 2, rand, 0.3),
    C: randn(h * p * 2, rand, 0.3),
    D: Float64Array.from({ length: h }, () => rand()),
    logStep: Float64Array.from({ length: p }, () => Math.log(1e-3) + rand() * Math.log(100)),
  };
}

const f32r = (a: Float64Array) => Float64Array.from(new Float32Array(a));

function checkReference(dims: S5Dims, opts: S5Options, params: S5Params, dt: Float64Array) {
  const rand = rng(11);
  const u = randn(dims.batch * dims.seqLen * dims.hidden, rand);
  const fwd = (i: Float64Array[]) =>
    s5Forward(
      { Lambda: i[0], B: i[1], C: i[2], D: i[3], logStep: i[4] },
      i[5],
      i[6],
      dims,
      opts,
    );
  const bwd = (i: Float64Array[], dy: Float64Array) => {
    const g = s5Backward(
      { Lambda: i[0], B: i[1], C: i[2], D: i[3], logStep: i[4] },
      i[5],
      i[6],
      dy,
      dims,
      opts,
    );
    return [g.Lambda, g.B, g.C, g.D, g.logStep, g.du, null];
  };
  const res = gradcheck(fwd, bwd, [
    params.Lambda,
    params.B,
    params.C,
    params.D,
    params.logStep,
    u,
    dt,
  ], { samples: 30, step: 1e-6, skip: [6] });
  assert.equal(res.length, 6);
  for (const r of res) assert.ok(r.maxRelError < 2e-5, JSON.stringify(r));
}

Deno.test("s5 reference: gradcheck of every parameter and u, mixed gaps up to 3e7 s", () => {
  const dims = { batch: 2, seqLen: 7, hidden: 3, state: 4 };
  const rand = rng(3);
  const params = randomParams(3, 4, rand);
  const dt = mixedGaps(14, rand);
  dt[3] = 0;
  dt[4] = 5;
  dt[5] = 7200;
  dt[6] = 3e7;
  dt[12] = dt[13] = 0; // a padded tail
  // exercise both branches of φ₁ (|Λs| < 1 and ≥ 1) with seconds-scale gaps
  const dt2 = Float64Array.from({ length: 14 }, (_, i) => [0, 0.5, 3, 20, 90, 400, 2e3][i % 7]);
  checkReference(dims, {}, params, dt);
  checkReference(dims, {}, params, dt2);
});

Deno.test("s5 reference: gradcheck with clip_eigs (some Re Λ > −1e-4 are clamped)", () => {
  const dims = { batch: 2, seqLen: 6, hidden: 3, state: 4 };
  const rand = rng(5);
  const params = randomParams(3, 4, rand);
  params.Lambda[0] = 0.3; // clamped: Re gradient 0
  params.Lambda[4] = 0.02;
  const dt = Float64Array.from({ length: 12 }, (_, i) => [0, 2, 30, 300, 1, 8][i % 6]);
  checkReference(dims, { clipEigs: true }, params, dt);
  const g = s5Backward(params, randn(36, rand), dt, randn(36, rand), dims, { clipEigs: true });
  assert.equal(g.Lambda[0], 0);
  assert.equal(g.Lambda[4], 0);
  assert.notEqual(g.Lambda[1], 0);
});

Deno.test("s5 reference: discretisation at huge steps is exactly a = 0, no NaN anywhere", () => {
  for (const s of [3e6, 1e7, 3e5]) {
    const d = discretize(-0.5, 325.43, s);
    assert.equal(d.ar, 0);
    assert.equal(d.ai, 0);
    for (const v of Object.values(d)) assert.ok(Number.isFinite(v));
  }
  const d0 = discretize(-0.5, 325.43, 0);
  assert.deepEqual([d0.ar, d0.ai, d0.phr, d0.phi], [1, 0, 1, 0]);
  const dims = { batch: 1, seqLen: 4, hidden: 2, state: 32 };
  const rand = rng(9);
  const params = randomParams(2, 32, rand);
  const { lambdaRe, lambdaIm } = dplrHippo(32);
  for (let p = 0; p < 32; p++) [params.Lambda[2 * p], params.Lambda[2 * p + 1]] = [-0.5, 0];
  params.Lambda.set([lambdaRe[0], lambdaIm[0]], 0);
  params.logStep.fill(Math.log(0.1));
  const dt = Float64Array.from([3e7, 3e7, 1, 3e7]);
  const u = randn(8, rand), dy = randn(8, rand);
  const y = s5Forward(params, u, dt, dims);
  const g = s5Backward(params, u, dt, dy, dims);
  for (const a of [y, ...Object.values(g)]) assert.ok(a.every(Number.isFinite));
});

Deno.test("s5 init: HiPPO-LegS DPLR eigenvalues, unitary V, golden Λ and moments", async () => {
  const { lambdaRe, lambdaIm, vre, vim } = dplrHippo(32);
  assert.ok(lambdaRe.every((v) => Math.abs(v + 0.5) < 1e-12));
  for (let i = 1; i < 32; i++) assert.ok(lambdaIm[i] > lambdaIm[i - 1]);
  for (let i = 0; i < 16; i++) assert.ok(Math.abs(lambdaIm[i] + lambdaIm[31 - i]) < 1e-9);
  assert.ok(Math.abs(lambdaIm[16] - 0.3011) < 1e-4 && Math.abs(lambdaIm[31] - 325.4263) < 1e-4);
  // V unitary and (−iS)V = VΛ over the off-diagonal part of S
  const n = 32, a = hippoLegS(n);
  let unit = 0, res = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let r = 0, im = 0, mr = 0, mi = 0;
      for (let k = 0; k < n; k++) {
        r += vre[k * n + i] * vre[k * n + j] + vim[k * n + i] * vim[k * n + j];
        im += vre[k * n + i] * vim[k * n + j] - vim[k * n + i] * vre[k * n + j];
        if (k !== i) {
          const s = -a[i * n + k] + Math.sqrt((i + 0.5) * (k + 0.5));
          mr += s * vim[k * n + j];
          mi -= s * vre[k * n + j];
        }
      }
      unit = Math.max(unit, Math.hypot(r - (i === j ? 1 : 0), im));
      res = Math.max(
        res,
        Math.hypot(mr - lambdaIm[j] * vre[i * n + j], mi - lambdaIm[j] * vim[i * n + j]),
      );
    }
  }
  assert.ok(unit < 1e-12 && res < 1e-10, `unitary ${unit}, residual ${res}`);
  const specs = s5ParamSpecs("m", { hidden: 64, state: 32, dtMin: 0.001, dtMax: 0.1 });
  const vals = new Map(specs.map((s, i) => [s.name, s.init(rng(100 + i))]));
  for (const s of specs) assert.equal(vals.get(s.name)!.length, s.shape.reduce((x, y) => x * y));
  const rms = (x: Float64Array) => Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length);
  // per-component rms: B 0.1768·0.8796²/√2 = 0.0967, C √(1/2048)·0.8796² = 0.0171
  assert.ok(Math.abs(rms(vals.get("m.B")!) / 0.0967 - 1) < 0.08, `${rms(vals.get("m.B")!)}`);
  assert.ok(Math.abs(rms(vals.get("m.C")!) / 0.0171 - 1) < 0.08, `${rms(vals.get("m.C")!)}`);
  const ls = vals.get("m.log_step")!;
  assert.ok(ls.every((v) => v >= Math.log(0.001) && v <= Math.log(0.1)));
  assert.ok(vals.get("m.D")!.every((v) => v >= 0 && v < 1));
  // Λ against the official init stored in the golden file, when present
  const path = new URL("golden/ss4rec_v64_b6_l16.safetensors", SHARED);
  let buf: Uint8Array;
  try {
    buf = await Deno.readFile(path);
  } catch {
    return;
  }
  const hl = Number(new DataView(buf.buffer).getBigUint64(0, true));
  const hdr = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + hl)));
  const [s0, s1] = hdr["model.0.S5.seq.Lambda"].data_offsets;
  const gold = new Float64Array(buf.slice(8 + hl + s0, 8 + hl + s1).buffer);
  assert.ok(relErr(vals.get("m.Lambda")!, gold) < 1e-6, `${relErr(vals.get("m.Lambda")!, gold)}`);
});

interface GpuCase {
  b: number;
  l: number;
  h: number;
  p: number;
  lens: number[];
  clip?: boolean;
  hippo?: boolean;
  /** Largest gap in seconds (default: the golden-like mixture up to 3e7 s). */
  maxGap?: number;
  /**
   * u as an embedding lookup table[ids] over this many table rows (`LayerIO.lookup`), ids drawn
   * from −1 .. V (the out-of-range ones read a zero row).
   */
  vocab?: number;
  /**
   * With `vocab`: the training path that sends the v path's gradient to the table by id
   * (`LayerIO.lookup.grad`; ids then avoid the padding id 0, whose ∂B̃ share it drops).
   */
  byId?: boolean;
  /**
   * Pass `lens` as `LayerIO.lengths` (the scans skip the right padding; ∂y is 0 there, as no loss
   * reads it), and compare y at the valid steps only.
   */
  skipPad?: boolean;
}

async function gpuCase(rt: Runtime, c: GpuCase, seed: number): Promise<Record<string, number>> {
  const rand = rng(seed);
  const layer = new S5Layer("model.0.S5.seq", {
    hidden: c.h,
    state: c.p,
    dtMin: 0.001,
    dtMax: 0.1,
    clipEigs: c.clip,
  });
  const specs = layer.params();
  const pf = rt.flat(specs, "params"), gf = rt.flat(specs, "grads");
  const vals = new Map<string, Float64Array>();
  const rp = randomParams(c.h, c.p, rand);
  const randomByName: Record<string, Float64Array> = {
    Lambda: rp.Lambda,
    B: rp.B,
    C: rp.C,
    D: rp.D,
    log_step: rp.logStep,
  };
  for (const s of specs) {
    const short = s.name.slice("model.0.S5.seq.".length);
    let v = c.hippo ? s.init(rand) : randomByName[short];
    if (c.clip && short === "Lambda") {
      v = v.slice();
      v[0] = 0.2;
      v[2] = -1e-5;
    }
    v = f32r(v);
    vals.set(short, v);
    rt.write(pf.views.get(s.name)!, v);
  }
  const g0 = new Map<string, Float64Array>();
  for (const s of specs) {
    const short = s.name.slice("model.0.S5.seq.".length);
    const v = f32r(randn(s.shape.reduce((x, y) => x * y), rand, 0.01));
    g0.set(short, v);
    rt.write(gf.views.get(s.name)!, v);
  }
  const n = c.b * c.l * c.h;
  let u = f32r(randn(n, rand));
  const dy = f32r(randn(n, rand));
  const valid = (i: number) => Math.floor(i / c.h) % c.l < c.lens[Math.floor(i / (c.l * c.h))];
  if (c.skipPad) dy.forEach((_, i) => dy[i] = valid(i) ? dy[i] : 0);
  let lookup: LayerIO["lookup"], byId;
  if (c.vocab) {
    const V = c.vocab, table = f32r(randn(V * c.h, rand));
    const ids = Int32Array.from({ length: c.b * c.l }, () => {
      const id = Math.floor(rand() * (V + 2)) - 1;
      return c.byId && id === 0 ? V : id;
    });
    u = new Float64Array(n);
    ids.forEach((id, r) => {
      if (id >= 0 && id < V) u.set(table.subarray(id * c.h, (id + 1) * c.h), r * c.h);
    });
    const tids = rt.tensor([c.b * c.l], "i32", ids), ttable = rt.tensor([V, c.h], "f32", table);
    lookup = { ids: tids, table: ttable };
    if (c.byId) {
      const g0 = f32r(randn(V * c.h, rand, 0.01));
      const gradTable = rt.tensor([V, c.h], "f32", g0);
      const emb = await embedding(rt, {
        table: ttable,
        gradTable,
        ids: tids,
        output: rt.tensor([c.b * c.l, c.h]),
        dOutput: rt.tensor([c.b * c.l, c.h]),
        tokens: c.b * c.l,
        dim: c.h,
        vocab: V,
      });
      lookup.grad = { table: gradTable, sumById: emb.sumById! };
      byId = { ids, g0, gradTable, sort: emb.sort, dInput: rt.tensor([c.b, c.l, c.h]) };
    }
  }
  const dt = c.maxGap === undefined
    ? mixedGaps(c.b * c.l, rand)
    : Float64Array.from({ length: c.b * c.l }, () => Math.round(rand() * c.maxGap!));
  for (let b = 0; b < c.b; b++) {
    if (dt[b * c.l] === 0) dt[b * c.l] = 3; // every row gets a nonzero gap (L = 1 cases)
    for (let t = c.lens[b]; t < c.l; t++) dt[b * c.l + t] = 0;
  }
  dt.set(f32r(dt)); // gaps above 2^24 s round in f32
  const tu = rt.tensor([c.b, c.l, c.h], "f32", u);
  const tdy = rt.tensor([c.b, c.l, c.h], "f32", dy);
  const tdt = rt.tensor([c.b, c.l], "f32", dt);
  const built = await layer.build({
    rt,
    param: (s) => pf.views.get(s)!,
    grad: (s) => gf.views.get(s)!,
    batch: c.b,
    seqLen: c.l,
    step: rt.tensor([4], "u32"),
  }, {
    input: tu,
    dOutput: tdy,
    timeGaps: tdt,
    lookup,
    dInputAccumulate: byId?.dInput,
    lengths: c.skipPad ? rt.tensor([c.b], "i32", Int32Array.from(c.lens)) : undefined,
  });
  rt.write(built.output, new Float32Array(n).fill(NaN));
  if (!byId) rt.write(built.dInput!, new Float32Array(n).fill(NaN));
  rt.run([...built.forward, ...byId?.sort ?? [], ...built.backward]);
  const params: S5Params = {
    Lambda: vals.get("Lambda")!,
    B: vals.get("B")!,
    C: vals.get("C")!,
    D: vals.get("D")!,
    logStep: vals.get("log_step")!,
  };
  const dims = { batch: c.b, seqLen: c.l, hidden: c.h, state: c.p };
  const opts = { clipEigs: c.clip };
  const yRef = s5Forward(params, u, dt, dims, opts);
  const gRef = s5Backward(params, u, dt, dy, dims, opts);
  const yGot = await rt.read(built.output);
  const errs: Record<string, number> = {
    y: c.skipPad
      ? relErr(yGot.filter((_, i) => valid(i)), yRef.filter((_, i) => valid(i)))
      : relErr(yGot, yRef),
  };
  if (byId) {
    // the table's gradient by id: Σ_{r: ids[r] = i} (du_r − D·dy_r) for 0 < i < V (the skip
    // term's D·dy is the caller's); the input gradient gets nothing from the layer
    const want = Float64Array.from(byId.g0);
    byId.ids.forEach((id, r) => {
      if (id <= 0 || id >= c.vocab!) return;
      for (let h = 0; h < c.h; h++) {
        want[id * c.h + h] += gRef.du[r * c.h + h] - params.D[h] * dy[r * c.h + h];
      }
    });
    errs.table = relErr(await rt.read(byId.gradTable), want);
    assert.ok((await rt.read(built.dInput!)).every((v) => v === 0), "dInput written");
  } else {
    errs.du = relErr(await rt.read(built.dInput!), gRef.du);
  }
  const refByName: Record<string, Float64Array> = {
    Lambda: gRef.Lambda,
    B: gRef.B,
    C: gRef.C,
    D: gRef.D,
    log_step: gRef.logStep,
  };
  for (const s of specs) {
    const short = s.name.slice("model.0.S5.seq.".length);
    const got = await rt.read(gf.views.get(s.name)!);
    const base = g0.get(short)!;
    errs[short] = relErr(got.map((v, i) => v - base[i]), refByName[short]);
  }
  return errs;
}

Deno.test("s5 gpu: forward and backward match the float64 reference", async () => {
  const rt = new Runtime(await getGpu());
  const cases: GpuCase[] = [
    { b: 1, l: 1, h: 8, p: 4, lens: [1] },
    { b: 3, l: 5, h: 8, p: 4, lens: [5, 2, 3] },
    { b: 3, l: 16, h: 64, p: 32, lens: [16, 1, 9], hippo: true },
    { b: 1, l: 16, h: 8, p: 32, lens: [16], hippo: true },
    { b: 2, l: 5, h: 6, p: 4, lens: [5, 3] }, // H not a multiple of 4: scalar epilogues
    { b: 2, l: 100, h: 8, p: 4, lens: [100, 37] },
    // L = 9: the backward scan's first group prefetches steps 4..1 and the state before step 1
    { b: 2, l: 9, h: 8, p: 4, lens: [9, 6] },
    // Re Λ clamped to −1e-4 barely decays, so day-long gaps would make the phase Im(Λ)·s ~ 1e4
    // rad and the comparison measure f32 phase rounding (conditioning), not the kernel: short gaps
    { b: 3, l: 5, h: 8, p: 4, lens: [5, 5, 4], clip: true, maxGap: 60 },
    // 70 rows: the dD and dΛ reductions over rows take their 4-chain path and a remainder
    { b: 70, l: 3, h: 8, p: 4, lens: Array.from({ length: 70 }, (_, i) => 1 + (i * 7) % 3) },
    // u an embedding lookup: v gathered from the projected table (LayerIO.lookup)
    { b: 3, l: 16, h: 64, p: 32, lens: [16, 1, 9], hippo: true, vocab: 23 },
    { b: 2, l: 5, h: 8, p: 4, lens: [5, 3], vocab: 5 },
    // ... and its gradient sent to the table by id (LayerIO.lookup.grad)
    { b: 3, l: 16, h: 64, p: 32, lens: [16, 1, 9], hippo: true, vocab: 23, byId: true },
    { b: 2, l: 5, h: 8, p: 4, lens: [5, 3], vocab: 5, byId: true },
    // the padded layout with row lengths: the scans skip the right padding (LENS)
    { b: 4, l: 16, h: 64, p: 32, lens: [16, 1, 9, 0], hippo: true, skipPad: true },
    { b: 3, l: 9, h: 8, p: 4, lens: [9, 6, 13], vocab: 5, byId: true, skipPad: true },
  ];
  for (const [i, c] of cases.entries()) {
    const errs = await gpuCase(rt, c, 40 + i);
    const show = Object.entries(errs).map(([k, e]) => `${k} ${e.toExponential(1)}`).join(", ");
    console.log(
      `B ${c.b} L ${c.l} H ${c.h} P ${c.p}${c.clip ? " clip" : ""}${
        c.vocab ? ` lookup V ${c.vocab}${c.byId ? " by id" : ""}` : ""
      }${c.skipPad ? ` lengths ${c.lens}` : ""}: ${show}`,
    );
    assert.ok(errs.y <= 1e-4, `y ${errs.y}`);
    for (const [k, e] of Object.entries(errs)) {
      assert.ok(Number.isFinite(e) && e <= 1e-3, `${k} ${e} in ${JSON.stringify(c)}`);
    }
  }
});

Deno.test("s5 gpu: two layers sharing the backward arena; backward recomputes v and x itself", async () => {
  const rt = new Runtime(await getGpu());
  const [nb, nl, nh, np] = [3, 7, 8, 4];
  const dims = { batch: nb, seqLen: nl, hidden: nh, state: np };
  const layers = ["a", "b"].map((prefix) =>
    new S5Layer(prefix, { hidden: nh, state: np, dtMin: 0.001, dtMax: 0.1 })
  );
  const specs = layers.flatMap((l) => l.params());
  const pf = rt.flat(specs, "params"), gf = rt.flat(specs, "grads");
  const rand = rng(5);
  const dt = f32r(mixedGaps(nb * nl, rand));
  const tdt = rt.tensor([nb, nl], "f32", dt);
  const cases = layers.map((layer) => {
    const rp = randomParams(nh, np, rand);
    const params: S5Params = {
      Lambda: f32r(rp.Lambda),
      B: f32r(rp.B),
      C: f32r(rp.C),
      D: f32r(rp.D),
      logStep: f32r(rp.logStep),
    };
    const names = ["Lambda", "B", "C", "D", "log_step"];
    [params.Lambda, params.B, params.C, params.D, params.logStep].forEach((v, i) =>
      rt.write(pf.views.get(`${layer.prefix}.${names[i]}`)!, v)
    );
    const u = f32r(randn(nb * nl * nh, rand)), dy = f32r(randn(nb * nl * nh, rand));
    const g = s5Backward(params, u, dt, dy, dims);
    return {
      layer,
      u,
      dy,
      y: s5Forward(params, u, dt, dims),
      du: g.du,
      grads: new Map([
        ["Lambda", g.Lambda],
        ["B", g.B],
        ["C", g.C],
        ["D", g.D],
        ["log_step", g.logStep],
      ]),
    };
  });
  const ctx: BuildContext = {
    rt,
    param: (k) => pf.views.get(k)!,
    grad: (k) => gf.views.get(k)!,
    batch: nb,
    seqLen: nl,
    step: rt.tensor([4], "u32"),
    scratch: scratchPool(rt),
  };
  const built: BuiltLayer[] = [];
  for (const c of cases) {
    built.push(
      await c.layer.build(ctx, {
        input: rt.tensor([nb, nl, nh], "f32", c.u),
        dOutput: rt.tensor([nb, nl, nh], "f32", c.dy),
        timeGaps: tdt,
      }),
    );
  }
  // one backward arena serves both layers, and neither leaves anything in shared scratch that
  // the model would have to replay
  assert.equal(built[0].dInput!.buffer, built[1].dInput!.buffer);
  assert.ok(built.every((b) => !b.recompute?.length));
  const arena = built[0].dInput!.buffer;
  rt.run([{ clear: gf.all }, ...built[0].forward, ...built[1].forward, ...built[1].backward]);
  const du = [new Float32Array(0), await rt.read(built[1].dInput!)];
  // layer a's backward needs nothing its forward left in the arena: poison all of it first
  const poison = new Float32Array(arena.size / 4).fill(NaN);
  rt.device.queue.writeBuffer(arena, 0, poison);
  rt.run(built[0].backward);
  du[0] = await rt.read(built[0].dInput!);
  for (const [i, c] of cases.entries()) {
    const errs = { y: relErr(await rt.read(built[i].output), c.y), du: relErr(du[i], c.du) };
    for (const [k, want] of c.grads) {
      Object.assign(errs, {
        [k]: relErr(await rt.read(gf.views.get(`${c.layer.prefix}.${k}`)!), want),
      });
    }
    for (const [k, e] of Object.entries(errs)) {
      assert.ok(Number.isFinite(e) && e <= 1e-3, `layer ${c.layer.prefix}: ${k} ${e}`);
    }
  }
});

Deno.test({
  name: "s5 gpu: timing at the H100 training shape (S5_BENCH=1; B 1024, L 200, H 64, P 32)",
  ignore: !Deno.env.get("S5_BENCH"),
  fn: async () => {
    const rt = new Runtime(await getGpu());
    const [nb, nl, nh, np] = [1024, 200, 64, 32];
    const layer = new S5Layer("s5", { hidden: nh, state: np, dtMin: 0.001, dtMax: 0.1 });
    const specs = layer.params();
    const pf = rt.flat(specs, "params"), gf = rt.flat(specs, "grads");
    const rand = rng(1);
    for (const s of specs) rt.write(pf.views.get(s.name)!, s.init(rand));
    const n = nb * nl * nh;
    const noise = (k: number) => Float32Array.from({ length: k }, () => rand() - 0.5);
    const tu = rt.tensor([nb, nl, nh], "f32", noise(n));
    const tdy = rt.tensor([nb, nl, nh], "f32", noise(n));
    const tdt = rt.tensor([nb, nl], "f32", mixedGaps(nb * nl, rand));
    const built = await layer.build({
      rt,
      param: (s) => pf.views.get(s)!,
      grad: (s) => gf.views.get(s)!,
      batch: nb,
      seqLen: nl,
      step: rt.tensor([4], "u32"),
    }, { input: tu, dOutput: tdy, timeGaps: tdt });
    const ops = [...built.forward, ...built.backward].filter((c) => "pipeline" in c);
    rt.run(ops);
    await rt.sync();
    const reps = 20;
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) rt.run(ops);
    await rt.sync();
    const ms = (performance.now() - t0) / reps;
    const prof = await rt.profile(ops as never);
    console.log(`${rt.gpu.adapterName}: forward+backward ${ms.toFixed(2)} ms per step`);
    if (prof) {
      ops.forEach((o, i) =>
        console.log(
          `  ${("label" in o ? o.label : "").padEnd(24)} ${(prof[i] / 1e3).toFixed(1)} µs`,
        )
      );
    }
    const y = await rt.read(built.output);
    assert.ok(y.every(Number.isFinite));
  },
});
