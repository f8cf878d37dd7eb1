import assert from "node:assert/strict";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime, type Tensor } from "../lib/gpu/runtime.ts";
import {
  chooseSplitK,
  chooseTile,
  matmul,
  matmulOps,
  type MatmulOptions,
  tileFits,
} from "../lib/gpu/ops.ts";
import { randn, relErr, rng } from "../lib/reference/gradcheck.ts";
import { matmulRef } from "../lib/reference/linalg.ts";
import { check, checkTiles } from "./matmul_check.ts";
import { randF32 } from "./op_table.ts";

Deno.test("matmul: all transpose combinations, odd sizes, beta accumulation", async () => {
  const rt = new Runtime(await getGpu());
  let worst = 0;
  for (const [m, n, k] of [[1, 1, 1], [37, 19, 70], [64, 128, 33], [130, 68, 4], [5, 3, 9]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const beta of [0, 1]) {
          const err = await check(rt, { m, n, k, transA, transB, beta, alpha: 0.75 }, "single");
          worst = Math.max(worst, err);
          assert.ok(err < 1e-5, `m${m} n${n} k${k} tA${transA} tB${transB} beta${beta}: ${err}`);
        }
      }
    }
  }
  console.log(`worst relative error (single dispatch): ${worst.toExponential(2)}`);
});

Deno.test("matmul: every tile config, vec4 and scalar paths", async () => {
  const rt = new Runtime(await getGpu());
  // the shipped kernel's tiles: tn = 4, tm 4 or 8, odd workgroup shapes (`tileFits`); the lab
  // kernels' tiles are kernels/lab/lab_test.ts (`deno task test:lab`)
  const worst = await checkTiles(
    rt,
    [
      { wgX: 16, wgY: 16, tm: 4, tn: 4, bk: 16 },
      { wgX: 16, wgY: 16, tm: 8, tn: 4, bk: 16 },
      { wgX: 17, wgY: 15, tm: 8, tn: 4, bk: 16 },
      { wgX: 1, wgY: 64, tm: 4, tn: 4, bk: 4 },
      { wgX: 32, wgY: 8, tm: 8, tn: 4, bk: 16 },
      { wgX: 8, wgY: 8, tm: 4, tn: 4, bk: 32 },
    ].map((tile) => [tile, undefined]),
  );
  console.log(`worst relative error over tiles: ${worst.toExponential(2)}`);
});

Deno.test("matmul: batched with padded strides, split-K (deterministic), shape heuristics", async () => {
  const rt = new Runtime(await getGpu());
  let worst = 0;
  const cases: MatmulOptions[] = [
    { m: 20, n: 12, k: 16, batch: 3, strideA: 20 * 16 + 8, strideB: 12 * 16 + 4, strideC: 240 + 4 },
    { m: 7, n: 5, k: 11, batch: 2, strideA: 80, strideB: 61, strideC: 37, transA: true },
    { m: 16, n: 8, k: 2000, transA: true, splitK: 7 },
    { m: 33, n: 9, k: 1500, transA: true, splitK: 5, beta: 1, alpha: 0.5 },
    { m: 24, n: 64, k: 3000, batch: 2, transA: true, splitK: 3 },
    // dE = dlogitsᵀ·X and dX = dlogits·E of the logits layer, scaled down
    { m: 100, n: 16, k: 1024, transA: true },
    { m: 16, n: 16, k: 1100, transB: false },
    // dW-like (aligned, tm 8 tile, many slices) and a slice count that leaves a short last slice
    { m: 136, n: 64, k: 4100, transA: true, beta: 1, splitK: 32 },
    { m: 64, n: 132, k: 2052, transA: true, splitK: 9 },
    { m: 40, n: 12, k: 1234, transA: true, transB: true, splitK: 6 },
    // the reduce's 16 slice groups: more slices than groups (odd counts), batches, outputs not a
    // multiple of its 64 per workgroup, unaligned and aligned C with a padded batch stride
    { m: 9, n: 7, k: 4000, batch: 2, transA: true, splitK: 37, beta: 1, alpha: 0.5 },
    { m: 12, n: 20, k: 3000, batch: 3, strideC: 12 * 20 + 4, transA: true, splitK: 33 },
  ];
  for (const o of cases) {
    const err = await check(rt, o, "ops", o.k);
    worst = Math.max(worst, err);
    assert.ok(err < 1e-5, `${JSON.stringify(o)}: ${err}`);
  }
  // the heuristics pick split-K for the weight-gradient shape and big tiles for the forward one
  const tFwd = chooseTile(204800, 256, 64);
  assert.equal(tFwd.tm * tFwd.tn, 32);
  const tDw = chooseTile(256, 64, 204800);
  assert.ok(chooseSplitK(256, 64, 204800, 1, tDw) > 16);
  assert.equal(chooseSplitK(204800, 64, 128, 1, chooseTile(204800, 64, 128)), 1);
  // a software adapter: 64-invocation workgroups of 8 rows per thread, no split-K
  const tCpu = chooseTile(3651, 32, 1664, 1, true);
  assert.deepEqual(tCpu, { wgX: 8, wgY: 8, tm: 8, tn: 4, bk: 8 });
  assert.equal(chooseSplitK(3651, 32, 1664, 1, tCpu, true), 1);
  assert.deepEqual(chooseTile(1664, 3651, 32, 1, true), { wgX: 16, wgY: 4, tm: 8, tn: 4, bk: 8 });
  // every model shape family gets a tile the v4 kernel accepts (incl. N = 4, K = 4, odd N)
  for (
    const [m, n, k] of [
      [204800, 256, 64],
      [204800, 68, 128],
      [204800, 128, 4],
      [204800, 4, 128],
      [204800, 64, 256],
      [256, 64, 204800],
      [68, 128, 204800],
      [128, 4, 204800],
      [1024, 3417, 64],
      [3417, 64, 1024],
      [1024, 64, 3417],
    ]
  ) {
    const t = chooseTile(m, n, k);
    assert.ok(tileFits(t), `${m}x${n}x${k}: ${JSON.stringify(t)}`);
  }
  // 51 KB of double-buffered shared memory: refused
  assert.equal(tileFits({ wgX: 32, wgY: 8, tm: 8, tn: 4, bk: 32 }), false);
  // same inputs twice give bit-identical split-K output
  const rand = rng(5);
  const a = rt.tensor([4096 * 8], "f32", randn(4096 * 8, rand));
  const b = rt.tensor([4096 * 12], "f32", randn(4096 * 12, rand));
  const outs: Float32Array[] = [];
  for (let r = 0; r < 2; r++) {
    const c = rt.tensor([8 * 12]);
    rt.run(await matmulOps(rt, { a, b, c }, { m: 8, n: 12, k: 4096, transA: true, splitK: 16 }));
    outs.push(await rt.read(c) as Float32Array);
  }
  assert.deepEqual(outs[0], outs[1]);
  console.log(`worst relative error (batched / split-K): ${worst.toExponential(2)}`);
});

