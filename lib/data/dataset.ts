/**
 * Sequential dataset building with RecBole's sequential defaults (SPEC §4):
 * k-core filter repeated until stable -> dense re-index (item 0 = padding) -> stable per-user sort
 * by exact timestamp -> every prefix is a sample -> leave-one-out by time.
 *
 * Glossary: a user's interactions live at `items[userOffsets[u] .. userOffsets[u+1])`, oldest
 * first. A sample `(user u, pos p)` means "predict the item at position p of u's sequence from
 * positions 0..p-1" (k = p is the prefix length); the model sees only the last L of those.
 *
 * @module
 */

import { type InteractionTable, readInteractions, type ReadOptions } from "./readers.ts";

/** A closed/open numeric interval in RecBole syntax, e.g. `[5,inf)`. */
export interface Interval {
  /** Lower bound. */
  lo: number;
  /** Upper bound (may be Infinity). */
  hi: number;
  /** Whether `lo` itself is inside. */
  loInclusive: boolean;
  /** Whether `hi` itself is inside. */
  hiInclusive: boolean;
}

/**
 * Parse RecBole interval syntax: `[5,inf)`, `(0,10]`, `[3,3]`. Several intervals may be joined
 * with `;` (a count is valid if it lies in any of them), as in RecBole. `null`/empty means no filter.
 */
export function parseInterval(text: string | null | undefined): Interval[] | null {
  if (text === null || text === undefined || text.trim() === "" || text.trim() === "None") {
    return null;
  }
  return text.split(";").map((part) => {
    const m = /^\s*([[(])\s*([^,\s]+)\s*,\s*([^\])\s]+)\s*([\])])\s*$/.exec(part);
    if (!m) throw new Error(`invalid interval '${part}': expected e.g. '[5,inf)'`);
    const num = (s: string) => {
      const t = s.toLowerCase();
      if (t === "inf" || t === "+inf") return Infinity;
      if (t === "-inf") return -Infinity;
      const v = Number(s);
      if (Number.isNaN(v)) throw new Error(`invalid interval bound '${s}' in '${part}'`);
      return v;
    };
    return { lo: num(m[2]), hi: num(m[3]), loInclusive: m[1] === "[", hiInclusive: m[4] === "]" };
  });
}

function inIntervals(value: number, intervals: Interval[]): boolean {
  for (const iv of intervals) {
    const aboveLo = iv.loInclusive ? value >= iv.lo : value > iv.lo;
    const belowHi = iv.hiInclusive ? value <= iv.hi : value < iv.hi;
    if (aboveLo && belowHi) return true;
  }
  return false;
}

/** A set of samples: sample i predicts `items[userOffsets[user[i]] + pos[i]]`. */
export interface SampleSet {
  /** Dense user id per sample. */
  user: Int32Array;
  /** Position of the target within its user's time-sorted sequence (= prefix length k). */
  pos: Int32Array;
}

/** Counts describing a built dataset. */
export interface DatasetStats {
  /** Interactions read. */
  rawInteractions: number;
  /** Interactions after k-core. */
  interactions: number;
  /** Users after k-core. */
  users: number;
  /** Items after k-core (without padding). */
  items: number;
  /** k-core passes that removed something. */
  kcoreRounds: number;
  /** Samples per split. */
  trainSamples: number;
  /** Validation samples. */
  validSamples: number;
  /** Test samples. */
  testSamples: number;
}

