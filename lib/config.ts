/**
 * YAML run configuration: defaults (the official SS4Rec values, SPEC §3), a YAML file, then
 * `--set key=value` overrides (values in YAML scalar/flow syntax). Key names follow RecBole where
 * RecBole has one. Unknown keys and wrong types are errors that name the file or flag and suggest
 * the nearest valid key, because a silently ignored typo in a config costs a whole training run.
 *
 * @module
 */

import { parse as parseYaml } from "yaml";
import { parseInterval } from "./data/dataset.ts";

/** Every configuration key, typed. */
export interface Config {
  /** Model name: SS4Rec, NCF (NeuMF), MostPop, ... */
  model: string;
  /** Ratings file or RecBole `.inter` (any format `convert` reads). */
  data_path: string;
  /** Force the input format of `data_path` (auto-detected when null). */
  data_format: string | null;
  /** H: item embedding / model width. */
  hidden_size: number;
  /** Number of SS4Rec blocks (S5 + Mamba each). */
  n_layers: number;
  /** Dropout after each SSM. */
  dropout_prob: number;
  /** S5 state size P. */
  d_P: number;
  /** S5 input/output width (must equal hidden_size). */
  d_H: number;
  /** S5 log-step init range: lower bound. */
  dt_min: number;
  /** S5 log-step init range: upper bound. */
  dt_max: number;
  /** Mamba state size N. */
  d_state: number;
  /** Mamba causal conv kernel width. */
  d_conv: number;
  /** Mamba expansion (E = expand * H). */
  expand: number;
  /** CE (full softmax, the published numbers) or BPR (one sampled negative). */
  loss_type: "CE" | "BPR";
  /** Adam learning rate. */
  learning_rate: number;
  /** Adam (L2) weight decay. */
  weight_decay: number;
  /** Gradient norm clip; null = none (official). */
  clip_grad_norm: number | null;
  /** Training batch size. */
  train_batch_size: number;
  /** Evaluation batch size. */
  eval_batch_size: number;
  /** Maximum epochs. */
  epochs: number;
  /** Early stopping patience in evaluations. */
  stopping_step: number;
  /** Evaluate every this many epochs. */
  eval_step: number;
  /** L: sliding window length. */
  MAX_ITEM_LIST_LENGTH: number;
  /** Global seed. */
  seed: number;
  /** Early-stopping metric, e.g. NDCG@10. */
  valid_metric: string;
  /** Cut-offs K for HR/NDCG/MRR. */
  topk: number[];
  /** k-core interval for users (RecBole syntax), null = no filter. */
  user_inter_num_interval: string | null;
  /** k-core interval for items (RecBole syntax), null = no filter. */
  item_inter_num_interval: string | null;
  /** prefix: one sample per prefix (RecBole); sequence: one window per chunk of a user's history. */
  train_mode: "prefix" | "sequence";
  /**
   * SS4Rec variant: full (S5 + Mamba), s5_only, mamba_only, or no_time (every gap one constant).
   * The official code reads this key but ignores it; here it works. Ranking is always full.
   */
  model_type: "full" | "s5_only" | "mamba_only" | "no_time";
  /** float32 rounds absolute timestamps before taking gaps (RecBole parity). */
  timestamp_precision: "float64" | "float32";
  /** Clamp Re(Lambda) <= -1e-4 in S5 (off in the official code). */
  s5_clip_eigs: boolean;
  /** Exclude history items from the ranking (off: RecBole's sequential convention). */
  mask_history: boolean;
  /**
   * Run each batch at its longest sequence rounded up to a multiple of this (results unchanged,
   * work scales with real tokens; lib/models/buckets.ts); 0 pads every batch to
   * MAX_ITEM_LIST_LENGTH.
   */
  length_bucket: number;
  /**
   * Run evaluation and prefix-mode training steps on packed tokens (no padding at all;
   * lib/models/buckets.ts PackedGraphs) when the model supports it (SS4Rec). Results are the
   * padded ones to float rounding (dropout masks are another draw). Off: `length_bucket` applies.
   */
  packing: boolean;
  /**
   * SS4Rec: recompute activations in the backward instead of keeping them from the forward.
   * "mamba" (default): only the Mamba blocks replay their forward (all but the last), every S5
   * layer keeps its own activations, and in prefix mode block 0 also its in_proj and x_proj
   * outputs and its forward scan's, so its replay is the conv alone (1.97 GiB for the official
   * shapes at batch 1,024, L 200; sequence mode, which replays all of it, 1.98 GiB with its
   * evaluation). True: S5 recomputes its states as well (the least memory: 1.63 GiB; steps ~2.5 %
   * slower on the H100). False: every layer keeps its own (2.07 GiB) and nothing is recomputed
   * (the fastest steps).
   */
  recompute: boolean | "mamba";
  /** NeuMF: GMF embedding size. */
  mf_embedding_size: number;
  /** NeuMF: MLP embedding size. */
  mlp_embedding_size: number;
  /** NeuMF: MLP hidden layer sizes. */
  mlp_hidden_size: number[];
  /** Where runs (checkpoints, logs, reports) are written. */
  checkpoint_dir: string;
}

