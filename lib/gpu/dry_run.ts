/**
 * A device that allocates nothing: for memory planning of full-size step graphs on machines whose
 * adapter cannot hold them (a software adapter binds at most 128 MiB per buffer).
 *
 * Building a model graph against it runs the same code path as a real build — every tensor goes
 * through {@linkcode Runtime.tensor}, so `Runtime.peakBytes` / `Runtime.allocations()` give the
 * exact figures our allocator would account on a real device with the given limits — but buffers
 * have no storage, shaders are not compiled and nothing can be run or read back.
 *
 * @module
 */

import type { Gpu } from "./device.ts";

/** Limits of the lent NVIDIA H100 under Vulkan (GPU.md; what `acquireGpu` requests there). */
export const H100_LIMITS: Readonly<Record<string, number>> = {
  maxBufferSize: 4 * 2 ** 30,
  maxStorageBufferBindingSize: 2 * 2 ** 30 - 4,
  maxComputeWorkgroupStorageSize: 49152,
  maxComputeInvocationsPerWorkgroup: 1024,
  maxComputeWorkgroupSizeX: 1024,
  maxComputeWorkgroupSizeY: 1024,
  maxComputeWorkgroupSizeZ: 64,
  maxComputeWorkgroupsPerDimension: 65535,
  maxStorageBuffersPerShaderStage: 10,
  maxUniformBufferBindingSize: 65536,
};

/**
 * A {@linkcode Gpu} whose device only records buffer sizes (for `new Runtime(dryRunGpu())`).
 * Buffers larger than `limits.maxBufferSize`, bindings larger than `maxStorageBufferBindingSize`
 * and two storage bindings of one dispatch that overlap throw, as validation would on the real
 * device.
 */
export function dryRunGpu(
  options: {
    limits?: Readonly<Record<string, number>>;
    name?: string;
    /** Lay out as for a software adapter (some builders size their partial sums by it). */
    isFallback?: boolean;
    /** Subgroup size the builders may plan with (default 32, the H100's; 0: none). */
    subgroupSize?: number;
  } = {},
): Gpu {
  const limits = { ...H100_LIMITS, ...options.limits };
  const noop = () => {};
  const device = {
    limits,
    features: new Set<string>(),
    queue: { writeBuffer: noop, submit: noop, onSubmittedWorkDone: () => Promise.resolve() },
    createBuffer(d: GPUBufferDescriptor) {
      if (d.size > limits.maxBufferSize) {
        throw new Error(`dry run: buffer '${d.label}' of ${d.size} B exceeds maxBufferSize`);
      }
      return { label: d.label ?? "", size: d.size, usage: d.usage, destroy: noop };
    },
    createShaderModule(d: GPUShaderModuleDescriptor) {
      return { label: d.label, getCompilationInfo: () => Promise.resolve({ messages: [] }) };
    },
    createComputePipeline(d: GPUComputePipelineDescriptor) {
      return { label: d.label ?? "", getBindGroupLayout: () => ({}) };
    },
    createBindGroup(d: GPUBindGroupDescriptor) {
      const storage = [...d.entries].filter((e) => e.binding > 0);
      for (const [i, e] of storage.entries()) {
        const r = e.resource as GPUBufferBinding;
        if ((r.size ?? 0) > limits.maxStorageBufferBindingSize) {
          throw new Error(
            `dry run: ${d.label} binding ${e.binding} of ${r.size} B exceeds ` +
              "maxStorageBufferBindingSize",
          );
        }
        // every storage binding of our kernels is read_write: two that partly overlap are a
        // data race within one dispatch (the same range bound twice is a placeholder, e.g. Adam
        // without a gradient scale, and wgpu accepts it)
        for (const f of storage.slice(i + 1)) {
          const q = f.resource as GPUBufferBinding;
          const a0 = r.offset ?? 0, b0 = q.offset ?? 0;
          const same = a0 === b0 && r.size === q.size;
          if (
            q.buffer === r.buffer && !same && a0 < b0 + (q.size ?? 0) && b0 < a0 + (r.size ?? 0)
          ) {
            throw new Error(
              `dry run: ${d.label} bindings ${e.binding} and ${f.binding} overlap in ` +
                `'${r.buffer.label}'`,
            );
          }
        }
      }
      return { label: d.label };
    },
    pushErrorScope: noop,
    popErrorScope: () => Promise.resolve(null),
    createCommandEncoder() {
      throw new Error("dry run: nothing can be encoded or run");
    },
  } as unknown as GPUDevice;
  return {
    device,
    adapterName: options.name ?? "dry run (NVIDIA H100 limits)",
    isFallback: options.isFallback ?? false,
    hasTimestamps: false,
    subgroupSize: options.subgroupSize ?? 32,
    errors: [],
    lost: null,
  };
}