/** The whole prepared dataset in compact CSR form. */
export interface SequentialDataset {
  /** Users U; dense user ids are 0..U-1. */
  numUsers: number;
  /** V = number of item ids including the padding id 0; real items are 1..V-1. */
  numItems: number;
  /** Raw user id per dense user id. */
  rawUserIds: string[];
  /** Raw item id per dense item id; `[0]` is `"[PAD]"`. */
  rawItemIds: string[];
  /** Dense user id per raw id. */
  userIndex: Map<string, number>;
  /** Dense item id per raw id. */
  itemIndex: Map<string, number>;
  /** CSR offsets [U+1] into `items`/`timestamps`/`ratings`. */
  userOffsets: Int32Array;
  /** Dense item ids, each user's interactions oldest first (ties in file order). */
  items: Int32Array;
  /** Exact timestamps (seconds) parallel to `items`. */
  timestamps: Float64Array;
  /** Ratings parallel to `items`. */
  ratings: Float32Array;
  /** Training samples (all prefixes except each user's last two). */
  train: SampleSet;
  /** Validation samples (each user's second-to-last prefix). */
  valid: SampleSet;
  /** Test samples (each user's last prefix; its input includes the validation item). */
  test: SampleSet;
  /** Counts. */
  stats: DatasetStats;
}

/** Options of {@link buildDataset}. */
export interface BuildOptions {
  /** User interaction-count interval (RecBole `user_inter_num_interval`), default `[5,inf)`. */
  userInterNumInterval?: string | null;
  /** Item interaction-count interval (RecBole `item_inter_num_interval`), default `[5,inf)`. */
  itemInterNumInterval?: string | null;
}

/**
 * RecBole's `_filter_by_inter_num`: count, ban users and items outside their interval at the same
 * time, drop every interaction touching a banned one, repeat until a pass bans nothing.
 * Returns the keep mask and the number of passes that removed something.
 */
export function kcoreFilter(
  table: Pick<InteractionTable, "rows" | "user" | "item" | "rawUserIds" | "rawItemIds">,
  options: { user: Interval[] | null; item: Interval[] | null },
): { keep: Uint8Array; rounds: number } {
  const { rows, user, item } = table;
  const keep = new Uint8Array(rows).fill(1);
  const userCount = new Int32Array(table.rawUserIds.length);
  const itemCount = new Int32Array(table.rawItemIds.length);
  const userBan = new Uint8Array(userCount.length);
  const itemBan = new Uint8Array(itemCount.length);
  let rounds = 0;
  for (;;) {
    userCount.fill(0);
    itemCount.fill(0);
    for (let r = 0; r < rows; r++) {
      if (keep[r]) {
        userCount[user[r]]++;
        itemCount[item[r]]++;
      }
    }
    let banned = 0;
    // Only ids still present are judged (RecBole counts with a Counter over the remaining rows).
    if (options.user) {
      for (let u = 0; u < userCount.length; u++) {
        userBan[u] = userCount[u] > 0 && !inIntervals(userCount[u], options.user) ? 1 : 0;
        banned += userBan[u];
      }
    }
    if (options.item) {
      for (let i = 0; i < itemCount.length; i++) {
        itemBan[i] = itemCount[i] > 0 && !inIntervals(itemCount[i], options.item) ? 1 : 0;
        banned += itemBan[i];
      }
    }
    if (banned === 0) break;
    rounds++;
    for (let r = 0; r < rows; r++) {
      if (keep[r] && (userBan[user[r]] || itemBan[item[r]])) keep[r] = 0;
    }
  }
  return { keep, rounds };
}

/**
 * Build the sequential dataset from an interaction table (any reader output).
 * Dense ids follow first appearance in file order among the kept rows, like RecBole's remap.
 */
