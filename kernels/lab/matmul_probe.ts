// Where the fp32 products' time goes (session 7): the kernel's ceiling on a long K (square
// products), the model's long-M shapes at 1x and 5x M (wave tails), a wave probe (time against
// the workgroup count: how many workgroups an SM holds), and the dW products' split-K stages
// timed apart (main, reduce) for several slice counts. Timestamp queries, each dispatch its own
// pass, median of `reps` runs after keeping the card busy (tasks/bench_kernels.ts).
// (Its sections "persist" and "tn8", for the rejected tile streams and 8 x 8 tiles, are in commit
// 4d1d349 with the kernels they timed.)
// Usage: deno run -A kernels/lab/matmul_probe.ts [reps] [sections: scale,square,wave,dw,abl,bk,sweep]
// [files]
import { getGpu } from "../../lib/gpu/device.ts";
import { type Command, type Op, Runtime } from "../../lib/gpu/runtime.ts";
import { chooseSplitK, chooseTile, matmulOps, type MatmulOptions } from "../../lib/gpu/ops.ts";
import { busy, fill, median } from "../../tasks/bench_kernels.ts";

const gpu = await getGpu();
const rt = new Runtime(gpu);
const reps = Number(Deno.args[0] ?? 7);
const sections = (Deno.args[1] ?? "scale,square,wave,dw").split(",");
const ablations = Deno.args[2]?.split(",") ?? [];
const warm = gpu.isFallback ? 0 : 400;
console.log(gpu.adapterName, new Date().toISOString(), `reps ${reps}`);

/** Median ns of each dispatch of `cmds`. */
async function perOp(cmds: Command[]): Promise<number[]> {
  const ops = cmds.filter((c): c is Op => "pipeline" in c);
  await busy(rt, cmds, warm);
  const runs: number[][] = [];
  for (let r = 0; r < reps; r++) runs.push((await rt.profile(ops)) ?? ops.map(() => NaN));
  return ops.map((_, i) => median(runs.map((x) => x[i])));
}

async function product(o: MatmulOptions): Promise<{ ns: number[]; desc: string }> {
  const a = rt.tensor([o.m * o.k]), b = rt.tensor([o.k * o.n]), c = rt.tensor([o.m * o.n]);
  fill(rt, a);
  fill(rt, b);
  const tile = o.tile ?? chooseTile(o.m, o.n, o.k);
  const splits = o.splitK ?? chooseSplitK(o.m, o.n, o.k, 1, tile);
  const cmds = await matmulOps(rt, { a, b, c }, { ...o, tile });
  const ns = await perOp(cmds);
  rt.dispose();
  const t = `${tile.wgY * tile.tm}x${tile.wgX * tile.tn}/${tile.tm}x${tile.tn}/bk${tile.bk}`;
  const wg = Math.ceil(o.m / (tile.wgY * tile.tm)) * Math.ceil(o.n / (tile.wgX * tile.tn));
  return { ns, desc: `${o.kernel ?? "matmul"} ${t} ${wg} tiles x ${splits} splits` };
}

function row(name: string, o: MatmulOptions, r: { ns: number[]; desc: string }) {
  const total = r.ns.reduce((x, y) => x + y, 0);
  const tf = (2 * o.m * o.n * o.k) / total / 1e3;
  const parts = r.ns.map((x) => (x / 1e3).toFixed(1)).join(" + ");
  console.log(
    `${name.padEnd(28)} ${o.m}x${o.n}x${o.k}${o.transA ? "A'" : ""}${o.transB ? "B'" : ""}`.padEnd(
      60,
    ) +
      ` ${(total / 1e3).toFixed(1).padStart(8)} us (${parts}) ${tf.toFixed(1)} TFLOP/s  ${r.desc}`,
  );
}

