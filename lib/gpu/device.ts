/**
 * WebGPU device acquisition.
 *
 * Picks the high-performance adapter, asks for the adapter's real limits (the defaults cap storage
 * bindings at 128 MiB, far below what an H100 offers), and turns the usual failure modes into one
 * clear message with the fix: no adapter at all (no Vulkan loader or driver), device loss, and
 * uncaptured validation / out-of-memory errors.
 *
 * @module
 */

/** A ready device and what we learned about the adapter behind it. */
export interface Gpu {
  device: GPUDevice;
  /** Human-readable adapter name, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15.0.6)". */
  adapterName: string;
  /** True for a software (CPU) adapter such as llvmpipe / lavapipe. */
  isFallback: boolean;
  /** Whether pass-level timestamp queries are available (used by benchmarks only). */
  hasTimestamps: boolean;
  /**
   * Subgroup size kernels may rely on (0: no subgroups): the device has the `subgroups` feature and
   * a probe found every subgroup of a 1-D workgroup to be the consecutive invocations
   * `lid − lid % size .. + size − 1` (see {@linkcode probeSubgroups}). H100: 32; lavapipe: 8.
   */
  subgroupSize: number;
  /** The first uncaptured device error, if any; checked by {@linkcode assertHealthy}. */
  errors: string[];
  /** Set when the device is lost. */
  lost: string | null;
}

/** Error raised when no usable WebGPU adapter exists; its message says how to fix it. */
export class GpuUnavailableError extends Error {
  override name = "GpuUnavailableError";
}

let shared: Promise<Gpu> | null = null;

/** Returns the process-wide device, acquiring it on first use. */
export function getGpu(): Promise<Gpu> {
  shared ??= acquireGpu();
  return shared;
}

/**
 * wgpu also probes OpenGL/EGL when it enumerates adapters; on a headless Linux box without
 * XDG_RUNTIME_DIR that probe prints "error: XDG_RUNTIME_DIR is invalid" twice (harmless, but it
 * reads like a failure). Point it at the temp directory when unset and we may.
 */
function quietGlProbe(): void {
  try {
    if (Deno.build.os === "linux" && !Deno.env.get("XDG_RUNTIME_DIR")) {
      Deno.env.set("XDG_RUNTIME_DIR", Deno.env.get("TMPDIR") ?? "/tmp");
    }
  } catch {
    // no env permission: the messages stay, nothing else changes
  }
}

/** Acquires a new device on the best adapter with the adapter's full limits. */
export async function acquireGpu(): Promise<Gpu> {
  if (!("gpu" in navigator) || !navigator.gpu) {
    throw new GpuUnavailableError(
      "WebGPU is not available in this Deno (navigator.gpu is missing): use Deno >= 2.0 and " +
        'keep "unstable": ["webgpu"] in deno.json',
    );
  }
  quietGlProbe();
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new GpuUnavailableError(
      "no WebGPU adapter found: install a Vulkan driver (on Debian/Ubuntu without a GPU: " +
        "`apt-get install mesa-vulkan-drivers`, which provides the lavapipe software adapter)",
    );
  }
  const want = [
    "maxBufferSize",
    "maxStorageBufferBindingSize",
    "maxComputeWorkgroupStorageSize",
    "maxComputeInvocationsPerWorkgroup",
    "maxComputeWorkgroupSizeX",
    "maxComputeWorkgroupSizeY",
    "maxComputeWorkgroupsPerDimension",
    "maxStorageBuffersPerShaderStage",
  ] as const;
  const requiredLimits: Record<string, number> = {};
  for (const k of want) requiredLimits[k] = adapter.limits[k];
  const requiredFeatures: GPUFeatureName[] = [];
  const hasTimestamps = adapter.features.has("timestamp-query");
  if (hasTimestamps) requiredFeatures.push("timestamp-query");
  // Deno 2.9.6's adapters do not list `subgroups` (H100, lavapipe), yet a device asked for it gets
  // it and its kernels compile and run (kernels/lab/RESULTS.md, session 7): ask, and go without it
  // when the adapter refuses. SS4REC_SUBGROUPS=0 turns them off (comparisons, driver trouble).
  let device: GPUDevice | null = null;
  if (envFlag("SS4REC_SUBGROUPS") !== "0") {
    try {
      device = await adapter.requestDevice({
        requiredLimits,
        requiredFeatures: [...requiredFeatures, "subgroups" as GPUFeatureName],
      });
    } catch {
      device = null;
    }
  }
  device ??= await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info;
  const gpu: Gpu = {
    device,
    adapterName: info.description || info.device || info.vendor || "unknown adapter",
    isFallback: info.isFallbackAdapter ?? false,
    hasTimestamps,
    subgroupSize: device.features.has("subgroups") ? await probeSubgroups(device) : 0,
    errors: [],
    lost: null,
  };
  device.addEventListener("uncapturederror", (e) => {
    const err = (e as GPUUncapturedErrorEvent).error;
    if (gpu.errors.length < 20) gpu.errors.push(err.message);
  });
  device.lost.then((l) => {
    gpu.lost = `${l.reason}: ${l.message}`;
  });
  return gpu;
}

function envFlag(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined; // no env permission
  }
}

/**
 * The subgroup size of a 256-invocation workgroup, or 0 when the shader fails or a subgroup is not
 * the consecutive run of invocations kernels assume (WGSL does not promise that layout; Vulkan
 * drivers give it for 1-D workgroups). The shader has no `enable subgroups;`: naga in Deno 2.9.6
 * refuses the directive but takes the builtins on a device with the feature.
 */
export async function probeSubgroups(device: GPUDevice): Promise<number> {
  const n = 256;
  const code = `@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(${n})
fn main(@builtin(local_invocation_index) lid: u32, @builtin(subgroup_size) sgs: u32,
        @builtin(subgroup_invocation_id) sid: u32) {
  out[lid * 3u] = sgs;
  out[lid * 3u + 1u] = sid;
  out[lid * 3u + 2u] = subgroupShuffleXor(lid, 1u);
}`;
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  const pipeline = device.createComputePipeline({
    layout: "auto",
    compute: { module, entryPoint: "main" },
  });
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC;
  const out = device.createBuffer({ size: n * 12, usage });
  const read = device.createBuffer({
    size: n * 12,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  if (await device.popErrorScope()) return 0;
  try {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(
      0,
      device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: out } }],
      }),
    );
    pass.dispatchWorkgroups(1);
    pass.end();
    enc.copyBufferToBuffer(out, 0, read, 0, n * 12);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const u = new Uint32Array(read.getMappedRange().slice(0));
    read.unmap();
    const size = u[0];
    if (size < 4 || size > 128 || (size & (size - 1)) !== 0) return 0;
    for (let i = 0; i < n; i++) {
      if (u[3 * i] !== size || u[3 * i + 1] !== i % size || u[3 * i + 2] !== (i ^ 1)) return 0;
    }
    return size;
  } catch {
    return 0;
  } finally {
    out.destroy();
    read.destroy();
  }
}

/** Throws with the first recorded device error (validation, out-of-memory) or device loss. */
export function assertHealthy(gpu: Gpu): void {
  if (gpu.lost) throw new Error(`GPU device lost (${gpu.lost}); restart the command`);
  if (gpu.errors.length) {
    const first = gpu.errors[0];
    const oom = /out of memory|OutOfMemory/i.test(first);
    throw new Error(
      oom
        ? `GPU out of memory: ${first}; lower train_batch_size or MAX_ITEM_LIST_LENGTH`
        : `GPU error: ${first}`,
    );
  }
}