export function buildDataset(
  table: InteractionTable,
  options: BuildOptions = {},
): SequentialDataset {
  const userIv = parseInterval(
    options.userInterNumInterval === undefined ? "[5,inf)" : options.userInterNumInterval,
  );
  const itemIv = parseInterval(
    options.itemInterNumInterval === undefined ? "[5,inf)" : options.itemInterNumInterval,
  );
  const { keep, rounds } = kcoreFilter(table, { user: userIv, item: itemIv });
  const { rows, user, item, timestamp, rating } = table;

  // Dense re-index in first-appearance order of the kept rows.
  const userDense = new Int32Array(table.rawUserIds.length).fill(-1);
  const itemDense = new Int32Array(table.rawItemIds.length).fill(-1);
  const rawUserIds: string[] = [];
  const rawItemIds: string[] = ["[PAD]"];
  let kept = 0;
  for (let r = 0; r < rows; r++) {
    if (!keep[r]) continue;
    kept++;
    if (userDense[user[r]] < 0) {
      userDense[user[r]] = rawUserIds.length;
      rawUserIds.push(table.rawUserIds[user[r]]);
    }
    if (itemDense[item[r]] < 0) {
      itemDense[item[r]] = rawItemIds.length;
      rawItemIds.push(table.rawItemIds[item[r]]);
    }
  }
  const numUsers = rawUserIds.length;
  const numItems = rawItemIds.length;

  // CSR by user via a counting sort: stable, so each user's rows stay in file order.
  const userOffsets = new Int32Array(numUsers + 1);
  for (let r = 0; r < rows; r++) if (keep[r]) userOffsets[userDense[user[r]] + 1]++;
  for (let u = 0; u < numUsers; u++) userOffsets[u + 1] += userOffsets[u];
  const order = new Int32Array(kept);
  {
    const fill = userOffsets.slice(0, numUsers);
    for (let r = 0; r < rows; r++) if (keep[r]) order[fill[userDense[user[r]]]++] = r;
  }
  sortUsersByTime(order, userOffsets, timestamp);
  const items = new Int32Array(kept);
  const timestamps = new Float64Array(kept);
  const ratings = new Float32Array(kept);
  for (let j = 0; j < kept; j++) {
    const r = order[j];
    items[j] = itemDense[item[r]];
    timestamps[j] = timestamp[r];
    ratings[j] = rating[r];
  }
  const { train, valid, test } = leaveOneOut(userOffsets);
  const userIndex = new Map<string, number>();
  rawUserIds.forEach((id, i) => userIndex.set(id, i));
  const itemIndex = new Map<string, number>();
  rawItemIds.forEach((id, i) => {
    if (i > 0) itemIndex.set(id, i);
  });
  return {
    numUsers,
    numItems,
    rawUserIds,
    rawItemIds,
    userIndex,
    itemIndex,
    userOffsets,
    items,
    timestamps,
    ratings,
    train,
    valid,
    test,
    stats: {
      rawInteractions: rows,
      interactions: kept,
      users: numUsers,
      items: numItems - 1,
      kcoreRounds: rounds,
      trainSamples: train.user.length,
      validSamples: valid.user.length,
      testSamples: test.user.length,
    },
  };
}

/**
 * Stable sort of each user's rows by exact timestamp; ties keep file order (row index).
 * Fast path: with integer timestamps, `(ts - tsMin) * 2^k + localIndex` is an exact float64 key
 * (checked against 2^53), so a native comparator-free Float64Array sort does the work; a JS
 * comparator costs several times more on 25M rows. Otherwise a comparator sort on the row index.
 */
function sortUsersByTime(
  order: Int32Array,
  userOffsets: Int32Array,
  timestamp: Float64Array,
): void {
  const numUsers = userOffsets.length - 1;
  let tsMin = Infinity, tsMax = -Infinity, integral = true, longest = 0;
  for (let j = 0; j < order.length; j++) {
    const t = timestamp[order[j]];
    if (t < tsMin) tsMin = t;
    if (t > tsMax) tsMax = t;
    if (!Number.isInteger(t)) integral = false;
  }
  for (let u = 0; u < numUsers; u++) {
    longest = Math.max(longest, userOffsets[u + 1] - userOffsets[u]);
  }
  const scale = 2 ** Math.ceil(Math.log2(longest + 1));
  const packed = integral && (tsMax - tsMin + 1) * scale <= 2 ** 53;
  const keys = new Float64Array(packed ? longest : 0);
  const rows = new Int32Array(packed ? longest : 0);
  const byTime = (a: number, b: number) => (timestamp[a] - timestamp[b]) || (a - b);
  for (let u = 0; u < numUsers; u++) {
    const s = userOffsets[u], e = userOffsets[u + 1];
    let sorted = true;
    for (let j = s + 1; j < e; j++) {
      if (timestamp[order[j]] < timestamp[order[j - 1]]) {
        sorted = false;
        break;
      }
    }
    if (sorted) continue;
    if (!packed) {
      order.subarray(s, e).sort(byTime);
      continue;
    }
    const n = e - s;
    // order[s..e) is in file order, so the local index is the tie-break.
    for (let j = 0; j < n; j++) {
      rows[j] = order[s + j];
      keys[j] = (timestamp[rows[j]] - tsMin) * scale + j;
    }
    const part = keys.subarray(0, n).sort();
    for (let j = 0; j < n; j++) order[s + j] = rows[part[j] % scale];
  }
}

