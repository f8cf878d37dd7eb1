/**
 * Checkpoints: weights as safetensors (so a PyTorch user can open them, names = the official
 * SS4Rec state_dict names) plus a JSON file with the resolved config, the trainer state and the
 * optimiser step. Optimiser moments are stored in the same safetensors file under `optimizer.*`.
 * Both files are written atomically; the JSON is written last, so a checkpoint is complete when
 * its JSON exists.
 *
 * @module
 */

import { writeFileAtomic } from "../io/atomic.ts";
import { readSafetensors, type SafeTensor, writeSafetensors } from "../io/safetensors.ts";

/** The JSON half of a checkpoint. */
export interface CheckpointMeta {
  model: string;
  config: Record<string, unknown>;
  numItems: number;
  parameters: number;
  trainer?: unknown;
  adapter?: string;
  savedAt: string;
}

/** Writes `<dir>/<tag>.safetensors` and `<dir>/<tag>.json`. */
export async function saveCheckpoint(
  dir: string,
  tag: string,
  tensors: Map<string, SafeTensor>,
  meta: CheckpointMeta,
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(`${dir}/${tag}.safetensors`, tensors, { format: "pt", model: meta.model });
  await writeFileAtomic(`${dir}/${tag}.json`, JSON.stringify(meta, null, 2) + "\n");
}

/**
 * Loads a checkpoint from a run directory (`best` by default) or from a `.safetensors` / `.json`
 * path. Errors name the missing file.
 */
export async function loadCheckpoint(
  path: string,
  tag = "best",
): Promise<{ tensors: Map<string, SafeTensor>; meta: CheckpointMeta; base: string }> {
  let base = path.replace(/\.(safetensors|json)$/, "");
  try {
    if ((await Deno.stat(path)).isDirectory) base = `${path.replace(/\/$/, "")}/${tag}`;
  } catch {
    throw new Error(`${path}: no such run directory or checkpoint`);
  }
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(await Deno.readTextFile(`${base}.json`));
  } catch (e) {
    throw new Error(`${base}.json: cannot read checkpoint metadata (${(e as Error).message})`);
  }
  const { tensors } = await readSafetensors(`${base}.safetensors`);
  return { tensors, meta, base };
}
