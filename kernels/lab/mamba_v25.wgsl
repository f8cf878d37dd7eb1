// Lab v25 (rejected, 2026-11-27 session 6): v23 with scan_bwd on 2 states per invocation (vec2,
// T2 = EB·ceil(N/2) = 256 at EB 16, N 32). Correct (tests/mamba_test.ts, ss4rec_parity_test.ts on
// lavapipe) and runs 2 workgroups = 512 invocations per SM, but 77 % slower per slice than v23
// (kernels/lab/RESULTS.md, "scan_bwd v25").
// Mamba selective scan (mamba-ssm 2.2.2 `selective_scan_ref` maths), forward and backward, with the
// dt_proj Linear + softplus, the D skip and the silu(z) gate fused in. See lib/nn/mamba.ts for the
// glossary and lib/reference/mamba.ts for the float64 reference. Version 5 (kernels/lab/mamba_v5.wgsl;
// v1..v4 are kept there too). v4: scan_fwd_e stages Bt, Ct, dt_r in workgroup memory per 16 steps,
// scan_bwd's flush rows are padded; v5: the flush sums run in independent chains. H100, B = 1024,
// L = 200, per dispatch: scan_fwd_e 1.48 (v3) -> 0.54 ms, scan_bwd 7.5 (v3/v4) -> 6.3 ms (v5).
// Version 16 (kernels/lab/mamba_v16.wgsl): each flush slot's finaliser runs on its own warp, in
// parallel (v5 walked the FS slots on one set of lanes): scan_bwd −14 % on the H100 (6.15 -> 5.26
// ms, same card and process). v13–v15 and the measurements that led here: kernels/lab/RESULTS.md.
// Version 17 (kernels/lab/mamba_v17.wgsl): scan_bwd stages a chunk's dt_r first and computes Δ from
// workgroup memory (load_chunk_bwd): the Mamba layer 8.80 -> 8.36 ms on the H100.
// Version 19 (kernels/lab/mamba_v19.wgsl): the short fixed-count loops on scan_bwd's flush path
// (the ∂Bt/∂Ct sums over EB, the finaliser's sums over NGR, ∂dt_r and Σ_t ∂dt_proj.weight) and
// the dt_proj dot product of both scans unrolled by hand — the NVIDIA compiler leaves naga's loops
// rolled (the matmul's v7 finding): scan_bwd 1.155 -> 1.052 ms per slice, scan_fwd_e 0.535 ->
// 0.514 ms; the training step 22.18 -> 21.26 ms (H100, same process).
// Version 20 (kernels/lab/mamba_v20.wgsl): exp(Δ·A) as exp2(Δ·A·log2 e) with A·log2 e formed once
// per invocation (no multiply per exponential), and scan_fwd_e loads the next step's xc and z
// while the current step computes: scan_fwd_e −14 % (train 1.531 -> 1.317 ms for 3 dispatches,
// evaluation at B 2,048 1.872 -> 1.598 ms), scan_bwd −1.6 %; the step 20.63 -> 20.31 ms.
// Version 21: bcp bound as vec4s, so each flush sum leaves in one 16-byte store when R and N are
// multiples of 4 (component stores otherwise): scan_bwd 8.316 -> 8.267 ms for the step's 8
// dispatches (−0.6 %, one same-process run).
// Version 22: the scans stop at each row's length (binding 14, the batch's seqLen): the right
// padding feeds no loss, so scan_fwd/scan_fwd_e write y = 0 there and scan_bwd writes 0 gradients
// there without running its chunks. H100, deno task bench (synthetic batches, 80 % of L valid):
// scan_bwd 8.23 -> 7.19 ms per step, the step 19.9 -> 18.8 ms, the ML-1M prefix epoch (59 % valid)
// 19.0 -> 17.9 s (docs/results/h100-2026-11-27-p).
// Version 23: PACKED (define; scan_fwd_e, scan_bwd): the activations hold only the batch's real
// tokens, each row's steps one after another from start[b0 + b] (binding 15, lib/data/batch.ts
// packBatch); each invocation loads its row's start once (prow0). H100, deno task bench: the ML-1M
// prefix epoch 17.4 -> 12.1 s with the rest of the packing (docs/results/h100-2026-11-27-x).
//
// Version 3 keeps no per-invocation array indexed by a loop variable (the NVIDIA Vulkan compiler
// does not unroll naga's loops and spills such arrays to local memory): each invocation holds 4
// states of one channel as one named vec4 (A, ∂h, ∂A likewise), and scan_bwd's recomputed chunk
// states are 17 named vec4 values of a hand-unrolled 16-step chunk (HS). Sums over n and over e go
// through workgroup memory once per FS steps (scan_bwd) or once per chunk (scan_fwd), never per step.
//
// Defines: E (inner width), N (state), R (dt rank), K (conv width), CH (checkpoint interval in
// steps, ≤ HS = 16), EB (channels per workgroup, divides E), FS (scan_bwd steps per reduction
// flush, divides 16), CKPT (bool: the forward scans store the checkpoints; false in a forward-only
// build, whose ckpt binding is then a placeholder), LAST (bool, scan_fwd_e only: y is [B, E], the
// output at each row's last valid step, with binding 1 holding in_proj's output at those steps only,
// [B, 2E]; evaluation's last block). Params: nb = B, len = L, b0 = the
// dispatch's first row in lens. Rows are m = b·L + t.
//
// Work split (both scans): workgroup (blk, b) owns channels e = blk·EB + el, el < EB, of row b; its
// T = EB·NGR invocations lid = ng·EB + el each hold the states n = 4·ng .. 4·ng + 3 of channel e
// (N padded to NP = 4·NGR with A = Bt = Ct = 0, so the padding states stay 0). Per chunk of CH steps
// the chunk's inputs (Δ, xc, gate factor, softplus′, Bt, Ct, dt_r) are staged in workgroup memory
// once; steps past the chunk's end are staged as zeros, which makes them identity steps.
//
// Memory plan (no B·L·E·N tensor): scan_fwd stores the state entering every chunk of CH steps,
// ckpt [B, ceil(L/CH), N, E] (e fastest: coalesced). scan_bwd walks the chunks in reverse,
// recomputes the chunk's states from its checkpoint, then runs the reverse recurrence over them.
// Sums over e of the workgroup's EB channels go to bcp [B·L, E/EB, R+2N]; conv1d.wgsl:bc_reduce
// adds the E/EB block partials into dxdbl.
//
// Bindings (all read_write so views of the flat parameter/gradient buffers may share a dispatch):
//   1 xz [M, 2E] (z = columns E..2E−1)   2 xc [M, E]          3 xdbl [M, R+2N] = [dt_r | Bt | Ct]
//   4 dtw [E, R]   5 dtb [E]   6 alog [E, N]   7 dsk [E] (D)
//   8 yb: y [M, E] (scan_fwd output) / dy [M, E] (scan_bwd input)    9 ckpt [B, NC, N, E]
//   scan_bwd only: 10 dxc [M, E] (overwritten)  11 dxz [M, 2E] (columns E..2E−1 overwritten)
//                  12 part [B, E, JP] (columns 0..N+R+1 written)  13 bcp [M, E/EB, R+2N] (written;
//                  bound as vec4s, its binding padded to 16 bytes)