/**
 * Prefix samples and RecBole's leave-one-out ('valid_and_test', grouped by user, in time order).
 * A user with n interactions has m = n-1 prefix samples; RecBole keeps
 * `min(2, m-1)` of them out: m >= 3 -> train m-2, valid 1, test 1; m = 2 -> train 1, test 1
 * (no valid); m = 1 -> train 1; m = 0 -> nothing.
 */
export function leaveOneOut(
  userOffsets: Int32Array,
): { train: SampleSet; valid: SampleSet; test: SampleSet } {
  const numUsers = userOffsets.length - 1;
  let nTrain = 0, nValid = 0, nTest = 0;
  for (let u = 0; u < numUsers; u++) {
    const m = userOffsets[u + 1] - userOffsets[u] - 1;
    if (m <= 0) continue;
    const out = Math.min(2, m - 1);
    nTrain += m - out;
    if (out === 2) nValid++;
    if (out >= 1) nTest++;
  }
  const train = { user: new Int32Array(nTrain), pos: new Int32Array(nTrain) };
  const valid = { user: new Int32Array(nValid), pos: new Int32Array(nValid) };
  const test = { user: new Int32Array(nTest), pos: new Int32Array(nTest) };
  let t = 0, v = 0, s = 0;
  for (let u = 0; u < numUsers; u++) {
    const n = userOffsets[u + 1] - userOffsets[u];
    const m = n - 1;
    if (m <= 0) continue;
    const out = Math.min(2, m - 1);
    for (let p = 1; p <= m - out; p++) {
      train.user[t] = u;
      train.pos[t++] = p;
    }
    if (out === 2) {
      valid.user[v] = u;
      valid.pos[v++] = n - 2;
    }
    if (out >= 1) {
      test.user[s] = u;
      test.pos[s++] = n - 1;
    }
  }
  return { train, valid, test };
}

/** Options of {@link loadDataset}: reader options plus k-core intervals. */
export interface LoadOptions extends ReadOptions, BuildOptions {}

/** Read any supported ratings file (or `.inter`) and build the dataset. */
export async function loadDataset(
  path: string,
  options: LoadOptions = {},
): Promise<SequentialDataset> {
  return buildDataset(await readInteractions(path, options), options);
}

/**
 * SHA-256 fingerprint of a split (SPEC §4): one line per sample
 * `raw_user \t k \t raw_target_item \t target_ts \t min(k, L) \t raw_first_input_item`,
 * sorted as strings, joined with `\n` (no trailing newline).
 */
export async function splitFingerprint(
  ds: SequentialDataset,
  set: SampleSet,
  options: { maxLen?: number } = {},
): Promise<string> {
  const maxLen = options.maxLen ?? 200;
  const lines: string[] = new Array(set.user.length);
  for (let i = 0; i < set.user.length; i++) {
    const u = set.user[i], k = set.pos[i];
    const off = ds.userOffsets[u];
    const ts = ds.timestamps[off + k];
    const first = ds.items[off + Math.max(0, k - maxLen)];
    lines[i] = `${ds.rawUserIds[u]}\t${k}\t${ds.rawItemIds[ds.items[off + k]]}\t${
      Number.isInteger(ts) ? ts : Math.floor(ts)
    }\t${Math.min(k, maxLen)}\t${ds.rawItemIds[first]}`;
  }
  lines.sort();
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(lines.join("\n")));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
