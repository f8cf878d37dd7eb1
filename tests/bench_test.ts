import assert from "node:assert/strict";
import { benchMain, steady } from "../tasks/bench.ts";

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
  // the step on the ML-1M prefix length mix is the packed epoch's per-step rate
  type Row = { what: string; median: number };
  const real = json.rows.find((r: Row) =>
    r.what === "train step L=20, ML-1M prefix lengths, packed tokens"
  );
  const epochSteps = /^ML-1M epoch .*packed tokens: (\d+) steps/;
  const epoch = json.rows.find((r: Row) => epochSteps.test(r.what));
  assert.ok(real && real.median > 0 && Number.isFinite(real.median));
  const steps = Number(epochSteps.exec(epoch.what)![1]);
  assert.ok(Math.abs(epoch.median - real.median * steps / 1000) < 1e-9 * epoch.median);
  assert.ok(json.peakBytes > 0);
  assert.ok(Object.keys(json.breakdown).length > 10, "per-kernel breakdown present");
  assert.match(await Deno.readTextFile(`${out}/bench.md`), /\| eval 64 users \|/);
});

Deno.test("bench --memory: the B 1,024, L 200 training step stays within 2 GiB (issue 6)", async () => {
  const out = await Deno.makeTempDir({ prefix: "ss4rec-memory-" });
  const log = console.log;
  console.log = () => {};
  try {
    assert.equal(await benchMain(["--memory", "--out", out]), 0);
  } finally {
    console.log = log;
  }
  const json = JSON.parse(await Deno.readTextFile(`${out}/memory.json`));
  const step = json.shapes.find((s: { name: string }) => s.name === "train step L=200");
  // the dry run accounts every buffer a real build allocates: the buffers add up to the peak
  const total = Object.values(step.buffers as Record<string, number>).reduce((a, b) => a + b, 0);
  assert.equal(total, step.peakBytes);
  assert.ok(step.peakBytes <= 2 * 2 ** 30, `peak ${(step.peakBytes / 2 ** 30).toFixed(3)} GiB`);
  // prefix mode: block 0 keeps its in_proj output and its scan's output and checkpoints (replaying
  // the conv alone), and the last block's in_proj x half is the shared scratch, which block 0's
  // replayed conv output also uses; the last block's own final states [B, N, E] add to block 0's
  // checkpoints [B, 13, N, E]
  assert.equal(step.buffers["mamba.xz"], 1024 * 200 * 256 * 4);
  assert.equal(step.buffers["mamba.y"], 1024 * 200 * 128 * 4);
  assert.equal(step.buffers["mamba.ckpt"], 1024 * 14 * 32 * 128 * 4);
  assert.equal(step.buffers["scratch.mamba.y"], undefined);
  assert.equal(step.buffers["scratch.mamba.xz"], 1024 * 200 * 128 * 4);
  assert.equal(step.buffers["scratch.mamba.xc"], 1024 * 200 * 128 * 4);
  assert.match(await Deno.readTextFile(`${out}/memory.md`), /\| train step L=200 \| 1\.\d+ GiB \|/);
  // the evaluation graph (B 2,048) is forward-only: smaller than the training step, so in the
  // trainer's shared arena it needs no memory beyond the step's
  assert.equal(json.eval.name, "eval B=2048, L=200");
  assert.ok(json.eval.peakBytes < step.peakBytes, `eval ${json.eval.peakBytes} B`);
  assert.equal(json.combined.length, 2);
  for (const c of json.combined) {
    assert.equal(c.overflowBytes, 0, c.name);
    assert.ok(c.peakBytes <= 2 * 2 ** 30, `${c.name}: ${(c.peakBytes / 2 ** 30).toFixed(3)} GiB`);
  }
});

Deno.test("bench's steady-state rate leaves out the fixed cost of the wait that ends each run", async () => {
  // A fake clock: each unit of work takes 2.5 ms (the second repetition 3.5), each wait 11.3 ms.
  let t = 0, unit = 2.5;
  const run = (n: number) => void (t += n * unit);
  const wait = () => Promise.resolve(t += 11.3);
  const reps: number[] = [];
  const r = await steady(
    2,
    10,
    40,
    (n) => {
      run(n);
      reps.push(n);
      if (reps.length === 2) unit = 3.5;
    },
    wait,
    () => t,
  );
  assert.deepEqual(reps, [10, 40, 10, 40]);
  assert.ok(Math.abs(r.min - 2.5) < 1e-9 && Math.abs(r.max - 3.5) < 1e-9, JSON.stringify(r));
  // (dividing one run's time by its steps, as the bench did until session 12, gives (10·2.5 +
  // 11.3) / 10 = 3.63 ms for the first repetition)
});
