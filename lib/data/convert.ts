/**
 * Convert any supported ratings file to a RecBole atomic `.inter`, streaming.
 *
 * The output is written to `<out>.tmp-<pid>` and renamed at the end, so a failure never leaves a
 * half-written `.inter` behind. Field bytes that are already canonical decimals are copied
 * verbatim (no float formatting on the hot path); everything else is re-formatted with
 * `String(number)`, which round-trips exactly.
 *
 * @module
 */

import {
  DataFormatError,
  readInteractions,
  type ReadOptions,
  scanInteractions,
} from "./readers.ts";

/** The exact RecBole header this project writes. */
export const INTER_HEADER = "user_id:token\titem_id:token\trating:float\ttimestamp:float";

/** Summary written next to the output as `<out>.stats.json`. */
export interface ConvertStats {
  /** Input path. */
  input: string;
  /** Output path. */
  output: string;
  /** Detected or forced format. */
  format: string;
  /** Data rows written. */
  rows: number;
  /** Distinct users written. */
  users: number;
  /** Distinct items written. */
  items: number;
  /** Smallest timestamp (seconds). */
  timeMin: number;
  /** Largest timestamp (seconds). */
  timeMax: number;
  /** Rows whose (user, item) pair already occurred earlier in the file. */
  duplicatePairs: number;
  /** Rows whose (user, timestamp) already occurred earlier: same-second ties within a user. */
  sameSecondTies: number;
  /** Rows skipped with `skipInvalid`. */
  skippedRows: number;
  /** Up to 10 reasons for skipped rows. */
  skippedExamples: string[];
  /** Bytes read. */
  bytesIn: number;
  /** Wall-clock seconds of the conversion. */
  seconds: number;
}

/** Options of {@link convertFile}. */
export interface ConvertOptions extends ReadOptions {
  /** Output path; default: the input name with its extension replaced by `.inter`. */
  output?: string;
  /** Write `<out>.stats.json` (default true). */
  writeStats?: boolean;
}

/** Default output path: input name with `.inter` in place of its extension. */
export function defaultOutputPath(input: string): string {
  const slash = Math.max(input.lastIndexOf("/"), input.lastIndexOf("\\"));
  const dot = input.lastIndexOf(".");
  return (dot > slash + 1 ? input.slice(0, dot) : input) + ".inter";
}

/** Buffered synchronous byte writer: one syscall per megabyte, not per row. */
interface ByteWriter {
  file: Deno.FsFile;
  buf: Uint8Array;
  len: number;
}

function flush(w: ByteWriter): void {
  let off = 0;
  while (off < w.len) off += w.file.writeSync(w.buf.subarray(off, w.len));
  w.len = 0;
}

const encoder = new TextEncoder();

function writeText(w: ByteWriter, text: string): void {
  const bytes = encoder.encode(text);
  if (w.len + bytes.length > w.buf.length) flush(w);
  w.buf.set(bytes, w.len);
  w.len += bytes.length;
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // Already gone: nothing to clean.
  }
}

/**
 * Convert `input` to a RecBole `.inter`. Throws {@link DataFormatError} for bad input (no output
 * file is left behind); returns the statistics that were also written to `<out>.stats.json`.
 */
