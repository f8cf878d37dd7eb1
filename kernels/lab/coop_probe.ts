// Cooperative matrices (tensor cores) from WGSL under Deno's WebGPU (session 11): whether the
// adapter offers `wgpu-cooperative-matrix`, which matrix types naga and the driver take, whether a
// product through them is right, and how fast a long-M product of the model's shapes runs through
// them: f16 inputs into f32 sums, and fp32 inputs split into f16 hi + lo (three products, fp32's
// accuracy where the values are in f16's range).
// Usage: deno run -A kernels/lab/coop_probe.ts
const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) throw new Error("no adapter");
console.log(new Date().toISOString(), JSON.stringify(adapter.info));
console.log("features:", [...adapter.features].join(" "));
const want = ["wgpu-cooperative-matrix", "shader-f16", "timestamp-query", "subgroups"];
let device: GPUDevice | undefined;
for (const feats of [want, want.slice(0, 3), want.slice(0, 1)]) {
  try {
    device = await adapter.requestDevice({
      requiredFeatures: feats as GPUFeatureName[],
      requiredLimits: {
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxBufferSize: adapter.limits.maxBufferSize,
        maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize,
      },
    });
    console.log("device with", feats.join(" "), "->", [...device.features].join(" "));
    break;
  } catch (e) {
    console.log("requestDevice", feats.join(" "), "failed:", String(e).slice(0, 300));
  }
}
if (!device || !device.features.has("wgpu-cooperative-matrix" as GPUFeatureName)) {
  console.log("no cooperative matrices on this adapter");
  Deno.exit(0);
}
const dev = device;

async function compile(name: string, code: string): Promise<GPUComputePipeline | undefined> {
  dev.pushErrorScope("validation");
  const module = dev.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  const msgs = info.messages.filter((m) => m.type === "error").map((m) => m.message);
  let pipe: GPUComputePipeline | undefined;
  try {
    pipe = dev.createComputePipeline({ layout: "auto", compute: { module, entryPoint: "main" } });
  } catch (e) {
    msgs.push(String(e));
  }
  const err = await dev.popErrorScope();
  if (err) msgs.push(err.message);
  console.log(
    `compile ${name}: ${msgs.length ? "FAILED " + msgs.join(" | ").slice(0, 600) : "ok"}`,
  );
  return msgs.length ? undefined : pipe;
}

function buffer(data: ArrayBufferView | number, usage = 0): GPUBuffer {
  const size = typeof data === "number" ? data : data.byteLength;
  const b = dev.createBuffer({
    size: Math.ceil(size / 4) * 4,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | usage,
    mappedAtCreation: typeof data !== "number",
  });
  if (typeof data !== "number") {
    new Uint8Array(b.getMappedRange()).set(
      new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    );
    b.unmap();
  }
  return b;
}

