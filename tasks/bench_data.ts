/**
 * `deno task bench:data`: data-pipeline benchmark on a synthetic MovieLens-shaped `ratings.csv`.
 *
 * Steps (each in its own process, so peak RSS is per step): generate the file, `convert` it to
 * `.inter`, load + build the sequential dataset (k-core, re-index, sort, split) from the `.inter`,
 * and the Python csv-module converter (`scripts/py_convert.py`) on the same file.
 * Targets: convert >= 100 MB/s, dataset build of 25M rows <= 15 s, peak memory <= 2 GB.
 *
 * @module
 */

import { Command } from "commander";
import { convertFile } from "../lib/data/convert.ts";
import { buildDataset } from "../lib/data/dataset.ts";
import { readInteractions } from "../lib/data/readers.ts";
import { mulberry32 } from "../lib/data/shuffle.ts";

/** Result of one bench step, printed as JSON by the child process. */
interface StepResult {
  seconds: number;
  peakMB: number;
  [key: string]: unknown;
}

/** Peak resident set of this process in MB (VmHWM), falling back to current RSS. */
function peakRssMB(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const m = /VmHWM:\s+(\d+) kB/.exec(status);
    if (m) return Number(m[1]) / 1024;
  } catch {
    // Not Linux: use the current RSS as a lower bound.
  }
  return Deno.memoryUsage().rss / 1024 / 1024;
}

/**
 * Write a MovieLens-shaped ratings.csv: heavy-tailed per-user counts (Pareto, min 20), Zipf item
 * popularity, per-user increasing timestamps with same-second ties, rows ordered by user then
 * movieId like the GroupLens files (so the dataset build really has to sort by time).
 */
function generate(path: string, options: { rows: number; seed: number }): StepResult {
  const started = performance.now();
  const rng = mulberry32(options.seed);
  const numItems = Math.max(1000, Math.round(options.rows / 400));
  // Zipf(s = 1) CDF over items 1..numItems.
  const cdf = new Float64Array(numItems);
  let acc = 0;
  for (let i = 0; i < numItems; i++) {
    acc += 1 / (i + 1);
    cdf[i] = acc;
  }
  for (let i = 0; i < numItems; i++) cdf[i] /= acc;
  // Item ids are scattered so popular items are not simply small ids.
  const itemId = new Int32Array(numItems);
  for (let i = 0; i < numItems; i++) itemId[i] = i + 1;
  for (let i = numItems - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const t = itemId[i];
    itemId[i] = itemId[j];
    itemId[j] = t;
  }
  const file = Deno.openSync(path, { write: true, create: true, truncate: true });
  const buf = new Uint8Array(4 << 20);
  const enc = new TextEncoder();
  let len = 0;
  const put = (s: string) => {
    len += enc.encodeInto(s, buf.subarray(len)).written;
  };
  const flush = () => {
    let off = 0;
    while (off < len) off += file.writeSync(buf.subarray(off, len));
    len = 0;
  };
  put("userId,movieId,rating,timestamp\n");
  let written = 0, user = 0;
  const items: number[] = [], times: number[] = [], order: number[] = [];
  while (written < options.rows) {
    user++;
    // Pareto(alpha 1.2, xm 20): mean about 120 ratings, a long tail of heavy raters.
    let n = Math.floor(20 / Math.pow(1 - rng(), 1 / 1.2));
    n = Math.min(n, 20000, options.rows - written);
    let t = 820_000_000 + Math.floor(rng() * 700_000_000);
    items.length = times.length = order.length = 0;
    for (let k = 0; k < n; k++) {
      const x = rng();
      let lo = 0, hi = numItems - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cdf[mid] < x) lo = mid + 1;
        else hi = mid;
      }
      items.push(itemId[lo]);
      // 40% of ratings share the second of the previous one (bulk rating sessions).
      if (rng() >= 0.4) t += 1 + Math.floor(-Math.log(1 - rng()) * 3000);
      times.push(t);
      order.push(k);
    }
    order.sort((a, b) => items[a] - items[b] || a - b);
    for (const k of order) {
      if (len > buf.length - 64) flush();
      const rating = (1 + Math.floor(rng() * 10)) / 2;
      put(`${user},${items[k]},${rating.toFixed(1)},${times[k]}\n`);
    }
    written += n;
  }
  flush();
  file.close();
  return {
    seconds: (performance.now() - started) / 1000,
    peakMB: peakRssMB(),
    rows: written,
    users: user,
    bytes: Deno.statSync(path).size,
  };
}

