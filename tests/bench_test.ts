import assert from "node:assert/strict";
import { benchMain } from "../tasks/bench.ts";

Deno.test("bench --quick runs end to end on the local adapter and writes its tables", async () => {
  const out = await Deno.makeTempDir({ prefix: "ss4rec-bench-" });
  const log = console.log;
  console.log = () => {};
  try {
    assert.equal(await benchMain(["--quick", "--out", out, "--steps", "1", "--reps", "1"]), 0);
  } finally {
    console.log = log;
  }
  const json = JSON.parse(await Deno.readTextFile(`${out}/bench.json`));
  const step = json.rows.find((r: { what: string }) => r.what === "train step L=20");
  assert.ok(step && step.median > 0 && Number.isFinite(step.median));
  assert.ok(json.peakBytes > 0);
  assert.ok(Object.keys(json.breakdown).length > 10, "per-kernel breakdown present");
  assert.match(await Deno.readTextFile(`${out}/bench.md`), /\| eval 64 users \|/);
});
