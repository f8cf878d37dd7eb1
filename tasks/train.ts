/**
 * `deno task train`: train a model from a YAML config, validate every epoch, stop early on the
 * validation metric, then test the best checkpoint. Writes `runs/<id>/` (resolved config,
 * metrics.jsonl, best/last checkpoints, report.md, curve.svg).
 *
 * @module
 */

import { Command } from "commander";
import { type Config, ConfigError, loadConfig } from "../lib/config.ts";
import { loadDataset, type SequentialDataset } from "../lib/data/dataset.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { mostPopularMetrics } from "../lib/metrics.ts";
import { createModel } from "../lib/models/factory.ts";
import { writeRunReport } from "../lib/report/run_report.ts";
import { loadCheckpoint, saveCheckpoint } from "../lib/train/checkpoint.ts";
import { evalGraphsFor, evaluate, type TrainerState, trainModel } from "../lib/train/trainer.ts";

/** The zero-configuration default. */
export const DEFAULT_CONFIG_PATH = "configs/default.yaml";

/**
 * The config of a run: the file at `path`, else {@linkcode DEFAULT_CONFIG_PATH} in the working
 * directory (a checkout). Without either, a one-line error that says what to pass (e.g. when the
 * package runs from JSR, where the working directory has no configs/).
 */
export function loadTaskConfig(path: string | undefined, sets: readonly string[]): Config {
  if (path === undefined) {
    try {
      Deno.statSync(DEFAULT_CONFIG_PATH);
    } catch {
      throw new ConfigError(
        `no --config given and ${DEFAULT_CONFIG_PATH} is not in ${Deno.cwd()} ` +
          "(outside a checkout, pass --config FILE with data_path set to your ratings file)",
      );
    }
  }
  return loadConfig(path ?? DEFAULT_CONFIG_PATH, sets);
}

/** Reads the dataset a config names, with its k-core settings. */
export async function datasetFor(cfg: Config): Promise<SequentialDataset> {
  return await loadDataset(cfg.data_path, {
    format: (cfg.data_format ?? undefined) as never,
    userInterNumInterval: cfg.user_inter_num_interval,
    itemInterNumInterval: cfg.item_inter_num_interval,
  });
}

/** One-line dataset summary. */
export function describeDataset(ds: SequentialDataset): string {
  const s = ds.stats;
  return `${s.users} users, ${s.items} items, ${s.interactions} interactions after k-core ` +
    `(${s.rawInteractions} read); samples train ${s.trainSamples}, valid ${s.validSamples}, ` +
    `test ${s.testSamples}`;
}

/** Trainer options from a config. */
export function trainerOptions(cfg: Config) {
  return {
    epochs: cfg.epochs,
    batchSize: cfg.train_batch_size,
    evalBatchSize: cfg.eval_batch_size,
    maxLen: cfg.MAX_ITEM_LIST_LENGTH,
    learningRate: cfg.learning_rate,
    weightDecay: cfg.weight_decay,
    clipGradNorm: cfg.clip_grad_norm,
    stoppingStep: cfg.stopping_step,
    validMetric: cfg.valid_metric.toLowerCase(),
    topk: cfg.topk,
    seed: cfg.seed,
    mode: cfg.train_mode,
    timestampPrecision: cfg.timestamp_precision,
    maskHistory: cfg.mask_history,
    lengthBucket: cfg.length_bucket,
    packing: cfg.packing,
  };
}

/** HR/NDCG/MRR at each K, one line per K. */
export function formatMetrics(m: Record<string, number>, ks: number[]): string {
  return ks.map((k) =>
    `HR@${k} ${m[`hr@${k}`].toFixed(4)}  NDCG@${k} ${m[`ndcg@${k}`].toFixed(4)}  MRR@${k} ${
      m[`mrr@${k}`].toFixed(4)
    }`
  ).join("\n");
}

