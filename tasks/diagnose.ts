/**
 * `deno task diagnose` (alias `diagnose-gradients`): is the backward right (finite-difference
 * gradient check against the float64 reference), and do the gradients stay healthy over real
 * training steps? Writes diagnose.json, diagnose.md and SVG charts; exits non-zero when a check
 * named in `--fail-on` fails.
 *
 * @module
 */

import { Command } from "commander";
import { type Config, ConfigError, loadConfig } from "../lib/config.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { gradcheck, randn, rng } from "../lib/reference/gradcheck.ts";
import { layerNormBackward, layerNormForward } from "../lib/reference/layernorm.ts";
import { crossEntropyBackward, crossEntropyForward } from "../lib/reference/loss.ts";
import {
  MAMBA_PARAM_NAMES,
  mambaBackward,
  type MambaDims,
  mambaForward,
  type MambaParams,
  mambaRandomParams,
} from "../lib/reference/mamba.ts";
import { s5Backward, s5Forward, type S5Params } from "../lib/reference/s5.ts";
import { lineChart } from "../lib/report/svg.ts";
import { loadCheckpoint } from "../lib/train/checkpoint.ts";
import {
  type Finding,
  type GradcheckRow,
  gradientHealth,
  type HealthSample,
  type Injection,
  type LayerGradcheckRow,
  layerGradchecks,
  modelGradcheck,
  verdict,
} from "../lib/train/diagnose.ts";
import { datasetFor, DEFAULT_CONFIG_PATH, loadTaskConfig } from "./train.ts";

/** Per-op float64 gradchecks of the references (`--ops`): every backward formula on its own. */
export function opGradchecks(): {
  op: string;
  input: string;
  maxRelError: number;
  pass: boolean;
}[] {
  const rand = rng(11);
  const rows: { op: string; input: string; maxRelError: number; pass: boolean }[] = [];
  const add = (op: string, names: string[], res: ReturnType<typeof gradcheck>) => {
    for (const r of res) {
      rows.push({
        op,
        input: names[r.input],
        maxRelError: r.maxRelError,
        pass: r.maxRelError < 1e-4,
      });
    }
  };
  // S5 with the gap mixture of real data (0, seconds, hours, days)
  {
    const dims = { batch: 2, seqLen: 5, hidden: 4, state: 3 };
    const lam = new Float64Array(6);
    for (let p = 0; p < 3; p++) {
      lam[2 * p] = -0.5;
      lam[2 * p + 1] = (p - 1) * 2;
    }
    const dt = Float64Array.from([0, 3, 7200, 86400, 2, 5, 0, 60, 1e6, 1]);
    const x0 = [
      randn(40, rand),
      lam,
      randn(24, rand, 0.3),
      randn(24, rand, 0.3),
      randn(4, rand),
      Float64Array.from([-3, -5, -7]),
    ];
    const params = (x: Float64Array[]): S5Params => ({
      Lambda: x[1],
      B: x[2],
      C: x[3],
      D: x[4],
      logStep: x[5],
    });
    add(
      "S5 scan",
      ["u", "Lambda", "B", "C", "D", "log_step"],
      gradcheck((x) => s5Forward(params(x), x[0], dt, dims), (x, dy) => {
        const g = s5Backward(params(x), x[0], dt, dy, dims);
        return [g.du, g.Lambda, g.B, g.C, g.D, g.logStep];
      }, x0),
    );
  }
  {
    const d: MambaDims = { B: 2, L: 5, H: 4, E: 8, N: 3, R: 2, K: 4 };
    const p = mambaRandomParams(d, (n, s) => randn(n, rand, s));
    const inputs = [randn(d.B * d.L * d.H, rand), ...MAMBA_PARAM_NAMES.map((n) => p[n])];
    const pm = (x: Float64Array[]) =>
      Object.fromEntries(MAMBA_PARAM_NAMES.map((n, i) => [n, x[i + 1]])) as MambaParams;
    add(
      "Mamba block",
      ["h", ...MAMBA_PARAM_NAMES],
      gradcheck((x) => mambaForward(x[0], pm(x), d).out, (x, dy) => {
        const g = mambaBackward(x[0], pm(x), d, dy);
        return [g.dh, ...MAMBA_PARAM_NAMES.map((n) => g.grads[n])];
      }, inputs),
    );
  }
  {
    const rowsN = 3, dim = 6;
    add(
      "LayerNorm",
      ["x", "gamma", "beta"],
      gradcheck(
        (x) => layerNormForward(x[0], x[1], x[2], rowsN, dim, 1e-12).y,
        (x, dy) => {
          const g = layerNormBackward(x[0], x[1], dy, rowsN, dim, 1e-12);
          return [g.dx, g.dgamma, g.dbeta];
        },
        [randn(rowsN * dim, rand), randn(dim, rand), randn(dim, rand)],
      ),
    );
  }
  {
    const targets = Int32Array.from([3, 0, 5]), V = 7;
    add(
      "cross-entropy",
      ["logits"],
      gradcheck(
        (x) => Float64Array.of(crossEntropyForward(x[0], targets, V).mean),
        (x, dy) => [crossEntropyBackward(x[0], targets, V, dy[0])],
        [randn(3 * V, rand, 2)],
      ),
    );
  }
  return rows;
}