struct Params { nb: u32, len: u32, b0: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> xz: array<f32>;
@group(0) @binding(2) var<storage, read_write> xc: array<f32>;
@group(0) @binding(3) var<storage, read_write> xdbl: array<f32>;
@group(0) @binding(4) var<storage, read_write> dtw: array<f32>;
@group(0) @binding(5) var<storage, read_write> dtb: array<f32>;
@group(0) @binding(6) var<storage, read_write> alog: array<f32>;
@group(0) @binding(7) var<storage, read_write> dsk: array<f32>;
@group(0) @binding(8) var<storage, read_write> yb: array<f32>;
@group(0) @binding(9) var<storage, read_write> ckpt: array<f32>;
@group(0) @binding(10) var<storage, read_write> dxc: array<f32>;
@group(0) @binding(11) var<storage, read_write> dxz: array<f32>;
@group(0) @binding(12) var<storage, read_write> part: array<f32>;
@group(0) @binding(13) var<storage, read_write> bcp: array<vec4<f32>>; // v21: vec4 (16-byte stores)
// [B] valid steps per row (the whole batch: row b of a slice is p.b0 + b). Steps from it on are
// padding that no loss reads (every layer is causal): the scans skip them and write 0 there.
@group(0) @binding(14) var<storage, read_write> lens: array<i32>;
// v23, PACKED (scan_fwd_e, scan_bwd): the batch's tokens are packed (lib/data/batch.ts packBatch):
// step t of row b0 + b is row start[b0 + b] + t of the [T, ·] activations (bound whole, not as the
// slice's views), there are no padding rows at all; bcp keeps the slice's padded layout.
@group(0) @binding(15) var<storage, read_write> start: array<i32>;

const J: u32 = R + 2u * N;
const LOG2E: f32 = 1.4426950408889634;
// partial-sum columns per (b, e): dA_log (N) | dD | dt_proj.weight (R) | dt_proj.bias | conv w (K) | conv b
const JS: u32 = N + R + 2u;
const NGR: u32 = (N + 3u) / 4u; // invocations per channel
const T: u32 = EB * NGR; // workgroup size
const NEB: u32 = E / EB; // channel blocks
const EP: u32 = EB + 1u; // padded row (bank conflicts)
const HS: u32 = 16u; // unrolled chunk length of scan_bwd (CH ≤ HS)
// v16: one finaliser lane set per flush slot when there are warps to spare (EB ≤ 32, FS + 1 ≤ T/32)
const SPREAD: bool = EB <= 32u && T >= 32u * (FS + 1u);
var<workgroup> sfin: array<vec2<f32>, FS * EB>; // per-slot (∂D, ∂dt_bias) partials at the end

// chunk inputs: sh_in[(k·QS + q)·EB + el], q = 0: Δ, 1: xc, 2: gy = dy·silu(z), 3: softplus′,
// 4: ∂y/∂z factor dy·σ(z)·(1 + z·(1 − σ(z))) (so the per-flush finalisers read no global memory)
const QS: u32 = 5u;
var<workgroup> sh_in: array<f32, HS * QS * EB>;
var<workgroup> sh_bc: array<vec4<f32>, HS * 2u * NGR>; // [k][Bt | Ct][ng]
var<workgroup> sh_dtr: array<f32, HS * R>;
var<workgroup> sh_w: array<f32, EB * R>;
// [slot][∂Bt | ∂Ct][ng][el], rows padded to EP vec4 (the flush reads down a column: v4 padding)
var<workgroup> sbv: array<vec4<f32>, FS * 2u * NGR * EP>;
var<workgroup> snv: array<vec4<f32>, FS * NGR * EB>; // [slot][ng][el] (yss, ∂Δ, ∂xc) partials
var<workgroup> cgs: array<f32, HS * EP>; // [k][el] ∂loss/∂(Δ pre-activation)
var<workgroup> sgw: array<f32, EB * R>; // [el][r] Σ_t ∂dt_proj.weight
var<workgroup> sy: array<f32, HS * NGR * EB>; // scan_fwd: [k][ng][el] partial Σ_n Ct·h

// per-invocation constants (registers)
var<private> pb: u32;
var<private> prow0: u32;
var<private> pblk: u32;
var<private> pel: u32;
var<private> png: u32;
var<private> pa: vec4<f32>;
var<private> pal: vec4<f32>; // pa · log2(e): exp(Δ·A) = exp2(Δ·pal) (v20: no multiply per exp)
var<private> pt0: u32;
var<private> pt1: u32;
var<workgroup> wlen: u32;

struct BwdState { dh: vec4<f32>, ga: vec4<f32> }

fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

// torch softplus (threshold 20); log1p through Goldberg's trick, since Δ ≈ exp(x) for x ≪ 0 and a
// plain log(1 + exp(x)) would flush it to 0.
fn softplus(x: f32) -> f32 {
  if (x > 20.0) { return x; }
  let ex = exp(x);
  let u = 1.0 + ex;
  if (u == 1.0) { return ex; }
  return log(u) * ex / (u - 1.0);
}

fn nchunks() -> u32 { return (p.len + CH - 1u) / CH; }

// The activation row of step 0 of row b of the dispatch: b·L, or start[b0 + b] when the tokens
// are PACKED. Each entry point keeps its row's in `prow0` (one load, not one per step): step t is
// row prow0 + t.
fn row_base(b: u32) -> u32 {
  if (PACKED) { return u32(start[p.b0 + b]); }
  return b * p.len;
}

// Valid steps of row b of this dispatch (lens clamped to 0..L), uniform across the workgroup.
fn row_len(lid: u32, b: u32) -> u32 {
  if (lid == 0u) { wlen = u32(clamp(lens[p.b0 + b], 0, i32(p.len))); }
  return workgroupUniformLoad(&wlen);
}

fn dt_pre(m: u32, e: u32) -> f32 {
  var s = dtb[e];
  for (var r = 0u; r < R; r++) { s += xdbl[m * J + r] * dtw[e * R + r]; }
  return s;
}

fn xd(i: u32, n: u32) -> f32 {
  if (n < N) { return xdbl[i]; }
  return 0.0;
}

fn alog4(e: u32, n0: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (n0 < N) { v.x = -exp(alog[e * N + n0]); }
  if (n0 + 1u < N) { v.y = -exp(alog[e * N + n0 + 1u]); }
  if (n0 + 2u < N) { v.z = -exp(alog[e * N + n0 + 2u]); }
  if (n0 + 3u < N) { v.w = -exp(alog[e * N + n0 + 3u]); }
  return v;
}

// ckpt[base + n·E] for the invocation's 4 states (n ≥ N read as 0 / not written)
fn ck_load(base: u32) -> vec4<f32> {
  let n0 = png * 4u;
  var v = vec4<f32>(0.0);
  if (n0 < N) { v.x = ckpt[base]; }
  if (n0 + 1u < N) { v.y = ckpt[base + E]; }
  if (n0 + 2u < N) { v.z = ckpt[base + 2u * E]; }
  if (n0 + 3u < N) { v.w = ckpt[base + 3u * E]; }
  return v;
}

fn ck_store(base: u32, v: vec4<f32>) {
  let n0 = png * 4u;
  if (n0 < N) { ckpt[base] = v.x; }
  if (n0 + 1u < N) { ckpt[base + E] = v.y; }
  if (n0 + 2u < N) { ckpt[base + 2u * E] = v.z; }
  if (n0 + 3u < N) { ckpt[base + 3u * E] = v.w; }
}

// Stages the inputs of steps t0 + k, k < KS, of row pb (zeros where t ≥ t1).
fn load_chunk(lid: u32, t0: u32, t1: u32, KS: u32, bwd: bool) {
  for (var i = lid; i < KS * EB; i += T) {
    let k = i / EB;
    let el = i % EB;
    let t = t0 + k;
    var dl = 0.0;
    var u = 0.0;
    var gy = 0.0;
    var ds = 0.0;
    var gz = 0.0;
    if (t < t1) {
      let e = pblk * EB + el;
      let m = prow0 + t;
      let s = dt_pre(m, e);
      dl = softplus(s);
      u = xc[m * E + e];
      if (bwd) {
        let z = xz[m * 2u * E + E + e];
        let dy = yb[m * E + e];
        let sz = sigmoid(z);
        gy = dy * z * sz;
        gz = dy * sz * (1.0 + z * (1.0 - sz));
        ds = 1.0;
        if (s <= 20.0) { ds = sigmoid(s); }
      }
    }
    sh_in[(k * QS) * EB + el] = dl;
    sh_in[(k * QS + 1u) * EB + el] = u;
    sh_in[(k * QS + 2u) * EB + el] = gy;
    sh_in[(k * QS + 3u) * EB + el] = ds;
    sh_in[(k * QS + 4u) * EB + el] = gz;
  }
  for (var i = lid; i < KS * 2u * NGR; i += T) {
    let k = i / (2u * NGR);
    let c = i % (2u * NGR);
    let half = c / NGR;
    let n0 = (c % NGR) * 4u;
    let t = t0 + k;
    var v = vec4<f32>(0.0);
    if (t < t1) {
      let base = (prow0 + t) * J + R + half * N + n0;
      v = vec4<f32>(xd(base, n0), xd(base + 1u, n0 + 1u), xd(base + 2u, n0 + 2u), xd(base + 3u, n0 + 3u));
    }
    sh_bc[i] = v;
  }
  if (bwd) {
    for (var i = lid; i < KS * R; i += T) {
      let t = t0 + i / R;
      var v = 0.0;
      if (t < t1) { v = xdbl[(prow0 + t) * J + i % R]; }
      sh_dtr[i] = v;
    }
  }
}

// v17: scan_bwd's chunk staging: Bt, Ct and dt_r first (one barrier), then the per-(step, channel)
// inputs with Δ's pre-activation from workgroup memory (sh_dtr · sh_w, staged once per workgroup)
// instead of R global loads of x_dbl and dt_proj.weight per item; xc, z, dy are loaded before the
// barrier so the two rounds of loads overlap.
fn load_chunk_bwd(lid: u32, t0: u32, t1: u32) {
  for (var i = lid; i < HS * 2u * NGR; i += T) {
    let k = i / (2u * NGR);
    let c = i % (2u * NGR);
    let half = c / NGR;
    let n0 = (c % NGR) * 4u;
    let t = t0 + k;
    var v = vec4<f32>(0.0);
    if (t < t1) {
      let base = (prow0 + t) * J + R + half * N + n0;
      v = vec4<f32>(xd(base, n0), xd(base + 1u, n0 + 1u), xd(base + 2u, n0 + 2u), xd(base + 3u, n0 + 3u));
    }
    sh_bc[i] = v;
  }
  for (var i = lid; i < HS * R; i += T) {
    let t = t0 + i / R;
    var v = 0.0;
    if (t < t1) { v = xdbl[(prow0 + t) * J + i % R]; }
    sh_dtr[i] = v;
  }
  // this invocation's (step, channel) items: at most two when T ≥ HS·EB/2
  let i0 = lid;
  let i1 = lid + T;
  var u0 = 0.0;
  var z0 = 0.0;
  var y0 = 0.0;
  var u1 = 0.0;
  var z1 = 0.0;
  var y1 = 0.0;
  let e0 = pblk * EB + i0 % EB;
  let ta = t0 + i0 / EB;
  let tb = t0 + i1 / EB;
  if (i0 < HS * EB && ta < t1) {
    let m = prow0 + ta;
    u0 = xc[m * E + e0];
    z0 = xz[m * 2u * E + E + e0];
    y0 = yb[m * E + e0];
  }
  if (i1 < HS * EB && tb < t1) {
    let m = prow0 + tb;
    u1 = xc[m * E + e0];
    z1 = xz[m * 2u * E + E + e0];
    y1 = yb[m * E + e0];
  }
  workgroupBarrier();
  for (var j = 0u; j < 2u; j++) {
    let i = select(i1, i0, j == 0u);
    if (i >= HS * EB) { continue; }
    let k = i / EB;
    let el = i % EB;
    let t = t0 + k;
    var dl = 0.0;
    var u = 0.0;
    var gy = 0.0;
    var ds = 0.0;
    var gz = 0.0;
    if (t < t1) {
      var s = dtb[pblk * EB + el];
      var r = 0u;
      for (; r + 4u <= R; r += 4u) { // v19: by 4
        s += sh_dtr[k * R + r] * sh_w[el * R + r] + sh_dtr[k * R + r + 1u] * sh_w[el * R + r + 1u] +
          sh_dtr[k * R + r + 2u] * sh_w[el * R + r + 2u] + sh_dtr[k * R + r + 3u] * sh_w[el * R + r + 3u];
      }
      for (; r < R; r++) { s += sh_dtr[k * R + r] * sh_w[el * R + r]; }
      dl = softplus(s);
      u = select(u1, u0, j == 0u);
      let z = select(z1, z0, j == 0u);
      let dy = select(y1, y0, j == 0u);
      let sz = sigmoid(z);
      gy = dy * z * sz;
      gz = dy * sz * (1.0 + z * (1.0 - sz));
      ds = 1.0;
      if (s <= 20.0) { ds = sigmoid(s); }
    }
    sh_in[(k * QS) * EB + el] = dl;
    sh_in[(k * QS + 1u) * EB + el] = u;
    sh_in[(k * QS + 2u) * EB + el] = gy;
    sh_in[(k * QS + 3u) * EB + el] = ds;
    sh_in[(k * QS + 4u) * EB + el] = gz;
  }
}

// One step of the recurrence for the invocation's 4 states: h ← exp(ΔA)·h + Δ·xc·Bt.
fn fst(k: u32, h: vec4<f32>) -> vec4<f32> {
  let dl = sh_in[(k * QS) * EB + pel];
  let u = sh_in[(k * QS + 1u) * EB + pel];
  return exp2(dl * pal) * h + (dl * u) * sh_bc[(k * 2u) * NGR + png];
}

@compute @workgroup_size(T)
fn scan_fwd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  pblk = wid.x;
  pb = wid.y;
  prow0 = row_base(pb);
  pel = lid % EB;
  png = lid / EB;
  let e = pblk * EB + pel;
  pa = alog4(e, png * 4u);
  pal = pa * LOG2E;
  var h = vec4<f32>(0.0);
  let nc = nchunks();
  let tl = row_len(lid, pb);
  for (var ci = 0u; ci < (tl + CH - 1u) / CH; ci++) {
    let t0 = ci * CH;
    let t1 = min(t0 + CH, tl);
    load_chunk(lid, t0, t1, CH, false);
    workgroupBarrier();
    if (CKPT) { ck_store(((pb * nc + ci) * N + png * 4u) * E + e, h); }
    for (var k = 0u; k < t1 - t0; k++) {
      h = fst(k, h);
      sy[(k * NGR + png) * EB + pel] = dot(sh_bc[(k * 2u + 1u) * NGR + png], h);
    }
    workgroupBarrier();
    for (var i = lid; i < CH * EB; i += T) {
      let k = i / EB;
      let el = i % EB;
      let t = t0 + k;
      if (t < t1) {
        let e2 = pblk * EB + el;
        let m = pb * p.len + t;
        var acc = dsk[e2] * sh_in[(k * QS + 1u) * EB + el];
        for (var g = 0u; g < NGR; g++) { acc += sy[(k * NGR + g) * EB + el]; }
        let z = xz[m * 2u * E + E + e2];
        yb[m * E + e2] = acc * z * sigmoid(z);
      }
    }
    workgroupBarrier();
  }
  for (var i = lid; i < (p.len - tl) * EB; i += T) {
    yb[(pb * p.len + tl + i / EB) * E + pblk * EB + i % EB] = 0.0;
  }
}