Deno.test("matmul: operands as views of a flat buffer at aligned offsets", async () => {
  const rt = new Runtime(await getGpu());
  const rand = rng(9);
  const { views } = rt.flat([
    { name: "w", shape: [24, 10] },
    { name: "x", shape: [30, 10] },
    { name: "y", shape: [30, 24] },
  ]);
  const w = randF32(240, rand), x = randF32(300, rand);
  const get = (s: string): Tensor => views.get(s)!;
  rt.write(get("w"), w);
  rt.write(get("x"), x);
  rt.write(get("y"), new Float32Array(720).fill(NaN));
  rt.run([
    await matmul(rt, { a: get("x"), b: get("w"), c: get("y") }, {
      m: 30,
      n: 24,
      k: 10,
      transB: true,
    }),
  ]);
  const err = relErr(
    await rt.read(get("y")),
    matmulRef(x, w, { m: 30, n: 24, k: 10, transB: true }),
  );
  assert.ok(err < 1e-5, `${err}`);
});

Deno.test("matmul: the skip epilogue adds d[n]·u[m, n] (vec4 and scalar paths, with beta)", async () => {
  const rt = new Runtime(await getGpu());
  const rand = rng(5);
  for (
    const o of [
      { m: 37, n: 8, k: 12, transB: true },
      { m: 19, n: 6, k: 5, transB: true, beta: 1 }, // N not a multiple of 4: scalar epilogue
      { m: 70, n: 64, k: 64, transB: true, alpha: 0.5 },
    ] as MatmulOptions[]
  ) {
    const { m, n, k } = o;
    const a = randF32(m * k, rand), b = randF32(k * n, rand);
    const u = randF32(m * n, rand), d = randF32(n, rand);
    const c0 = randF32(m * n, rand);
    const [ta, tb, tc, tu, td] = [a, b, c0, u, d].map((x) => rt.tensor([x.length], "f32", x));
    rt.run([await matmul(rt, { a: ta, b: tb, c: tc }, { ...o, skip: { u: tu, d: td } })]);
    const got = await rt.read(tc);
    const want = matmulRef(a, b, { ...o, c: c0 }).map((v, i) => v + d[i % n] * u[i]);
    const err = relErr(got, want);
    assert.ok(err < 1e-5, `${JSON.stringify(o)}: ${err}`);
  }
  await assert.rejects(
    async () => {
      const t = rt.tensor([64 * 64], "f32");
      await matmulOps(rt, { a: t, b: t, c: t }, {
        m: 64,
        n: 64,
        k: 64,
        batch: 1,
        splitK: 4,
        skip: { u: t, d: t },
      });
    },
    /skip/,
  );
});
