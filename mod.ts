/**
 * ss4rec: train, evaluate and diagnose SS4Rec (continuous-time sequential recommendation with
 * state space models, arXiv 2502.08132) on MovieLens-style data with WebGPU compute kernels.
 *
 * As a library: the data pipeline, metrics, GPU runtime, layers, models and trainer are exported
 * below. As a program (`deno run -A mod.ts <command>` or `deno run -A jsr:@org/ss4rec <command>`):
 *
 * ```
 * convert   MovieLens u.data / ratings.dat / ratings.csv / delimited -> RecBole .inter
 * train     train a model from a YAML config (default: SS4Rec on the shipped ml-latest-small)
 * eval      full-ranking HR/NDCG/MRR@K of a run or checkpoint
 * recommend top-K items for one user of a run
 * diagnose  diagnose-gradients: gradient checks and gradient health over real training steps
 * ```
 *
 * @module
 */

export * from "./lib/data/mod.ts";
export * from "./lib/metrics.ts";
export { acquireGpu, getGpu, type Gpu } from "./lib/gpu/device.ts";
export { Arena, grid, type Op, Runtime, Tensor } from "./lib/gpu/runtime.ts";
export { SS4Rec, type SS4RecOptions } from "./lib/models/ss4rec.ts";
export type { EvalGraph, LengthOptions, RecModel, TrainGraph } from "./lib/models/model.ts";
export {
  bucketLength,
  evalBuckets,
  type EvalGraphs,
  LengthBuckets,
  packedEvalGraphs,
  PackedGraphs,
  packedTrainGraphs,
  trainBuckets,
  type TrainGraphs,
  trimBatch,
} from "./lib/models/buckets.ts";
export {
  evalGraphsFor,
  evaluate,
  type TrainerOptions,
  trainGraphsFor,
  trainModel,
} from "./lib/train/trainer.ts";
export { readSafetensors, writeSafetensors } from "./lib/io/safetensors.ts";

const COMMANDS: Record<string, () => Promise<(args: string[]) => Promise<number>>> = {
  convert: async () => (await import("./tasks/convert.ts")).convertMain,
  train: async () => (await import("./tasks/train.ts")).trainMain,
  eval: async () => (await import("./tasks/eval.ts")).evalMain,
  recommend: async () => (await import("./tasks/eval.ts")).recommendMain,
  diagnose: async () => (await import("./tasks/diagnose.ts")).diagnoseMain,
};

const USAGE = `usage: ss4rec <command> [options]
commands: ${Object.keys(COMMANDS).join(", ")}   (each takes --help)`;

/** Runs the CLI with `args` and returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (!cmd || cmd === "--help" || cmd === "-h") {
    console.log(USAGE);
    return cmd ? 0 : 2;
  }
  const load = COMMANDS[cmd];
  if (!load) {
    console.error(`ss4rec: unknown command '${cmd}'\n${USAGE}`);
    return 2;
  }
  return await (await load())(rest);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