// Forward with one invocation per (b, e) holding all N ≤ 32 states as 8 named vec4 values (only
// the first NGR are live; the rest fold away). The 64 invocations of a workgroup share b: per HS
// steps they stage that row's Bt, Ct and dt_r in workgroup memory (v4; v3 read them from global
// memory every step). Dispatch [ceil(E/64), B].
fn bc4(base: u32, n0: u32) -> vec4<f32> {
  return vec4<f32>(xd(base + n0, n0), xd(base + n0 + 1u, n0 + 1u), xd(base + n0 + 2u, n0 + 2u), xd(base + n0 + 3u, n0 + 3u));
}

fn ck_store_n(base: u32, n0: u32, v: vec4<f32>) {
  if (n0 < N) { ckpt[base + n0 * E] = v.x; }
  if (n0 + 1u < N) { ckpt[base + (n0 + 1u) * E] = v.y; }
  if (n0 + 2u < N) { ckpt[base + (n0 + 2u) * E] = v.z; }
  if (n0 + 3u < N) { ckpt[base + (n0 + 3u) * E] = v.w; }
}

fn bcs(k: u32, half: u32, g: u32) -> vec4<f32> { return sh_bc[(k * 2u + half) * NGR + g]; }

@compute @workgroup_size(64)
fn scan_fwd_e(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let e = wid.x * 64u + lid;
  let b = wid.y;
  prow0 = row_base(b);
  let live = e < E;
  let ec = min(e, E - 1u);
  let a0 = alog4(ec, 0u) * LOG2E;
  let a1 = alog4(ec, 4u) * LOG2E;
  let a2 = alog4(ec, 8u) * LOG2E;
  let a3 = alog4(ec, 12u) * LOG2E;
  let a4 = alog4(ec, 16u) * LOG2E;
  let a5 = alog4(ec, 20u) * LOG2E;
  let a6 = alog4(ec, 24u) * LOG2E;
  let a7 = alog4(ec, 28u) * LOG2E;
  var h0 = vec4<f32>(0.0);
  var h1 = vec4<f32>(0.0);
  var h2 = vec4<f32>(0.0);
  var h3 = vec4<f32>(0.0);
  var h4 = vec4<f32>(0.0);
  var h5 = vec4<f32>(0.0);
  var h6 = vec4<f32>(0.0);
  var h7 = vec4<f32>(0.0);
  let bias = dtb[ec];
  let dd = dsk[ec];
  var w4 = vec4<f32>(0.0);
  if (R == 4u) { w4 = vec4<f32>(dtw[ec * 4u], dtw[ec * 4u + 1u], dtw[ec * 4u + 2u], dtw[ec * 4u + 3u]); }
  let nc = nchunks();
  let tl = row_len(lid, b);
  for (var t0 = 0u; t0 < tl; t0 += HS) {
    // stage Bt, Ct (padded to NGR vec4 each, zeros past N) and dt_r of steps t0 .. t0 + HS − 1
    workgroupBarrier();
    for (var i = lid; i < HS * 2u * NGR; i += 64u) {
      let k = i / (2u * NGR);
      let c = i % (2u * NGR);
      let n0 = (c % NGR) * 4u;
      var v = vec4<f32>(0.0);
      if (t0 + k < tl) { v = bc4((prow0 + t0 + k) * J + R + (c / NGR) * N, n0); }
      sh_bc[i] = v;
    }
    for (var i = lid; i < HS * R; i += 64u) {
      let t = t0 + i / R;
      var v = 0.0;
      if (t < tl) { v = xdbl[(prow0 + t) * J + i % R]; }
      sh_dtr[i] = v;
    }
    workgroupBarrier();
    if (live) {
      let kn = min(HS, tl - t0);
      // v20: the next step's u and z are loaded while this step computes
      let m0 = prow0 + t0;
      var un = xc[m0 * E + e];
      var zn = 0.0;
      if (!LAST) { zn = xz[m0 * 2u * E + E + e]; }
      for (var k = 0u; k < kn; k++) {
        let t = t0 + k;
        if (CKPT && t % CH == 0u) {
          let base = ((b * nc + t / CH) * N) * E + e;
          if (NGR > 0u) { ck_store_n(base, 0u, h0); }
          if (NGR > 1u) { ck_store_n(base, 4u, h1); }
          if (NGR > 2u) { ck_store_n(base, 8u, h2); }
          if (NGR > 3u) { ck_store_n(base, 12u, h3); }
          if (NGR > 4u) { ck_store_n(base, 16u, h4); }
          if (NGR > 5u) { ck_store_n(base, 20u, h5); }
          if (NGR > 6u) { ck_store_n(base, 24u, h6); }
          if (NGR > 7u) { ck_store_n(base, 28u, h7); }
        }
        let m = prow0 + t;
        let u = un;
        let z = zn;
        if (k + 1u < kn) {
          let mn = prow0 + t + 1u;
          un = xc[mn * E + e];
          if (!LAST) { zn = xz[mn * 2u * E + E + e]; }
        }
        var sp = bias;
        if (R == 4u) {
          // v19: the channel's 4 dt_proj weights held in registers (w4), no loop per step
          sp += dot(vec4<f32>(sh_dtr[k * 4u], sh_dtr[k * 4u + 1u], sh_dtr[k * 4u + 2u], sh_dtr[k * 4u + 3u]), w4);
        } else {
          for (var r = 0u; r < R; r++) { sp += sh_dtr[k * R + r] * dtw[e * R + r]; }
        }
        let dl = softplus(sp);
        let du = dl * u;
        if (NGR > 0u) { h0 = exp2(dl * a0) * h0 + du * bcs(k, 0u, 0u); }
        if (NGR > 1u) { h1 = exp2(dl * a1) * h1 + du * bcs(k, 0u, 1u); }
        if (NGR > 2u) { h2 = exp2(dl * a2) * h2 + du * bcs(k, 0u, 2u); }
        if (NGR > 3u) { h3 = exp2(dl * a3) * h3 + du * bcs(k, 0u, 3u); }
        if (NGR > 4u) { h4 = exp2(dl * a4) * h4 + du * bcs(k, 0u, 4u); }
        if (NGR > 5u) { h5 = exp2(dl * a5) * h5 + du * bcs(k, 0u, 5u); }
        if (NGR > 6u) { h6 = exp2(dl * a6) * h6 + du * bcs(k, 0u, 6u); }
        if (NGR > 7u) { h7 = exp2(dl * a7) * h7 + du * bcs(k, 0u, 7u); }
        // LAST: only the row's last valid step has an output (yb is [B, E])
        if (LAST && t + 1u != tl) { continue; }
        var acc = dd * u;
        if (NGR > 0u) { acc += dot(bcs(k, 1u, 0u), h0); }
        if (NGR > 1u) { acc += dot(bcs(k, 1u, 1u), h1); }
        if (NGR > 2u) { acc += dot(bcs(k, 1u, 2u), h2); }
        if (NGR > 3u) { acc += dot(bcs(k, 1u, 3u), h3); }
        if (NGR > 4u) { acc += dot(bcs(k, 1u, 4u), h4); }
        if (NGR > 5u) { acc += dot(bcs(k, 1u, 5u), h5); }
        if (NGR > 6u) { acc += dot(bcs(k, 1u, 6u), h6); }
        if (NGR > 7u) { acc += dot(bcs(k, 1u, 7u), h7); }
        if (LAST) {
          let zl = xz[b * 2u * E + E + e]; // LAST: xz holds only the last steps' rows [B, 2E]
          yb[b * E + e] = acc * zl * sigmoid(zl);
          continue;
        }
        yb[m * E + e] = acc * z * sigmoid(z);
      }
    }
  }
  if (live && LAST && tl == 0u) { yb[b * E + e] = 0.0; }
  // the right padding's outputs are 0 (PACKED: there is none; those rows are other rows' steps)
  if (live && !LAST && !PACKED) {
    for (var t = tl; t < p.len; t++) { yb[(b * p.len + t) * E + e] = 0.0; }
  }
}

