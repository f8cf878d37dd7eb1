/**
 * The op runtime: tensors, a pipeline cache, pre-built dispatches, and one-encoder execution.
 *
 * Design (GPU.md rules 1-3): a model builds every dispatch of its training step once, for a fixed
 * batch shape ({@linkcode Op}: pipeline + cached bind group + static uniform params + grid). A step
 * is then only `setPipeline / setBindGroup / dispatchWorkgroups` per op inside one compute pass of
 * one command encoder, and nothing waits on the GPU. Per-step scalars (Adam's step count, the
 * dropout seed) live in small storage tensors updated with `writeBuffer` before the submit.
 *
 * Gradients come from explicit forward/backward kernels per layer, not from a tape: the hot ops are
 * fused (a scan's backward recomputes its forward), so a generic tape would only add indirection,
 * and a fixed op list per step is what lets encoding stay cheap.
 *
 * Kernel binding convention (every file in `kernels/`):
 * - `@group(0) @binding(0)`: `var<uniform> p: Params` when the op has params (packed in order, each a
 *   4-byte `u32`, `i32` or `f32`);
 * - `@group(0) @binding(1 + i)`: the i-th tensor passed to {@linkcode Runtime.op} (`null`: a
 *   binding number the entry point does not use, so later ones keep their numbers);
 * - bindings of one dispatch that point into the same GPUBuffer (views of a flat parameter or
 *   gradient buffer) must all be `read_write` or all `read`: WebGPU forbids mixing the two usages;
 * - 1-D grids larger than 65,535 workgroups are split over x and y by {@linkcode grid}; a kernel
 *   recovers its linear index as `gid.x + gid.y * nwg.x * WG` with `@builtin(num_workgroups) nwg`.
 *
 * @module
 */

import { assertHealthy, type Gpu } from "./device.ts";

/** Element types of tensors. */
export type DType = "f32" | "i32" | "u32";

/** Typed array of a dtype. */
export type TypedArrayOf<D extends DType> = D extends "f32" ? Float32Array
  : D extends "i32" ? Int32Array
  : Uint32Array;

/** A dense row-major tensor: a view (byte offset + shape) into a GPUBuffer. */
export class Tensor {
  /** Number of elements. */
  readonly size: number;
  /** Creates a view; use {@linkcode Runtime.tensor} or {@linkcode Runtime.flat} instead. */
  constructor(
    readonly buffer: GPUBuffer,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly dtype: DType = "f32",
    readonly name = "",
  ) {
    this.size = shape.reduce((a, b) => a * b, 1);
  }
  /** Bytes covered by this view. */
  get byteLength(): number {
    return this.size * 4;
  }
  /** The binding resource for this view (offsets must respect the 256-byte alignment). */
  binding(): GPUBufferBinding {
    return { buffer: this.buffer, offset: this.offset, size: Math.max(4, this.byteLength) };
  }
  /**
   * Rows r0 .. r0 + n − 1 along the first dimension, as a view of the same storage (where it is
   * bound, the caller keeps its offset 256-byte aligned).
   */
  rows(r0: number, n: number, name = this.name): Tensor {
    if (!(r0 >= 0 && n >= 0 && r0 + n <= this.shape[0])) {
      throw new Error(`rows ${r0}..${r0 + n} of ${this.name} [${this.shape}]`);
    }
    const width = this.size / this.shape[0];
    return new Tensor(this.buffer, this.offset + r0 * width * 4, [n, width], this.dtype, name);
  }
  /** Same storage, another shape with the same element count. */
  reshape(shape: readonly number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.size) throw new Error(`reshape ${this.shape} -> ${shape}: sizes differ`);
    return new Tensor(this.buffer, this.offset, shape, this.dtype, this.name);
  }
}

/** A tagged uniform value; plain numbers are packed as `u32`. */
export type Param = number | { f32: number } | { i32: number };

/** Tags a uniform value as f32. */
export function f32(v: number): Param {
  return { f32: v };
}

/** Tags a uniform value as i32. */
export function i32(v: number): Param {
  return { i32: v };
}

/** A pre-built dispatch. */
export interface Op {
  label: string;
  /** What it reads and writes and its uniform params (tensor names, values), for profiles. */
  detail: string;
  pipeline: GPUComputePipeline;
  bindGroup: GPUBindGroup;
  workgroups: [number, number, number];
}

/** Something a step records: a dispatch, or a buffer clear (which ends the current pass). */
export type Command = Op | { clear: Tensor } | { copy: Tensor; to: Tensor };

