import { deepStrictEqual as assertEquals, match, ok } from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { convertMain } from "../tasks/convert.ts";
import {
  convertFile,
  countRepeats,
  detectLayout,
  INTER_HEADER,
  readInteractions,
} from "../lib/data/mod.ts";
import { SHARED } from "./shared.ts";

const ROOT = new URL("../", import.meta.url);
const fixture = (name: string) => fileURLToPath(new URL(`tests/fixtures/${name}`, ROOT));
const MLS = fileURLToPath(new URL("data/ml-latest-small/ratings.csv", ROOT));
const ML100K = fileURLToPath(new URL("data/ml-100k/u.data", SHARED));
const ML100K_INTER = fileURLToPath(new URL("data/ml-100k-recbole/ml-100k.inter", SHARED));

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** Run the CLI in-process, capturing what it prints. */
async function cli(args: string[]): Promise<{ code: number; err: string[]; out: string[] }> {
  const err: string[] = [], out: string[] = [];
  const { error, log } = console;
  console.error = (...a: unknown[]) => err.push(a.join(" "));
  console.log = (...a: unknown[]) => out.push(a.join(" "));
  try {
    return { code: await convertMain(args), err, out };
  } finally {
    console.error = error;
    console.log = log;
  }
}

async function convertTo(input: string, extra: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "convert-test-" });
  const output = `${dir}/out.inter`;
  const r = await cli([input, "-o", output, "-q", ...extra]);
  const text = exists(output) ? await Deno.readTextFile(output) : null;
  const stats = exists(`${output}.stats.json`)
    ? JSON.parse(await Deno.readTextFile(`${output}.stats.json`))
    : null;
  const left = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  await Deno.remove(dir, { recursive: true });
  return { ...r, text, stats, left };
}

const H = INTER_HEADER + "\n";

Deno.test("formats: u.data, ratings.dat, ratings.csv (CRLF and LF)", async () => {
  const u = await convertTo(fixture("u.data"));
  assertEquals(u.code, 0);
  assertEquals(
    u.text,
    H + "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n",
  );
  assertEquals(u.stats.format, "udata");
  const dat = await convertTo(fixture("ratings.dat"));
  assertEquals(
    dat.text,
    H + "1\t1193\t5\t978300760\n1\t661\t3\t978302109\n2\t1357\t5\t978298709\n",
  );
  const expected = H + "1\t1\t4.0\t964982703\n1\t3\t3.5\t964981247\n2\t6\t0.5\t964982224\n";
  const crlf = await convertTo(fixture("ratings_crlf.csv"));
  assertEquals([crlf.text, crlf.stats.format], [expected, "csv"]);
  const lf = await convertTo(fixture("ratings_lf.csv")); // also: no final newline
  assertEquals(lf.text, expected);
  assertEquals(lf.left, ["out.inter", "out.inter.stats.json"]);
  assertEquals(
    [lf.stats.rows, lf.stats.users, lf.stats.items, lf.stats.timeMin, lf.stats.timeMax],
    [3, 2, 3, 964981247, 964982703],
  );
});

Deno.test("formats: .inter with other column order and extra columns; round trip", async () => {
  const r = await convertTo(fixture("reordered.inter"));
  assertEquals(r.code, 0);
  assertEquals(r.text, H + "u196\tm242\t3\t881250949.0\nu186\tm302\t2.5\t891717742\n");
  const t = await readInteractions(fixture("reordered.inter"));
  assertEquals(t.rawUserIds, ["u196", "u186"]);
  assertEquals(Array.from(t.timestamp), [881250949, 891717742]);
  assertEquals(Array.from(t.rating), [3, 2.5]);
});

Deno.test("formats: delimited with column mapping, header and no header, no rating", async () => {
  const a = await convertTo(fixture("custom_semicolon.txt"), [
    "--sep",
    ";",
    "--user",
    "who",
    "--item",
    "what",
    "--time",
    "ts",
  ]);
  assertEquals(a.code, 0, a.err.join());
  assertEquals(a.text, H + "alice\tx\t1\t100\nbob\ty\t1\t90\n");
  const b = await convertTo(fixture("noheader.psv"), [
    "--sep",
    "|",
    "--no-header",
    "--user",
    "1",
    "--item",
    "0",
    "--time",
    "2",
    "--no-rating",
  ]);
  assertEquals(b.code, 0, b.err.join());
  assertEquals(b.text, H + "u1\ti1\t1\t5\nu1\ti2\t1\t7\n");
  // --format forces a layout even for an unhelpful name
  assertEquals(detectLayout("x.txt", "1::2::3::4", { format: "dat" }).format, "dat");
});

