/**
 * Table-driven GPU-vs-float64 op tests: one {@linkcode OpRow} per op (shapes, input makers, GPU
 * runner, float64 reference) and one {@linkcode GradRow} per reference backward. A new op gets its
 * tests by adding a row; `checkRow` / `checkGrad` do the comparing, so every op is held to the same
 * rules: fresh random inputs per shape (never zeros), outputs poisoned (NaN / 0xFFFFFFFF) before
 * the run, relative L2 error against an f32-appropriate bound, finite differences on the reference.
 *
 * @module
 */

import type { DType, Runtime, Tensor } from "../lib/gpu/runtime.ts";
import { gradcheck, type GradcheckResult, randn, relErr, rng } from "../lib/reference/gradcheck.ts";

/** Host data of one input or output. */
export type HostArray = Float64Array | Int32Array | Uint32Array;

/** Named host arrays. */
export type Named = Record<string, HostArray>;

/** One op under test. */
export interface OpRow<S> {
  name: string;
  /** Shapes to run, including odd sizes. */
  shapes: S[];
  /** Fresh random inputs (float inputs already rounded to f32, see {@linkcode randF32}). */
  make: (shape: S, rand: () => number) => Named;
  /** Builds, runs and reads back the outputs to compare (poison outputs with {@linkcode poisoned}). */
  gpu: (rt: Runtime, shape: S, inputs: Named) => Promise<Record<string, ArrayLike<number>>>;
  /** float64 reference of the same outputs. */
  reference: (shape: S, inputs: Named) => Record<string, ArrayLike<number>>;
  /** Bound on the relative L2 error per output (default 1e-5; 0 demands exact equality). */
  tol?: Record<string, number>;
}

/** One measured comparison. */
export interface RowResult {
  shape: string;
  output: string;
  err: number;
  tol: number;
}

/** Runs a row on every shape; throws with all failures listed, else returns the measured errors. */
export async function checkRow<S>(rt: Runtime, row: OpRow<S>, seed = 1): Promise<RowResult[]> {
  const results: RowResult[] = [];
  const failures: string[] = [];
  for (const [si, shape] of row.shapes.entries()) {
    const inputs = row.make(shape, rng(seed * 1000 + si));
    const got = await row.gpu(rt, shape, inputs);
    const want = row.reference(shape, inputs);
    for (const [name, w] of Object.entries(want)) {
      const g = got[name];
      const tol = row.tol?.[name] ?? 1e-5;
      const s = JSON.stringify(shape);
      if (!g) {
        failures.push(`${s} ${name}: missing from the GPU outputs`);
        continue;
      }
      const err = relErr(Array.from(g), Array.from(w));
      results.push({ shape: s, output: name, err, tol });
      if (!(err <= tol)) failures.push(`${s} ${name}: rel err ${err} > ${tol}`);
    }
  }
  if (failures.length) throw new Error(`${row.name}:\n  ${failures.join("\n  ")}`);
  return results;
}

/** A finite-difference check of a reference backward. */
export interface GradRow {
  name: string;
  forward: (inputs: Float64Array[]) => Float64Array;
  backward: (inputs: Float64Array[], dOut: Float64Array) => (Float64Array | null)[];
  inputs: (rand: () => number) => Float64Array[];
  /** Inputs not to perturb (indices). */
  skip?: number[];
  /** Bound on the worst relative error (default 1e-5). */
  tol?: number;
  /**
   * Denominator floor of the relative error (gradcheck's `floor`): entries whose true derivative
   * is far below the output's scale are judged absolutely, because central differences carry
   * ~1e-10 absolute noise there.
   */
  floor?: number;
}

/** Runs `gradcheck` on a row; throws when any input exceeds the bound. */
export function checkGrad(row: GradRow, seed = 3): GradcheckResult[] {
  const res = gradcheck(row.forward, row.backward, row.inputs(rng(seed)), {
    skip: row.skip,
    floor: row.floor,
  });
  const bad = res.filter((r) => !(r.maxRelError <= (row.tol ?? 1e-5)));
  if (bad.length) throw new Error(`${row.name}: gradcheck ${JSON.stringify(bad)}`);
  return res;
}

/** n standard-normal values × scale, rounded to f32 (so GPU and reference see the same numbers). */
export function randF32(n: number, rand: () => number, scale = 1): Float64Array {
  return Float64Array.from(new Float32Array(randn(n, rand, scale)));
}

/** n integers uniform in [lo, hi). */
export function randInt(n: number, rand: () => number, lo: number, hi: number): Int32Array {
  return Int32Array.from({ length: n }, () => lo + Math.floor(rand() * (hi - lo)));
}

/** Uploads host data as a tensor of the array's dtype (f32 for Float64Array). */
export function upload(rt: Runtime, data: HostArray, shape?: number[]): Tensor {
  const dtype: DType = data instanceof Int32Array
    ? "i32"
    : data instanceof Uint32Array
    ? "u32"
    : "f32";
  return rt.tensor(shape ?? [data.length], dtype, data);
}

/** A tensor filled with poison: NaN for f32, 0xFFFFFFFF (−1 for i32) otherwise. */
export function poisoned(rt: Runtime, shape: number[], dtype: DType = "f32"): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const fill = dtype === "f32"
    ? new Float32Array(n).fill(NaN)
    : dtype === "i32"
    ? new Int32Array(n).fill(-1)
    : new Uint32Array(n).fill(0xFFFFFFFF);
  return rt.tensor(shape, dtype, fill);
}

/** The per-step scalars tensor of a BuildContext: u32 [step, seed, training, 0]. */
export function stepTensor(rt: Runtime, seed: number, training: boolean, step = 1): Tensor {
  return rt.tensor([4], "u32", [step, seed, training ? 1 : 0, 0], "step");
}