async function read(b: GPUBuffer, bytes: number): Promise<Float32Array> {
  const r = dev.createBuffer({
    size: bytes,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  const enc = dev.createCommandEncoder();
  enc.copyBufferToBuffer(b, 0, r, 0, bytes);
  dev.queue.submit([enc.finish()]);
  await r.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(r.getMappedRange().slice(0));
  r.unmap();
  return out;
}

function bind(p: GPUComputePipeline, bufs: GPUBuffer[]): GPUBindGroup {
  return dev.createBindGroup({
    layout: p.getBindGroupLayout(0),
    entries: bufs.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
}

type Grid = [number, number, number];

/** One pass of one dispatch (timestamped when `ts` is given). */
function pass(
  enc: GPUCommandEncoder,
  p: GPUComputePipeline,
  bg: GPUBindGroup,
  wg: Grid,
  ts?: GPUComputePassTimestampWrites,
) {
  const cp = enc.beginComputePass(ts ? { timestampWrites: ts } : {});
  cp.setPipeline(p);
  cp.setBindGroup(0, bg);
  cp.dispatchWorkgroups(...wg);
  cp.end();
}

async function run(p: GPUComputePipeline, bg: GPUBindGroup, wg: Grid) {
  const enc = dev.createCommandEncoder();
  pass(enc, p, bg, wg);
  dev.queue.submit([enc.finish()]);
  await dev.queue.onSubmittedWorkDone();
}

/** Median GPU ns of one dispatch over `reps`, timestamp queries, after keeping the card busy. */
async function time(
  p: GPUComputePipeline,
  bg: GPUBindGroup,
  wg: Grid,
  reps = 15,
) {
  const qs = dev.createQuerySet({ type: "timestamp", count: 2 * reps });
  const res = dev.createBuffer({
    size: 16 * reps,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const rd = dev.createBuffer({
    size: 16 * reps,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  for (let w = 0; w < 3; w++) {
    const enc = dev.createCommandEncoder();
    for (let i = 0; i < 100; i++) pass(enc, p, bg, wg);
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
  }
  const enc = dev.createCommandEncoder();
  for (let i = 0; i < reps; i++) {
    pass(enc, p, bg, wg, {
      querySet: qs,
      beginningOfPassWriteIndex: 2 * i,
      endOfPassWriteIndex: 2 * i + 1,
    });
  }
  enc.resolveQuerySet(qs, 0, 2 * reps, res, 0);
  enc.copyBufferToBuffer(res, 0, rd, 0, 16 * reps);
  dev.queue.submit([enc.finish()]);
  await rd.mapAsync(GPUMapMode.READ);
  const t = new BigUint64Array(rd.getMappedRange().slice(0));
  rd.unmap();
  const ns = [...Array(reps).keys()].map((i) => Number(t[2 * i + 1] - t[2 * i])).sort((a, b) =>
    a - b
  );
  return ns[reps >> 1];
}

function f16bits(x: number): number {
  // round to nearest even through Float16Array
  return new Uint16Array(new Float16Array([x]).buffer)[0];
}

// 1. which types compile: one n x n product of `ab` inputs into `acc` sums
const HEAD = "enable f16;\nenable wgpu_cooperative_matrix;\n";
const tile = (n: number, ab: string, acc: string) =>
  `${HEAD}@group(0) @binding(0) var<storage, read> a: array<${ab}>;
@group(0) @binding(1) var<storage, read> b: array<${ab}>;
@group(0) @binding(2) var<storage, read_write> c: array<${acc}>;
@compute @workgroup_size(32) fn main() {
  var acc = coop_mat${n}x${n}<${acc}, C>();
  let x = coopLoadT<coop_mat${n}x${n}<${ab}, A>>(&a[0], ${n}u);
  let y = coopLoadT<coop_mat${n}x${n}<${ab}, B>>(&b[0], ${n}u);
  acc = coopMultiplyAdd(x, y, acc);
  coopStoreT(acc, &c[0], ${n}u);
}`;
const kinds: Record<string, string> = {
  "f32 8x8": tile(8, "f32", "f32"),
  "f16 16x16 -> f16": tile(16, "f16", "f16"),
  "f16 16x16 -> f32": tile(16, "f16", "f32"),
};
const ok: Record<string, GPUComputePipeline> = {};
for (const [k, code] of Object.entries(kinds)) {
  const p = await compile(k, code);
  if (p) ok[k] = p;
}

// 2. right?
for (const [k, p] of Object.entries(ok)) {
  const n = k.startsWith("f32") ? 8 : 16;
  const A = Float32Array.from({ length: n * n }, (_, i) => ((i * 7) % 13) / 8 - 0.75);
  const B = Float32Array.from({ length: n * n }, (_, i) => ((i * 5) % 11) / 8 - 0.6);
  const ref = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      for (let q = 0; q < n; q++) ref[i * n + j] += A[i * n + q] * B[q * n + j];
    }
  }
  const half = (x: Float32Array) => Uint16Array.from(x, f16bits);
  const f32in = k.startsWith("f32");
  const out16 = k.endsWith("-> f16");
  const ba = buffer(f32in ? A : half(A)), bb = buffer(f32in ? B : half(B)), bc = buffer(n * n * 4);
  await run(p, bind(p, [ba, bb, bc]), [1, 1, 1]);
  const raw = await read(bc, n * n * 4);
  const got = out16 ? Array.from(new Float16Array(raw.buffer).slice(0, n * n)) : Array.from(raw);
  let err = 0;
  for (let i = 0; i < n * n; i++) err = Math.max(err, Math.abs(got[i] - ref[i]));
  const errT = (() => {
    let e = 0;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) e = Math.max(e, Math.abs(got[j * n + i] - ref[i * n + j]));
    }
    return e;
  })();
  console.log(
    `${k}: max |err| row-major ${err.toExponential(2)}, if transposed ${errT.toExponential(2)}`,
  );
}

// 3. speed of a long-M product, C[M,N] = A[M,K] B[K,N], the model's in_proj shape
const M = 204_800, K = 64, N = 256;
const flop = 2 * M * N * K;
// the 2 x 4 accumulators of 16 x 16 a subgroup holds, and their stores at rows q0 and q1 of C
const ACC = [0, 1].map((i) =>
  "  " + [0, 1, 2, 3].map((j) => `var c${i}${j} = coop_mat16x16<f32, C>();`).join(" ")
).join("\n");
const STORE = [0, 1].map((i) =>
  "  " + [0, 1, 2, 3].map((j) => `coopStoreT(c${i}${j}, &c[q${i} + ${16 * j}u], N);`).join(" ")
).join("\n");
if (ok["f16 16x16 -> f32"]) {
  // (a) f16 inputs from memory, each subgroup 32 x 64 of C, four subgroups a workgroup
  const direct = await compile(
    "direct f16",
    `${HEAD}@group(0) @binding(0) var<storage, read> a: array<f16>;
@group(0) @binding(1) var<storage, read> b: array<f16>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
const K = ${K}u; const N = ${N}u;
@compute @workgroup_size(128) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let sg = li / 32u;
  let r0 = wg.x * 64u + (sg >> 1u) * 32u; let c0 = wg.y * 128u + (sg & 1u) * 64u;
${ACC}
  for (var k = 0u; k < K; k += 16u) {
    let a0 = coopLoadT<coop_mat16x16<f16, A>>(&a[r0 * K + k], K);
    let a1 = coopLoadT<coop_mat16x16<f16, A>>(&a[(r0 + 16u) * K + k], K);
    let b0 = coopLoadT<coop_mat16x16<f16, B>>(&b[k * N + c0], N);
    let b1 = coopLoadT<coop_mat16x16<f16, B>>(&b[k * N + c0 + 16u], N);
    let b2 = coopLoadT<coop_mat16x16<f16, B>>(&b[k * N + c0 + 32u], N);
    let b3 = coopLoadT<coop_mat16x16<f16, B>>(&b[k * N + c0 + 48u], N);
    c00 = coopMultiplyAdd(a0, b0, c00); c01 = coopMultiplyAdd(a0, b1, c01); c02 = coopMultiplyAdd(a0, b2, c02); c03 = coopMultiplyAdd(a0, b3, c03);
    c10 = coopMultiplyAdd(a1, b0, c10); c11 = coopMultiplyAdd(a1, b1, c11); c12 = coopMultiplyAdd(a1, b2, c12); c13 = coopMultiplyAdd(a1, b3, c13);
  }
  let q0 = r0 * N + c0; let q1 = q0 + 16u * N;
${STORE}
}`,
  );
  // (b) fp32 inputs, staged through workgroup memory as f16 hi + lo; three products
  const split = await compile(
    "split f32 (hi+lo, 3 products)",
    `${HEAD}@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
const K = ${K}u; const N = ${N}u;
var<workgroup> ah: array<f16, 1024>; var<workgroup> al: array<f16, 1024>; // 64 rows x 16
var<workgroup> bh: array<f16, 2048>; var<workgroup> bl: array<f16, 2048>; // 16 x 128
@compute @workgroup_size(128) fn main(@builtin(workgroup_id) wg: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let sg = li / 32u;
  let R0 = wg.x * 64u; let C0 = wg.y * 128u;
  let lr = (sg >> 1u) * 32u; let lc = (sg & 1u) * 64u;
${ACC}
  for (var k = 0u; k < K; k += 16u) {
    // A tile 64 x 16: 256 vec4, two per invocation
    for (var i = 0u; i < 2u; i++) {
      let e = li + i * 128u; let r = e >> 2u; let q = (e & 3u) * 4u;
      let v = a[((R0 + r) * K + k + q) >> 2u];
      let h = vec4<f16>(v); let l = vec4<f16>(v - vec4<f32>(h));
      let o = r * 16u + q;
      ah[o] = h.x; ah[o + 1u] = h.y; ah[o + 2u] = h.z; ah[o + 3u] = h.w;
      al[o] = l.x; al[o + 1u] = l.y; al[o + 2u] = l.z; al[o + 3u] = l.w;
    }
    // B tile 16 x 128: 512 vec4, four per invocation
    for (var i = 0u; i < 4u; i++) {
      let e = li + i * 128u; let r = e >> 5u; let q = (e & 31u) * 4u;
      let v = b[((k + r) * N + C0 + q) >> 2u];
      let h = vec4<f16>(v); let l = vec4<f16>(v - vec4<f32>(h));
      let o = r * 128u + q;
      bh[o] = h.x; bh[o + 1u] = h.y; bh[o + 2u] = h.z; bh[o + 3u] = h.w;
      bl[o] = l.x; bl[o + 1u] = l.y; bl[o + 2u] = l.z; bl[o + 3u] = l.w;
    }
    workgroupBarrier();
    let a0h = coopLoadT<coop_mat16x16<f16, A>>(&ah[lr * 16u], 16u);
    let a1h = coopLoadT<coop_mat16x16<f16, A>>(&ah[(lr + 16u) * 16u], 16u);
    let a0l = coopLoadT<coop_mat16x16<f16, A>>(&al[lr * 16u], 16u);
    let a1l = coopLoadT<coop_mat16x16<f16, A>>(&al[(lr + 16u) * 16u], 16u);
    for (var j = 0u; j < 4u; j++) {
      let bhj = coopLoadT<coop_mat16x16<f16, B>>(&bh[lc + j * 16u], 128u);
      let blj = coopLoadT<coop_mat16x16<f16, B>>(&bl[lc + j * 16u], 128u);
      switch j {
        case 0u: { c00 = coopMultiplyAdd(a0l, bhj, c00); c00 = coopMultiplyAdd(a0h, blj, c00); c00 = coopMultiplyAdd(a0h, bhj, c00);
                   c10 = coopMultiplyAdd(a1l, bhj, c10); c10 = coopMultiplyAdd(a1h, blj, c10); c10 = coopMultiplyAdd(a1h, bhj, c10); }
        case 1u: { c01 = coopMultiplyAdd(a0l, bhj, c01); c01 = coopMultiplyAdd(a0h, blj, c01); c01 = coopMultiplyAdd(a0h, bhj, c01);
                   c11 = coopMultiplyAdd(a1l, bhj, c11); c11 = coopMultiplyAdd(a1h, blj, c11); c11 = coopMultiplyAdd(a1h, bhj, c11); }
        case 2u: { c02 = coopMultiplyAdd(a0l, bhj, c02); c02 = coopMultiplyAdd(a0h, blj, c02); c02 = coopMultiplyAdd(a0h, bhj, c02);
                   c12 = coopMultiplyAdd(a1l, bhj, c12); c12 = coopMultiplyAdd(a1h, blj, c12); c12 = coopMultiplyAdd(a1h, bhj, c12); }
        default: { c03 = coopMultiplyAdd(a0l, bhj, c03); c03 = coopMultiplyAdd(a0h, blj, c03); c03 = coopMultiplyAdd(a0h, bhj, c03);
                   c13 = coopMultiplyAdd(a1l, bhj, c13); c13 = coopMultiplyAdd(a1h, blj, c13); c13 = coopMultiplyAdd(a1h, bhj, c13); }
      }
    }
    workgroupBarrier();
  }
  let q0 = (R0 + lr) * N + C0 + lc; let q1 = q0 + 16u * N;
${STORE}
}`,
  );
  const A = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37) * (1 + (i % 7)));
  const B = Float32Array.from({ length: K * N }, (_, i) => Math.cos(i * 0.11) * 0.3);
  const c = buffer(M * N * 4);
  const check = async (name: string, ns: number) => {
    const got = await read(c, M * N * 4);
    let err = 0, scale = 0;
    for (const i of [0, 1, 77, 1234, M - 1]) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let q = 0; q < K; q++) s += A[i * K + q] * B[q * N + j];
        err = Math.max(err, Math.abs(got[i * N + j] - s));
        scale = Math.max(scale, Math.abs(s));
      }
    }
    console.log(
      `${name}: ${(ns / 1e3).toFixed(1)} us, ${(flop / ns / 1e3).toFixed(1)} TFLOP/s, max |err| ${
        err.toExponential(2)
      } of |C| ${scale.toFixed(2)} (rel ${(err / scale).toExponential(2)})`,
    );
  };
  if (direct) {
    const a16 = buffer(Uint16Array.from(A, f16bits)), b16 = buffer(Uint16Array.from(B, f16bits));
    const bg = bind(direct, [a16, b16, c]);
    const ns = await time(direct, bg, [M / 64, N / 128, 1]);
    await check("direct f16 inputs", ns);
  }
  if (split) {
    const bg = bind(split, [buffer(A), buffer(B), c]);
    const ns = await time(split, bg, [M / 64, N / 128, 1]);
    await check("split fp32 (3 products)", ns);
  }
}
