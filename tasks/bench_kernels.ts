/**
 * The kernel lab: times the matmul versions at the model's shapes (forward, dX, dW with split-K,
 * the logits layer), optionally a tile sweep of the current version, the fused Adam and the
 * reductions, with timestamp queries, and prints markdown tables (GFLOP/s, GB/s, share of the
 * card's roofline).
 *
 * Usage: `deno task bench:kernels [--quick] [--all | --versions A,B] [--only TEXT] [--sweep]
 * [--reps N]`.
 * `--quick` uses CI-size shapes (llvmpipe finishes in seconds); by default the previous version (v4)
 * and the current one are timed, `--all` adds v1, v2 and v3 (slow: tens of ms per dW shape);
 * `--versions` names the columns instead (`current`, or X for kernels/lab/matmul_X.wgsl: v4,v5);
 * `--only` keeps the shapes whose name contains TEXT (a family: "fwd", "dX", "dW", "logits"); `--sweep`
 * adds the tile sweep used to tune `chooseTile`.
 *
 * @module
 */

import { getGpu } from "../lib/gpu/device.ts";
import { type Command, f32, type Op, Runtime, type Tensor } from "../lib/gpu/runtime.ts";
import { chooseSplitK, chooseTile, matmulOps, type MatmulTile, tileFits } from "../lib/gpu/ops.ts";
import { GradNorm, TensorStats } from "../lib/gpu/reduce.ts";
import { Adam } from "../lib/train/adam.ts";

/** One matmul shape of the model. */
interface Shape {
  name: string;
  m: number;
  n: number;
  k: number;
  transA?: boolean;
  transB?: boolean;
}

/** The model's matmuls at B = 1024, L = 200 (or scaled down for `--quick`). */
function shapes(quick: boolean): Shape[] {
  const M = quick ? 2048 : 204_800, B = quick ? 64 : 1024, V = quick ? 341 : 3417;
  return [
    { name: "in_proj fwd", m: M, n: 256, k: 64, transB: true },
    { name: "out_proj fwd", m: M, n: 64, k: 128, transB: true },
    { name: "x_proj fwd", m: M, n: 68, k: 128, transB: true },
    { name: "S5 64x64 fwd", m: M, n: 64, k: 64, transB: true },
    { name: "dt_proj fwd", m: M, n: 128, k: 4, transB: true },
    { name: "in_proj dX", m: M, n: 64, k: 256 },
    { name: "out_proj dX", m: M, n: 128, k: 64 },
    { name: "x_proj dX", m: M, n: 128, k: 68 },
    { name: "dt_proj dX", m: M, n: 4, k: 128 },
    { name: "in_proj dW", m: 256, n: 64, k: M, transA: true },
    { name: "out_proj dW", m: 64, n: 128, k: M, transA: true },
    { name: "x_proj dW", m: 68, n: 128, k: M, transA: true },
    { name: "S5 64x64 dW", m: 64, n: 64, k: M, transA: true },
    { name: "dt_proj dW", m: 128, n: 4, k: M, transA: true },
    { name: "logits fwd", m: B, n: V, k: 64, transB: true },
    { name: "logits dE", m: V, n: 64, k: B, transA: true },
    { name: "logits dX", m: B, n: 64, k: V },
  ];
}

const H100 = { flops: 67e12, bytes: 3.35e12 };

/** Median of a sample (the upper middle one of an even count), for timing repetitions. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * Keeps the card busy with `cmds` for `ms` of wall time, in bursts grown to ~50 ms each so the
 * ~10 ms sync gaps stay small. An idle H100 drops its SM clock from 1,980 to 345 MHz and takes
 * longer than 100 back-to-back runs (~35 ms) to ramp back: timed after the pauses of compiling and
 * uploading a shape, this lab measured the same kernel 2–5x slow (kernels/lab/RESULTS.md).
 */
export async function busy(rt: Runtime, cmds: Command[], ms: number): Promise<void> {
  const t0 = performance.now();
  let n = 1;
  do {
    const s = performance.now();
    for (let i = 0; i < n; i++) rt.run(cmds);
    await rt.sync();
    if (performance.now() - s < 50 && n < 1 << 14) n *= 2;
  } while (performance.now() - t0 < ms);
}

/** Median nanoseconds of a command list (timestamp queries; each op its own pass). */
export async function time(
  rt: Runtime,
  cmds: Command[],
  reps: number,
  warmMs: number,
): Promise<number | null> {
  const ops = cmds.filter((c): c is Op => "pipeline" in c);
  await busy(rt, cmds, warmMs);
  const all: Op[] = [];
  for (let r = 0; r < reps; r++) all.push(...ops);
  const ns = await rt.profile(all);
  if (!ns) return null;
  const per: number[] = [];
  for (let r = 0; r < reps; r++) {
    per.push(ns.slice(r * ops.length, (r + 1) * ops.length).reduce((a, b) => a + b, 0));
  }
  return median(per);
}