export async function convertFile(
  input: string,
  options: ConvertOptions = {},
): Promise<ConvertStats> {
  const output = options.output ?? defaultOutputPath(input);
  const started = performance.now();
  if (await sameFile(input, output)) {
    throw new DataFormatError(input, 0, `output '${output}' would overwrite the input; pass -o`);
  }
  const tmp = `${output}.tmp-${Deno.pid}`;
  const statsPath = `${output}.stats.json`;
  const statsTmp = `${statsPath}.tmp-${Deno.pid}`;
  let file: Deno.FsFile | null = null;
  try {
    file = await Deno.open(tmp, { write: true, create: true, truncate: true });
    const w: ByteWriter = { file, buf: new Uint8Array(4 << 20), len: 0 };
    writeText(w, INTER_HEADER + "\n");
    // Per-user repeat counting works in O(one user) memory when the file is grouped by user
    // (ratings.csv, ratings.dat); a user seen again after another one switches to a second pass.
    let userSeen = new Int32Array(1 << 16);
    let itemStamp = new Int32Array(1 << 16);
    let users = 0, items = 0;
    let grouped = true;
    let current = -1, run = 0;
    const seenTimes = createTimeSet();
    let duplicatePairs = 0, sameSecondTies = 0;
    let timeMin = Infinity, timeMax = -Infinity;
    const scan = await scanInteractions(input, {
      ...options,
      onRow(row) {
        const buf = row.buf;
        const need = (row.userEnd - row.userStart) + (row.itemEnd - row.itemStart) +
          (row.ratingEnd - row.ratingStart) + (row.timeEnd - row.timeStart) + 64;
        if (w.len + need > w.buf.length) flush(w);
        const out = w.buf;
        let p = w.len;
        // Byte loops, not subarray().set(): fields are a few bytes and subarray allocates.
        for (let i = row.userStart; i < row.userEnd; i++) out[p++] = buf[i];
        out[p++] = 9;
        for (let i = row.itemStart; i < row.itemEnd; i++) out[p++] = buf[i];
        out[p++] = 9;
        if (row.ratingEnd === row.ratingStart) {
          out[p++] = 49; // "1"
        } else if (row.ratingVerbatim) {
          for (let i = row.ratingStart; i < row.ratingEnd; i++) out[p++] = buf[i];
        } else {
          p += encoder.encodeInto(String(row.rating), out.subarray(p)).written;
        }
        out[p++] = 9;
        if (row.timeVerbatim) {
          for (let i = row.timeStart; i < row.timeEnd; i++) out[p++] = buf[i];
        } else {
          p += encoder.encodeInto(String(row.timestamp), out.subarray(p)).written;
        }
        out[p++] = 10;
        w.len = p;

        const t = row.timestamp;
        if (t < timeMin) timeMin = t;
        if (t > timeMax) timeMax = t;
        const u = row.user, it = row.item;
        if (u >= userSeen.length) userSeen = growInts(userSeen, u);
        if (it >= itemStamp.length) itemStamp = growInts(itemStamp, it);
        if (u !== current) {
          if (userSeen[u] !== 0) grouped = false;
          else {
            userSeen[u] = 1;
            users++;
          }
          current = u;
          run++;
        }
        if (itemStamp[it] === 0) items++;
        if (grouped) {
          // itemStamp holds the run (user) number that last saw the item: O(1), no hashing.
          if (itemStamp[it] === run) duplicatePairs++;
          if (timeSetAdd(seenTimes, t, run)) sameSecondTies++;
        }
        itemStamp[it] = run;
      },
    });
    flush(w);
    file.close();
    file = null;
    if (!grouped) {
      const repeats = countRepeats(await readInteractions(tmp, { format: "inter" }));
      duplicatePairs = repeats.duplicatePairs;
      sameSecondTies = repeats.sameSecondTies;
    }
    const stats: ConvertStats = {
      input,
      output,
      format: scan.layout.format,
      rows: scan.rows,
      users,
      items,
      timeMin,
      timeMax,
      duplicatePairs,
      sameSecondTies,
      skippedRows: scan.skippedRows,
      skippedExamples: scan.skippedExamples,
      bytesIn: scan.bytes,
      seconds: (performance.now() - started) / 1000,
    };
    if (scan.rows === 0) {
      throw new DataFormatError(input, 0, `no valid rows (${scan.skippedRows} skipped)`);
    }
    if (options.writeStats ?? true) {
      await Deno.writeTextFile(statsTmp, JSON.stringify(stats, null, 2) + "\n");
      await Deno.rename(statsTmp, statsPath);
    }
    await Deno.rename(tmp, output);
    return stats;
  } catch (e) {
    if (file) {
      try {
        file.close();
      } catch {
        // Closing a failed handle is best-effort.
      }
    }
    await removeQuietly(tmp);
    await removeQuietly(statsTmp);
    throw e;
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  try {
    const [sa, sb] = await Promise.all([Deno.stat(a), Deno.stat(b)]);
    return sa.ino !== null && sa.ino === sb.ino && sa.dev === sb.dev;
  } catch {
    return false;
  }
}

function growInts(a: Int32Array, index: number): Int32Array<ArrayBuffer> {
  let n = a.length;
  while (n <= index) n *= 2;
  const b = new Int32Array(n);
  b.set(a);
  return b;
}

/**
 * Open-addressing set of one user's timestamps. Entries carry the user's run number, so moving to
 * the next user "clears" it in O(1); the table doubles when a heavy user fills it.
 */
interface TimeSet {
  keys: Float64Array;
  stamps: Int32Array;
  size: number;
  stamp: number;
}

function createTimeSet(): TimeSet {
  return { keys: new Float64Array(1024), stamps: new Int32Array(1024), size: 0, stamp: 0 };
}

function timeSlot(t: number, mask: number): number {
  const lo = t | 0, hi = (t / 4294967296) | 0;
  return (Math.imul(lo ^ Math.imul(hi, 0x27d4eb2d), 0x9e3779b1) >>> 7) & mask;
}

/** Add `t` for user run `stamp`; true when it was already there (a same-second tie). */
function timeSetAdd(set: TimeSet, t: number, stamp: number): boolean {
  if (set.stamp !== stamp) {
    set.stamp = stamp;
    set.size = 0;
  }
  if (set.size * 2 >= set.keys.length) rehash(set);
  const mask = set.keys.length - 1;
  let i = timeSlot(t, mask);
  for (;;) {
    if (set.stamps[i] !== stamp) {
      set.stamps[i] = stamp;
      set.keys[i] = t;
      set.size++;
      return false;
    }
    if (set.keys[i] === t) return true;
    i = (i + 1) & mask;
  }
}

function rehash(set: TimeSet): void {
  const oldKeys = set.keys, oldStamps = set.stamps;
  set.keys = new Float64Array(oldKeys.length * 2);
  set.stamps = new Int32Array(oldKeys.length * 2);
  const mask = set.keys.length - 1;
  for (let j = 0; j < oldKeys.length; j++) {
    if (oldStamps[j] !== set.stamp) continue;
    let i = timeSlot(oldKeys[j], mask);
    while (set.stamps[i] === set.stamp) i = (i + 1) & mask;
    set.stamps[i] = set.stamp;
    set.keys[i] = oldKeys[j];
  }
}

/**
 * Count repeated (user, item) pairs and same-second (user, timestamp) ties, in file order: each
 * row after the first occurrence counts once.
 */
export function countRepeats(
  table: { rows: number; user: Int32Array; item: Int32Array; timestamp: Float64Array },
): { duplicatePairs: number; sameSecondTies: number } {
  const { rows, user, item, timestamp } = table;
  let numUsers = 0;
  for (let r = 0; r < rows; r++) if (user[r] + 1 > numUsers) numUsers = user[r] + 1;
  const offsets = new Int32Array(numUsers + 1);
  for (let r = 0; r < rows; r++) offsets[user[r] + 1]++;
  for (let u = 0; u < numUsers; u++) offsets[u + 1] += offsets[u];
  const fill = offsets.slice(0, numUsers);
  const order = new Int32Array(rows);
  for (let r = 0; r < rows; r++) order[fill[user[r]]++] = r;
  let duplicatePairs = 0, sameSecondTies = 0;
  const items = new Set<number>();
  const times = new Set<number>();
  for (let u = 0; u < numUsers; u++) {
    items.clear();
    times.clear();
    for (let j = offsets[u]; j < offsets[u + 1]; j++) {
      const r = order[j];
      if (items.has(item[r])) duplicatePairs++;
      else items.add(item[r]);
      if (times.has(timestamp[r])) sameSecondTies++;
      else times.add(timestamp[r]);
    }
  }
  return { duplicatePairs, sameSecondTies };
}
