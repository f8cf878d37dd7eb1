import assert from "node:assert/strict";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { GradNorm, TensorStats } from "../lib/gpu/reduce.ts";
import { Adam } from "../lib/train/adam.ts";
import { adamStepRef } from "../lib/reference/optim.ts";
import { randn, relErr, rng } from "../lib/reference/gradcheck.ts";

function f32Round(x: Float64Array): Float64Array {
  return Float64Array.from(new Float32Array(x));
}

Deno.test("adam: matches torch.optim.Adam over 30 steps (with and without weight decay)", async () => {
  const rt = new Runtime(await getGpu());
  for (const weightDecay of [0, 0.01]) {
    const n = 1000, rand = rng(11 + weightDecay * 100);
    const p0 = f32Round(randn(n, rand));
    const params = rt.tensor([n], "f32", p0), grads = rt.tensor([n]);
    const adam = await new Adam(rt, params, grads, { lr: 1e-2, weightDecay }).init();
    const ref = Float64Array.from(p0), ref32 = Float64Array.from(p0);
    const m = new Float64Array(n), v = new Float64Array(n);
    const m32 = new Float64Array(n), v32 = new Float64Array(n);
    for (let t = 1; t <= 30; t++) {
      // gradients of very different magnitudes, some exactly zero
      const g = f32Round(randn(n, rand, t % 3 === 0 ? 1e-4 : 1));
      for (let i = 0; i < n; i += 97) g[i] = 0;
      rt.write(grads, g);
      adam.setStep(t);
      rt.run(adam.ops());
      adamStepRef(ref, g, m, v, t, { lr: 1e-2, weightDecay });
      adamStepRef(ref32, g, m32, v32, t, { lr: 1e-2, weightDecay, f32: true });
    }
    const got = await rt.read(params);
    // compare the parameter change (the parameters themselves hide update errors)
    const d = (x: ArrayLike<number>) => Array.from(x, (y, i) => y - p0[i]);
    const err = relErr(d(got), d(ref)), err32 = relErr(d(got), d(ref32));
    const st = await adam.state();
    const errM = relErr(st.m, m), errV = relErr(st.v, v);
    console.log(
      `wd ${weightDecay}: update rel err vs float64 ${err.toExponential(2)}, vs f32 torch ` +
        `${err32.toExponential(2)}; m ${errM.toExponential(2)}, v ${errV.toExponential(2)}`,
    );
    assert.ok(err < 1e-5 && errM < 1e-5 && errV < 1e-5, `${err} ${errM} ${errV}`);
    assert.equal(st.step, 30);
  }
});

Deno.test("adam: shared step tensor and fused clip coefficient", async () => {
  const rt = new Runtime(await getGpu());
  const n = 300, rand = rng(5);
  const p0 = f32Round(randn(n, rand)), g = f32Round(randn(n, rand, 10));
  const params = rt.tensor([n], "f32", p0), grads = rt.tensor([n], "f32", g);
  const step = rt.tensor([4], "u32", [1, 0, 0, 0]);
  const norm = await new GradNorm(rt, grads, { maxNorm: 1 }).init();
  const adam = await new Adam(rt, params, grads, { step, gradScale: norm.out, scaleIndex: 1 })
    .init();
  assert.throws(() => adam.setStep(2));
  rt.run([...norm.ops(), ...adam.ops()]);
  let ss = 0;
  for (const x of g) ss += x * x;
  const coef = Math.min(1, 1 / (Math.sqrt(ss) + 1e-6));
  const ref = Float64Array.from(p0);
  adamStepRef(ref, g.map((x) => x * coef), new Float64Array(n), new Float64Array(n), 1);
  const got = await rt.read(params);
  // one step moves each parameter by ~lr, close to f32's resolution of |p| ~ 1: compare the
  // parameters themselves, within a few ulp
  for (let i = 0; i < n; i++) {
    assert.ok(Math.abs(got[i] - ref[i]) <= 4 * 2 ** -23 * Math.abs(ref[i]), `${i}`);
  }
  const { norm: nv, coef: cv } = await norm.read();
  assert.ok(Math.abs(nv - Math.sqrt(ss)) / Math.sqrt(ss) < 1e-6 && Math.abs(cv - coef) < 1e-6);
});

