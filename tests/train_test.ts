/**
 * End-to-end training through the CLI entry points on a small synthetic MovieLens-shaped file:
 * run directory contents, determinism (same seed, same adapter -> same metrics), resume, eval
 * reproducing the train task's test numbers, and the NaN guard keeping the last good checkpoint.
 */
import assert from "node:assert/strict";
import { rng } from "../lib/reference/gradcheck.ts";
import { evalMain, recommendMain } from "../tasks/eval.ts";
import { loadTaskConfig, trainMain } from "../tasks/train.ts";

const dir = await Deno.makeTempDir({ prefix: "ss4rec-train-" });
const ratings = `${dir}/ratings.csv`;
{
  // 40 users, 60 items, 25-40 ratings each, Zipf-ish popularity, increasing timestamps
  const rand = rng(5);
  const lines = ["userId,movieId,rating,timestamp"];
  for (let u = 1; u <= 40; u++) {
    let t = 9e8 + u * 1000;
    const n = 25 + Math.floor(rand() * 16);
    for (let i = 0; i < n; i++) {
      t += rand() < 0.3 ? 0 : Math.floor(rand() * 86400 * 3);
      lines.push(`${u},${1 + Math.floor(60 * rand() ** 2)},${1 + Math.floor(rand() * 5)},${t}`);
    }
  }
  await Deno.writeTextFile(ratings, lines.join("\n") + "\n");
}

const SETS = [
  `data_path=${ratings}`,
  `checkpoint_dir=${dir}/runs`,
  "hidden_size=16",
  "d_H=16",
  "d_P=8",
  "d_state=8",
  "MAX_ITEM_LIST_LENGTH=12",
  "train_batch_size=64",
  "eval_batch_size=64",
  "epochs=2",
  "train_mode=prefix",
].flatMap((s) => ["--set", s]);

async function quiet<T>(f: () => Promise<T>, lines: string[] = []): Promise<T> {
  const log = console.log, err = console.error;
  console.log = (...a: unknown[]) => lines.push(a.join(" "));
  console.error = (...a: unknown[]) => lines.push(a.join(" "));
  try {
    return await f();
  } finally {
    console.log = log;
    console.error = err;
  }
}

async function results(run: string) {
  return JSON.parse(await Deno.readTextFile(`${run}/results.json`));
}

Deno.test("train: run directory, determinism, eval reproduces the test metrics", async () => {
  const a = `${dir}/a`, b = `${dir}/b`;
  assert.equal(
    await quiet(() => trainMain(["--config", "configs/ss4rec.yaml", ...SETS, "--run-dir", a])),
    0,
  );
  for (
    const f of [
      "config.yaml",
      "metrics.jsonl",
      "best.safetensors",
      "best.json",
      "last.safetensors",
      "last.json",
      "report.md",
      "curve.svg",
      "loss.svg",
      "results.json",
    ]
  ) {
    assert.ok((await Deno.stat(`${a}/${f}`)).isFile, f);
  }
  assert.equal((await Deno.readTextFile(`${a}/metrics.jsonl`)).trim().split("\n").length, 2);
  assert.equal(
    await quiet(() => trainMain(["--config", "configs/ss4rec.yaml", ...SETS, "--run-dir", b])),
    0,
  );
  assert.deepEqual((await results(a)).test, (await results(b)).test, "same seed, same adapter");
  const out: string[] = [];
  const log = console.log;
  console.log = (...x: unknown[]) => out.push(x.join(" "));
  try {
    assert.equal(await evalMain(["--run", a]), 0);
  } finally {
    console.log = log;
  }
  const hr10 = (await results(a)).test["hr@10"].toFixed(4);
  assert.ok(out.some((l) => l.includes(`HR@10 ${hr10}`)), out.join("\n"));
  assert.ok(out.some((l) => l.includes("ties count against the target")));

  // rank export: one line per test user, and the ranks reproduce the reported HR@10
  const tsv = `${dir}/ranks.tsv`;
  assert.equal(await quiet(() => evalMain(["--run", a, "--export-ranks", tsv])), 0);
  const rows = (await Deno.readTextFile(tsv)).trim().split("\n").slice(1).map((l) => l.split("\t"));
  assert.equal(rows.length, 40);
  const hits = rows.filter((r) => Number(r[2]) >= 1 && Number(r[2]) <= 10).length;
  assert.equal((hits / rows.length).toFixed(4), hr10);

  // masking history can only move targets up (fewer competitors), never down
  const masked: string[] = [];
  assert.equal(
    await quiet(() => evalMain(["--run", a, "--set", "mask_history=true"]), masked),
    0,
  );
  const hr = (lines: string[]) => Number(/HR@20 ([0-9.]+)/.exec(lines.join("\n"))![1]);
  assert.ok(hr(masked) >= hr(out), `masked ${hr(masked)} < unmasked ${hr(out)}`);

  // recommend: k items, none of them the padding id, titles column present
  const rec: string[] = [];
  assert.equal(await quiet(() => recommendMain(["--run", a, "--user", "1", "--k", "5"]), rec), 0);
  const items = rec.filter((l) => /^\s+\d+\. /.test(l));
  assert.equal(items.length, 5);
  assert.ok(!items.some((l) => / \[PAD\] /.test(l)));
  assert.equal(await quiet(() => recommendMain(["--run", a, "--user", "no-such-user"])), 1);
});