// ---- v25: scan_bwd with 2 states per invocation (vec2): T2 = EB·ceil(N/2) invocations (256 at
// EB 16, N 32), half the per-invocation state of v23 (history, ∂h, ∂A, A) for twice the
// invocations. Everything else as v23.
const NG2: u32 = (N + 1u) / 2u; // invocations per channel
const T2: u32 = EB * NG2;
const SPREAD2: bool = EB <= 32u && T2 >= 32u * (FS + 1u);
var<workgroup> sh_bc2: array<vec2<f32>, HS * 2u * NG2>; // [k][Bt | Ct][ng]
var<workgroup> sbv2: array<vec2<f32>, FS * 2u * NG2 * EP>; // [slot][∂Bt | ∂Ct][ng][el]
var<workgroup> snv2: array<vec4<f32>, FS * NG2 * EB>; // [slot][ng][el] (yss, ∂Δ, ∂xc) partials
var<private> pa2: vec2<f32>;
var<private> pal2: vec2<f32>;

struct BwdState2 { dh: vec2<f32>, ga: vec2<f32> }

fn alog2(e: u32, n0: u32) -> vec2<f32> {
  var v = vec2<f32>(0.0);
  if (n0 < N) { v.x = -exp(alog[e * N + n0]); }
  if (n0 + 1u < N) { v.y = -exp(alog[e * N + n0 + 1u]); }
  return v;
}

