// Float64 checks of the matmul kernels, shared by tests/gpu_matmul_test.ts and the lab kernels'
// tests (kernels/lab/lab_test.ts).
import assert from "node:assert/strict";
import type { Command, Runtime } from "../lib/gpu/runtime.ts";
import { matmul, matmulOps, type MatmulOptions, type MatmulTile } from "../lib/gpu/ops.ts";
import { relErr, rng } from "../lib/reference/gradcheck.ts";
import { randF32 } from "./op_table.ts";
import { matmulRef } from "../lib/reference/linalg.ts";

/** Runs one product on fresh random inputs and returns the relative error vs float64. */
export async function check(
  rt: Runtime,
  o: MatmulOptions,
  build: "single" | "ops" = "ops",
  seed = 1,
): Promise<number> {
  const { m, n, k, batch = 1 } = o;
  const rand = rng(seed);
  const sa = o.strideA ?? m * k, sb = o.strideB ?? k * n, sc = o.strideC ?? m * n;
  const na = sa * (batch - 1) + m * k, nb = sb * (batch - 1) + k * n, nc = sc * (batch - 1) + m * n;
  const a = randF32(na, rand), b = randF32(nb, rand);
  // C starts random when accumulating (beta != 0), poisoned with NaN otherwise
  const c0 = o.beta ? randF32(nc, rand) : new Float64Array(nc).fill(NaN);
  const ta = rt.tensor([na], "f32", a), tb = rt.tensor([nb], "f32", b);
  const tc = rt.tensor([nc], "f32", c0);
  const cmds: Command[] = build === "single"
    ? [await matmul(rt, { a: ta, b: tb, c: tc }, o)]
    : await matmulOps(rt, { a: ta, b: tb, c: tc }, o);
  rt.run(cmds);
  const got = await rt.read(tc);
  const want = Float64Array.from(c0);
  for (let z = 0; z < batch; z++) {
    const r = matmulRef(a.subarray(z * sa, z * sa + m * k), b.subarray(z * sb, z * sb + k * n), {
      ...o,
      c: c0.subarray(z * sc, z * sc + m * n),
    });
    want.set(r, z * sc);
  }
  for (const t of [ta, tb, tc]) rt.free(t);
  // gaps between batch slices must be untouched: poison stays NaN, random values stay equal
  const g: number[] = [], w: number[] = [];
  for (let i = 0; i < nc; i++) {
    if (Number.isNaN(want[i])) assert.ok(Number.isNaN(got[i]), `gap element ${i} was written`);
    else {
      g.push(got[i]);
      w.push(want[i]);
    }
  }
  return relErr(g, w);
}

/**
 * Every [tile, kernel] pair on an aligned (vec4 paths) and an odd (scalar paths) shape, in all four
 * transpose combinations with beta accumulation; asserts each against float64 and returns the
 * worst relative error. `kernel` undefined is the shipped kernel (kernels/matmul.wgsl).
 */
export async function checkTiles(
  rt: Runtime,
  tiles: [MatmulTile, string | undefined][],
): Promise<number> {
  let worst = 0;
  for (const [tile, kernel] of tiles) {
    for (const [m, n, k] of [[136, 72, 40], [67, 45, 23]]) {
      for (const [transA, transB] of [[false, false], [false, true], [true, false], [true, true]]) {
        const err = await check(
          rt,
          { m, n, k, transA, transB, tile, kernel, beta: 1 },
          "single",
          m + k,
        );
        worst = Math.max(worst, err);
        assert.ok(
          err < 1e-5,
          `${kernel ?? "matmul"} ${
            JSON.stringify(tile)
          } m${m} n${n} k${k} ${transA} ${transB}: ${err}`,
        );
      }
    }
  }
  return worst;
}
