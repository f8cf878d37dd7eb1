// Tests of the lab's kept matmul versions (not the shipped kernel): `deno task test:lab`. They are
// out of `deno task test` because lavapipe compiles a pipeline in one thread: on a machine whose
// shader cache was empty, the tile test with these tiles (120 pipelines, 72 of them the lab's) ran
// 45 minutes without finishing (session 16).
import assert from "node:assert/strict";
import { getGpu } from "../../lib/gpu/device.ts";
import { f32, Runtime } from "../../lib/gpu/runtime.ts";
import { relErr, rng } from "../../lib/reference/gradcheck.ts";
import { matmulRef } from "../../lib/reference/linalg.ts";
import { checkTiles } from "../../tests/matmul_check.ts";
import { randF32 } from "../../tests/op_table.ts";

Deno.test("lab matmul v2–v5: their tile configs, vec4 and scalar paths", async () => {
  const rt = new Runtime(await getGpu());
  // v4 and v3 take tn = 4, tm 4 or 8; v5 also tn = 8; v2 any
  const worst = await checkTiles(rt, [
    [{ wgX: 16, wgY: 16, tm: 8, tn: 4, bk: 8 }, "lab/matmul_v4"],
    [{ wgX: 17, wgY: 15, tm: 8, tn: 4, bk: 16 }, "lab/matmul_v4"],
    [{ wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8 }, "lab/matmul_v5"],
    [{ wgX: 9, wgY: 15, tm: 8, tn: 8, bk: 16 }, "lab/matmul_v5"],
    [{ wgX: 16, wgY: 16, tm: 8, tn: 4, bk: 8 }, "lab/matmul_v5"],
    [{ wgX: 17, wgY: 15, tm: 8, tn: 4, bk: 16 }, "lab/matmul_v3"],
    [{ wgX: 32, wgY: 8, tm: 8, tn: 4, bk: 32 }, "lab/matmul_v3"],
    [{ wgX: 16, wgY: 16, tm: 8, tn: 8, bk: 8 }, "lab/matmul_v2"],
    [{ wgX: 8, wgY: 8, tm: 4, tn: 8, bk: 32 }, "lab/matmul_v2"],
  ]);
  console.log(`worst relative error over the lab tiles: ${worst.toExponential(2)}`);
});

Deno.test("lab matmul v1 still matches its contract", async () => {
  const rt = new Runtime(await getGpu());
  const rand = rng(2);
  const [m, n, k] = [33, 17, 29];
  const a = randF32(m * k, rand), b = randF32(k * n, rand);
  const tc = rt.tensor([m * n], "f32", new Float32Array(m * n).fill(NaN));
  const pipe = await rt.kernel("lab/matmul_v1", "main", { TRANS_A: false, TRANS_B: false });
  rt.run([
    rt.op(pipe, [rt.tensor([m * k], "f32", a), rt.tensor([k * n], "f32", b), tc], {
      params: [m, n, k, m * k, k * n, m * n, f32(1), f32(0)],
      workgroups: [Math.ceil(n / 16), Math.ceil(m / 16), 1],
    }),
  ]);
  assert.ok(relErr(await rt.read(tc), matmulRef(a, b, { m, n, k })) < 1e-5);
});
