// Tile sweep of the current matmul kernel at the model's shapes (M = B·L = 204,800); prints the
// chosen tile's time and the best 6 candidates per shape. Args: [filter] [reps]
import { getGpu } from "../lib/gpu/device.ts";
import { type Command, type Op, Runtime } from "../lib/gpu/runtime.ts";
import { chooseSplitK, chooseTile, matmulOps, type MatmulTile, tileFits } from "../lib/gpu/ops.ts";
const gpu = await getGpu();
const rt = new Runtime(gpu);
const only = Deno.args[0] ?? "";
const reps = Number(Deno.args[1] ?? 5);
const M = 204_800;
const shapes = [
  { name: "in_proj fwd", m: M, n: 256, k: 64, transB: true },
  { name: "out_proj fwd", m: M, n: 64, k: 128, transB: true },
  { name: "x_proj fwd", m: M, n: 68, k: 128, transB: true },
  { name: "S5 64x64 fwd", m: M, n: 64, k: 64, transB: true },
  { name: "dt_proj fwd", m: M, n: 128, k: 4, transB: true },
  { name: "in_proj dX", m: M, n: 64, k: 256 },
  { name: "out_proj dX", m: M, n: 128, k: 64 },
  { name: "x_proj dX", m: M, n: 128, k: 68 },
  { name: "S5 64x64 dX", m: M, n: 64, k: 64 },
  { name: "in_proj dW", m: 256, n: 64, k: M, transA: true },
  { name: "out_proj dW", m: 64, n: 128, k: M, transA: true },
  { name: "x_proj dW", m: 68, n: 128, k: M, transA: true },
  { name: "S5 64x64 dW", m: 64, n: 64, k: M, transA: true },
];
const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function time(cmds: Command[]): Promise<number> {
  const ops = cmds.filter((c): c is Op => "pipeline" in c);
  // keep the card busy first (a sparse submission pattern measured 3-5x slower: clocks?)
  for (let i = 0; i < 100; i++) rt.run(cmds);
  await rt.sync();
  const all: Op[] = [];
  for (let r = 0; r < reps; r++) all.push(...ops);
  const ns = (await rt.profile(all))!;
  const per: number[] = [];
  for (let r = 0; r < reps; r++) per.push(ns.slice(r * ops.length, (r + 1) * ops.length).reduce((a, b) => a + b, 0));
  return med(per) / 1e3;
}
const name = (t: MatmulTile) => `${t.wgY * t.tm}x${t.wgX * t.tn}/${t.tm}x${t.tn}/bk${t.bk}/wg${t.wgX}x${t.wgY}`;
console.log(gpu.adapterName, new Date().toISOString());
// one set of operands for every shape, allocated once and never freed: re-allocating after a
// dispose() is what made the kernel lab's later rows 3-5x slow (the hypothesis this run tests)
const SZ = 204_800 * 256;
const a = rt.tensor([SZ]), b = rt.tensor([SZ]), c = rt.tensor([SZ]);
rt.write(a, Float32Array.from({ length: SZ }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5));
rt.write(b, Float32Array.from({ length: SZ }, (_, i) => ((i * 104729) % 1000) / 1000 - 0.5));
const ws = rt.tensor([20_000_000]);
for (const s of shapes.filter((x) => x.name.includes(only))) {
  const longK = s.k >= 1024;
  const workspace = longK ? ws : undefined;
  const cands: MatmulTile[] = [];
  for (const tn of [4, 8]) for (const tm of [4, 8]) for (const bk of longK ? [8, 16, 32] : [8, 16]) {
    for (const wgX of [4, 8, 16, 32, Math.ceil(s.n / tn)]) for (const nt of [128, 256]) {
      const wgY = nt / wgX;
      if (!Number.isInteger(wgY) || wgY < 1) continue;
      const t = { wgX, wgY, tm, tn, bk: s.k <= 8 ? 4 : bk };
      if (!tileFits(t) || wgX * tn > Math.max(s.n, 4 * tn) * 1.0 + 3 * tn) continue;
      if (cands.some((x) => name(x) === name(t))) continue;
      cands.push(t);
    }
  }
  const chosen = chooseTile(s.m, s.n, s.k);
  const res: [string, number][] = [];
  const tc = await time(await matmulOps(rt, { a, b, c, workspace }, { ...s, tile: chosen }));
  for (const t of cands) {
    for (const sk of longK ? [undefined, 128, 256] : [undefined]) {
      if (sk && sk * s.m * s.n > 20_000_000) continue;
      const us = await time(await matmulOps(rt, { a, b, c, workspace }, { ...s, tile: t, splitK: sk }));
      res.push([`${name(t)} split ${sk ?? chooseSplitK(s.m, s.n, s.k, 1, t)}`, us]);
    }
  }
  res.sort((x, y) => x[1] - y[1]);
  const gf = (us: number) => (2 * s.m * s.n * s.k / us / 1e6).toFixed(1);
  console.log(`\n## ${s.name} ${s.m}x${s.n}x${s.k}: chosen ${name(chosen)} split ${chooseSplitK(s.m, s.n, s.k, 1, chosen)}: ${tc.toFixed(1)} µs (${gf(tc)} TFLOP/s); ${res.length} candidates`);
  for (const [n, us] of res.slice(0, 6)) console.log(`  ${n}: ${us.toFixed(1)} µs (${gf(us)} TFLOP/s)`);
}