fn ck_load2(base: u32) -> vec2<f32> {
  let n0 = png * 2u;
  var v = vec2<f32>(0.0);
  if (n0 < N) { v.x = ckpt[base]; }
  if (n0 + 1u < N) { v.y = ckpt[base + E]; }
  return v;
}

// v23's load_chunk_bwd with Bt, Ct staged as vec2 pairs; items in a loop when 2·T2 < HS·EB.
fn load_chunk_bwd2(lid: u32, t0: u32, t1: u32) {
  for (var i = lid; i < HS * 2u * NG2; i += T2) {
    let k = i / (2u * NG2);
    let c = i % (2u * NG2);
    let half = c / NG2;
    let n0 = (c % NG2) * 2u;
    let t = t0 + k;
    var v = vec2<f32>(0.0);
    if (t < t1) {
      let base = (prow0 + t) * J + R + half * N + n0;
      v = vec2<f32>(xd(base, n0), xd(base + 1u, n0 + 1u));
    }
    sh_bc2[i] = v;
  }
  for (var i = lid; i < HS * R; i += T2) {
    let t = t0 + i / R;
    var v = 0.0;
    if (t < t1) { v = xdbl[(prow0 + t) * J + i % R]; }
    sh_dtr[i] = v;
  }
  workgroupBarrier();
  for (var i = lid; i < HS * EB; i += T2) {
    let k = i / EB;
    let el = i % EB;
    let t = t0 + k;
    var dl = 0.0;
    var u = 0.0;
    var gy = 0.0;
    var ds = 0.0;
    var gz = 0.0;
    if (t < t1) {
      let m = prow0 + t;
      let e0 = pblk * EB + el;
      u = xc[m * E + e0];
      let z = xz[m * 2u * E + E + e0];
      let dy = yb[m * E + e0];
      var s = dtb[e0];
      var r = 0u;
      for (; r + 4u <= R; r += 4u) {
        s += sh_dtr[k * R + r] * sh_w[el * R + r] + sh_dtr[k * R + r + 1u] * sh_w[el * R + r + 1u] +
          sh_dtr[k * R + r + 2u] * sh_w[el * R + r + 2u] + sh_dtr[k * R + r + 3u] * sh_w[el * R + r + 3u];
      }
      for (; r < R; r++) { s += sh_dtr[k * R + r] * sh_w[el * R + r]; }
      dl = softplus(s);
      let sz = sigmoid(z);
      gy = dy * z * sz;
      gz = dy * sz * (1.0 + z * (1.0 - sz));
      ds = 1.0;
      if (s <= 20.0) { ds = sigmoid(s); }
    }
    sh_in[(k * QS) * EB + el] = dl;
    sh_in[(k * QS + 1u) * EB + el] = u;
    sh_in[(k * QS + 2u) * EB + el] = gy;
    sh_in[(k * QS + 3u) * EB + el] = ds;
    sh_in[(k * QS + 4u) * EB + el] = gz;
  }
}