type Kind =
  | "int"
  | "posint"
  | "number"
  | "string"
  | "bool"
  | "int[]"
  | "interval"
  | "metric"
  | { oneOf: readonly (string | boolean)[] };

interface KeySpec {
  kind: Kind;
  nullable?: boolean;
}

/** Type of each key; the single source for validation. */
export const CONFIG_SCHEMA: Readonly<Record<keyof Config, KeySpec>> = {
  model: { kind: "string" },
  data_path: { kind: "string" },
  data_format: { kind: { oneOf: ["udata", "dat", "csv", "inter", "delimited"] }, nullable: true },
  hidden_size: { kind: "posint" },
  n_layers: { kind: "posint" },
  dropout_prob: { kind: "number" },
  d_P: { kind: "posint" },
  d_H: { kind: "posint" },
  dt_min: { kind: "number" },
  dt_max: { kind: "number" },
  d_state: { kind: "posint" },
  d_conv: { kind: "posint" },
  expand: { kind: "posint" },
  loss_type: { kind: { oneOf: ["CE", "BPR"] } },
  learning_rate: { kind: "number" },
  weight_decay: { kind: "number" },
  clip_grad_norm: { kind: "number", nullable: true },
  train_batch_size: { kind: "posint" },
  eval_batch_size: { kind: "posint" },
  epochs: { kind: "int" },
  stopping_step: { kind: "posint" },
  eval_step: { kind: "posint" },
  MAX_ITEM_LIST_LENGTH: { kind: "posint" },
  seed: { kind: "int" },
  valid_metric: { kind: "metric" },
  topk: { kind: "int[]" },
  user_inter_num_interval: { kind: "interval", nullable: true },
  item_inter_num_interval: { kind: "interval", nullable: true },
  train_mode: { kind: { oneOf: ["prefix", "sequence"] } },
  model_type: { kind: { oneOf: ["full", "s5_only", "mamba_only", "no_time"] } },
  timestamp_precision: { kind: { oneOf: ["float64", "float32"] } },
  s5_clip_eigs: { kind: "bool" },
  mask_history: { kind: "bool" },
  length_bucket: { kind: "int" },
  packing: { kind: "bool" },
  recompute: { kind: { oneOf: [true, false, "mamba"] } },
  mf_embedding_size: { kind: "posint" },
  mlp_embedding_size: { kind: "posint" },
  mlp_hidden_size: { kind: "int[]" },
  checkpoint_dir: { kind: "string" },
};

