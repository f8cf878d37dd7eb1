// Lab probe (session 7): does WGSL's `subgroups` feature work under Deno's WebGPU here? Requests a
// device with it (the adapter's feature list may not name it), runs kernels/lab/subgroups.wgsl's
// `info` (subgroup size, ids, subgroupAdd, subgroupShuffleXor) and times its `butterfly` (16-lane
// xor-shuffle sums of a vec4, as scan_bwd's per-step channel sums would need) with timestamps.
// Usage: deno run -A kernels/lab/subgroup_probe.ts
const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) throw new Error("no adapter");
console.log(adapter.info.description || adapter.info.device, new Date().toISOString());
console.log("adapter lists subgroups:", adapter.features.has("subgroups" as GPUFeatureName));
const ts = adapter.features.has("timestamp-query");
let device: GPUDevice;
try {
  device = await adapter.requestDevice({
    requiredFeatures: ["subgroups" as GPUFeatureName, ...(ts ? ["timestamp-query" as const] : [])],
  });
} catch (e) {
  console.log("device with subgroups refused:", (e as Error).message);
  Deno.exit(0);
}
console.log("device features:", [...device.features].sort().join(" "));
const src = await Deno.readTextFile(new URL("./subgroups.wgsl", import.meta.url));
const ITERS = 4096;
// the shader has no `enable subgroups;` (naga in Deno 2.9.6 refuses it; see subgroups.wgsl)
const code = `const ITERS: u32 = ${ITERS}u;\n` + src;
const module = device.createShaderModule({ code });
const info = await module.getCompilationInfo();
for (const m of info.messages) console.log(`${m.type}: ${m.lineNum}: ${m.message}`);
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
const threads = 132 * 16 * 128;
const out = device.createBuffer({ size: 64 * 16, usage });
const outf = device.createBuffer({ size: threads * 4, usage });
const pipe = (entry: string) =>
  device.createComputePipeline({ layout: "auto", compute: { module, entryPoint: entry } });
// layout "auto": each entry point's group holds only the bindings it uses
const bind = (p: GPUComputePipeline) =>
  device.createBindGroup({
    layout: p.getBindGroupLayout(0),
    entries: p === pi
      ? [{ binding: 0, resource: { buffer: out } }]
      : [{ binding: 1, resource: { buffer: outf } }],
  });
device.pushErrorScope("validation");
const pi = pipe("info"), bf = pipe("butterfly");
const perr = await device.popErrorScope();
if (perr) {
  console.log("pipeline error:", perr.message.split("\n").slice(0, 6).join(" | "));
  Deno.exit(0);
}
const qs = ts ? device.createQuerySet({ type: "timestamp", count: 2 }) : null;
const resolve = device.createBuffer({
  size: 16,
  usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
});
const read = (size: number) =>
  device.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
const r1 = read(64 * 16), r2 = read(16);
const times: number[] = [];
device.pushErrorScope("validation");
for (let rep = 0; rep < 6; rep++) {
  const enc = device.createCommandEncoder();
  const p1 = enc.beginComputePass();
  p1.setPipeline(pi);
  p1.setBindGroup(0, bind(pi));
  p1.dispatchWorkgroups(1);
  p1.end();
  const p2 = enc.beginComputePass(
    qs
      ? { timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } }
      : {},
  );
  p2.setPipeline(bf);
  p2.setBindGroup(0, bind(bf));
  p2.dispatchWorkgroups(threads / 128);
  p2.end();
  if (qs) {
    enc.resolveQuerySet(qs, 0, 2, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, r2, 0, 16);
  }
  if (rep === 0) enc.copyBufferToBuffer(out, 0, r1, 0, 64 * 16);
  device.queue.submit([enc.finish()]);
  if (rep === 0) {
    await r1.mapAsync(GPUMapMode.READ);
    const u = new Uint32Array(r1.getMappedRange().slice(0));
    r1.unmap();
    const lanes = Array.from({ length: 64 }, (_, i) => [...u.slice(4 * i, 4 * i + 4)]);
    console.log(
      "subgroup size",
      lanes[0][0],
      "lane 0..3 [size, id, add, xor1]:",
      JSON.stringify(lanes.slice(0, 4)),
    );
    console.log("lane 33:", JSON.stringify(lanes[33]), "lane 63:", JSON.stringify(lanes[63]));
  }
  if (qs) {
    await r2.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(r2.getMappedRange().slice(0));
    r2.unmap();
    times.push(Number(t[1] - t[0]));
  }
}
const serr = await device.popErrorScope();
if (serr) console.log("validation error:", serr.message.split("\n").slice(0, 4).join(" | "));
if (times.length) {
  const ns = times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
  const shuffles = threads * ITERS * 4 * 4; // 4 xor steps of a vec4 per iteration
  console.log(
    `butterfly: ${(ns / 1e3).toFixed(1)} us, ${(shuffles / ns).toFixed(1)} G lane-shuffles/s (f32)`,
  );
}
