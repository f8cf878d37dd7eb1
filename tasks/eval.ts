/**
 * `deno task eval`: full-ranking HR/NDCG/MRR@K of a trained run on the test (or valid) split, with
 * the protocol printed beside the numbers; optional per-user rank export.
 * `deno task recommend`: the top-K items for one user of a run, with titles when a MovieLens
 * movies file sits beside the data.
 *
 * @module
 */

import { Command } from "commander";
import { type Config, ConfigError, loadConfig } from "../lib/config.ts";
import type { Batch } from "../lib/data/batch.ts";
import type { SequentialDataset } from "../lib/data/dataset.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { writeFileAtomic } from "../lib/io/atomic.ts";
import { createModel } from "../lib/models/factory.ts";
import type { RecModel } from "../lib/models/model.ts";
import { loadCheckpoint } from "../lib/train/checkpoint.ts";
import { evalGraphsFor, evaluate } from "../lib/train/trainer.ts";
import { datasetFor, formatMetrics, trainerOptions } from "./train.ts";

interface Loaded {
  cfg: Config;
  ds: SequentialDataset;
  rt: Runtime;
  model: RecModel;
  adapter: string;
}

/** Loads a run's config, dataset and checkpoint (`best` unless a file is named). */
async function loadRun(path: string, sets: string[]): Promise<Loaded> {
  const ckpt = await loadCheckpoint(path, "best");
  const dir = ckpt.base.slice(0, ckpt.base.lastIndexOf("/")) || ".";
  let cfg: Config;
  try {
    cfg = loadConfig(`${dir}/config.yaml`, sets);
  } catch (e) {
    if (!(e instanceof ConfigError) || !/no such file/.test(e.message)) throw e;
    cfg = loadConfig(undefined, [
      ...Object.entries(ckpt.meta.config).map(([k, v]) => `${k}=${JSON.stringify(v)}`),
      ...sets,
    ]);
  }
  const ds = await datasetFor(cfg);
  if (ds.numItems !== ckpt.meta.numItems) {
    throw new Error(
      `${ckpt.base}.json: trained with ${ckpt.meta.numItems} item ids but ${cfg.data_path} ` +
        `gives ${ds.numItems}; evaluate on the data the run was trained on`,
    );
  }
  const gpu = await getGpu();
  const rt = new Runtime(gpu);
  const model = createModel(rt, cfg, ds);
  model.store.load(ckpt.tensors, `${ckpt.base}.safetensors`);
  return { cfg, ds, rt, model, adapter: gpu.adapterName };
}

function parse(program: Command, args: string[]): number | null {
  try {
    program.exitOverride().parse(args, { from: "user" });
    return null;
  } catch (e) {
    return (e as { exitCode?: number }).exitCode ?? 2;
  }
}

const collect = (v: string, a: string[]) => [...a, v];

/** Entry point of `eval`; returns the exit code. */
export async function evalMain(args: string[]): Promise<number> {
  const program = new Command("eval")
    .description("full-ranking HR/NDCG/MRR@K of a run (best checkpoint) on test or valid")
    .option("-r, --run <dir>", "run directory", "runs/latest")
    .option("--checkpoint <file>", "a checkpoint file instead of a run's best")
    .option("--split <name>", "test or valid", "test")
    .option("--export-ranks <file>", "write one line per user: raw user id, target, rank")
    .option("-s, --set <key=value>", "override a config key, e.g. mask_history=true", collect, []);
  const code = parse(program, args);
  if (code !== null) return code;
  const o = program.opts<
    { run: string; checkpoint?: string; split: string; exportRanks?: string; set: string[] }
  >();
  if (o.split !== "test" && o.split !== "valid") {
    console.error(`eval: --split must be test or valid, got '${o.split}'`);
    return 2;
  }
  let run: Loaded;
  try {
    run = await loadRun(o.checkpoint ?? o.run, o.set);
  } catch (e) {
    console.error(`eval: ${(e as Error).message}`);
    return 1;
  }
  const { cfg, ds, rt, model } = run;
  const set = ds[o.split];
  const options = trainerOptions(cfg);
  const graphs = evalGraphsFor(model, options);
  const { metrics, ranks } = await evaluate(rt, ds, graphs, set, options);
  console.log(
    `${model.name} (${cfg.model_type}) on ${cfg.data_path}, ${o.split} split, ${set.user.length} users`,
  );
  console.log(
    `protocol: full ranking over all ${ds.numItems - 1} items (padding excluded); history ` +
      `${
        cfg.mask_history ? "masked" : "not masked"
      }; ties count against the target; adapter ${run.adapter}`,
  );
  console.log(formatMetrics(metrics, cfg.topk));
  if (o.exportRanks) {
    const lines = ["user\ttarget_item\trank"];
    for (let i = 0; i < set.user.length; i++) {
      const u = set.user[i];
      const target = ds.items[ds.userOffsets[u] + set.pos[i]];
      lines.push(`${ds.rawUserIds[u]}\t${ds.rawItemIds[target]}\t${ranks[i]}`);
    }
    await writeFileAtomic(o.exportRanks, lines.join("\n") + "\n");
    console.log(`ranks written to ${o.exportRanks}`);
  }
  return 0;
}