Deno.test("grad norm: value, in-place clipping, bit-identical reruns", async () => {
  const rt = new Runtime(await getGpu());
  for (const n of [1, 255, 70001]) {
    const x = f32Round(randn(n, rng(n), 3));
    const t = rt.tensor([n], "f32", x);
    const gn = await new GradNorm(rt, t, { maxNorm: 0.5, applyClip: true }).init();
    rt.run(gn.ops());
    const first = await rt.read(gn.out);
    let ss = 0;
    for (const v of x) ss += v * v;
    const norm = Math.sqrt(ss), coef = Math.min(1, 0.5 / (norm + 1e-6));
    assert.ok(Math.abs(first[0] - norm) / norm < 1e-5, `n ${n}: ${first[0]} vs ${norm}`);
    assert.ok(relErr(await rt.read(t), x.map((v) => v * coef)) < 1e-6);
    // rerun on the original data: same bits
    rt.write(t, x);
    rt.run(gn.ops());
    assert.deepEqual(await rt.read(gn.out), first);
  }
  // no clipping: coefficient 1, data untouched
  const x = f32Round(randn(100, rng(1)));
  const t = rt.tensor([100], "f32", x);
  const gn = await new GradNorm(rt, t).init();
  rt.run(gn.ops());
  assert.equal((await gn.read()).coef, 1);
  assert.deepEqual(Array.from(await rt.read(t)), Array.from(new Float32Array(x)));
});

Deno.test("tensor stats: per-region sums / max and the first NaN/Inf across buffers", async () => {
  const rt = new Runtime(await getGpu());
  const rand = rng(3);
  const { views } = rt.flat([
    { name: "a", shape: [10, 7] },
    { name: "b", shape: [3] },
    { name: "c", shape: [5000] },
  ]);
  const act = rt.tensor([20000], "f32", undefined, "act");
  const data = new Map<string, Float64Array>();
  for (const [name, t] of [...views, ["act", act] as const]) {
    const x = f32Round(randn(t.size, rand, 2));
    data.set(name, x);
    rt.write(t, x);
  }
  const regions = [
    { name: "act", tensor: act },
    { name: "a", tensor: views.get("a")! },
    { name: "b", tensor: views.get("b")! },
    { name: "c", tensor: views.get("c")! },
  ];
  const stats = await new TensorStats(rt, regions).init();
  rt.run(stats.ops());
  let r = await stats.read();
  assert.equal(r.bad, null);
  for (const s of r.regions) {
    const x = data.get(s.name)!;
    let ss = 0, mx = 0;
    for (const v of x) {
      ss += v * v;
      mx = Math.max(mx, Math.abs(v));
    }
    assert.ok(Math.abs(s.sumSq - ss) / ss < 1e-5, `${s.name}: ${s.sumSq} vs ${ss}`);
    assert.equal(s.maxAbs, Math.fround(mx));
    assert.equal(s.firstBad, -1);
  }
  // poison: an Inf late in "c" and NaNs in "a" (two elements); "a" comes first in list order
  const c = new Float32Array(data.get("c")!);
  c[4321] = Infinity;
  rt.write(views.get("c")!, c);
  const a = new Float32Array(data.get("a")!);
  a[50] = NaN;
  a[13] = -Infinity;
  rt.write(views.get("a")!, a);
  rt.run(stats.ops());
  r = await stats.read();
  assert.deepEqual(r.bad, { region: 1, name: "a", element: 13, regions: 2 });
  assert.equal(r.regions[3].firstBad, 4321);
  assert.equal(r.regions[0].firstBad, -1);
});
