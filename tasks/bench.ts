/**
 * `deno task bench`: end-to-end SS4Rec training steps and full-ranking evaluation at ML-1M shapes
 * on synthetic ML-1M-shaped batches (realistic lengths and time gaps), warm-up excluded, many steps
 * between syncs; median and spread, peak GPU memory (our allocator's accounting), and the
 * per-kernel breakdown from timestamp queries. `--quick` runs CI-sized shapes. `--memory` only
 * builds the training steps on a dry-run device and reports their peak memory per buffer.
 *
 * @module
 */

import { Command } from "commander";
import { type Config, loadConfig } from "../lib/config.ts";
import type { Batch, SequenceBatch } from "../lib/data/batch.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { dryRunGpu } from "../lib/gpu/dry_run.ts";
import { type Op, Runtime } from "../lib/gpu/runtime.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { GradNorm } from "../lib/gpu/reduce.ts";
import { createModel, ss4recOptions } from "../lib/models/factory.ts";
import { SS4Rec } from "../lib/models/ss4rec.ts";
import type { TrainMode } from "../lib/models/model.ts";
import { rng } from "../lib/reference/gradcheck.ts";
import { modelOptimizer } from "../lib/train/adam.ts";

/** Reference figures of the official PyTorch SS4Rec on the same H100 (GPU.md, issue 6). */
const OFFICIAL: Record<string, string> = {
  "train step L=200": "79 ms",
  "train step L=50": "33–37 ms",
  "ML-1M epoch (prefix mode, 959 steps)": "≈ 76 s",
  "eval 2,048 users": "35 ms",
  "eval 6,040 users": "104 ms",
  "peak memory (train L=200)": "14.1 GiB",
};

/** A synthetic ML-1M-like batch: lengths skewed to the window, gaps from the real mixture. */
function syntheticBatch(B: number, L: number, V: number, seed: number, sequence: boolean) {
  const rand = rng(seed);
  const itemSeq = new Int32Array(B * L), seqLen = new Int32Array(B);
  const timeGaps = new Float32Array(B * L), target = new Int32Array(B);
  const targets = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    // ML-1M: median 96 ratings per user, most prefixes of long users fill the window
    const len = rand() < 0.6 ? L : 1 + Math.floor(rand() * L);
    seqLen[b] = len;
    target[b] = 1 + Math.floor(rand() * (V - 1));
    for (let t = 0; t < len; t++) {
      itemSeq[b * L + t] = 1 + Math.floor(Math.pow(rand(), 2) * (V - 1));
      targets[b * L + t] = 1 + Math.floor(rand() * (V - 1));
      const k = rand();
      timeGaps[b * L + t] = k < 0.5
        ? 0
        : k < 0.8
        ? Math.ceil(rand() * 600)
        : Math.round(86400 * Math.exp(rand() * 6));
    }
  }
  const base = { size: B, count: B, maxLen: L, itemSeq, seqLen, timeGaps, user: new Int32Array(B) };
  return sequence ? { ...base, targets } as SequenceBatch : { ...base, target } as Batch;
}