/** Workgroup-count limit per grid dimension in WebGPU. */
const MAX_WG = 65535;

/**
 * A 1-D grid of `n` invocations in workgroups of `wg`, split over x and y when it exceeds 65,535
 * workgroups; kernels must bounds-check their linear index.
 */
export function grid(n: number, wg = 256): [number, number, number] {
  const groups = Math.max(1, Math.ceil(n / wg));
  if (groups <= MAX_WG) return [groups, 1, 1];
  const y = Math.ceil(groups / MAX_WG);
  return [Math.ceil(groups / y), y, 1];
}

const ALIGN = 256;

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * Transient memory shared by graphs that never run at the same time (the per-length graphs of
 * `lib/models/buckets.ts`): their activations are views into these chunks, so several graphs cost
 * the memory of the largest one. Only for values written and consumed within one run of a graph:
 * another graph's run overwrites them, and a graph must not rely on zero-initialised memory.
 */
export class Arena {
  /** The chunks (each at most `maxChunkBytes` and the device's maxBufferSize). */
  chunks: GPUBuffer[] = [];
  /** Bytes later builds did not fit into the chunks (they got their own buffers). */
  overflowBytes = 0;
  /** Set while the sizing build records its allocation sizes. */
  measuring: number[] | null = null;
  /** Cap on one chunk's size (default 2 GiB; the device's maxBufferSize also applies). */
  constructor(readonly maxChunkBytes = 2 ** 31) {}
  /** Bytes held by the chunks. */
  get bytes(): number {
    return this.chunks.reduce((a, b) => a + b.size, 0);
  }
}

/** Owns buffers, pipelines and the submission of recorded steps on one device. */
export class Runtime {
  readonly device: GPUDevice;
  /** Bytes currently allocated through this runtime (our own allocator's accounting). */
  liveBytes = 0;
  /** High-water mark of {@linkcode liveBytes}. */
  peakBytes = 0;
  #sources = new Map<string, string>();
  #pipelines = new Map<string, GPUComputePipeline>();
  #staging: GPUBuffer[] = [];
  #buffers = new Set<GPUBuffer>();
  #kernelDir: URL;
  /** The arena a build is placing its transient tensors in (see {@linkcode inArena}). */
  #cursor: { arena: Arena; chunk: number; offset: number } | null = null;

  /** Wraps an acquired device. `kernelDir` defaults to this package's `kernels/`. */
  constructor(readonly gpu: Gpu, options: { kernelDir?: URL } = {}) {
    this.device = gpu.device;
    this.#kernelDir = options.kernelDir ?? new URL("../../kernels/", import.meta.url);
  }

