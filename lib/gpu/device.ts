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
  const device = await adapter.requestDevice({ requiredLimits, requiredFeatures });
  const info = adapter.info;
  const gpu: Gpu = {
    device,
    adapterName: info.description || info.device || info.vendor || "unknown adapter",
    isFallback: info.isFallbackAdapter ?? false,
    hasTimestamps,
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
