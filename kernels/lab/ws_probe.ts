// Lab probe (session 8): kernels/lab/matmul_ws.wgsl (weight-stationary: op(B)'s columns staged
// once per workgroup, A read from global memory) against `main` on the model's long-M products.
// Per shape: main's time (its shape-chosen tile), then each ws configuration's time and its largest
// difference from main's output relative to main's largest magnitude. Timestamp queries, median.
// Usage: deno run -A kernels/lab/ws_probe.ts [M] [reps]
import { getGpu } from "../../lib/gpu/device.ts";
import { type Op, Runtime, type Tensor } from "../../lib/gpu/runtime.ts";
import { matmul, type MatmulOptions } from "../../lib/gpu/ops.ts";
import { fill, time } from "../../tasks/bench_kernels.ts";

const gpu = await getGpu();
const rt = new Runtime(gpu);
const M = Number(Deno.args[0] ?? 204_800);
const reps = Number(Deno.args[1] ?? 7);
const warm = gpu.isFallback ? 0 : 300;
const lim = gpu.device.limits.maxComputeWorkgroupStorageSize;
console.log(gpu.adapterName, new Date().toISOString(), `M ${M}, workgroup memory ${lim} B`);

interface WsConf {
  BN: number;
  TM: number;
  TN: number;
  NT: number;
  /** workgroups along M (grid-stride), as a multiple of 132 */
  waves: number;
}

async function wsOp(a: Tensor, b: Tensor, c: Tensor, o: MatmulOptions, w: WsConf): Promise<Op> {
  const pipe = await rt.kernel("lab/matmul_ws", "main", {
    TRANS_B: !!o.transB,
    KD: o.k,
    BN: w.BN,
    TM: w.TM,
    TN: w.TN,
    NT: w.NT,
  });
  const BM = Math.floor(w.NT / (w.BN / w.TN)) * w.TM;
  const gx = Math.min(Math.ceil(o.m / BM), Math.round(132 * w.waves));
  return rt.op(pipe, [a, b, c], {
    params: [o.m, o.n, o.k, 0, 0, 0, { f32: 1 }, { f32: 0 }, 0, 1],
    workgroups: [gx, Math.ceil(o.n / w.BN), 1],
  });
}

const shapes: [string, MatmulOptions, WsConf[]][] = [];
const confs = (BNs: number[], K: number) =>
  BNs.filter((BN) => BN * K * 4 <= lim).flatMap((BN) =>
    [
      { TM: 4, TN: 8 },
      { TM: 8, TN: 4 },
      { TM: 8, TN: 8 },
      { TM: 4, TN: 4 },
    ].filter((t) => BN % t.TN === 0 && (BN / t.TN) <= 256).flatMap((t) =>
      [2, 4].map((waves) => ({ BN, ...t, NT: 256, waves }))
    )
  );
shapes.push(["S5 64x64 fwd", { m: M, n: 64, k: 64, transB: true }, confs([64, 32], 64)]);
shapes.push(["S5 64x64 dX", { m: M, n: 64, k: 64 }, confs([64, 32], 64)]);
shapes.push(["in_proj fwd", { m: M, n: 256, k: 64, transB: true }, confs([128, 64], 64)]);
shapes.push(["in_proj dX", { m: M, n: 64, k: 256 }, confs([32, 16], 256)]);
shapes.push(["x_proj fwd", { m: M, n: 68, k: 128, transB: true }, confs([68, 36], 128)]);
shapes.push(["x_proj dX", { m: M, n: 128, k: 68 }, confs([128, 64], 68)]);
shapes.push(["out_proj fwd", { m: M, n: 64, k: 128, transB: true }, confs([64, 32], 128)]);
shapes.push(["out_proj dX", { m: M, n: 128, k: 64 }, confs([128, 64], 64)]);

for (const [name, o, cs] of shapes) {
  const a = rt.tensor([o.m * o.k]), b = rt.tensor([o.k * o.n]);
  const c0 = rt.tensor([o.m * o.n]), c1 = rt.tensor([o.m * o.n]);
  fill(rt, a);
  fill(rt, b);
  const ref = await matmul(rt, { a, b, c: c0 }, o);
  const tf = (ns: number) => ((2 * o.m * o.n * o.k) / ns / 1e3).toFixed(1);
  const t0 = await time(rt, [ref], reps, warm);
  const want = await rt.read(c0);
  let scale = 0;
  for (const v of want) scale = Math.max(scale, Math.abs(v));
  console.log(
    `\n== ${name} ${o.m}x${o.n}x${o.k}: main ${((t0 ?? NaN) / 1e3).toFixed(1)} us ${
      tf(t0 ?? NaN)
    } TF/s`,
  );
  for (const w of cs) {
    const op = await wsOp(a, b, c1, o, w);
    const t = await time(rt, [op], reps, warm);
    const got = await rt.read(c1);
    let err = 0;
    for (let i = 0; i < got.length; i++) err = Math.max(err, Math.abs(got[i] - want[i]));
    console.log(
      `ws BN ${w.BN} TM ${w.TM} TN ${w.TN} waves ${w.waves}: ${((t ?? NaN) / 1e3).toFixed(1)} us ${
        tf(t ?? NaN)
      } TF/s  err ${(err / scale).toExponential(1)}`,
    );
    rt.run([{ clear: c1 }]);
  }
  rt.dispose();
}