const M = 204_800;
const T128 = { wgX: 16, wgY: 16, tm: 8, tn: 4, bk: 8 };
/** The training step's long-M products (B·L rows; forward and dX). */
const LONG_M: [string, MatmulOptions][] = [
  ["S5 64x64 fwd", { m: M, n: 64, k: 64, transB: true }],
  ["S5 64x64 dX", { m: M, n: 64, k: 64 }],
  ["in_proj fwd", { m: M, n: 256, k: 64, transB: true }],
  ["in_proj dX", { m: M, n: 64, k: 256 }],
  ["in_proj.x fwd", { m: M, n: 128, k: 64, transB: true }],
  ["x_proj fwd", { m: M, n: 68, k: 128, transB: true }],
  ["x_proj dX", { m: M, n: 128, k: 68 }],
  ["out_proj fwd", { m: M, n: 64, k: 128, transB: true }],
  ["out_proj dX", { m: M, n: 128, k: 64 }],
];
if (sections.includes("scale")) {
  console.log("\n== long-M shapes at M and 5M, and K x 10");
  const fams: [string, MatmulOptions][] = [
    ["S5 64x64 fwd", { m: M, n: 64, k: 64, transB: true }],
    ["S5 64x64 dX (no trans)", { m: M, n: 64, k: 64 }],
    ["in_proj fwd", { m: M, n: 256, k: 64, transB: true }],
    ["in_proj dX", { m: M, n: 64, k: 256 }],
    ["x_proj fwd", { m: M, n: 68, k: 128, transB: true }],
    ["x_proj dX", { m: M, n: 128, k: 68 }],
    ["out_proj fwd", { m: M, n: 64, k: 128, transB: true }],
  ];
  for (const [name, o] of fams) {
    row(name, o, await product(o));
    const o5 = { ...o, m: 5 * M };
    row(name + " 5M", o5, await product(o5));
  }
  const ok = { m: M, n: 64, k: 640, transB: true };
  row("S5 fwd K x 10", ok, await product(ok));
}
if (sections.includes("square")) {
  console.log("\n== square (the kernel's ceiling on a long K)");
  for (const s of [2048, 4096]) {
    for (const [tb, ta] of [[false, false], [true, false]]) {
      const o = { m: s, n: s, k: s, transB: tb, transA: ta };
      row(`square ${s}`, o, await product(o));
      const o2 = { ...o, tile: T128 };
      row(`square ${s} 128x64`, o2, await product(o2));
    }
  }
}
if (sections.includes("wave")) {
  console.log("\n== wave probe: S5 fwd tile 128x64, M = 128 x 132 x w");
  for (const w of [1, 2, 3, 4, 5, 6, 8, 12, 16]) {
    const o = { m: 128 * 132 * w, n: 64, k: 64, transB: true, tile: T128 };
    row(`w = ${w}`, o, await product(o));
  }
}
if (sections.includes("bk")) {
  // session 15: an SM holds 48 KB of workgroup memory (session 13), so the 12.8 KB long-M tile
  // (bk 8) may be held at 3 per SM by it; bk 4 (6.4 KB) lifts that bound
  console.log("\n== long-M shapes by K step (workgroup memory 12.8 KB at bk 8, 6.4 KB at bk 4)");
  for (const [name, o] of LONG_M) {
    const t0 = chooseTile(o.m, o.n, o.k);
    for (const tile of [t0, { ...t0, bk: 4 }, { ...t0, bk: 4, tm: 4 }]) {
      const oo = { ...o, tile };
      try {
        row(name, oo, await product(oo));
      } catch (e) {
        console.log(`${name} ${JSON.stringify(tile)}: ${(e as Error).message}`);
      }
    }
  }
  console.log("\n== wave probe at bk 4: S5 fwd tile 128x64, M = 128 x 132 x w");
  for (const w of [1, 2, 3, 4, 5, 6, 7, 8, 9]) {
    for (const bk of [8, 4]) {
      const o = { m: 128 * 132 * w, n: 64, k: 64, transB: true, tile: { ...T128, bk } };
      row(`w = ${w} bk ${bk}`, o, await product(o));
    }
  }
}
if (sections.includes("sweep")) {
  // session 16: the current kernel's tiles around the default for every long-M shape (session 3's
  // sweep ran on v5; sessions 7–12 changed the K step and the epilogue since)
  console.log("\n== long-M shapes by tile (the default first)");
  for (const [name, o] of LONG_M) {
    const t0 = chooseTile(o.m, o.n, o.k);
    const half = Math.max(1, Math.floor(t0.wgY / 2));
    const cands = [
      t0,
      { ...t0, wgY: half },
      { ...t0, wgY: half, bk: 16 },
      { ...t0, bk: 16 },
      { ...t0, tm: 4 },
      { ...t0, wgY: Math.max(1, Math.floor(t0.wgY / 4)) },
      { ...t0, wgX: Math.max(1, Math.floor(t0.wgX / 2)), wgY: t0.wgY },
    ];
    for (const tile of cands) {
      const oo = { ...o, tile };
      try {
        row(name, oo, await product(oo));
      } catch (e) {
        console.log(`${name} ${JSON.stringify(tile)}: ${(e as Error).message}`);
      }
    }
  }
}
if (sections.includes("dw")) {
  console.log("\n== dW products: main + reduce by slice count");
  const fams: [string, MatmulOptions][] = [
    ["in_proj dW", { m: 256, n: 64, k: M, transA: true }],
    ["out_proj dW", { m: 64, n: 128, k: M, transA: true }],
    ["x_proj dW", { m: 68, n: 128, k: M, transA: true }],
    ["S5 dW", { m: 64, n: 64, k: M, transA: true }],
  ];
  for (const [name, o] of fams) {
    for (const splitK of [undefined, 66, 132, 264, 396, 528]) {
      for (const tm of [4, 8]) {
        const t0 = chooseTile(o.m, o.n, o.k);
        const tile = tm === t0.tm
          ? t0
          : { ...t0, tm, wgY: Math.max(1, Math.ceil(t0.wgY * t0.tm / tm)) };
        const oo = { ...o, splitK, tile };
        try {
          row(`${name} s${splitK ?? "def"} tm${tm}`, oo, await product(oo));
        } catch (e) {
          console.log(`${name} s${splitK} tm${tm}: ${(e as Error).message}`);
        }
      }
    }
  }
}

if (sections.includes("abl")) {
  // the given kernel files (third argument) against the current, e.g. ablation copies
  console.log("\n== ablations of the current kernel (kernel files given as the third argument)");
  const fams: [string, MatmulOptions][] = [
    ["square 4096", { m: 4096, n: 4096, k: 4096, tile: T128 }],
    ["in_proj fwd", { m: M, n: 256, k: 64, transB: true }],
    ["S5 64x64 fwd", { m: M, n: 64, k: 64, transB: true }],
    ["in_proj dX", { m: M, n: 64, k: 256 }],
    ["x_proj fwd", { m: M, n: 68, k: 128, transB: true }],
    ["x_proj dX", { m: M, n: 128, k: 68 }],
    ["out_proj fwd", { m: M, n: 64, k: 128, transB: true }],
    ["out_proj dX", { m: M, n: 128, k: 64 }],
    ["S5 64x64 dX", { m: M, n: 64, k: 64 }],
    ["in_proj dW", { m: 256, n: 64, k: M, transA: true }],
    ["x_proj dW", { m: 68, n: 128, k: M, transA: true }],
  ];
  for (const [name, o] of fams) {
    for (const kernel of ["matmul", ...ablations]) {
      try {
        row(name, o, await product({ ...o, kernel }));
      } catch (e) {
        console.log(`${name} ${kernel}: ${(e as Error).message}`);
      }
    }
  }
}
