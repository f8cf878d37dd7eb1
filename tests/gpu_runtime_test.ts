import assert from "node:assert/strict";
import { getGpu } from "../lib/gpu/device.ts";
import { Arena, grid, Runtime, Tensor } from "../lib/gpu/runtime.ts";
import { dryRunGpu, H100_LIMITS } from "../lib/gpu/dry_run.ts";
import { loadConfig } from "../lib/config.ts";
import { createModel } from "../lib/models/factory.ts";
import { gradcheck, randn, relErr, rng } from "../lib/reference/gradcheck.ts";
import { siluBackward, siluForward } from "../lib/reference/elementwise.ts";

Deno.test("runtime: silu forward/backward match the float64 reference; gradcheck passes", async () => {
  const rt = new Runtime(await getGpu());
  const fwd = await rt.kernel("elementwise", "silu_forward");
  const bwd = await rt.kernel("elementwise", "silu_backward");
  for (const n of [1, 257, 70000]) {
    const rand = rng(n);
    const x = randn(n, rand, 3), dy = randn(n, rand);
    const tx = rt.tensor([n], "f32", x), tdy = rt.tensor([n], "f32", dy);
    const ty = rt.tensor([n], "f32", new Float32Array(n).fill(NaN));
    const tdx = rt.tensor([n], "f32", new Float32Array(n).fill(NaN));
    rt.run([
      rt.op(fwd, [tx, ty], { params: [n], workgroups: grid(n) }),
      rt.op(bwd, [tx, tdy, tdx], { params: [n], workgroups: grid(n) }),
    ]);
    const x32 = Float64Array.from(new Float32Array(x));
    assert.ok(relErr(await rt.read(ty), siluForward(x32)) < 1e-6);
    assert.ok(
      relErr(await rt.read(tdx), siluBackward(x32, Float64Array.from(new Float32Array(dy)))) < 1e-6,
    );
  }
  const g = gradcheck((i) => siluForward(i[0]), (i, d) => [siluBackward(i[0], d)], [
    randn(50, rng(1), 3),
  ]);
  assert.ok(g[0].maxRelError < 1e-6, JSON.stringify(g));
});

Deno.test("runtime: profile times every dispatch and runs the clears and copies among them in place", async () => {
  const rt = new Runtime(await getGpu());
  const add = await rt.kernel("elementwise", "add_inplace");
  const n = 1000;
  const x = Float32Array.from({ length: n }, (_, i) => i + 0.5);
  const tx = rt.tensor([n], "f32", x), acc = rt.tensor([n], "f32", new Float32Array(n).fill(NaN));
  const copy = rt.tensor([n], "f32", new Float32Array(n).fill(NaN));
  const plus = rt.op(add, [acc, tx], { params: [n], workgroups: grid(n) });
  // acc = 0, acc += x, copy = acc, acc += x
  const ns = await rt.profile([{ clear: acc }, plus, { copy: acc, to: copy }, plus]);
  assert.deepEqual(await rt.read(copy), x);
  assert.deepEqual(await rt.read(acc), x.map((v) => 2 * v));
  if (rt.gpu.hasTimestamps) {
    assert.equal(ns?.length, 2);
    assert.ok(ns!.every((t) => Number.isFinite(t) && t >= 0), `${ns}`);
  } else assert.equal(ns, null);
  rt.dispose();
});

Deno.test("runtime: grid splits beyond 65,535 workgroups", () => {
  const [x, y] = grid(65536 * 256 * 3);
  assert.ok(x <= 65535 && x * y * 256 >= 65536 * 256 * 3);
});

Deno.test("dry run: a build on the dry-run device accounts exactly the buffers of a real build", async () => {
  const gpu = await getGpu();
  const cfg = loadConfig("configs/ss4rec.yaml", ["n_layers=2"]);
  const build = async (rt: Runtime) => {
    const model = createModel(rt, cfg, { numItems: 50, numUsers: 10 });
    const graph = await model.buildTrain({ batch: 16, maxLen: 24, mode: "prefix" });
    return { rt, commands: graph.commands.length };
  };
  const real = await build(new Runtime(gpu));
  // the same limits and adapter kind, so the same kernel shapes and hence the same sizes
  const limits = Object.fromEntries(
    Object.keys(H100_LIMITS).map((k) => [k, gpu.device.limits[k as keyof GPUSupportedLimits]]),
  ) as Record<string, number>;
  const dry = await build(new Runtime(dryRunGpu({ limits, isFallback: gpu.isFallback })));
  assert.equal(dry.commands, real.commands);
  assert.ok(real.rt.peakBytes > 0);
  assert.equal(dry.rt.peakBytes, real.rt.peakBytes);
  assert.deepEqual(dry.rt.allocations(), real.rt.allocations());
  real.rt.dispose();
  // nothing can run on it
  assert.throws(() => dry.rt.run([]), /dry run/);
});

Deno.test("dry run: partly overlapping storage bindings of one dispatch are rejected", async () => {
  const rt = new Runtime(dryRunGpu());
  const k = await rt.kernel("elementwise", "add_inplace");
  const t = rt.tensor([1024]);
  const view = (at: number, n: number) => new Tensor(t.buffer, at * 4, [n]);
  rt.op(k, [view(0, 512), view(512, 512)], { params: [512], workgroups: 2 }); // disjoint: fine
  assert.throws(
    () => rt.op(k, [view(0, 512), view(64, 512)], { params: [512], workgroups: 2 }),
    /overlap/,
  );
});

Deno.test("runtime: builds in one arena share its chunks; data tensors stay private; overflow still works", async () => {
  const rt = new Runtime(await getGpu());
  const silu = await rt.kernel("elementwise", "silu_forward");
  const arena = new Arena();
  const build = (n: number) =>
    rt.inArena(arena, () => {
      const x = rt.tensor([n], "f32", Float32Array.from({ length: n }, (_, i) => i / n - 0.5));
      const scratch = rt.tensor([300]), y = rt.tensor([n]);
      return Promise.resolve({
        x,
        scratch,
        y,
        op: rt.op(silu, [x, y], { params: [n], workgroups: grid(n) }),
      });
    });
  const big = await build(5000);
  // the sizing build measured [300] and [5000] f32 and laid them out at 256-byte offsets
  assert.equal(arena.chunks.length, 1);
  assert.equal(arena.bytes, 1280 + 20000);
  assert.equal(rt.liveBytes, arena.bytes + 20000); // + the private input x
  assert.equal(big.scratch.buffer, arena.chunks[0]);
  assert.equal([big.scratch.offset, big.y.offset].join(), "0,1280");
  assert.notEqual(big.x.buffer, arena.chunks[0]);
  const small = await build(1000);
  assert.equal(small.y.buffer, arena.chunks[0]);
  assert.equal(small.y.offset, 1280);
  assert.equal(arena.overflowBytes, 0);
  const huge = await build(9000); // does not fit: its y gets a buffer of its own
  assert.equal(arena.overflowBytes, 36000);
  assert.notEqual(huge.y.buffer, arena.chunks[0]);
  for (const { x, y, op } of [big, small, huge]) {
    rt.run([op]);
    const xs = await rt.read(x), ys = await rt.read(y);
    const want = siluForward(Float64Array.from(xs));
    assert.ok(relErr(ys, want) < 1e-6);
  }
  rt.dispose();
});