function md(
  findings: Finding[],
  gc: GradcheckRow[] | null,
  samples: HealthSample[],
  meta: Record<string, unknown>,
  layerRows: LayerGradcheckRow[] = [],
): string {
  const lines = [
    `# Gradient diagnosis`,
    "",
    ...Object.entries(meta).map(([k, v]) => `- ${k}: ${v}`),
    "",
  ];
  const fails = findings.filter((x) => x.severity === "fail");
  lines.push(`## Verdict: ${fails.length ? "UNHEALTHY" : "healthy"}`, "");
  for (const x of findings) {
    lines.push(
      `- **${x.severity} · ${x.kind} · ${x.layer}**: ${x.message}` +
        (x.suggestion !== "none" ? ` → ${x.suggestion}` : ""),
    );
  }
  if (!findings.length) lines.push("- no problems found");
  if (gc) {
    lines.push(
      "",
      "## Gradient check (GPU backward vs float64 finite differences)",
      "",
      "| tensor | rel. error | worst entry | analytic | numeric | pass |",
      "|---|---|---|---|---|---|",
    );
    for (const r of gc) {
      lines.push(
        `| ${r.tensor} | ${r.relError.toExponential(2)} | ${r.worst.index} | ${
          r.worst.analytic.toExponential(3)
        } | ${r.worst.numeric.toExponential(3)} | ${r.pass ? "yes" : "**NO**"} |`,
      );
    }
  }
  if (layerRows.length) {
    lines.push(
      "",
      "## Layer gradient checks (each SSM layer's WGSL backward vs float64 finite differences)",
      "",
      "| layer | tensor | rel. error | pass |",
      "|---|---|---|---|",
      ...layerRows.map((r) =>
        `| ${r.op} | ${r.tensor} | ${r.relError.toExponential(2)} | ${r.pass ? "yes" : "**NO**"} |`
      ),
    );
  }
  if (samples.length) {
    const last = samples[samples.length - 1];
    lines.push("", `## Health at step ${last.step}`, "", "| layer | grad norm |", "|---|---|");
    for (const [l, v] of Object.entries(last.layers)) {
      lines.push(`| ${l} | ${v.toExponential(3)} |`);
    }
    lines.push("", "| activation | max abs |", "|---|---|");
    for (const [a, v] of Object.entries(last.activations)) {
      lines.push(`| ${a} | ${v.toExponential(3)} |`);
    }
    lines.push(
      "",
      "| S5 layer | max Re(Λ) | min abs(Λ) | max abs(Λ·s) | Mamba max Δ·abs(A) (bound) |",
      "|---|---|---|---|---|",
    );
    last.s5.forEach((q, i) =>
      lines.push(
        `| ${i} | ${q.maxReLambda.toFixed(4)} | ${q.minAbsLambda.toExponential(3)} | ${
          q.maxLambdaS.toExponential(3)
        } | ${last.mamba[i].maxDtA.toExponential(3)} |`,
      )
    );
    lines.push(
      "",
      "![gradient norm per layer](grad_norms.svg)",
      "",
      "![S5 and Mamba quantities](ssm.svg)",
      "",
    );
  }
  return lines.join("\n") + "\n";
}

