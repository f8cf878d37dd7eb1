// Where the packed evaluation's time per pass goes (bench row "eval 6,040 users, ML-1M lengths,
// packed tokens"): the host's time to pack, upload and enqueue 10 passes, the wall time of 10
// passes, the GPU time of each batch's commands run 10 times back to back (uploaded once), and the
// sum of their dispatches' timestamp profiles.
// Usage: deno run -A kernels/lab/eval_probe.ts [eval batch, default 2048]
import { loadConfig } from "../../lib/config.ts";
import { lengthOrder } from "../../lib/data/batch.ts";
import type { Batch } from "../../lib/data/batch.ts";
import { getGpu } from "../../lib/gpu/device.ts";
import { Runtime } from "../../lib/gpu/runtime.ts";
import { packedEvalGraphs } from "../../lib/models/buckets.ts";
import { createModel } from "../../lib/models/factory.ts";
import { ml1mCounts, syntheticBatch } from "../../tasks/bench.ts";

const gpu = await getGpu();
const rt = new Runtime(gpu);
const cfg = loadConfig("configs/ss4rec.yaml", []);
const users = 6040, V = 3417, L = 200, EB = Number(Deno.args[0] ?? 2048);
const model = createModel(rt, cfg, { numItems: V, numUsers: users });
model.store.initialise(cfg.seed);
const lengths = Int32Array.from(ml1mCounts(users), (n) => Math.min(n - 1, L));
const sorted = Int32Array.from(lengthOrder(lengths), (i) => lengths[i]);
const batches = Array.from(
  { length: Math.ceil(users / EB) },
  (_, i) => syntheticBatch(EB, L, V, 60 + i, false, sorted.subarray(i * EB, (i + 1) * EB)) as Batch,
);
const pg = packedEvalGraphs(model, { batch: EB, maxLen: L, maskHistory: false });
const prepared = [];
for (const b of batches) prepared.push(await pg.forBatch(b));
const pass = async () => {
  for (const b of batches) {
    const { graph: e, batch } = await pg.forBatch(b);
    e.upload(batch);
    rt.write(e.step, [0, 0, 0, 0]);
    rt.run(e.commands);
  }
};
await pass();
await rt.sync();
const ms = (t0: number) => (performance.now() - t0).toFixed(2);
console.log(
  gpu.adapterName,
  new Date().toISOString(),
  `eval batch ${EB}, ${batches.length} batches`,
);
for (let r = 0; r < 3; r++) {
  let t0 = performance.now();
  for (let i = 0; i < 10; i++) await pass();
  const host = ms(t0);
  await rt.sync();
  const wall = ms(t0);
  // each batch's commands 10 times back to back, uploaded once
  const gpuOnly: string[] = [];
  let total = 0;
  for (const { graph: e, batch } of prepared) {
    e.upload(batch);
    rt.write(e.step, [0, 0, 0, 0]);
    await rt.sync();
    t0 = performance.now();
    for (let i = 0; i < 10; i++) rt.run(e.commands);
    await rt.sync();
    const t = (performance.now() - t0) / 10;
    total += t;
    gpuOnly.push(t.toFixed(2));
  }
  console.log(
    `round ${r}: 10 passes: host enqueue ${host} ms, wall ${wall} ms; per pass, each batch's ` +
      `commands alone (10 back to back): ${gpuOnly.join(" + ")} = ${total.toFixed(2)} ms`,
  );
}
// one submit of each batch's commands 10 times over vs 10 submits, and the host's time to encode
// and submit one run
for (const { graph: e, batch } of prepared) {
  e.upload(batch);
  await rt.sync();
  let t0 = performance.now();
  rt.run(Array.from({ length: 10 }, () => e.commands).flat());
  await rt.sync();
  const one = (performance.now() - t0) / 10;
  t0 = performance.now();
  rt.run(e.commands);
  const submit = performance.now() - t0;
  await rt.sync();
  console.log(
    `batch of ${e.commands.length} commands: 10 runs in one submit ${one.toFixed(2)} ms per run; ` +
      `host encode + submit of one run ${submit.toFixed(2)} ms`,
  );
}
// the same 10 runs in one submit with one compute pass per dispatch (as rt.profile encodes them,
// without the timestamps)
for (const { graph: e, batch } of prepared) {
  e.upload(batch);
  await rt.sync();
  const t0 = performance.now();
  const enc = rt.device.createCommandEncoder();
  for (let i = 0; i < 10; i++) {
    for (const c of e.commands) {
      if (!("pipeline" in c)) throw new Error("probe: a clear or copy in the graph");
      const pass = enc.beginComputePass();
      pass.setPipeline(c.pipeline);
      pass.setBindGroup(0, c.bindGroup);
      pass.dispatchWorkgroups(c.workgroups[0], c.workgroups[1], c.workgroups[2]);
      pass.end();
    }
  }
  rt.device.queue.submit([enc.finish()]);
  await rt.sync();
  console.log(`one pass per dispatch: ${((performance.now() - t0) / 10).toFixed(2)} ms per run`);
}
// ablations (wrong results, timing only): the first batch's commands 10 times in one submit
// without the dispatches of one kernel, to see what each costs in place
{
  const { graph: e, batch } = prepared[0];
  e.upload(batch);
  const labels = [...new Set(e.commands.map((c) => "label" in c ? c.label : "?"))];
  for (const drop of ["", ...labels]) {
    const cmds = e.commands.filter((c) => !("label" in c) || c.label !== drop);
    const times: number[] = [];
    for (let r = 0; r < 3; r++) {
      await rt.sync();
      const t0 = performance.now();
      rt.run(Array.from({ length: 10 }, () => cmds).flat());
      await rt.sync();
      times.push((performance.now() - t0) / 10);
    }
    const n = e.commands.length - cmds.length;
    console.log(`without ${drop || "nothing"} (${n}): ${Math.min(...times).toFixed(3)} ms per run`);
  }
}
// the dispatches' own GPU time (timestamp queries, one pass per dispatch)
const sums: string[] = [];
for (const { graph: e, batch } of prepared) {
  e.upload(batch);
  const t = await rt.profile(e.commands);
  const ops = e.commands.filter((c) => "pipeline" in c).length;
  if (t) sums.push(`${(t.reduce((a, b) => a + b, 0) / 1e6).toFixed(2)} ms in ${ops} dispatches`);
}
console.log(`profile sums per batch: ${sums.join(", ")}`);