fn fst2(k: u32, h: vec2<f32>) -> vec2<f32> {
  let dl = sh_in[(k * QS) * EB + pel];
  let u = sh_in[(k * QS + 1u) * EB + pel];
  return exp2(dl * pal2) * h + (dl * u) * sh_bc2[(k * 2u) * NG2 + png];
}

fn bst2(k: u32, prev: vec2<f32>, hcur: vec2<f32>, st: ptr<function, BwdState2>) {
  if (pt0 + k >= pt1) { return; }
  let dl = sh_in[(k * QS) * EB + pel];
  let u = sh_in[(k * QS + 1u) * EB + pel];
  let gy = sh_in[(k * QS + 2u) * EB + pel];
  let bt = sh_bc2[(k * 2u) * NG2 + png];
  let ct = sh_bc2[(k * 2u + 1u) * NG2 + png];
  let g = (*st).dh + gy * ct;
  let da = exp2(dl * pal2);
  let q = da * prev;
  (*st).ga += (g * dl) * q;
  (*st).dh = g * da;
  let s = k % FS;
  sbv2[((s * 2u) * NG2 + png) * EP + pel] = g * (dl * u);
  sbv2[((s * 2u + 1u) * NG2 + png) * EP + pel] = gy * hcur;
  snv2[(s * NG2 + png) * EB + pel] = vec4<f32>(dot(ct, hcur), dot(g, pa2 * q + bt * u), dot(g, bt) * dl, 0.0);
}