function charts(samples: HealthSample[]): { grad: string; ssm: string } {
  const layers = Object.keys(samples[0]?.layers ?? {}).filter((l) => l !== "unused LayerNorm");
  const grad = lineChart(
    layers.map((l) => ({
      name: l,
      points: samples.map((s) => [s.step, s.layers[l]] as [number, number]),
    })),
    { title: "gradient norm per layer", xLabel: "step", yLabel: "L2 norm", logY: true },
  );
  const n = samples[0]?.s5.length ?? 0;
  const series = [];
  for (let i = 0; i < n; i++) {
    series.push({
      name: `S5 ${i} max |Λ·s|`,
      points: samples.map((s) => [s.step, s.s5[i].maxLambdaS] as [number, number]),
    });
    series.push({
      name: `S5 ${i} max Re(Λ)+1`,
      points: samples.map((s) => [s.step, s.s5[i].maxReLambda + 1] as [number, number]),
    });
    series.push({
      name: `Mamba ${i} Δ·|A| bound`,
      points: samples.map((s) => [s.step, s.mamba[i].maxDtA] as [number, number]),
    });
  }
  const ssm = lineChart(series, {
    title: "S5 / Mamba quantities that overflow first",
    xLabel: "step",
    yLabel: "value",
    logY: true,
  });
  return { grad, ssm };
}

