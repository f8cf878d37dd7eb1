// Lab probe (session 12): what the training step's small dispatches cost in the stream. Builds the
// bench's step (configs/ss4rec.yaml, prefix mode, B 1,024, L 200, V 3,417), profiles every dispatch
// (timestamps, one pass each), then times the step's command list (20 steps per sync, median of 5)
// whole, without the dispatches under a threshold, and with those alone (results wrong in the
// ablations: timing only). Usage: deno run -A kernels/lab/dispatch_probe.ts [threshold µs ...]
import { loadConfig } from "../../lib/config.ts";
import { longestFirst } from "../../lib/data/batch.ts";
import { getGpu } from "../../lib/gpu/device.ts";
import { type Command, type Op, Runtime } from "../../lib/gpu/runtime.ts";
import { buildStep, syntheticBatch } from "../../tasks/bench.ts";

const thresholds = Deno.args.length ? Deno.args.map(Number) : [12, 20, 40];
const [B, L, V] = [Number(Deno.env.get("B") ?? 1024), Number(Deno.env.get("L") ?? 200), 3417];
const gpu = await getGpu();
const rt = new Runtime(gpu);
const cfg = loadConfig("configs/ss4rec.yaml", []);
console.log(gpu.adapterName, new Date().toISOString(), `B ${B} L ${L} V ${V} prefix`);
const { model, graph, tail } = await buildStep(rt, cfg, { B, L, mode: "prefix" }, {
  numItems: V,
  numUsers: 6040,
});
graph.upload(longestFirst(syntheticBatch(B, L, V, 7, false)));
rt.write(model.step, [1, 1, 1, 0]);
const cmds: Command[] = [...graph.commands, ...tail];

async function wall(list: readonly Command[]): Promise<number> {
  const per: number[] = [];
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) rt.run(list);
    await rt.sync();
    if (r > 0) per.push((performance.now() - t0) / 20);
  }
  per.sort((a, b) => a - b);
  return per[2];
}

// warm clocks before the profile (a cold card profiles at idle clocks)
for (let i = 0; i < 100; i++) rt.run(cmds);
await rt.sync();
const ops = cmds.filter((c): c is Op => "pipeline" in c);
const ns = (await rt.profile(cmds)) ?? ops.map(() => 0);
const us = new Map(ops.map((o, i) => [o as Command, ns[i] / 1e3]));
const sum = (l: readonly Command[]) => l.reduce((s, c) => s + (us.get(c) ?? 0), 0) / 1e3;
const count = (l: readonly Command[]) => l.filter((c) => us.has(c)).length;
const line = (what: string, l: readonly Command[], w: number) =>
  console.log(
    `${what.padEnd(34)} ${String(count(l)).padStart(4)} dispatches  profile ${
      sum(l).toFixed(2)
    } ms  wall ${w.toFixed(2)} ms`,
  );
line("whole step", cmds, await wall(cmds));
for (const t of thresholds) {
  const big = cmds.filter((c) => !us.has(c) || us.get(c)! >= t);
  const small = cmds.filter((c) => !us.has(c) || us.get(c)! < t);
  line(`without dispatches < ${t} µs`, big, await wall(big));
  line(`only dispatches < ${t} µs`, small, await wall(small));
}
line("whole step again", cmds, await wall(cmds));

// The bench's way: three batches in turn, each uploaded before its step (20 steps per sync).
const batches = [7, 8, 9].map((s) => longestFirst(syntheticBatch(B, L, V, s, false)));
let step = 1;
async function uploaded(pick: (i: number) => number, perSync = 20): Promise<number> {
  const per: number[] = [];
  for (let r = 0; r < 6; r++) {
    const t0 = performance.now();
    for (let i = 0; i < perSync; i++) {
      graph.upload(batches[pick(i)]);
      rt.write(model.step, [++step, 1, 1, 0]);
      rt.run(cmds);
    }
    await rt.sync();
    if (r > 0) per.push((performance.now() - t0) / perSync);
  }
  per.sort((a, b) => a - b);
  return per[2];
}
for (
  const [what, pick] of [
    ["uploads, batch 7 each step", () => 0],
    ["uploads, batches 7 8 9 in turn", (i: number) => i % 3],
    ["uploads, batch 8 each step", () => 1],
    ["uploads, batch 9 each step", () => 2],
  ] as const
) line(what, cmds, await uploaded(pick));

// Steps between syncs (the bench times 10; the trainer never waits within an epoch).
for (const n of [1, 3, 10, 20, 50, 100]) {
  line(`uploads in turn, ${n} steps per sync`, cmds, await uploaded((i) => i % 3, n));
}
// The bench's own sequence: 3 steps, a sync, then 5 × (10 steps, sync)
{
  for (let i = 0; i < 3; i++) {
    graph.upload(batches[i % 3]);
    rt.write(model.step, [++step, 1, 1, 0]);
    rt.run(cmds);
  }
  await rt.sync();
  const per: number[] = [];
  for (let r = 0; r < 5; r++) {
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) {
      graph.upload(batches[i % 3]);
      rt.write(model.step, [++step, 1, 1, 0]);
      rt.run(cmds);
    }
    await rt.sync();
    per.push((performance.now() - t0) / 10);
  }
  console.log(`bench-like: ${per.map((x) => x.toFixed(2)).join(" ")} ms`);
}