/** Titles by raw item id from `movies.csv` (ml-latest) or `u.item` (ml-100k) beside the data. */
async function readTitles(dataPath: string): Promise<Map<string, string>> {
  const dir = dataPath.slice(0, dataPath.lastIndexOf("/") + 1) || "./";
  const titles = new Map<string, string>();
  for (const [file, sep] of [["movies.csv", ","], ["u.item", "|"], ["movies.dat", "::"]]) {
    let text: string;
    try {
      text = new TextDecoder("latin1").decode(await Deno.readFile(dir + file));
    } catch {
      continue;
    }
    for (const line of text.split(/\r?\n/).slice(file === "movies.csv" ? 1 : 0)) {
      if (!line) continue;
      const at = line.indexOf(sep);
      let rest = line.slice(at + sep.length);
      if (sep === ",") {
        rest = rest.startsWith('"') ? rest.slice(1, rest.indexOf('"', 1)) : rest.split(",")[0];
      } else rest = rest.split(sep)[0];
      titles.set(line.slice(0, at), rest);
    }
    break;
  }
  return titles;
}

/** Entry point of `recommend`; returns the exit code. */
export async function recommendMain(args: string[]): Promise<number> {
  const program = new Command("recommend")
    .description("top-K next items for one user of a run, after their whole history")
    .requiredOption("-u, --user <id>", "raw user id (as in the ratings file)")
    .option("-r, --run <dir>", "run directory", "runs/latest")
    .option("-k, --k <n>", "how many items", (v: string) => parseInt(v, 10), 10)
    .option("--at <seconds>", "time of the next interaction (default: last + 1 day)")
    .option("--exclude-seen", "leave out items the user already rated");
  const code = parse(program, args);
  if (code !== null) return code;
  const o = program.opts<
    { user: string; run: string; k: number; at?: string; excludeSeen?: boolean }
  >();
  let run: Loaded;
  try {
    run = await loadRun(o.run, []);
  } catch (e) {
    console.error(`recommend: ${(e as Error).message}`);
    return 1;
  }
  const { cfg, ds, rt, model } = run;
  const u = ds.userIndex.get(o.user);
  if (u === undefined) {
    console.error(`recommend: user '${o.user}' is not in ${cfg.data_path} (after k-core)`);
    return 1;
  }
  const L = cfg.MAX_ITEM_LIST_LENGTH, V = ds.numItems;
  const start = ds.userOffsets[u], end = ds.userOffsets[u + 1];
  const from = Math.max(start, end - L);
  const at = o.at !== undefined ? Number(o.at) : ds.timestamps[end - 1] + 86400;
  if (!Number.isFinite(at) || at < ds.timestamps[end - 1]) {
    console.error(`recommend: --at must be a time in seconds no earlier than the last rating`);
    return 2;
  }
  const batch: Batch = {
    size: 1,
    count: 1,
    maxLen: L,
    itemSeq: new Int32Array(L),
    seqLen: Int32Array.of(end - from),
    timeGaps: new Float32Array(L),
    target: Int32Array.of(1),
    user: Int32Array.of(u),
  };
  for (let i = from; i < end; i++) {
    batch.itemSeq[i - from] = ds.items[i];
    batch.timeGaps[i - from] = (i + 1 < end ? ds.timestamps[i + 1] : at) - ds.timestamps[i];
  }
  const graph = await model.buildEval({ batch: 1, maxLen: L, maskHistory: false });
  graph.upload(batch);
  rt.write(graph.step, [0, 0, 0, 0]);
  rt.run(graph.commands);
  const scores = await rt.read(graph.scores);
  const seen = new Set(ds.items.subarray(start, end));
  const order = Array.from({ length: V - 1 }, (_, i) => i + 1)
    .filter((j) => !o.excludeSeen || !seen.has(j))
    .sort((a, b) => scores[b] - scores[a]).slice(0, o.k);
  const titles = await readTitles(cfg.data_path);
  console.log(`top ${o.k} for user ${o.user} after ${end - start} ratings, at t = ${at}:`);
  order.forEach((j, r) => {
    const raw = ds.rawItemIds[j];
    console.log(
      `${String(r + 1).padStart(3)}. ${raw.padEnd(8)} ${scores[j].toFixed(3)}  ${
        titles.get(raw) ?? ""
      }`,
    );
  });
  return 0;
}

if (import.meta.main) Deno.exit(await evalMain(Deno.args));
