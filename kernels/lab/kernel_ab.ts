// Same-process A/B of kernel directories (each a copy of kernels/ with one file changed, e.g.
// tmp/kmm4/ with matmul.wgsl = lab/matmul_v4.wgsl): per variant, the prefix-mode training step at
// B x L (wall time, 10 steps per sync, as `deno task bench`) and its per-dispatch profile, and the
// evaluation graph at batch EB. Alternating rounds, so drift between them shows.
// Usage: deno run -A kernels/lab/kernel_ab.ts B L EB "dirA/,dirB/" rounds   (dirs relative to the repo)
import { loadConfig } from "../../lib/config.ts";
import { getGpu } from "../../lib/gpu/device.ts";
import { type Command, type Op, Runtime } from "../../lib/gpu/runtime.ts";
import { createModel } from "../../lib/models/factory.ts";
import type { Batch } from "../../lib/data/batch.ts";
import { buildStep, syntheticBatch } from "../../tasks/bench.ts";
import { median } from "../../tasks/bench_kernels.ts";
const gpu = await getGpu();
const cfg = loadConfig("configs/ss4rec.yaml", []);
const [B, L, EB] = [
  Number(Deno.args[0] ?? 1024),
  Number(Deno.args[1] ?? 200),
  Number(Deno.args[2] ?? 2048),
];
const variants = (Deno.args[3] ?? "kernels/").split(",");
const rounds = Number(Deno.args[4] ?? 2);
console.log(gpu.adapterName, new Date().toISOString(), `B=${B} L=${L} EB=${EB}`);
function agg(ops: Op[], runs: number[][]) {
  const per = ops.map((_, i) => median(runs.map((r) => r[i] / 1e6)));
  const byLabel: Record<string, number> = {};
  ops.forEach((op, i) => byLabel[op.label] = (byLabel[op.label] ?? 0) + per[i]);
  return { per, byLabel, total: per.reduce((a, b) => a + b, 0) };
}
/** Three timestamp-query profiles of a command list's dispatches, aggregated. */
async function profiled(rt: Runtime, cmds: Command[]) {
  const ops = cmds.filter((c): c is Op => "pipeline" in c);
  const runs: number[][] = [];
  for (let i = 0; i < 3; i++) {
    const t = await rt.profile(ops);
    if (t) runs.push(t);
  }
  return agg(ops, runs);
}
const results: Record<
  string,
  { wall: number[]; step: ReturnType<typeof agg>[]; ev: ReturnType<typeof agg>[] }
> = {};
for (let r = 0; r < rounds; r++) {
  for (const v of variants) {
    const rt = new Runtime(gpu, { kernelDir: new URL(`../../${v}`, import.meta.url) });
    const res = results[v] ??= { wall: [], step: [], ev: [] };
    {
      const { model, graph, tail } = await buildStep(rt, cfg, { B, L, mode: "prefix" }, {
        numItems: 3417,
        numUsers: 6040,
      });
      const batches = [0, 1, 2].map((i) => syntheticBatch(B, L, 3417, 7 + i, false));
      let step = 0;
      const one = () => {
        graph.upload(batches[step % 3]);
        rt.write(model.step, [++step, 1, 1, 0]);
        rt.run([...graph.commands, ...tail]);
      };
      for (let i = 0; i < 3; i++) one();
      await rt.sync();
      for (let rep = 0; rep < 3; rep++) {
        const s = performance.now();
        for (let i = 0; i < 10; i++) one();
        await rt.sync();
        res.wall.push((performance.now() - s) / 10);
      }
      res.step.push(await profiled(rt, [...graph.commands, ...tail]));
    }
    rt.dispose();
    {
      const model = createModel(rt, cfg, { numItems: 3417, numUsers: 6040 });
      model.store.initialise(1);
      const g = await model.buildEval({ batch: EB, maxLen: L, maskHistory: false });
      // real lengths and gaps: the Mamba scans stop at each row's length (before session 4 this
      // graph ran on never-uploaded buffers: lengths and S5's time gaps all 0)
      g.upload(syntheticBatch(EB, L, 3417, 30, false) as Batch);
      res.ev.push(await profiled(rt, g.commands));
    }
    rt.dispose();
  }
}
for (const [v, res] of Object.entries(results)) {
  const s = res.step[res.step.length - 1], e = res.ev[res.ev.length - 1];
  console.log(
    `\n## ${v}: step wall median ${median(res.wall).toFixed(2)} ms (all: ${
      res.wall.map((x) => x.toFixed(2)).join(" ")
    })`,
  );
  console.log(
    `step profile sum ${s.total.toFixed(2)} ms; eval B=${EB} profile sum ${e.total.toFixed(2)} ms`,
  );
  const top = (o: Record<string, number>) =>
    Object.entries(o).sort((x, y) => y[1] - x[1]).slice(0, 14);
  for (const [k, ms] of top(s.byLabel)) console.log(`  step ${k}: ${ms.toFixed(3)}`);
  for (const [k, ms] of top(e.byLabel)) console.log(`  eval ${k}: ${ms.toFixed(3)}`);
}
// every dispatch side by side (last round)
const vs = Object.keys(results);
const first = results[vs[0]];
console.log(`\n| step dispatch | ${vs.join(" | ")} |`);
first.step[first.step.length - 1].per.forEach((_, i) => {
  const row = vs.map((v) => results[v].step[results[v].step.length - 1].per[i]?.toFixed(3));
  console.log(`| ${i} | ${row.join(" | ")} |`);
});
console.log(`\n| eval dispatch | ${vs.join(" | ")} |`);
first.ev[first.ev.length - 1].per.forEach((_, i) => {
  const row = vs.map((v) => results[v].ev[results[v].ev.length - 1].per[i]?.toFixed(3));
  console.log(`| ${i} | ${row.join(" | ")} |`);
});
