/**
 * diagnose-gradients on real data (the shipped ml-latest-small) with a small instance of the
 * model: the official configuration comes out healthy, the seed project's failure (Re(Λ) > 0
 * with real time gaps) is caught with the right layer named, and the end-to-end gradient check
 * passes.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../lib/config.ts";
import { loadDataset } from "../lib/data/dataset.ts";
import { getGpu } from "../lib/gpu/device.ts";
import { Runtime } from "../lib/gpu/runtime.ts";
import { gradientHealth, layerGradchecks, modelGradcheck, verdict } from "../lib/train/diagnose.ts";

const SMALL = [
  "hidden_size=16",
  "d_H=16",
  "d_P=8",
  "d_state=8",
  "MAX_ITEM_LIST_LENGTH=20",
  "train_batch_size=16",
  "train_mode=prefix",
];
const cfg = loadConfig("configs/ss4rec.yaml", SMALL);
const ds = await loadDataset(cfg.data_path, {});

Deno.test("diagnose: the official configuration is healthy", async () => {
  const rt = new Runtime(await getGpu());
  const samples = await gradientHealth(rt, cfg, ds, { steps: 8, every: 4 });
  const findings = verdict(samples, null, cfg);
  const fails = findings.filter((f) => f.severity === "fail");
  assert.deepEqual(fails, [], JSON.stringify(fails));
  assert.ok(samples.every((s) => s.bad === null && Number.isFinite(s.gradNorm) && s.gradNorm > 0));
  assert.ok(samples[0].s5.every((q) => q.maxReLambda < 0));
  // the unused top-level LayerNorm is reported, as information
  assert.ok(findings.some((f) => f.kind === "unused"));
});

Deno.test("diagnose: an injected positive Re(Lambda) in S5 layer 1 is caught and named", async () => {
  const rt = new Runtime(await getGpu());
  const samples = await gradientHealth(rt, cfg, ds, {
    steps: 4,
    every: 2,
    inject: { lambdaPositive: 1 },
  });
  const fails = verdict(samples, null, cfg).filter((f) => f.severity === "fail");
  assert.ok(fails.length > 0, "no failure reported");
  const f = fails.find((x) => x.kind === "nonfinite" || x.kind === "s5_unstable")!;
  assert.equal(f.layer, "block1.S5", JSON.stringify(f));
  assert.match(f.message, /Re\(Lambda\) of S5 layer 1/);
  assert.match(f.suggestion, /s5_clip_eigs/);
  // the NaN gradients that follow must not be misread as dead or vanishing parameters
  assert.deepEqual(fails.filter((x) => x.kind === "dead" || x.kind === "vanishing"), []);
});

Deno.test("diagnose: with s5_clip_eigs the same injection stays finite", async () => {
  const rt = new Runtime(await getGpu());
  const clipped = loadConfig("configs/ss4rec.yaml", [...SMALL, "s5_clip_eigs=true"]);
  const samples = await gradientHealth(rt, clipped, ds, {
    steps: 4,
    every: 2,
    inject: { lambdaPositive: 1 },
  });
  assert.ok(samples.every((s) => s.bad === null), JSON.stringify(samples.map((s) => s.bad)));
});

Deno.test("diagnose: GPU gradients of every tensor agree with float64 finite differences", async () => {
  const rt = new Runtime(await getGpu());
  const rows = await modelGradcheck(rt, cfg, { samples: 3 });
  assert.equal(rows.length, 35); // every parameter tensor of a 2-block model
  const bad = rows.filter((r) => !r.pass);
  assert.deepEqual(bad, [], JSON.stringify(bad));
});

Deno.test("diagnose: finite differences also agree with 3 blocks (two replay their Mamba forward) and the one-sublayer variants", async () => {
  const rt = new Runtime(await getGpu());
  for (
    const [set, tensors] of [
      [["n_layers=3"], 51],
      [["model_type=mamba_only"], 35],
      [["model_type=s5_only"], 35],
    ] as const
  ) {
    const rows = await modelGradcheck(rt, loadConfig("configs/ss4rec.yaml", [...SMALL, ...set]), {
      samples: 3,
    });
    assert.equal(rows.length, tensors, set[0]);
    const bad = rows.filter((r) => !r.pass);
    assert.deepEqual(bad, [], `${set[0]}: ${JSON.stringify(bad)}`);
  }
});

Deno.test("diagnose --ops: the S5 and Mamba layers' WGSL gradients agree with finite differences", async () => {
  const rt = new Runtime(await getGpu());
  const rows = await layerGradchecks(rt, cfg, { samples: 3 });
  assert.deepEqual([...new Set(rows.map((r) => r.op))], ["S5", "Mamba"]);
  assert.equal(rows.filter((r) => r.op === "S5").length, 6); // 5 parameters + the input
  assert.equal(rows.filter((r) => r.op === "Mamba").length, 10); // 9 parameters + the input
  const bad = rows.filter((r) => !r.pass);
  assert.deepEqual(bad, [], JSON.stringify(bad));
});