/** Entry point of `train`; returns the exit code. */
export async function trainMain(args: string[]): Promise<number> {
  const program = new Command("train")
    .description("train a model (default: SS4Rec on the shipped ml-latest-small)")
    .option("-c, --config <file>", "YAML config (RecBole key names)")
    .option(
      "-s, --set <key=value>",
      "override a config key (repeatable)",
      (v: string, a: string[]) => [...a, v],
      [] as string[],
    )
    .option("--resume <run>", "continue a run directory from its last checkpoint")
    .option("--run-dir <dir>", "write the run here instead of runs/<id>")
    .option(
      "--max-steps <n>",
      "stop after n training steps (smoke tests)",
      (v: string) => parseInt(v, 10),
    )
    .exitOverride();
  try {
    program.parse(args, { from: "user" });
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 2;
  }
  const opts = program.opts<
    { config?: string; set: string[]; resume?: string; runDir?: string; maxSteps?: number }
  >();
  let cfg: Config;
  let resumeFrom: Awaited<ReturnType<typeof loadCheckpoint>> | null = null;
  try {
    if (opts.resume) {
      resumeFrom = await loadCheckpoint(opts.resume, "last");
      const path = `${opts.resume}/config.yaml`;
      cfg = loadConfig(path, opts.set);
    } else {
      cfg = loadTaskConfig(opts.config, opts.set);
    }
  } catch (e) {
    console.error(`train: ${(e as Error).message}`);
    return e instanceof ConfigError ? 2 : 1;
  }
  let ds: SequentialDataset;
  try {
    ds = await datasetFor(cfg);
  } catch (e) {
    console.error(`train: ${(e as Error).message}`);
    return 1;
  }
  console.log(`data: ${cfg.data_path}: ${describeDataset(ds)}`);
  if (cfg.model.toLowerCase() === "mostpop") {
    for (const split of ["valid", "test"] as const) {
      const m = mostPopularMetrics(ds, ds[split], { maskHistory: cfg.mask_history, ks: cfg.topk });
      console.log(`MostPop ${split}:\n${formatMetrics(m, cfg.topk)}`);
    }
    return 0;
  }
  const gpu = await getGpu();
  const rt = new Runtime(gpu);
  console.log(`adapter: ${gpu.adapterName}${gpu.isFallback ? " (software)" : ""}`);
  const model = createModel(rt, cfg, ds);
  const dataName = cfg.data_path.split("/").slice(-2, -1)[0] || "data";
  const runDir = opts.resume ?? opts.runDir ??
    `${cfg.checkpoint_dir}/${
      new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)
    }-${cfg.model}-${dataName}`;
  await Deno.mkdir(runDir, { recursive: true });
  let resume: Parameters<typeof trainModel>[5];
  if (resumeFrom) {
    model.store.load(resumeFrom.tensors, `${resumeFrom.base}.safetensors`);
    const t = resumeFrom.tensors;
    const trainer = resumeFrom.meta.trainer as { state: TrainerState; optimizerStep: number };
    resume = {
      state: trainer.state,
      optimizer: {
        step: trainer.optimizerStep,
        m: t.get("optimizer.exp_avg")!.data as Float32Array,
        v: t.get("optimizer.exp_avg_sq")!.data as Float32Array,
      },
    };
    console.log(`resuming ${runDir} after epoch ${trainer.state.epoch}`);
  } else {
    model.store.initialise(cfg.seed);
    await writeFileAtomic(`${runDir}/config.yaml`, configYaml(cfg));
  }
  console.log(`model: ${model.name} (${model.store.count} parameters stored), run: ${runDir}`);
  const meta = (trainer?: unknown) => ({
    model: model.name,
    config: cfg as unknown as Record<string, unknown>,
    numItems: ds.numItems,
    parameters: model.store.count,
    trainer,
    adapter: gpu.adapterName,
    savedAt: new Date().toISOString(),
  });
  const log = async (line: string) => {
    console.log(line);
    await Deno.writeTextFile(`${runDir}/train.log`, line + "\n", { append: true });
  };
  // validation's graphs serve the test evaluation too (in the training steps' arena: no memory)
  const options = { ...trainerOptions(cfg), maxSteps: opts.maxSteps ?? 0 };
  const evalGraphs = evalGraphsFor(model, options);
  let state: TrainerState;
  try {
    state = await trainModel(rt, ds, model, { ...options, evalGraphs }, {
      log: (l) => void log(l),
      async epochEnd(record, best, st, adam) {
        await Deno.writeTextFile(`${runDir}/metrics.jsonl`, JSON.stringify(record) + "\n", {
          append: true,
        });
        const params = await model.store.export("params");
        if (best) {
          await saveCheckpoint(
            runDir,
            "best",
            params,
            meta({ epoch: record.epoch, valid: record.valid }),
          );
        }
        const opt = await adam.state();
        const withOpt = new Map(params);
        withOpt.set("optimizer.exp_avg", { dtype: "F32", shape: [opt.m.length], data: opt.m });
        withOpt.set("optimizer.exp_avg_sq", { dtype: "F32", shape: [opt.v.length], data: opt.v });
        await saveCheckpoint(runDir, "last", withOpt, meta({ state: st, optimizerStep: opt.step }));
      },
    }, resume);
  } catch (e) {
    console.error(`train: ${(e as Error).message}`);
    return 1;
  }
  // Test with the best checkpoint (SPEC §3).
  const best = await loadCheckpoint(runDir, "best");
  model.store.load(best.tensors, `${best.base}.safetensors`);
  const test = await evaluate(rt, ds, evalGraphs, ds.test, options);
  const valid = await evaluate(rt, ds, evalGraphs, ds.valid, options);
  const results = {
    model: model.name,
    model_type: cfg.model_type,
    data: cfg.data_path,
    bestEpoch: state.bestEpoch + 1,
    epochs: state.epoch,
    seconds: state.history.reduce((a, r) => a + r.seconds, 0),
    adapter: gpu.adapterName,
    protocol: {
      ranking: "full (all items, padding excluded)",
      history: cfg.mask_history ? "masked" : "not masked",
      ties: "count against the target",
    },
    valid: valid.metrics,
    test: test.metrics,
  };
  await writeFileAtomic(`${runDir}/results.json`, JSON.stringify(results, null, 2) + "\n");
  await writeRunReport(runDir, results, state.history);
  await log(`test (best epoch ${state.bestEpoch + 1}):\n${formatMetrics(test.metrics, cfg.topk)}`);
  await updateLatest(cfg.checkpoint_dir, runDir);
  return 0;
}

/** The resolved config as YAML (stable key order), so a run can be repeated or resumed. */
function configYaml(cfg: Config): string {
  return Object.entries(cfg).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("\n") + "\n";
}

/** Points `<dir>/latest` at the newest run (best effort: symlinks may be unavailable). */
async function updateLatest(dir: string, runDir: string): Promise<void> {
  const link = `${dir}/latest`;
  try {
    await Deno.remove(link).catch(() => {});
    await Deno.symlink(runDir.startsWith(`${dir}/`) ? runDir.slice(dir.length + 1) : runDir, link);
  } catch {
    // not fatal: the run directory is printed above
  }
}

if (import.meta.main) Deno.exit(await trainMain(Deno.args));