fn flush2(lid: u32, k0: u32, fs: ptr<function, FinState>) {
  workgroupBarrier();
  for (var i = lid; i < FS * 2u * NG2; i += T2) {
    let s = i / (2u * NG2);
    let c = i % (2u * NG2);
    let t = pt0 + k0 + s;
    if (t < pt1) {
      var v = vec2<f32>(0.0);
      let rw = (s * 2u * NG2 + c) * EP;
      if (EB % 16u == 0u) {
        var v1 = vec2<f32>(0.0);
        var v2 = vec2<f32>(0.0);
        var v3 = vec2<f32>(0.0);
        for (var q = 0u; q < EB; q += 16u) {
          v += sbv2[rw + q];
          v1 += sbv2[rw + q + 1u];
          v2 += sbv2[rw + q + 2u];
          v3 += sbv2[rw + q + 3u];
          v += sbv2[rw + q + 4u];
          v1 += sbv2[rw + q + 5u];
          v2 += sbv2[rw + q + 6u];
          v3 += sbv2[rw + q + 7u];
          v += sbv2[rw + q + 8u];
          v1 += sbv2[rw + q + 9u];
          v2 += sbv2[rw + q + 10u];
          v3 += sbv2[rw + q + 11u];
          v += sbv2[rw + q + 12u];
          v1 += sbv2[rw + q + 13u];
          v2 += sbv2[rw + q + 14u];
          v3 += sbv2[rw + q + 15u];
        }
        v = (v + v1) + (v2 + v3);
      } else if (EB % 4u == 0u) {
        var v1 = vec2<f32>(0.0);
        var v2 = vec2<f32>(0.0);
        var v3 = vec2<f32>(0.0);
        for (var q = 0u; q < EB; q += 4u) {
          v += sbv2[rw + q];
          v1 += sbv2[rw + q + 1u];
          v2 += sbv2[rw + q + 2u];
          v3 += sbv2[rw + q + 3u];
        }
        v = (v + v1) + (v2 + v3);
      } else {
        for (var q = 0u; q < EB; q++) { v += sbv2[rw + q]; }
      }
      let half = c / NG2;
      let n0 = (c % NG2) * 2u;
      let o = ((pb * p.len + t) * NEB + pblk) * J + R + half * N + n0;
      bcp[o >> 2u][o & 3u] = v.x;
      if (n0 + 1u < N) { bcp[(o + 1u) >> 2u][(o + 1u) & 3u] = v.y; }
    }
  }
  var s0 = 0u;
  var s1 = FS;
  var fin = lid >= T2 - EB;
  if (SPREAD2) {
    let w = lid / 32u;
    s0 = (T2 / 32u) - 1u - w;
    s1 = s0 + 1u;
    fin = w >= (T2 / 32u) - FS && lid % 32u < EB;
  }
  if (fin) {
    let el2 = select(lid - (T2 - EB), lid % 32u, SPREAD2);
    let e2 = pblk * EB + el2;
    let fd = dsk[e2];
    for (var s = s0; s < s1; s++) {
      let k = k0 + s;
      let t = pt0 + k;
      if (t < pt1) {
        let m = prow0 + t;
        var v = vec4<f32>(0.0);
        if (NG2 % 4u == 0u) {
          var v1 = vec4<f32>(0.0);
          var v2 = vec4<f32>(0.0);
          var v3 = vec4<f32>(0.0);
          for (var g = 0u; g < NG2; g += 4u) {
            v += snv2[(s * NG2 + g) * EB + el2];
            v1 += snv2[(s * NG2 + g + 1u) * EB + el2];
            v2 += snv2[(s * NG2 + g + 2u) * EB + el2];
            v3 += snv2[(s * NG2 + g + 3u) * EB + el2];
          }
          v = (v + v1) + (v2 + v3);
        } else {
          for (var g = 0u; g < NG2; g++) { v += snv2[(s * NG2 + g) * EB + el2]; }
        }
        let u2 = sh_in[(k * QS + 1u) * EB + el2];
        let gy2 = sh_in[(k * QS + 2u) * EB + el2];
        let yss = v.x + fd * u2;
        dxz[m * 2u * E + E + e2] = yss * sh_in[(k * QS + 4u) * EB + el2];
        (*fs).gd += gy2 * u2;
        dxc[m * E + e2] = v.z + gy2 * fd;
        let gs = v.y * sh_in[(k * QS + 3u) * EB + el2];
        (*fs).gb += gs;
        cgs[k * EP + el2] = gs;
      }
    }
  }
  workgroupBarrier();
}

struct FinState { gd: f32, gb: f32 }

