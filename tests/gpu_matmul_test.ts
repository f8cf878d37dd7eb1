import assert from "node:assert/strict";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { matmul } from "../lib/gpu/ops.ts";
import { randn, relErr, rng } from "../lib/reference/gradcheck.ts";
import { matmulRef } from "../lib/reference/linalg.ts";

Deno.test("matmul: all transpose combinations, odd sizes, beta accumulation", async () => {
  const rt = new Runtime(await getGpu());
  const rand = rng(3);
  for (const [m, n, k] of [[1, 1, 1], [37, 19, 70], [64, 128, 33]]) {
    for (const transA of [false, true]) {
      for (const transB of [false, true]) {
        for (const beta of [0, 1]) {
          const a = randn(m * k, rand), b = randn(k * n, rand), c = randn(m * n, rand);
          const tc = rt.tensor([m * n], "f32", c);
          rt.run([
            await matmul(rt, {
              a: rt.tensor([m * k], "f32", a),
              b: rt.tensor([k * n], "f32", b),
              c: tc,
            }, { m, n, k, transA, transB, beta }),
          ]);
          const want = matmulRef(a, b, { m, n, k, transA, transB, beta, c });
          const err = relErr(await rt.read(tc), want);
          assert.ok(err < 1e-5, `m${m} n${n} k${k} tA${transA} tB${transB} beta${beta}: ${err}`);
        }
      }
    }
  }
});