  #alloc(bytes: number, label: string, usage = 0): GPUBuffer {
    const size = roundUp(Math.max(bytes, 16), 16);
    const buffer = this.device.createBuffer({
      label,
      size,
      usage: usage ||
        (GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST),
    });
    this.liveBytes += size;
    this.peakBytes = Math.max(this.peakBytes, this.liveBytes);
    this.#buffers.add(buffer);
    return buffer;
  }

  /** Allocates a tensor in its own buffer, optionally filled with `data`. */
  tensor(
    shape: readonly number[],
    dtype: DType = "f32",
    data?: ArrayLike<number>,
    name = "",
  ): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    if (!data && this.#cursor) {
      const placed = this.#place(this.#cursor, n * 4);
      if (placed) return new Tensor(placed.buffer, placed.offset, shape, dtype, name);
    }
    const t = new Tensor(this.#alloc(n * 4, name), 0, shape, dtype, name);
    if (data) this.write(t, data);
    return t;
  }

  /**
   * Allocates one buffer holding many named tensors at 256-byte aligned offsets (the flat parameter
   * / gradient / optimiser-state buffers). Returns the whole buffer as a 1-D tensor and the views.
   */
  flat(
    specs: readonly { name: string; shape: readonly number[] }[],
    label = "flat",
  ): { all: Tensor; views: Map<string, Tensor> } {
    const offsets: number[] = [];
    let bytes = 0;
    for (const s of specs) {
      offsets.push(bytes);
      bytes = roundUp(bytes + s.shape.reduce((a, b) => a * b, 1) * 4, ALIGN);
    }
    const buffer = this.#alloc(bytes, label);
    const views = new Map<string, Tensor>();
    specs.forEach((s, i) =>
      views.set(s.name, new Tensor(buffer, offsets[i], s.shape, "f32", s.name))
    );
    return { all: new Tensor(buffer, 0, [bytes / 4], "f32", label), views };
  }

  /**
   * The buffers allocated now through {@linkcode tensor} and {@linkcode flat} (label and bytes,
   * largest first): the breakdown behind {@linkcode liveBytes}, for memory reports.
   */
  allocations(): { label: string; bytes: number }[] {
    return [...this.#buffers]
      .filter((b) => b.usage & GPUBufferUsage.STORAGE)
      .map((b) => ({ label: b.label, bytes: b.size }))
      .sort((a, b) => b.bytes - a.bytes);
  }

  /** Frees a tensor's buffer (only for tensors made by {@linkcode tensor}). */
  free(t: Tensor): void {
    if (t.buffer.label.startsWith("arena ")) return; // a view into shared transient memory
    if (!this.#buffers.delete(t.buffer)) return;
    this.liveBytes -= t.buffer.size;
    t.buffer.destroy();
  }

  /**
   * Destroys every buffer this runtime allocated (tensors, flat stores, staging); the runtime's
   * pipelines stay cached. For callers that build many models in one process (experiments,
   * benchmarks) so GPU memory does not accumulate across them.
   */
  dispose(): void {
    for (const b of [...this.#buffers, ...this.#staging]) b.destroy();
    this.#buffers.clear();
    this.#staging = [];
    this.liveBytes = 0;
  }

  /**
   * Runs `build` with its transient tensors placed in `arena` (see {@linkcode Arena}): every
   * {@linkcode tensor} it allocates without initial data becomes a 256-byte aligned view into the
   * arena's chunks, laid out from offset 0 again for each build, so graphs built this way share
   * one set of buffers. Tensors made with data, {@linkcode flat} stores and uniforms stay separate.
   *
   * The first build in an empty arena sizes it: it runs once with ordinary buffers to measure its
   * transient allocations, frees everything it made, allocates chunks that fit exactly that
   * sequence, and runs again inside them. Build the largest graph first; a later build that needs
   * more than the arena holds gets ordinary buffers for what does not fit (correct, but counted
   * in {@linkcode Arena.overflowBytes}).
   */
  async inArena<T>(arena: Arena, build: () => Promise<T>): Promise<T> {
    if (this.#cursor) throw new Error("inArena: builds in arenas do not nest");
    if (arena.chunks.length === 0) {
      const before = new Set(this.#buffers);
      const sizes: number[] = [];
      this.#cursor = { arena, chunk: -1, offset: 0 };
      arena.measuring = sizes;
      try {
        await build();
      } finally {
        this.#cursor = null;
        arena.measuring = null;
      }
      for (const b of [...this.#buffers]) {
        if (before.has(b)) continue;
        this.#buffers.delete(b);
        if (b.usage & GPUBufferUsage.STORAGE) this.liveBytes -= b.size; // uniforms are not counted
        b.destroy();
      }
      const cap = Math.min(this.device.limits.maxBufferSize, arena.maxChunkBytes);
      const chunks: number[] = [0];
      for (const bytes of sizes) {
        const at = roundUp(chunks[chunks.length - 1], ALIGN);
        if (at + bytes <= cap || chunks[chunks.length - 1] === 0) {
          chunks[chunks.length - 1] = at + bytes;
        } else chunks.push(bytes);
      }
      arena.chunks = chunks.map((bytes, i) => this.#alloc(bytes, `arena ${i}`));
    }
    this.#cursor = { arena, chunk: 0, offset: 0 };
    try {
      return await build();
    } finally {
      this.#cursor = null;
    }
  }

  /** A view's place in the current arena, or null when it must get its own buffer. */
  #place(
    cursor: { arena: Arena; chunk: number; offset: number },
    bytes: number,
  ): { buffer: GPUBuffer; offset: number } | null {
    const { arena } = cursor;
    const size = roundUp(Math.max(bytes, 16), 16);
    if (arena.measuring) {
      arena.measuring.push(size);
      return null;
    }
    while (cursor.chunk < arena.chunks.length) {
      const at = roundUp(cursor.offset, ALIGN);
      if (at + size <= arena.chunks[cursor.chunk].size) {
        cursor.offset = at + size;
        return { buffer: arena.chunks[cursor.chunk], offset: at };
      }
      cursor.chunk++;
      cursor.offset = 0;
    }
    arena.overflowBytes += size;
    return null;
  }

  /** Uploads host data into a tensor (queued; ordered before later submits). */
  write(t: Tensor, data: ArrayLike<number>): void {
    if (data.length !== t.size) {
      throw new Error(`write ${t.name || "tensor"}: ${data.length} values for size ${t.size}`);
    }
    const arr = t.dtype === "f32"
      ? (data instanceof Float32Array ? data : Float32Array.from(data))
      : t.dtype === "i32"
      ? (data instanceof Int32Array ? data : Int32Array.from(data))
      : (data instanceof Uint32Array ? data : Uint32Array.from(data));
    this.device.queue.writeBuffer(t.buffer, t.offset, arr as Float32Array<ArrayBuffer>);
  }

  /** Reads a tensor back (one GPU sync: for tests, epoch ends and reports, never per step). */
  async read<D extends DType>(t: Tensor & { dtype: D }): Promise<TypedArrayOf<D>>;
  async read(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array>;
  async read(t: Tensor): Promise<Float32Array | Int32Array | Uint32Array> {
    const bytes = roundUp(t.byteLength, 4);
    let idx = this.#staging.findIndex((b) => b.size >= bytes && b.mapState === "unmapped");
    if (idx < 0) {
      this.#staging.push(this.device.createBuffer({
        label: "staging",
        size: roundUp(bytes, 256),
        usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      }));
      idx = this.#staging.length - 1;
    }
    const staging = this.#staging[idx];
    const enc = this.device.createCommandEncoder();
    enc.copyBufferToBuffer(t.buffer, t.offset, staging, 0, bytes);
    this.device.queue.submit([enc.finish()]);
    await staging.mapAsync(GPUMapMode.READ, 0, bytes);
    const copy = staging.getMappedRange(0, bytes).slice(0);
    staging.unmap();
    assertHealthy(this.gpu);
    return t.dtype === "f32"
      ? new Float32Array(copy)
      : t.dtype === "i32"
      ? new Int32Array(copy)
      : new Uint32Array(copy);
  }

  /**
   * Returns the compute pipeline for `entry` of `kernels/<file>.wgsl`, specialised by `defines`
   * (prepended as WGSL constants: integers as `u32`, other numbers as `f32`, booleans as `bool`).
   */
  async kernel(
    file: string,
    entry: string,
    defines: Record<string, number | boolean> = {},
  ): Promise<GPUComputePipeline> {
    const key = `${file}:${entry}:${JSON.stringify(defines)}`;
    const hit = this.#pipelines.get(key);
    if (hit) return hit;
    const src = await this.#source(file);
    const prelude = Object.entries(defines).map(([k, v]) =>
      typeof v === "boolean"
        ? `const ${k}: bool = ${v};`
        : Number.isInteger(v)
        ? `const ${k}: u32 = ${v}u;`
        : `const ${k}: f32 = ${v};`
    ).join("\n");
    const code = prelude + "\n" + src;
    const module = this.device.createShaderModule({ label: file, code });
    const info = await module.getCompilationInfo();
    const errs = info.messages.filter((m) => m.type === "error");
    if (errs.length) {
      const m = errs[0];
      const line = m.lineNum - (prelude ? prelude.split("\n").length : 0);
      throw new Error(`kernels/${file}.wgsl:${line}: ${m.message}`);
    }
    this.device.pushErrorScope("validation");
    const pipeline = this.device.createComputePipeline({
      label: `${file}:${entry}`,
      layout: "auto",
      compute: { module, entryPoint: entry },
    });
    const err = await this.device.popErrorScope();
    if (err) throw new Error(`kernels/${file}.wgsl entry ${entry}: ${err.message}`);
    this.#pipelines.set(key, pipeline);
    return pipeline;
  }

  /**
   * The text of `kernels/<file>.wgsl` with its `// #include "<name>"` lines replaced by
   * `kernels/<name>.wgsl` (WGSL has no includes; shared helpers such as the RNG live once);
   * "subgroup" is `kernels/subgroup_none.wgsl` on a device without subgroups.
   */
  async #source(file: string): Promise<string> {
    let src = this.#sources.get(file);
    if (src === undefined) {
      const text = await (await fetch(new URL(`${file}.wgsl`, this.#kernelDir))).text();
      const parts: string[] = [];
      for (const line of text.split("\n")) {
        const m = /^\/\/ #include "([\w-]+)"\s*$/.exec(line);
        // "subgroup" without subgroups: the stand-ins, so the kernel still compiles
        const inc = m && (m[1] === "subgroup" && !this.gpu.subgroupSize ? "subgroup_none" : m[1]);
        parts.push(inc ? await this.#source(inc) : line);
      }
      src = parts.join("\n");
      this.#sources.set(file, src);
    }
    return src;
  }

  /** Builds a dispatch with its bind group and uniform params, once, for repeated use. */
  op(
    pipeline: GPUComputePipeline,
    tensors: readonly (Tensor | null)[],
    options: { params?: readonly Param[]; workgroups: [number, number, number] | number },
  ): Op {
    const entries: GPUBindGroupEntry[] = tensors.flatMap((t, i) =>
      t ? [{ binding: i + 1, resource: t.binding() }] : []
    );
    if (options.params && options.params.length) {
      const words = new ArrayBuffer(roundUp(options.params.length * 4, 16));
      const u = new Uint32Array(words), f = new Float32Array(words), s = new Int32Array(words);
      options.params.forEach((p, i) => {
        if (typeof p === "number") u[i] = p;
        else if ("f32" in p) f[i] = p.f32;
        else s[i] = p.i32;
      });
      const ubuf = this.device.createBuffer({
        label: `${pipeline.label} params`,
        size: words.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(ubuf, 0, words);
      this.#buffers.add(ubuf);
      entries.push({ binding: 0, resource: { buffer: ubuf } });
    }
    const bindGroup = this.device.createBindGroup({
      label: pipeline.label,
      layout: pipeline.getBindGroupLayout(0),
      entries,
    });
    const wg = typeof options.workgroups === "number"
      ? [options.workgroups, 1, 1] as [number, number, number]
      : options.workgroups;
    const detail = `${tensors.map((t) => t?.name ?? "-").join(" ")} [${
      (options.params ?? []).map((v) => typeof v === "number" ? v : "f32" in v ? v.f32 : v.i32)
        .join(" ")
    }]`;
    return { label: pipeline.label, detail, pipeline, bindGroup, workgroups: wg };
  }

  /** Records commands into `encoder`, one compute pass per run of consecutive dispatches. */
  encode(encoder: GPUCommandEncoder, commands: readonly Command[]): void {
    let pass: GPUComputePassEncoder | null = null;
    for (const c of commands) {
      if ("pipeline" in c) {
        pass ??= encoder.beginComputePass();
        pass.setPipeline(c.pipeline);
        pass.setBindGroup(0, c.bindGroup);
        pass.dispatchWorkgroups(c.workgroups[0], c.workgroups[1], c.workgroups[2]);
        continue;
      }
      pass?.end();
      pass = null;
      if ("clear" in c) encoder.clearBuffer(c.clear.buffer, c.clear.offset, c.clear.byteLength);
      else {encoder.copyBufferToBuffer(
          c.copy.buffer,
          c.copy.offset,
          c.to.buffer,
          c.to.offset,
          c.copy.byteLength,
        );}
    }
    pass?.end();
  }

  /** Encodes and submits commands in one command buffer; does not wait. */
  run(commands: readonly Command[]): void {
    const enc = this.device.createCommandEncoder();
    this.encode(enc, commands);
    this.device.queue.submit([enc.finish()]);
  }

  /** Waits until all submitted work is done and throws on any recorded device error. */
  async sync(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
    assertHealthy(this.gpu);
  }

  /**
   * Times each dispatch separately with timestamp queries (one pass per op; benchmarks only). Clears
   * and copies among `commands` run in their places, untimed, so a graph's commands profile as
   * they run. Returns nanoseconds per dispatch in order, or null when the adapter has no timestamp
   * queries.
   */
  async profile(commands: readonly Command[]): Promise<number[] | null> {
    const ops = commands.filter((c): c is Op => "pipeline" in c);
    if (!this.gpu.hasTimestamps || ops.length === 0) return null;
    const n = ops.length * 2;
    const qs = this.device.createQuerySet({ type: "timestamp", count: n });
    const resolve = this.device.createBuffer({
      size: n * 8,
      usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
    });
    const read = this.device.createBuffer({
      size: n * 8,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
    });
    const enc = this.device.createCommandEncoder();
    let i = 0;
    for (const op of commands) {
      if (!("pipeline" in op)) {
        this.encode(enc, [op]);
        continue;
      }
      const pass = enc.beginComputePass({
        timestampWrites: {
          querySet: qs,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      pass.setPipeline(op.pipeline);
      pass.setBindGroup(0, op.bindGroup);
      pass.dispatchWorkgroups(op.workgroups[0], op.workgroups[1], op.workgroups[2]);
      pass.end();
      i++;
    }
    enc.resolveQuerySet(qs, 0, n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
    this.device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    qs.destroy();
    resolve.destroy();
    read.destroy();
    return ops.map((_, i) => Number(t[2 * i + 1] - t[2 * i]));
  }
}