async function runStep(step: string, args: string[]): Promise<StepResult> {
  const self = new URL(import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--v8-flags=--max-old-space-size=8192", self, "--step", step, ...args],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop() ?? "";
  if (!out.success) throw new Error(`bench step ${step} failed: ${text}`);
  return JSON.parse(text);
}

async function childStep(step: string, file: string, rows: number, seed: number): Promise<void> {
  let result: StepResult;
  if (step === "generate") {
    result = generate(file, { rows, seed });
  } else if (step === "convert") {
    const t0 = performance.now();
    const stats = await convertFile(file, { output: file.replace(/\.csv$/, ".inter") });
    const seconds = (performance.now() - t0) / 1000;
    result = {
      seconds,
      peakMB: peakRssMB(),
      rows: stats.rows,
      mbps: stats.bytesIn / 1e6 / seconds,
    };
  } else {
    const t0 = performance.now();
    const table = await readInteractions(file);
    const t1 = performance.now();
    const ds = buildDataset(table);
    const t2 = performance.now();
    result = {
      seconds: (t2 - t0) / 1000,
      loadSeconds: (t1 - t0) / 1000,
      buildSeconds: (t2 - t1) / 1000,
      peakMB: peakRssMB(),
      ...ds.stats,
    };
  }
  console.log(JSON.stringify(result));
}

function machine(): string {
  let cpu = "unknown CPU";
  try {
    const info = Deno.readTextFileSync("/proc/cpuinfo");
    cpu = /model name\s*:\s*(.+)/.exec(info)?.[1]?.trim() ?? cpu;
  } catch {
    // Non-Linux: keep the placeholder.
  }
  const mem = Deno.systemMemoryInfo();
  return `${cpu}, ${navigator.hardwareConcurrency} cores, ${
    (mem.total / 2 ** 30).toFixed(0)
  } GiB RAM, ` +
    `${Deno.build.os}/${Deno.build.arch}, deno ${Deno.version.deno}`;
}

/** Run the benchmark; returns the exit code (1 when a target is missed). */
export async function benchDataMain(args: string[]): Promise<number> {
  const program = new Command()
    .name("bench:data")
    .option("--rows <n>", "rows to generate", "25000000")
    .option("--seed <n>", "generator seed", "2020")
    .option("--dir <path>", "work directory (default: a new temp dir, removed afterwards)")
    .option("--no-python", "skip the Python csv-module converter")
    .option("--step <step>", "internal: run one step in this process")
    .option("--file <path>", "internal: file for --step")
    .parse(args, { from: "user" });
  const opts = program.opts<
    { rows: string; seed: string; dir?: string; python: boolean; step?: string; file?: string }
  >();
  const rows = Number(opts.rows.replaceAll("_", ""));
  const seed = Number(opts.seed);
  if (opts.step) {
    await childStep(opts.step, opts.file!, rows, seed);
    return 0;
  }
  const dir = opts.dir ?? await Deno.makeTempDir({ prefix: "ss4rec-bench-data-" });
  const csv = `${dir}/ratings.csv`;
  const inter = `${dir}/ratings.inter`;
  try {
    console.error(`generating ${rows} rows in ${dir} ...`);
    const gen = await runStep("generate", [
      "--file",
      csv,
      "--rows",
      String(rows),
      "--seed",
      String(seed),
    ]);
    console.error(`converting ...`);
    const conv = await runStep("convert", ["--file", csv]);
    console.error(`building the dataset ...`);
    const build = await runStep("build", ["--file", inter]);
    let py: StepResult | null = null;
    if (opts.python) {
      console.error(`python csv-module converter ...`);
      const t0 = performance.now();
      const out = await new Deno.Command("python3", {
        args: [
          new URL("../scripts/py_convert.py", import.meta.url).pathname,
          csv,
          `${dir}/py.inter`,
        ],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      const wall = (performance.now() - t0) / 1000;
      if (out.success) {
        const r = JSON.parse(new TextDecoder().decode(out.stdout).trim());
        py = { seconds: wall, peakMB: r.peakMB, rows: r.rows };
      }
    }
    const mb = (gen.bytes as number) / 1e6;
    const scale = rows / 25_000_000;
    const buildTarget = 15 * scale;
    const lines = [
      `## bench:data — ${new Date().toISOString().slice(0, 10)}`,
      "",
      `- machine: ${machine()}`,
      `- command: \`deno task bench:data ${args.join(" ")}\``.replace(/ `$/, "`"),
      `- input: synthetic ratings.csv, ${gen.rows} rows, ${gen.users} users, ${mb.toFixed(0)} MB ` +
      `(generated in ${gen.seconds.toFixed(1)} s)`,
      "",
      "| step | seconds | throughput | peak RSS (MB) | target | ok |",
      "|---|---:|---:|---:|---|---|",
      `| convert (Deno, streaming) | ${conv.seconds.toFixed(2)} | ${
        (conv.mbps as number).toFixed(0)
      } MB/s | ${conv.peakMB.toFixed(0)} | >= 100 MB/s, <= 2048 MB | ${
        (conv.mbps as number) >= 100 && conv.peakMB <= 2048 ? "yes" : "NO"
      } |`,
      `| load .inter | ${(build.loadSeconds as number).toFixed(2)} | ${
        (mb / (build.loadSeconds as number)).toFixed(0)
      } MB/s | | | |`,
      `| build (k-core, re-index, sort, split) | ${(build.buildSeconds as number).toFixed(2)} | ${
        (rows / 1e6 / (build.buildSeconds as number)).toFixed(1)
      } M rows/s | | | |`,
      `| load + build | ${build.seconds.toFixed(2)} | | ${build.peakMB.toFixed(0)} | <= ${
        buildTarget.toFixed(1)
      } s, <= 2048 MB | ${build.seconds <= buildTarget && build.peakMB <= 2048 ? "yes" : "NO"} |`,
      py
        ? `| python3 csv module convert | ${py.seconds.toFixed(2)} | ${
          (mb / py.seconds).toFixed(0)
        } MB/s | ${py.peakMB.toFixed(0)} | (reference) | |`
        : `| python3 csv module convert | skipped | | | | |`,
      "",
      `After 5-core: ${build.users} users, ${build.items} items, ${build.interactions} interactions; ` +
      `samples train/valid/test ${build.trainSamples}/${build.validSamples}/${build.testSamples}.`,
    ];
    console.log(lines.join("\n"));
    const ok = (conv.mbps as number) >= 100 && conv.peakMB <= 2048 &&
      build.seconds <= buildTarget &&
      build.peakMB <= 2048;
    return ok ? 0 : 1;
  } finally {
    if (!opts.dir) await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  Deno.exit(await benchDataMain(Deno.args));
}