/** Entry point of `diagnose`; returns the exit code. */
export async function diagnoseMain(args: string[]): Promise<number> {
  const program = new Command("diagnose")
    .description("diagnose-gradients: gradient check + gradient health over real training steps")
    .option("-c, --config <file>", "YAML config (default: the zero-config training config)")
    .option(
      "-s, --set <key=value>",
      "override a config key (repeatable)",
      (v: string, a: string[]) => [...a, v],
      [] as string[],
    )
    .option("-r, --run <dir>", "diagnose a run: its config, starting from its last checkpoint")
    .option("--quick", "CI-sized: 20 steps, batch 32, L 30 (well under 2 minutes on a CPU adapter)")
    .option("--steps <n>", "training steps to watch", (v: string) => parseInt(v, 10))
    .option("--every <k>", "sample every k steps", (v: string) => parseInt(v, 10))
    .option("--ops", "also gradcheck each op on its own: references, and the S5/Mamba WGSL layers")
    .option("--no-gradcheck", "skip the finite-difference gradient check")
    .option(
      "--inject <what>",
      "reproduce an instability: lambda-positive[=layer], gap-scale=<factor>",
    )
    .option(
      "--fail-on <list>",
      "checks that make the exit code non-zero",
      "nonfinite,exploding,s5_unstable,gradcheck,dead",
    )
    .option("-o, --out <dir>", "report directory (default: the run dir or runs/diagnose-<time>)")
    .exitOverride();
  try {
    program.parse(args, { from: "user" });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<{
    config?: string;
    set: string[];
    run?: string;
    quick?: boolean;
    steps?: number;
    every?: number;
    ops?: boolean;
    gradcheck: boolean;
    inject?: string;
    failOn: string;
    out?: string;
  }>();
  let cfg: Config;
  const inject: Injection = {};
  try {
    cfg = o.run ? loadConfig(`${o.run}/config.yaml`, o.set) : loadTaskConfig(o.config, o.set);
    for (const part of (o.inject ?? "").split(",").filter(Boolean)) {
      const [k, v] = part.split("=");
      if (k === "lambda-positive") inject.lambdaPositive = v === undefined ? -1 : parseInt(v, 10);
      else if (k === "gap-scale" && Number(v) > 0) inject.gapScale = Number(v);
      else {throw new ConfigError(
          `--inject: unknown '${part}' (expected lambda-positive[=layer] or gap-scale=<factor>)`,
        );}
    }
  } catch (e) {
    console.error(`diagnose: ${(e as Error).message}`);
    return 2;
  }
  if (cfg.model.toLowerCase() !== "ss4rec") {
    console.error(`diagnose: model '${cfg.model}' is not supported (SS4Rec only)`);
    return 2;
  }
  const steps = o.steps ?? (o.quick ? 20 : 200);
  const every = o.every ?? (o.quick ? 5 : 10);
  const outDir = o.out ?? o.run ??
    `${cfg.checkpoint_dir}/diagnose-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`;
  await Deno.mkdir(outDir, { recursive: true });
  const gpu = await getGpu();
  const rt = new Runtime(gpu);
  console.log(`adapter: ${gpu.adapterName}${gpu.isFallback ? " (software)" : ""}`);
  let ops: ReturnType<typeof opGradchecks> | null = null;
  let layerRows: LayerGradcheckRow[] = [];
  if (o.ops) {
    ops = opGradchecks();
    console.log("op gradchecks (float64 references vs finite differences):");
    for (const r of ops) {
      console.log(
        `  ${r.op.padEnd(14)} ${r.input.padEnd(16)} ${r.maxRelError.toExponential(2)} ${
          r.pass ? "ok" : "FAIL"
        }`,
      );
    }
    console.log(
      "layer gradchecks (WGSL backward of each SSM layer vs float64 finite differences):",
    );
    layerRows = await layerGradchecks(rt, cfg, { samples: o.quick ? 3 : 5 });
    for (const r of layerRows) {
      console.log(
        `  ${r.op.padEnd(14)} ${r.tensor.padEnd(22)} ${r.relError.toExponential(2)} ${
          r.pass ? "ok" : "FAIL"
        }`,
      );
    }
  }
  let gc: GradcheckRow[] | null = null;
  if (o.gradcheck) {
    console.log("gradient check: GPU backward vs float64 finite differences (small instance)...");
    gc = await modelGradcheck(rt, cfg, { samples: o.quick ? 3 : 6 });
    for (const r of gc) {
      console.log(
        `  ${r.tensor.padEnd(34)} ${r.relError.toExponential(2)} ${r.pass ? "ok" : "FAIL"}`,
      );
    }
  }
  const ds = await datasetFor(cfg);
  console.log(`gradient health: ${steps} steps on ${cfg.data_path}, sampled every ${every}...`);
  let load: ((m: import("../lib/models/ss4rec.ts").SS4Rec) => void) | undefined;
  if (o.run) {
    const ck = await loadCheckpoint(o.run, "last");
    load = (m) => m.store.load(ck.tensors, `${ck.base}.safetensors`);
  }
  const samples = await gradientHealth(rt, cfg, ds, {
    steps,
    every,
    batch: o.quick ? Math.min(cfg.train_batch_size, 32) : undefined,
    maxLen: o.quick ? Math.min(cfg.MAX_ITEM_LIST_LENGTH, 30) : undefined,
    inject,
    load,
    onSample: (s) =>
      console.log(
        `  step ${String(s.step).padStart(4)}  loss ${s.loss.toFixed(4)}  grad norm ${
          s.gradNorm.toExponential(3)
        }` +
          `  max Re(Λ) ${Math.max(...s.s5.map((q) => q.maxReLambda)).toFixed(3)}${
            s.bad ? `  NON-FINITE in ${s.bad.tensor}` : ""
          }`,
      ),
  });
  const findings = [
    ...verdict(samples, gc, cfg),
    ...layerRows.filter((r) => !r.pass).map((r): Finding => ({
      kind: "gradcheck",
      severity: "fail",
      layer: r.op,
      message: `${r.op} layer: WGSL gradient of ${r.tensor} disagrees with finite differences ` +
        `(${r.relError.toExponential(2)}; worst entry ${r.worst.index}: ${
          r.worst.analytic.toExponential(3)
        } ` +
        `vs ${r.worst.numeric.toExponential(3)})`,
      suggestion: "a backward kernel of this layer is wrong: run `deno task test`",
    })),
    ...(ops ?? []).filter((r) => !r.pass).map((r): Finding => ({
      kind: "gradcheck",
      severity: "fail",
      layer: r.op,
      message: `${r.op} reference backward for ${r.input} disagrees with finite differences (${
        r.maxRelError.toExponential(2)
      })`,
      suggestion: "a reference formula is wrong",
    })),
  ];
  const meta = {
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    config: o.run ?? o.config ?? DEFAULT_CONFIG_PATH,
    data: cfg.data_path,
    steps,
    every,
    inject: o.inject ?? "none",
  };
  const { grad, ssm } = charts(samples);
  await writeFileAtomic(
    `${outDir}/diagnose.json`,
    JSON.stringify({ meta, findings, gradcheck: gc, ops, layers: layerRows, samples }, null, 1) +
      "\n",
  );
  await writeFileAtomic(`${outDir}/diagnose.md`, md(findings, gc, samples, meta, layerRows));
  await writeFileAtomic(`${outDir}/grad_norms.svg`, grad);
  await writeFileAtomic(`${outDir}/ssm.svg`, ssm);
  console.log(
    `\nverdict: ${findings.some((x) => x.severity === "fail") ? "UNHEALTHY" : "healthy"}`,
  );
  for (const x of findings) {
    console.log(
      `  [${x.severity}] ${x.kind} in ${x.layer}: ${x.message}${
        x.suggestion !== "none" ? `\n      suggestion: ${x.suggestion}` : ""
      }`,
    );
  }
  console.log(`report: ${outDir}/diagnose.md`);
  const failOn = new Set(o.failOn.split(",").map((s) => s.trim()));
  return findings.some((x) => x.severity === "fail" && failOn.has(x.kind)) ? 1 : 0;
}

if (import.meta.main) Deno.exit(await diagnoseMain(Deno.args));