const BAD: [string, RegExp][] = [
  ["bad_columns.csv", /^convert: .*bad_columns\.csv:3: expected 4 fields separated by ',', got 3$/],
  ["bad_id.csv", /^convert: .*bad_id\.csv:3: field 'userId': expected an integer id, got 'abc'$/],
  ["bad_rating.csv", /^convert: .*:2: field 'rating': expected a finite number, got 'four'$/],
  [
    "bad_time_nan.csv",
    /^convert: .*:2: field 'timestamp': expected a finite number of seconds, got 'NaN'$/,
  ],
  [
    "bad_rating_inf.csv",
    /^convert: .*:3: field 'rating': expected a finite number, got 'Infinity'$/,
  ],
  ["bad_overflow.csv", /^convert: .*:2: field 'rating': expected a finite number, got '1e999'$/],
  ["empty.csv", /^convert: .*empty\.csv: empty file \(no data rows\)$/],
  ["header_only.csv", /^convert: .*header_only\.csv: empty file \(no data rows\)$/],
  ["binary.csv", /^convert: .*binary\.csv: binary data \(NUL byte at offset \d+\)/],
  ["bad_utf8.inter", /^convert: .*bad_utf8\.inter:3: invalid UTF-8 in line 'u1\\x09bad/],
  ["mystery.txt", /^convert: .*mystery\.txt: cannot detect the format .*use --format or --sep$/],
  ["does_not_exist.csv", /^convert: .*does_not_exist\.csv: no such file$/],
];

for (const [name, re] of BAD) {
  Deno.test(`bad input ${name}: one line, exit 1, no output or temp file`, async () => {
    const r = await convertTo(fixture(name));
    assertEquals(r.code, 1);
    assertEquals(r.err.length, 1, r.err.join("\n"));
    match(r.err[0], re);
    ok(!r.err[0].includes("\n") && !r.err[0].includes("    at "));
    assertEquals(r.left, []);
  });
}

Deno.test("bad CLI usage: unknown format, missing input", async () => {
  const a = await convertTo(fixture("u.data"), ["--format", "xml"]);
  assertEquals(a.code, 1);
  match(
    a.err[0],
    /^convert: .*unknown format 'xml' \(expected one of udata, dat, csv, inter, delimited\)$/,
  );
  const b = await cli([]);
  assertEquals(b.code, 1);
  match(b.err[0], /^convert: missing required argument 'input'$/);
});

Deno.test("subprocess: exit code 1, single stderr line, no stack trace", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", fileURLToPath(new URL("tasks/convert.ts", ROOT)), fixture("bad_id.csv")],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const err = new TextDecoder().decode(out.stderr).trim().split("\n");
  assertEquals(out.code, 1);
  assertEquals(err.length, 1);
  match(err[0], /field 'userId': expected an integer id, got 'abc'$/);
  ok(!exists(fixture("bad_id.inter")));
});

Deno.test("--skip-invalid counts bad rows; repeat stats", async () => {
  const r = await convertTo(fixture("mixed_skip.csv"), ["--skip-invalid"]);
  assertEquals(r.code, 0);
  assertEquals(r.stats.skippedRows, 2);
  assertEquals(r.stats.rows, 4);
  assertEquals(r.stats.duplicatePairs, 1); // user 2 rated item 3 twice
  assertEquals(r.stats.sameSecondTies, 0); // the nan row at 13 was skipped
  assertEquals(r.text, H + "1\t1\t4.0\t10\n1\t2\t4.0\t12\n2\t3\t5\t13\n2\t3\t5\t14\n");
});

Deno.test("shipped ml-latest-small converts to 100,836 rows; streaming stats equal a full pass", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const stats = await convertFile(MLS, { output: `${dir}/mls.inter` });
    assertEquals([stats.rows, stats.users, stats.items], [100836, 610, 9724]);
    const table = await readInteractions(`${dir}/mls.inter`);
    assertEquals(table.rows, 100836);
    const repeats = countRepeats(table);
    assertEquals(
      [stats.duplicatePairs, stats.sameSecondTies],
      [repeats.duplicatePairs, repeats.sameSecondTies],
    );
    // values round-trip: the .inter reads back to the same numbers as the csv
    const csv = await readInteractions(MLS);
    assertEquals(table.timestamp, csv.timestamp);
    assertEquals(table.rating, csv.rating);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "ml-100k u.data converts to 100,000 rows; RecBole .inter reads the same multiset",
  ignore: !exists(ML100K) || !exists(ML100K_INTER),
  async fn() {
    const dir = await Deno.makeTempDir();
    try {
      const stats = await convertFile(ML100K, { output: `${dir}/u.inter` });
      assertEquals([stats.rows, stats.users, stats.items], [100000, 943, 1682]);
      assertEquals(stats.sameSecondTies, 50561); // "about 50.6%" (shared/data SOURCE.md)
      const key = (t: Awaited<ReturnType<typeof readInteractions>>) =>
        Array.from(
          { length: t.rows },
          (_, r) =>
            `${t.rawUserIds[t.user[r]]} ${t.rawItemIds[t.item[r]]} ${t.rating[r]} ${
              t.timestamp[r]
            }`,
        ).sort();
      assertEquals(key(await readInteractions(ML100K_INTER)), key(await readInteractions(ML100K)));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
