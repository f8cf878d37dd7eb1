// Lab probe (session 8): the per-kernel profile of one training step of a config on this adapter
// (timestamp queries, each dispatch its own pass) and its wall time (5 steps, one sync) — e.g. the
// zero-config run on a CPU. Synthetic batches with ML-1M-like lengths and gaps (tasks/bench.ts).
// HW_RULES=1 plans the matmuls as for a hardware GPU on a software adapter (the A/B of the
// software tile rule, lib/gpu/ops.ts chooseTile).
// Usage: deno run -A kernels/lab/step_profile.ts [config] [B] [L] [V] [prefix|sequence]
import { loadConfig } from "../../lib/config.ts";
import { longestFirst } from "../../lib/data/batch.ts";
import { getGpu } from "../../lib/gpu/device.ts";
import { type Op, Runtime } from "../../lib/gpu/runtime.ts";
import type { TrainMode } from "../../lib/models/model.ts";
import { buildStep, syntheticBatch } from "../../tasks/bench.ts";

const [path, B, L, V, mode] = [
  Deno.args[0] ?? "configs/default.yaml",
  Number(Deno.args[1] ?? 32),
  Number(Deno.args[2] ?? 50),
  Number(Deno.args[3] ?? 3651),
  (Deno.args[4] ?? "sequence") as TrainMode,
];
const gpu = await getGpu();
if (Deno.env.get("HW_RULES")) gpu.isFallback = false;
const rt = new Runtime(gpu);
const cfg = loadConfig(path, []);
console.log(gpu.adapterName, new Date().toISOString(), `${path} B ${B} L ${L} V ${V} ${mode}`);
const { model, graph, tail } = await buildStep(rt, cfg, { B, L, mode }, {
  numItems: V,
  numUsers: 610,
});
graph.upload(longestFirst(syntheticBatch(B, L, V, 7, mode === "sequence")));
rt.write(model.step, [1, 1, 1, 0]);
const cmds = [...graph.commands, ...tail];
rt.run(cmds);
await rt.sync();
const t0 = performance.now();
for (let i = 0; i < 5; i++) rt.run(cmds);
await rt.sync();
console.log(`wall per step ${((performance.now() - t0) / 5).toFixed(1)} ms`);
const ops = cmds.filter((c): c is Op => "pipeline" in c);
const ns = await rt.profile(ops);
if (!ns) Deno.exit(0);
const by: Record<string, number> = {};
ops.forEach((o, i) => by[o.label] = (by[o.label] ?? 0) + ns[i] / 1e6);
console.log(
  `profile sum ${(ns.reduce((a, b) => a + b, 0) / 1e6).toFixed(1)} ms, ${ops.length} dispatches`,
);
for (const [k, v] of Object.entries(by).sort((a, b) => b[1] - a[1]).slice(0, 12)) {
  console.log(`  ${k.padEnd(36)} ${v.toFixed(1)} ms`);
}