@compute @workgroup_size(T2)
fn scan_bwd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  pblk = wid.x;
  pb = wid.y;
  prow0 = row_base(pb);
  pel = lid % EB;
  png = lid / EB;
  let e = pblk * EB + pel;
  pa2 = alog2(e, png * 2u);
  pal2 = pa2 * LOG2E;
  for (var i = lid; i < EB * R; i += T2) {
    sh_w[i] = dtw[pblk * EB * R + i];
    sgw[i] = 0.0;
  }
  let nc = nchunks();
  let tl = row_len(lid, pb);
  for (var i = lid; i < select(p.len - tl, 0u, PACKED) * EB; i += T2) {
    let m = pb * p.len + tl + i / EB;
    let e2 = pblk * EB + i % EB;
    dxc[m * E + e2] = 0.0;
    dxz[m * 2u * E + E + e2] = 0.0;
  }
  for (var i = lid; i < select(p.len - tl, 0u, PACKED) * J; i += T2) {
    let o = ((pb * p.len + tl + i / J) * NEB + pblk) * J + i % J;
    bcp[o >> 2u][o & 3u] = 0.0;
  }
  var st = BwdState2(vec2<f32>(0.0), vec2<f32>(0.0));
  var fs = FinState(0.0, 0.0);
  for (var ci = (tl + CH - 1u) / CH; ci > 0u; ci--) {
    pt0 = (ci - 1u) * CH;
    pt1 = min(pt0 + CH, tl);
    load_chunk_bwd2(lid, pt0, pt1);
    workgroupBarrier();
    let h0 = ck_load2(((pb * nc + ci - 1u) * N + png * 2u) * E + e);
    let h1 = fst2(0u, h0);
    let h2 = fst2(1u, h1);
    let h3 = fst2(2u, h2);
    let h4 = fst2(3u, h3);
    let h5 = fst2(4u, h4);
    let h6 = fst2(5u, h5);
    let h7 = fst2(6u, h6);
    let h8 = fst2(7u, h7);
    let h9 = fst2(8u, h8);
    let h10 = fst2(9u, h9);
    let h11 = fst2(10u, h10);
    let h12 = fst2(11u, h11);
    let h13 = fst2(12u, h12);
    let h14 = fst2(13u, h13);
    let h15 = fst2(14u, h14);
    let h16 = fst2(15u, h15);
    bst2(15u, h15, h16, &st);
    if (15u % FS == 0u) { flush2(lid, 15u, &fs); }
    bst2(14u, h14, h15, &st);
    if (14u % FS == 0u) { flush2(lid, 14u, &fs); }
    bst2(13u, h13, h14, &st);
    if (13u % FS == 0u) { flush2(lid, 13u, &fs); }
    bst2(12u, h12, h13, &st);
    if (12u % FS == 0u) { flush2(lid, 12u, &fs); }
    bst2(11u, h11, h12, &st);
    if (11u % FS == 0u) { flush2(lid, 11u, &fs); }
    bst2(10u, h10, h11, &st);
    if (10u % FS == 0u) { flush2(lid, 10u, &fs); }
    bst2(9u, h9, h10, &st);
    if (9u % FS == 0u) { flush2(lid, 9u, &fs); }
    bst2(8u, h8, h9, &st);
    if (8u % FS == 0u) { flush2(lid, 8u, &fs); }
    bst2(7u, h7, h8, &st);
    if (7u % FS == 0u) { flush2(lid, 7u, &fs); }
    bst2(6u, h6, h7, &st);
    if (6u % FS == 0u) { flush2(lid, 6u, &fs); }
    bst2(5u, h5, h6, &st);
    if (5u % FS == 0u) { flush2(lid, 5u, &fs); }
    bst2(4u, h4, h5, &st);
    if (4u % FS == 0u) { flush2(lid, 4u, &fs); }
    bst2(3u, h3, h4, &st);
    if (3u % FS == 0u) { flush2(lid, 3u, &fs); }
    bst2(2u, h2, h3, &st);
    if (2u % FS == 0u) { flush2(lid, 2u, &fs); }
    bst2(1u, h1, h2, &st);
    if (1u % FS == 0u) { flush2(lid, 1u, &fs); }
    bst2(0u, h0, h1, &st);
    flush2(lid, 0u, &fs);
    let kn = pt1 - pt0;
    for (var i = lid; i < kn * R; i += T2) {
      let k = i / R;
      let r = i % R;
      var s = 0.0;
      if (EB % 4u == 0u) {
        var s1 = 0.0;
        for (var q = 0u; q < EB; q += 4u) {
          s += cgs[k * EP + q] * sh_w[q * R + r];
          s1 += cgs[k * EP + q + 1u] * sh_w[(q + 1u) * R + r];
          s += cgs[k * EP + q + 2u] * sh_w[(q + 2u) * R + r];
          s1 += cgs[k * EP + q + 3u] * sh_w[(q + 3u) * R + r];
        }
        s += s1;
      } else {
        for (var q = 0u; q < EB; q++) { s += cgs[k * EP + q] * sh_w[q * R + r]; }
      }
      let ob = ((pb * p.len + pt0 + k) * NEB + pblk) * J + r;
      bcp[ob >> 2u][ob & 3u] = s;
    }
    for (var i = lid; i < EB * R; i += T2) {
      let el = i / R;
      let r = i % R;
      var s = sgw[i];
      var s1 = 0.0;
      for (var k = 0u; k < HS; k += 4u) {
        s += select(0.0, cgs[k * EP + el], k < kn) * sh_dtr[k * R + r];
        s1 += select(0.0, cgs[(k + 1u) * EP + el], k + 1u < kn) * sh_dtr[(k + 1u) * R + r];
        s += select(0.0, cgs[(k + 2u) * EP + el], k + 2u < kn) * sh_dtr[(k + 2u) * R + r];
        s1 += select(0.0, cgs[(k + 3u) * EP + el], k + 3u < kn) * sh_dtr[(k + 3u) * R + r];
      }
      sgw[i] = s + s1;
    }
    workgroupBarrier();
  }
  let pp = (pb * E + e) * (JS + K + 1u);
  let n0 = png * 2u;
  let gA = st.ga * pa2;
  if (n0 < N) { part[pp + n0] = gA.x; }
  if (n0 + 1u < N) { part[pp + n0 + 1u] = gA.y; }
  if (SPREAD2) {
    let w = lid / 32u;
    if (w >= (T2 / 32u) - FS && lid % 32u < EB) {
      sfin[((T2 / 32u) - 1u - w) * EB + lid % 32u] = vec2<f32>(fs.gd, fs.gb);
    }
    workgroupBarrier();
    if (lid < EB) {
      var v = vec2<f32>(0.0);
      for (var s = 0u; s < FS; s++) { v += sfin[s * EB + lid]; }
      let pq = (pb * E + pblk * EB + lid) * (JS + K + 1u);
      part[pq + N] = v.x;
      part[pq + N + 1u + R] = v.y;
    }
  } else if (lid >= T2 - EB) {
    let pq = (pb * E + pblk * EB + lid - (T2 - EB)) * (JS + K + 1u);
    part[pq + N] = fs.gd;
    part[pq + N + 1u + R] = fs.gb;
  }
  for (var i = lid; i < EB * R; i += T2) {
    part[(pb * E + pblk * EB + i / R) * (JS + K + 1u) + N + 1u + i % R] = sgw[i];
  }
}