/** Fills a tensor with a cheap non-zero pattern (no fast paths for zeros). */
export function fill(rt: Runtime, t: Tensor): void {
  const x = new Float32Array(t.size);
  for (let i = 0; i < x.length; i++) x[i] = ((i * 7919) % 1009) * 1e-3 - 0.5;
  rt.write(t, x);
}

function fmtRate(x: number): string {
  return x >= 100 ? x.toFixed(0) : x.toFixed(1);
}

/** Builds the v1 op (its own params contract, 16x16 tiles, one dispatch). */
async function v1Op(rt: Runtime, s: Shape, a: Tensor, b: Tensor, c: Tensor): Promise<Op> {
  const pipe = await rt.kernel("lab/matmul_v1", "main", {
    TRANS_A: !!s.transA,
    TRANS_B: !!s.transB,
  });
  return rt.op(pipe, [a, b, c], {
    params: [s.m, s.n, s.k, s.m * s.k, s.k * s.n, s.m * s.n, f32(1), f32(0)],
    workgroups: [Math.ceil(s.n / 16), Math.ceil(s.m / 16), 1],
  });
}

function tileName(t: MatmulTile): string {
  return `${t.wgY * t.tm}x${t.wgX * t.tn}/${t.tm}x${t.tn}/bk${t.bk}`;
}