/** Defaults: the official SS4Rec configuration (SPEC §3) on the shipped dataset. */
export const DEFAULT_CONFIG: Readonly<Config> = {
  model: "SS4Rec",
  data_path: "data/ml-latest-small/ratings.csv",
  data_format: null,
  hidden_size: 64,
  n_layers: 2,
  dropout_prob: 0.2,
  d_P: 32,
  d_H: 64,
  dt_min: 0.001,
  dt_max: 0.1,
  d_state: 32,
  d_conv: 4,
  expand: 2,
  loss_type: "CE",
  learning_rate: 0.001,
  weight_decay: 0,
  clip_grad_norm: null,
  train_batch_size: 1024,
  eval_batch_size: 2048,
  epochs: 200,
  stopping_step: 10,
  eval_step: 1,
  MAX_ITEM_LIST_LENGTH: 200,
  seed: 2020,
  valid_metric: "NDCG@10",
  topk: [5, 10, 20],
  user_inter_num_interval: "[5,inf)",
  item_inter_num_interval: "[5,inf)",
  train_mode: "prefix",
  model_type: "full",
  timestamp_precision: "float64",
  s5_clip_eigs: false,
  mask_history: false,
  length_bucket: 16,
  packing: true,
  recompute: "mamba",
  mf_embedding_size: 64,
  mlp_embedding_size: 64,
  mlp_hidden_size: [128, 64],
  checkpoint_dir: "runs",
};

