/**
 * `deno task experiments --plan plan.json`: many training runs (models × datasets × seeds) in ONE
 * process, sharing the device and its pipeline cache, each trained, early-stopped on validation
 * and tested with its best parameters exactly as `train` does — but keeping the best parameters
 * on the GPU instead of writing checkpoints. Writes `results.jsonl` (a line per run, appended as
 * each finishes) and `summary.md` (mean ± std over seeds). This is how the README's quality table
 * is produced.
 *
 * Plan: `{ "runs": [{ "name": "...", "config": "configs/ss4rec.yaml", "sets": ["k=v"],
 * "seeds": [2020, 2021, 2022] }], "maxSecondsPerRun": 300 }`.
 *
 * @module
 */

import { Command } from "commander";
import { type Config, loadConfig } from "../lib/config.ts";
import type { SequentialDataset } from "../lib/data/dataset.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { mostPopularMetrics } from "../lib/metrics.ts";
import { createModel } from "../lib/models/factory.ts";
import { evalGraphsFor, evaluate, trainModel } from "../lib/train/trainer.ts";
import { datasetFor, trainerOptions } from "./train.ts";

interface PlanRun {
  name: string;
  config: string;
  sets?: string[];
  seeds: number[];
}

interface Result {
  name: string;
  data: string;
  seed: number;
  epochs: number;
  bestEpoch: number;
  seconds: number;
  stoppedBy: string;
  valid: Record<string, number>;
  test: Record<string, number>;
  adapter: string;
  /** Per epoch: training loss and validation HR@10 / NDCG@10 (the learning curve). */
  curve?: [number, number, number][];
}

function meanStd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1
    ? Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1))
    : 0;
  return xs.length > 1 ? `${m.toFixed(4)} ± ${sd.toFixed(4)}` : m.toFixed(4);
}

/** The summary table: one row per (name, data), metrics as mean ± std over seeds. */
export function summarise(results: Result[]): string {
  const groups = new Map<string, Result[]>();
  for (const r of results) {
    const k = `${r.data}\u0000${r.name}`;
    groups.set(k, [...(groups.get(k) ?? []), r]);
  }
  const lines = [
    "| data | model | HR@10 | NDCG@10 | MRR@10 | seeds | epochs (best) | s/run | adapter |",
    "|---|---|---|---|---|---|---|---|---|",
  ];
  for (const rs of groups.values()) {
    const t = (k: string) => meanStd(rs.map((r) => r.test[k]));
    lines.push(
      `| ${rs[0].data} | ${rs[0].name} | ${t("hr@10")} | ${t("ndcg@10")} | ${t("mrr@10")} | ` +
        `${rs.length} | ${rs.map((r) => `${r.epochs} (${r.bestEpoch})`).join(", ")} | ` +
        `${(rs.reduce((a, r) => a + r.seconds, 0) / rs.length).toFixed(1)} | ${rs[0].adapter} |`,
    );
  }
  return lines.join("\n") + "\n";
}

/** Entry point of `experiments`; returns the exit code. */
export async function experimentsMain(args: string[]): Promise<number> {
  const program = new Command("experiments")
    .requiredOption("-p, --plan <file>", "plan JSON")
    .option("-o, --out <dir>", "output directory", "runs/experiments")
    .exitOverride();
  try {
    program.parse(args, { from: "user" });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 2;
  }
  const o = program.opts<{ plan: string; out: string }>();
  const plan = JSON.parse(await Deno.readTextFile(o.plan)) as {
    runs: PlanRun[];
    maxSecondsPerRun?: number;
  };
  await Deno.mkdir(o.out, { recursive: true });
  const gpu = await getGpu();
  const datasets = new Map<string, SequentialDataset>();
  // one runtime for all runs: its pipeline cache is shared, its buffers freed after each run
  const rt = new Runtime(gpu);
  const results: Result[] = [];
  const t0 = performance.now();
  for (const run of plan.runs) {
    for (const seed of run.seeds) {
      let cfg: Config;
      try {
        cfg = loadConfig(run.config, [...(run.sets ?? []), `seed=${seed}`]);
      } catch (e) {
        console.error(`experiments: ${run.name}: ${(e as Error).message}`);
        return 2;
      }
      const key = `${cfg.data_path}|${cfg.user_inter_num_interval}|${cfg.item_inter_num_interval}`;
      if (!datasets.has(key)) datasets.set(key, await datasetFor(cfg));
      const ds = datasets.get(key)!;
      const data = cfg.data_path.split("/").slice(-2, -1)[0] || cfg.data_path;
      const start = performance.now();
      let result: Result;
      if (cfg.model.toLowerCase() === "mostpop") {
        const metrics = (set: "valid" | "test") =>
          mostPopularMetrics(ds, ds[set], { maskHistory: cfg.mask_history, ks: cfg.topk });
        result = {
          name: run.name,
          data,
          seed,
          epochs: 0,
          bestEpoch: 0,
          seconds: 0,
          stoppedBy: "n/a",
          valid: metrics("valid"),
          test: metrics("test"),
          adapter: "CPU",
        };
      } else {
        const model = createModel(rt, cfg, ds);
        model.store.initialise(seed);
        const best = rt.tensor([model.store.all.size], "f32", undefined, "best_params");
        rt.run([{ copy: model.store.all, to: best }]);
        const base = trainerOptions(cfg);
        // validation's graphs serve the test evaluation too (in the training steps' arena)
        const options = {
          ...base,
          timeBudgetSeconds: plan.maxSecondsPerRun ?? 0,
          evalGraphs: evalGraphsFor(model, base),
        };
        const state = await trainModel(rt, ds, model, options, {
          log: () => {},
          epochEnd(_record, isBest) {
            if (isBest) rt.run([{ copy: model.store.all, to: best }]);
            return Promise.resolve();
          },
        });
        rt.run([{ copy: best, to: model.store.all }]);
        const test = await evaluate(rt, ds, options.evalGraphs, ds.test, options);
        const last = state.history[state.history.length - 1];
        result = {
          name: run.name,
          data,
          seed,
          epochs: state.epoch,
          bestEpoch: state.bestEpoch + 1,
          seconds: (performance.now() - start) / 1000,
          stoppedBy: state.stoppedBy ?? "epochs",
          valid: state.history[state.bestEpoch]?.valid ?? last?.valid ?? {},
          test: test.metrics,
          adapter: gpu.adapterName,
          curve: state.history.map((h) => [h.trainLoss, h.valid["hr@10"], h.valid["ndcg@10"]]),
        };
        rt.dispose();
      }
      results.push(result);
      console.log(
        `${run.name} on ${data} seed ${seed}: test HR@10 ${result.test["hr@10"].toFixed(4)} ` +
          `NDCG@10 ${result.test["ndcg@10"].toFixed(4)} MRR@10 ${
            result.test["mrr@10"].toFixed(4)
          } ` +
          `(${result.epochs} epochs, best ${result.bestEpoch}, ${result.seconds.toFixed(1)} s, ` +
          `stopped by ${result.stoppedBy}; total ${
            ((performance.now() - t0) / 1000).toFixed(0)
          } s)`,
      );
      await Deno.writeTextFile(`${o.out}/results.jsonl`, JSON.stringify(result) + "\n", {
        append: true,
      });
      await writeFileAtomic(`${o.out}/summary.md`, summarise(results));
    }
  }
  console.log(summarise(results));
  return 0;
}

if (import.meta.main) Deno.exit(await experimentsMain(Deno.args));