async function main(): Promise<void> {
  const args = Deno.args;
  const quick = args.includes("--quick");
  const sweep = args.includes("--sweep");
  const ri = args.indexOf("--reps");
  const reps = ri >= 0 ? Number(args[ri + 1]) : quick ? 3 : 10;
  const oi = args.indexOf("--only");
  const only = oi >= 0 ? args[oi + 1] : "";
  const gpu = await getGpu();
  const rt = new Runtime(gpu);
  // a software adapter has no clock to ramp up; --quick is the CI-size smoke run
  const warmMs = quick || gpu.isFallback ? 0 : 1000;
  const roof = /H100/.test(gpu.adapterName) ? H100 : null;
  const out: string[] = [];
  const say = (s: string) => {
    out.push(s);
    console.log(s);
  };
  say(`# Kernel lab\n`);
  say(`- adapter: ${gpu.adapterName}${gpu.isFallback ? " (software)" : ""}`);
  say(`- date: ${new Date().toISOString()}`);
  say(`- command: deno task bench:kernels ${args.join(" ")}`);
  say(
    `- roofline: ${
      roof ? "H100 SXM ~67 TFLOP/s fp32 (non-tensor), ~3.35 TB/s HBM3" : "n/a (not an H100)"
    }; timing: median of ${reps} timestamp-query runs, each dispatch in its own pass\n`,
  );
  if (!gpu.hasTimestamps) say("no timestamp-query on this adapter: times are n/a\n");

  const vsi = args.indexOf("--versions");
  const versions = vsi >= 0
    ? args[vsi + 1].split(",")
    : args.includes("--all")
    ? ["v1", "v2", "v3", "v4", "current"]
    : ["v4", "current"];
  say(`## Matmul (fp32), GFLOP/s (and effective GB/s of A + B + C)\n`);
  say(`| shape | M x N x K | ${versions.join(" | ")} | tile / splits (current) | % roofline |`);
  say(`|---|---|${versions.map(() => "---|").join("")}---|---|`);
  const sweepRows: string[] = [];
  const totals = versions.map(() => 0);
  for (const s of shapes(quick).filter((x) => x.name.includes(only))) {
    const a = rt.tensor([s.m * s.k]), b = rt.tensor([s.k * s.n]), c = rt.tensor([s.m * s.n]);
    fill(rt, a);
    fill(rt, b);
    const flops = 2 * s.m * s.n * s.k;
    const bytes = 4 * (s.m * s.k + s.k * s.n + s.m * s.n);
    const cells: string[] = [];
    let best = Infinity;
    const tile = chooseTile(s.m, s.n, s.k);
    const splits = chooseSplitK(s.m, s.n, s.k, 1, tile);
    for (const [vi, v] of versions.entries()) {
      const cmds: Command[] = v === "v1"
        ? [await v1Op(rt, s, a, b, c)]
        : await matmulOps(rt, { a, b, c }, {
          ...s,
          kernel: v === "current" ? "matmul" : `lab/matmul_${v}`,
          // v3 at its own choice (bk 16 where v4 takes 8); v2 picks its own tile
          tile: v === "v2" ? undefined : v === "v3" && tile.bk === 8 ? { ...tile, bk: 16 } : tile,
        });
      const ns = await time(rt, cmds, reps, warmMs);
      if (ns === null) cells.push("n/a");
      else {
        best = Math.min(best, ns);
        totals[vi] += ns;
        cells.push(
          `${fmtRate(flops / ns)} (${fmtRate(bytes / ns)} GB/s, ${(ns / 1e3).toFixed(0)} µs)`,
        );
      }
    }
    const pct = roof && Number.isFinite(best)
      ? `${(100 * Math.max(flops / roof.flops, bytes / roof.bytes) / (best * 1e-9)).toFixed(0)}%`
      : "n/a";
    say(
      `| ${s.name} | ${s.m} x ${s.n} x ${s.k}${s.transA ? " Aᵀ" : ""}${s.transB ? " Bᵀ" : ""} | ${
        cells.join(" | ")
      } | ${tileName(tile)} / ${splits} | ${pct} |`,
    );
    if (sweep) {
      const tiles: MatmulTile[] = [
        { wgX: 16, wgY: 16, tm: 4, tn: 4, bk: 16 },
        { wgX: 16, wgY: 16, tm: 8, tn: 4, bk: 16 },
        { wgX: 16, wgY: 16, tm: 8, tn: 4, bk: 32 },
        { wgX: 16, wgY: 8, tm: 8, tn: 4, bk: 16 },
        { wgX: 32, wgY: 8, tm: 8, tn: 4, bk: 16 },
        { wgX: 8, wgY: 32, tm: 8, tn: 4, bk: 16 },
        { wgX: 16, wgY: 32, tm: 4, tn: 4, bk: 16 },
        tile,
      ];
      const splitOpts = s.k >= 1024 ? [undefined, 1, 32, 128, 256] : [undefined];
      // one workspace for the whole sweep of this shape (the largest split count)
      const workspace = s.k >= 1024 ? rt.tensor([1200 * s.m * s.n]) : undefined;
      for (const t of tiles) {
        if ((t.bk > s.k && s.k > 8) || !tileFits(t)) continue;
        const tt = s.k <= 8 ? { ...t, bk: 4 } : t;
        for (const sk of splitOpts) {
          if (sk && sk > s.k / 256) continue;
          const cmds = await matmulOps(rt, { a, b, c, workspace }, { ...s, tile: tt, splitK: sk });
          const ns = await time(rt, cmds, Math.max(3, reps >> 1), warmMs);
          const sp = sk ?? chooseSplitK(s.m, s.n, s.k, 1, tt);
          const row = `| ${s.name} | ${tileName(tt)} | ${sp} | ${
            ns === null ? "n/a" : fmtRate(flops / ns)
          } |`;
          sweepRows.push(row);
          // also streamed to stderr at once: a run cut short by a time limit keeps what it measured
          console.error(`sweep ${row}`);
        }
      }
    }
    // everything this shape allocated, split-K workspaces of matmulOps included (the lab holds one
    // shape's memory at a time)
    rt.dispose();
  }
  say(
    `| **sum** | | ${totals.map((t) => `${(t / 1e3).toFixed(0)} µs`).join(" | ")} | | |`,
  );
  if (sweepRows.length) {
    say(`\n## Tile sweep of the current kernel, GFLOP/s\n`);
    say(`| shape | BMxBN/TMxTN/BK | splits | GFLOP/s |`);
    say(`|---|---|---|---|`);
    for (const r of sweepRows) say(r);
  }

  if (only) return;
  // Optimiser and reductions at the model's size: 309,184 parameters (ML-1M), and a NaN scan
  // over one [B·L, 2E] activation.
  say(`\n## Adam and reductions\n`);
  say(`| op | elements | µs | GB/s | % of HBM roofline |`);
  say(`|---|---|---|---|---|`);
  const nParams = 309_184;
  const p = rt.tensor([nParams]), g = rt.tensor([nParams]);
  fill(rt, p);
  fill(rt, g);
  const adam = await new Adam(rt, p, g).init();
  adam.setStep(1);
  const gn = await new GradNorm(rt, g, { maxNorm: 1, applyClip: true }).init();
  const nAct = quick ? 2048 * 256 : 204_800 * 256;
  const act = rt.tensor([nAct]);
  fill(rt, act);
  const stats = await new TensorStats(rt, [
    { name: "act", tensor: act },
    { name: "p", tensor: p },
    { name: "g", tensor: g },
  ]).init();
  const rows: [string, number, Command[], number][] = [
    ["Adam (fused, 1 dispatch)", nParams, adam.ops(), 7 * 4 * nParams],
    ["grad norm + clip (3 dispatches)", nParams, gn.ops(), 3 * 4 * nParams],
    ["stats + NaN scan, 3 regions", nAct + 2 * nParams, stats.ops(), 4 * (nAct + 2 * nParams)],
  ];
  for (const [name, n, cmds, bytes] of rows) {
    const ns = await time(rt, cmds, reps, warmMs);
    say(
      `| ${name} | ${n} | ${ns === null ? "n/a" : (ns / 1e3).toFixed(1)} | ${
        ns === null ? "n/a" : fmtRate(bytes / ns)
      } | ${
        roof && ns !== null ? `${(100 * bytes / roof.bytes / (ns * 1e-9)).toFixed(0)}%` : "n/a"
      } |`,
    );
  }
}

if (import.meta.main) await main();
