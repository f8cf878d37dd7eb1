// Lab probes (session 7): (1) the fp32 FMA rate a WGSL kernel reaches with no memory traffic
// (kernels/lab/probe.wgsl fma_peak: 4 or 8 independent vec4 chains per invocation, timestamp
// queries), the ceiling for the matmul; (2) the wall cost of one dispatch inside a compute pass,
// from passes of 1 and 201 near-empty dispatches (`tiny`), all on one buffer (as the model's
// dispatches are: wgpu puts a barrier between them) and on separate buffers.
// Usage: deno run -A kernels/lab/gpu_probe.ts
import { getGpu } from "../../lib/gpu/device.ts";
import { type Op, Runtime } from "../../lib/gpu/runtime.ts";
import { busy, median } from "../../tasks/bench_kernels.ts";

const gpu = await getGpu();
const rt = new Runtime(gpu);
const soft = gpu.isFallback;
console.log(gpu.adapterName, new Date().toISOString());

const threads = 132 * 8 * 256;
const out = rt.tensor([threads]);
for (const chains of [4, 8]) {
  for (const iters of soft ? [4] : [256, 1024]) {
    const pipe = await rt.kernel("lab/probe", "fma_peak", { ITERS: iters, CHAINS: chains });
    const op = rt.op(pipe, [out], { workgroups: [threads / 256, 1, 1] });
    await busy(rt, [op], soft ? 0 : 300);
    const ns: number[] = [];
    for (let r = 0; r < 7; r++) ns.push(((await rt.profile([op])) ?? [NaN])[0]);
    const flops = threads * iters * 4 * chains * 4 * 2;
    console.log(
      `fma_peak chains ${chains} iters ${iters}: ${(median(ns) / 1e3).toFixed(1)} us, ${
        (flops / median(ns) / 1e3).toFixed(1)
      } TFLOP/s`,
    );
  }
}

const tiny = await rt.kernel("lab/probe", "tiny", { ITERS: 1, CHAINS: 4 });
const one = rt.tensor([256]);
const many = Array.from({ length: 201 }, () => rt.tensor([64]));
for (
  const [what, bufs] of [["one buffer", () => one], [
    "separate buffers",
    (i: number) => many[i],
  ]] as const
) {
  const ops = (n: number): Op[] =>
    Array.from(
      { length: n },
      (_, i) => rt.op(tiny, [bufs(i)], { params: [0, 0, 0, 0], workgroups: 1 }),
    );
  const wall = async (list: Op[]) => {
    const xs: number[] = [];
    for (let r = 0; r < 9; r++) {
      const s = performance.now();
      for (let k = 0; k < 20; k++) rt.run(list);
      await rt.sync();
      xs.push((performance.now() - s) / 20);
    }
    return median(xs);
  };
  const w1 = await wall(ops(1)), w201 = await wall(ops(201));
  console.log(
    `${what}: pass of 1 dispatch ${(w1 * 1e3).toFixed(1)} us, of 201 ${
      (w201 * 1e3).toFixed(1)
    } us: ${((w201 - w1) / 200 * 1e3).toFixed(2)} us per dispatch`,
  );
}
