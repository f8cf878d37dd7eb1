// Lab probe (session 12): what waiting for the GPU costs under Deno's WebGPU. Submits the bench's
// training step (configs/ss4rec.yaml, prefix mode; B, L from the environment, default 1,024 × 200)
// n times, then waits by one of several means, and reports the wall time per round: the excess
// over n × (steady-state step) is the wait's own latency.
// Usage: deno run -A kernels/lab/sync_probe.ts
import { loadConfig } from "../../lib/config.ts";
import { longestFirst } from "../../lib/data/batch.ts";
import { getGpu } from "../../lib/gpu/device.ts";
import { type Command, Runtime } from "../../lib/gpu/runtime.ts";
import { buildStep, syntheticBatch } from "../../tasks/bench.ts";

const [B, L, V] = [Number(Deno.env.get("B") ?? 1024), Number(Deno.env.get("L") ?? 200), 3417];
const gpu = await getGpu();
const rt = new Runtime(gpu);
const device = gpu.device;
const cfg = loadConfig("configs/ss4rec.yaml", []);
console.log(gpu.adapterName, new Date().toISOString(), `B ${B} L ${L} V ${V} prefix`);
const { model, graph, tail } = await buildStep(rt, cfg, { B, L, mode: "prefix" }, {
  numItems: V,
  numUsers: 6040,
});
graph.upload(longestFirst(syntheticBatch(B, L, V, 7, false)));
rt.write(model.step, [1, 1, 1, 0]);
const cmds: Command[] = [...graph.commands, ...tail];
const small = device.createBuffer({
  size: 256,
  usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
});
const src = device.createBuffer({
  size: 256,
  usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
});

const waits: Record<string, () => Promise<void>> = {
  onSubmittedWorkDone: () => device.queue.onSubmittedWorkDone(),
  mapAsync: async () => {
    const enc = device.createCommandEncoder();
    enc.copyBufferToBuffer(src, 0, small, 0, 256);
    device.queue.submit([enc.finish()]);
    await small.mapAsync(GPUMapMode.READ);
    small.unmap();
  },
  "onSubmittedWorkDone + empty submits, setTimeout 0": async () => {
    let done = false;
    const p = device.queue.onSubmittedWorkDone().then(() => done = true);
    while (!done) {
      device.queue.submit([]);
      await new Promise((r) => setTimeout(r, 0));
    }
    await p;
  },
  "onSubmittedWorkDone + empty submits, setTimeout 1": async () => {
    let done = false;
    const p = device.queue.onSubmittedWorkDone().then(() => done = true);
    while (!done) {
      device.queue.submit([]);
      await new Promise((r) => setTimeout(r, 1));
    }
    await p;
  },
  "onSubmittedWorkDone + empty encoder submits": async () => {
    let done = false;
    const p = device.queue.onSubmittedWorkDone().then(() => done = true);
    while (!done) {
      device.queue.submit([device.createCommandEncoder().finish()]);
      await new Promise((r) => setTimeout(r, 0));
    }
    await p;
  },
};

for (let i = 0; i < 100; i++) rt.run(cmds);
await device.queue.onSubmittedWorkDone();
for (const n of [1, 5, 20]) {
  for (const [name, wait] of Object.entries(waits)) {
    const per: number[] = [];
    for (let r = 0; r < 7; r++) {
      const t0 = performance.now();
      for (let i = 0; i < n; i++) rt.run(cmds);
      await wait();
      per.push(performance.now() - t0);
    }
    per.sort((a, b) => a - b);
    console.log(
      `${n} steps, ${name.padEnd(52)} median ${per[3].toFixed(2)} ms  min ${per[0].toFixed(2)}  (${
        (per[3] / n).toFixed(2)
      } per step)`,
    );
  }
}
// an idle wait: nothing submitted
for (const [name, wait] of Object.entries(waits)) {
  const per: number[] = [];
  for (let r = 0; r < 7; r++) {
    const t0 = performance.now();
    await wait();
    per.push(performance.now() - t0);
  }
  per.sort((a, b) => a - b);
  console.log(`idle, ${name.padEnd(52)} median ${per[3].toFixed(2)} ms`);
}