/** A configuration mistake; the message is one line naming the file or flag. */
export class ConfigError extends Error {
  /** Create an error with a ready one-line message. */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** Levenshtein edit distance (case-insensitive: `max_item_list_length` is one typo, not 20). */
export function editDistance(a: string, b: string): number {
  a = a.toLowerCase();
  b = b.toLowerCase();
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

/** The valid key nearest to `key`, if it is close enough to be a plausible typo. */
export function suggestKey(key: string): string | null {
  let best: string | null = null, bestDistance = Infinity;
  for (const candidate of Object.keys(CONFIG_SCHEMA)) {
    const d = editDistance(key, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== null && bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : null;
}

function describe(kind: Kind): string {
  if (typeof kind === "object") return `one of ${kind.oneOf.join(", ")}`;
  return {
    int: "an integer",
    posint: "a positive integer",
    number: "a number",
    string: "a string",
    bool: "true or false",
    "int[]": "a list of integers, e.g. [5, 10, 20]",
    interval: "an interval like '[5,inf)'",
    metric: "a metric like NDCG@10 (HR, Hit, NDCG, MRR)",
  }[kind];
}

function checkValue(spec: KeySpec, value: unknown): boolean {
  if (value === null) return spec.nullable === true;
  const kind = spec.kind;
  if (typeof kind === "object") {
    return (typeof value === "string" || typeof value === "boolean") && kind.oneOf.includes(value);
  }
  switch (kind) {
    case "int":
      return Number.isInteger(value);
    case "posint":
      return Number.isInteger(value) && (value as number) > 0;
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "string":
      return typeof value === "string";
    case "bool":
      return typeof value === "boolean";
    case "int[]":
      return Array.isArray(value) && value.every((v) => Number.isInteger(v) && v > 0);
    case "interval":
      if (typeof value !== "string") return false;
      try {
        parseInterval(value);
        return true;
      } catch {
        return false;
      }
    case "metric":
      return typeof value === "string" && /^(HR|Hit|NDCG|MRR)@\d+$/i.test(value);
  }
}

function show(value: unknown): string {
  const text = typeof value === "string" ? `'${value}'` : JSON.stringify(value) ?? String(value);
  return text.length > 60 ? text.slice(0, 57) + "..." : text;
}

/** Validate one key/value and store it; `where` prefixes messages (file name or flag). */
function setKey(config: Record<string, unknown>, key: string, value: unknown, where: string): void {
  if (!Object.hasOwn(CONFIG_SCHEMA, key)) {
    const hint = suggestKey(key);
    throw new ConfigError(
      `${where}: unknown key '${key}'${hint ? ` (did you mean '${hint}'?)` : ""}`,
    );
  }
  const spec = CONFIG_SCHEMA[key as keyof Config];
  // YAML reads `[5,inf)` unquoted as a string already; numbers for float keys may be integers.
  if (!checkValue(spec, value)) {
    throw new ConfigError(
      `${where}: key '${key}': expected ${describe(spec.kind)}${
        spec.nullable ? " or null" : ""
      }, got ${show(value)}`,
    );
  }
  config[key] = value;
}

/** Cross-key checks that a single key cannot express. */
function validateConfig(config: Config, where: string): void {
  if (config.d_H !== config.hidden_size) {
    throw new ConfigError(
      `${where}: d_H (${config.d_H}) must equal hidden_size (${config.hidden_size})`,
    );
  }
  if (config.dt_min <= 0 || config.dt_max < config.dt_min) {
    throw new ConfigError(
      `${where}: need 0 < dt_min <= dt_max, got ${config.dt_min}, ${config.dt_max}`,
    );
  }
  if (config.dropout_prob < 0 || config.dropout_prob >= 1) {
    throw new ConfigError(`${where}: dropout_prob must be in [0, 1), got ${config.dropout_prob}`);
  }
  const k = Number(config.valid_metric.split("@")[1]);
  if (!config.topk.includes(k)) {
    throw new ConfigError(
      `${where}: valid_metric ${config.valid_metric} needs ${k} in topk [${
        config.topk.join(", ")
      }]`,
    );
  }
}

/** Parse YAML text into validated overrides on top of `base`. `source` names the text in errors. */
export function parseConfigText(
  text: string,
  source: string,
  base: Config = DEFAULT_CONFIG,
): Config {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (e) {
    throw new ConfigError(`${source}: invalid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  const config = structuredClone(base) as unknown as Record<string, unknown>;
  if (doc === null || doc === undefined) return config as unknown as Config;
  if (typeof doc !== "object" || Array.isArray(doc)) {
    throw new ConfigError(`${source}: expected a mapping of key: value at the top level`);
  }
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    setKey(config, key, value, source);
  }
  return config as unknown as Config;
}

/**
 * Apply `--set key=value` overrides; each value is parsed as a YAML scalar or flow value
 * (`epochs=10`, `topk=[5,10]`, `clip_grad_norm=null`, `train_mode=sequence`).
 */
export function applySets(config: Config, sets: readonly string[]): Config {
  const out = structuredClone(config) as unknown as Record<string, unknown>;
  for (const set of sets) {
    const eq = set.indexOf("=");
    if (eq <= 0) throw new ConfigError(`--set ${set}: expected key=value`);
    const key = set.slice(0, eq).trim();
    const raw = set.slice(eq + 1);
    let value: unknown;
    try {
      value = raw.trim() === "" ? "" : parseYaml(raw);
    } catch {
      // Not valid YAML (e.g. an unquoted interval with a comma inside brackets): keep the text.
      value = raw;
    }
    // `[5,inf)` parses as neither; intervals are strings anyway.
    if (CONFIG_SCHEMA[key as keyof Config]?.kind === "interval" && typeof value !== "string") {
      value = value === null ? null : raw;
    }
    setKey(out, key, value, `--set ${set}`);
  }
  return out as unknown as Config;
}

/**
 * Load a configuration: defaults, then the YAML file at `path` (when given), then `sets`.
 * Throws {@link ConfigError} with a one-line message on any problem.
 */
export function loadConfig(path?: string, sets: readonly string[] = []): Config {
  let config: Config = structuredClone(DEFAULT_CONFIG) as Config;
  if (path !== undefined) {
    let text: string;
    try {
      text = Deno.readTextFileSync(path);
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
      throw new ConfigError(`${path}: ${why}`);
    }
    config = parseConfigText(text, path, config);
  }
  config = applySets(config, sets);
  validateConfig(config, path ?? "config");
  return config;
}