Deno.test("train: resume continues from the last checkpoint", async () => {
  const r = `${dir}/r`;
  assert.equal(
    await quiet(() =>
      trainMain(["--config", "configs/ss4rec.yaml", ...SETS, "--set", "epochs=1", "--run-dir", r])
    ),
    0,
  );
  assert.equal(await quiet(() => trainMain(["--resume", r, "--set", "epochs=2"])), 0);
  const epochs = (await Deno.readTextFile(`${r}/metrics.jsonl`)).trim().split("\n").map((l) =>
    JSON.parse(l).epoch
  );
  assert.deepEqual(epochs, [1, 2]);
});

Deno.test("train: a non-finite loss stops the run, names a tensor, keeps the last good checkpoint", async () => {
  const r = `${dir}/nan`;
  assert.equal(
    await quiet(() =>
      trainMain(["--config", "configs/ss4rec.yaml", ...SETS, "--set", "epochs=1", "--run-dir", r])
    ),
    0,
  );
  const before = await Deno.readFile(`${r}/last.safetensors`);
  const msgs: string[] = [];
  const code = await quiet(
    () => trainMain(["--resume", r, "--set", "epochs=2", "--set", "learning_rate=1e30"]),
    msgs,
  );
  const err = msgs.find((m) => m.startsWith("train: ")) ?? "";
  assert.match(err, /training loss became (NaN|Infinity)/);
  assert.match(err, /first non-finite parameter: \S+/);
  assert.match(err, /last good checkpoint is kept/);
  assert.equal(code, 1);
  assert.deepEqual(
    await Deno.readFile(`${r}/last.safetensors`),
    before,
    "last checkpoint untouched",
  );
  const lines = (await Deno.readTextFile(`${r}/metrics.jsonl`)).trim().split("\n");
  assert.equal(lines.length, 1);
});

Deno.test("train: config errors are one line and exit 2", async () => {
  const msgs: string[] = [];
  const err = console.error;
  console.error = (...x: unknown[]) => msgs.push(x.join(" "));
  try {
    assert.equal(await trainMain(["--set", "hiden_size=3"]), 2);
  } finally {
    console.error = err;
  }
  assert.equal(msgs.length, 1);
  assert.match(msgs[0], /hidden_size/);
});

Deno.test("train: without --config outside a checkout, one line that says what to pass", () => {
  const dir = Deno.makeTempDirSync();
  const cwd = Deno.cwd();
  try {
    Deno.chdir(dir);
    assert.throws(
      () => loadTaskConfig(undefined, []),
      /^ConfigError: no --config given and configs\/default\.yaml is not in .* \(outside a checkout, pass --config FILE/,
    );
  } finally {
    Deno.chdir(cwd);
    Deno.removeSync(dir, { recursive: true });
  }
  // in the checkout the default config loads
  assert.equal(loadTaskConfig(undefined, []).model, "SS4Rec");
});