/** Windows of `L` inputs over 6,040 synthetic ML-1M users (training part: all but 2 items). */
function ml1mWindows(L: number): number {
  const rand = rng(1);
  let windows = 0;
  for (let u = 0; u < 6040; u++) {
    // log-normal counts fitted to ML-1M (median ~96, mean ~165), at least 20 ratings
    const z = Math.sqrt(-2 * Math.log(Math.max(rand(), 1e-12))) * Math.cos(2 * Math.PI * rand());
    const n = Math.max(20, Math.round(Math.exp(4.56 + 1.05 * z)));
    windows += Math.ceil((n - 2) / L);
  }
  return windows;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/** Entry point of `bench`; returns the exit code. */
export async function benchMain(args: string[]): Promise<number> {
  const program = new Command("bench")
    .option("--quick", "small shapes (CI smoke test on a software adapter)")
    .option("--steps <n>", "timed steps per repetition", (v: string) => parseInt(v, 10))
    .option(
      "--reps <n>",
      "repetitions (median and spread over them)",
      (v: string) => parseInt(v, 10),
    )
    .option("-o, --out <dir>", "where bench.json and bench.md go", "runs/bench")
    .option("--no-profile", "skip the per-kernel breakdown")
    .option(
      "--scan-slices <n>",
      "batch slices of the Mamba backward scan (default: the layer's; fewer = more memory)",
      (v: string) => parseInt(v, 10),
    )
    .option(
      "--memory",
      "only build the training steps on a dry-run device with the H100's limits (nothing runs) " +
        "and report peak GPU memory with a per-tensor breakdown (memory.md, memory.json)",
    )
    .exitOverride();
  try {
    program.parse(args, { from: "user" });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<
    {
      quick?: boolean;
      steps?: number;
      reps?: number;
      out: string;
      profile: boolean;
      memory?: boolean;
      scanSlices?: number;
    }
  >();
  const V = o.quick ? 500 : 3417, users = o.quick ? 64 : 6040;
  const shapes: { name: string; B: number; L: number; mode: TrainMode }[] = o.quick
    ? [{ name: "train step L=20", B: 8, L: 20, mode: "prefix" }]
    : [
      { name: "train step L=200", B: 1024, L: 200, mode: "prefix" },
      { name: "train step L=50", B: 1024, L: 50, mode: "prefix" },
      { name: "train step L=200, sequence mode", B: 1024, L: 200, mode: "sequence" },
    ];
  const steps = o.steps ?? (o.quick ? 2 : 10), reps = o.reps ?? (o.quick ? 2 : 5);
  const cfg = loadConfig("configs/ss4rec.yaml", []);
  const build = { scanSlices: o.scanSlices };
  if (o.memory) return await memoryReport(cfg, { shapes, V, users, out: o.out, args, build });
  const gpu = await getGpu();
  const rows: { what: string; median: number; min: number; max: number; unit: string }[] = [];
  const breakdown: Record<string, { ms: number; count: number }> = {};
  const t0 = performance.now();
  let peak = 0;
  const rt = new Runtime(gpu);
  for (const shape of shapes) {
    rt.dispose(); // each shape starts with an empty device (peak memory is per shape)
    rt.peakBytes = 0;
    const tb = performance.now();
    const { model, graph, commands: cmds } = await buildStep(rt, cfg, shape, {
      numItems: V,
      numUsers: users,
    }, build);
    const buildMs = performance.now() - tb;
    const batches = [0, 1, 2].map((i) =>
      syntheticBatch(shape.B, shape.L, V, 7 + i, shape.mode === "sequence")
    );
    let step = 0;
    const one = () => {
      graph.upload(batches[step % 3]);
      rt.write(model.step, [++step, 1, 1, 0]);
      rt.run(cmds);
    };
    for (let i = 0; i < 3; i++) one();
    await rt.sync();
    const encode: number[] = [];
    const per: number[] = [];
    for (let r = 0; r < reps; r++) {
      const s = performance.now();
      for (let i = 0; i < steps; i++) {
        const e = performance.now();
        one();
        encode.push(performance.now() - e);
      }
      await rt.sync();
      per.push((performance.now() - s) / steps);
    }
    if (shape.mode === "sequence") {
      // A whole ML-1M-shaped epoch: 6,040 users with ML-1M's rating counts (min 20, mean ~165,
      // heavy tail), each history cut into windows of L; all steps timed with one sync.
      const windows = ml1mWindows(shape.L);
      const epochSteps = Math.ceil(windows / shape.B);
      const times: number[] = [];
      for (let r = 0; r < Math.min(reps, 3); r++) {
        const s = performance.now();
        for (let i = 0; i < epochSteps; i++) one();
        await rt.sync();
        times.push(performance.now() - s);
      }
      rows.push({
        what: `ML-1M-shaped epoch, sequence mode (${windows} windows, ${epochSteps} steps)`,
        median: median(times) / 1000,
        min: Math.min(...times) / 1000,
        max: Math.max(...times) / 1000,
        unit: "s",
      });
    }
    rows.push({
      what: shape.name,
      median: median(per),
      min: Math.min(...per),
      max: Math.max(...per),
      unit: "ms",
    });
    if (shape.mode === "prefix" && shape.L === 200 && shape.B === 1024) {
      // the official log's 959 steps per ML-1M epoch, from the measured step time
      rows.push({
        what: "ML-1M epoch (prefix mode, 959 steps)",
        median: (959 * median(per)) / 1000,
        min: (959 * Math.min(...per)) / 1000,
        max: (959 * Math.max(...per)) / 1000,
        unit: "s",
      });
    }
    rows.push({
      what: `${shape.name}: host upload + encode + submit`,
      median: median(encode),
      min: Math.min(...encode),
      max: Math.max(...encode),
      unit: "ms",
    });
    rows.push({
      what: `${shape.name}: build (pipelines + buffers)`,
      median: buildMs,
      min: buildMs,
      max: buildMs,
      unit: "ms",
    });
    peak = Math.max(peak, rt.peakBytes);
    rows.push({
      what: `${shape.name}: peak GPU memory`,
      median: rt.peakBytes / 2 ** 30,
      min: NaN,
      max: NaN,
      unit: "GiB",
    });
    if (o.profile && shape === shapes[0]) {
      const ops = cmds.filter((c): c is Op => "pipeline" in c);
      const t = await rt.profile(ops);
      if (t) {
        ops.forEach((op, i) => {
          const b = breakdown[op.label] ??= { ms: 0, count: 0 };
          b.ms += t[i] / 1e6;
          b.count++;
        });
      }
    }
  }
  // Full-ranking evaluation of all users (eval batch 2,048, L = 200 or 20).
  {
    rt.dispose();
    const L = o.quick ? 20 : 200, EB = o.quick ? 32 : 2048;
    const model = createModel(rt, cfg, { numItems: V, numUsers: users });
    model.store.initialise(cfg.seed);
    const g = await model.buildEval({ batch: EB, maxLen: L, maskHistory: false });
    const batches = [0, 1, 2].map((i) => syntheticBatch(EB, L, V, 30 + i, false) as Batch);
    const pass = (n: number) => {
      for (let s = 0; s < n; s += EB) {
        g.upload(batches[(s / EB) % 3]);
        rt.write(g.step, [0, 0, 0, 0]);
        rt.run(g.commands);
      }
    };
    pass(EB);
    await rt.read(g.ranks);
    for (
      const [name, n] of [[`eval ${EB.toLocaleString("en")} users`, EB], [
        `eval ${users.toLocaleString("en")} users`,
        users,
      ]] as const
    ) {
      const times: number[] = [];
      for (let r = 0; r < reps; r++) {
        const s = performance.now();
        pass(n);
        await rt.read(g.ranks); // ranks back on the host, as evaluation needs them
        times.push(performance.now() - s);
      }
      rows.push({
        what: name,
        median: median(times),
        min: Math.min(...times),
        max: Math.max(...times),
        unit: "ms",
      });
    }
  }
  const date = new Date().toISOString();
  const md = [
    `# ss4rec bench (${o.quick ? "quick" : "ML-1M shapes"})`,
    "",
    `- adapter: ${gpu.adapterName}${gpu.isFallback ? " (software)" : ""}`,
    `- date: ${date}`,
    `- command: deno task bench ${args.join(" ")}`,
    `- shapes: V = ${V}, H = 64, 2 blocks, P = 32, E = 128, N = 32; ${steps} steps between syncs × ${reps} repetitions; warm-up excluded`,
    "",
    "| what | median | min | max | official PyTorch (H100) |",
    "|---|---|---|---|---|",
    ...rows.map((r) =>
      `| ${r.what} | ${r.median.toFixed(r.unit === "GiB" ? 3 : 2)} ${r.unit} | ${
        Number.isNaN(r.min) ? "" : r.min.toFixed(2)
      } | ${Number.isNaN(r.max) ? "" : r.max.toFixed(2)} | ${OFFICIAL[r.what] ?? ""} |`
    ),
    "",
    `Peak GPU memory over all training shapes: ${(peak / 2 ** 30).toFixed(3)} GiB (official: ${
      OFFICIAL["peak memory (train L=200)"]
    }).`,
    "",
    `## Per-kernel breakdown (${shapes[0].name}, one dispatch per pass with timestamp queries)`,
    "",
    "| kernel | dispatches | ms |",
    "|---|---|---|",
    ...Object.entries(breakdown).sort((a, b) => b[1].ms - a[1].ms).map(([k, v]) =>
      `| ${k} | ${v.count} | ${v.ms.toFixed(3)} |`
    ),
    "",
    `Total bench time ${((performance.now() - t0) / 1000).toFixed(1)} s.`,
    "",
  ].join("\n");
  await Deno.mkdir(o.out, { recursive: true });
  await writeFileAtomic(
    `${o.out}/bench.json`,
    JSON.stringify({ adapter: gpu.adapterName, date, rows, breakdown, peakBytes: peak }, null, 2) +
      "\n",
  );
  await writeFileAtomic(`${o.out}/bench.md`, md);
  console.log(md);
  return 0;
}

/** Builds one training step (model, optimiser, gradient norm: what the bench runs) on `rt`. */
async function buildStep(
  rt: Runtime,
  cfg: Config,
  shape: { B: number; L: number; mode: TrainMode },
  ds: { numItems: number; numUsers: number },
  build: { scanSlices?: number } = {},
) {
  const model = build.scanSlices && cfg.model.toLowerCase() === "ss4rec"
    ? new SS4Rec(rt, { ...ss4recOptions(cfg, ds.numItems), mambaScanSlices: build.scanSlices })
    : createModel(rt, cfg, ds);
  model.store.initialise(cfg.seed);
  const graph = await model.buildTrain({ batch: shape.B, maxLen: shape.L, mode: shape.mode });
  // the official setting (no clipping) plus the global gradient norm diagnostics keep on
  const { commands: update } = await modelOptimizer(rt, model, {
    lr: cfg.learning_rate,
    weightDecay: 0,
    clipGradNorm: null,
  });
  const norm = await new GradNorm(rt, model.store.gradAll).init();
  return { model, graph, commands: [...graph.commands, ...norm.ops(), ...update] };
}

/**
 * `bench --memory`: the peak of our allocator's accounting (`Runtime.peakBytes`) per training
 * shape, from builds on a dry-run device (lib/gpu/dry_run.ts) with the H100's limits — the
 * figure a GPU run reports, without a GPU — and the buffers behind it, largest first.
 */
async function memoryReport(
  cfg: Config,
  o: {
    shapes: { name: string; B: number; L: number; mode: TrainMode }[];
    V: number;
    users: number;
    out: string;
    args: string[];
    build: { scanSlices?: number };
  },
): Promise<number> {
  const MiB = 2 ** 20;
  const lines = [
    "# ss4rec bench --memory",
    "",
    `- device: dry run with the NVIDIA H100's limits (nothing allocated or run; lib/gpu/dry_run.ts)`,
    `- date: ${new Date().toISOString()}`,
    `- command: deno task bench ${o.args.join(" ")}`,
    `- model: configs/ss4rec.yaml, V = ${o.V}; optimiser and gradient norm included; Mamba ` +
    `backward scan in ${o.build.scanSlices ?? "the default number of"} batch slices`,
    "",
    "| training step | peak GPU memory |",
    "|---|---|",
  ];
  const shapes: { name: string; peakBytes: number; buffers: Record<string, number> }[] = [];
  for (const shape of o.shapes) {
    const rt = new Runtime(dryRunGpu());
    await buildStep(rt, cfg, shape, { numItems: o.V, numUsers: o.users }, o.build);
    const buffers: Record<string, number> = {};
    for (const a of rt.allocations()) buffers[a.label] = (buffers[a.label] ?? 0) + a.bytes;
    shapes.push({ name: shape.name, peakBytes: rt.peakBytes, buffers });
    lines.push(`| ${shape.name} | ${(rt.peakBytes / 2 ** 30).toFixed(3)} GiB |`);
  }
  const first = shapes[0];
  lines.push(
    "",
    `## Buffers of ${first.name} (label: total over buffers with that label)`,
    "",
    "| buffer | MiB | share |",
    "|---|---|---|",
    ...Object.entries(first.buffers).sort((a, b) => b[1] - a[1]).filter(([, b]) => b >= MiB / 10)
      .map(([k, b]) =>
        `| ${k} | ${(b / MiB).toFixed(1)} | ${(100 * b / first.peakBytes).toFixed(1)} % |`
      ),
    "",
  );
  const md = lines.join("\n");
  await Deno.mkdir(o.out, { recursive: true });
  await writeFileAtomic(`${o.out}/memory.json`, JSON.stringify({ shapes }, null, 2) + "\n");
  await writeFileAtomic(`${o.out}/memory.md`, md);
  console.log(md);
  return 0;
}

if (import.meta.main) Deno.exit(await benchMain(Deno.args));
