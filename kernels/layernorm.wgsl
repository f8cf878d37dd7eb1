// LayerNorm over the last dimension, optionally fused with the block's "dropout + residual add":
//   z = a * drop(i) + res      (drop = 1 without DROPOUT or when not training; res = 0 without RESIDUAL)
//   y = (z - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps)  (biased variance)
// Defines: RESIDUAL (bool), DROPOUT (bool), LANES (threads per row: 1, 2, 4, 8, 16 or 32),
// K (columns per lane: ceil(units / LANES), a unit being a float, or a vec4 in the *4 entries),
// SKIPD (bool, backward with RESIDUAL: also the column sums of dA·res, the gradient of a per-column
// weight D of a skip term D·res inside `a` — S5's y = x·C̃ᵀ + D·u with u the residual — in a third
// block of partial rows, [3·dim, nparts], which ln_reduce adds into binding 4), SKIPADD (bool,
// backward with RESIDUAL: dRes = dz + D·dA with D [dim] in binding 10 — the skip term's share of
// the residual's gradient, for an S5 layer whose own input gradient leaves it out (lib/nn/s5.ts,
// LayerIO.lookup.grad)).
// With a define off the corresponding binding is still statically used and must be bound (the
// builder passes a harmless alias).
//
// Layout: a 256-thread workgroup holds RPW = 256 / LANES rows side by side; lane j of a row owns
// the units j, j + LANES, ... (a warp reads whole rows: coalesced). The row's sums go through a
// small workgroup array: each lane writes its partial, one barrier, and every lane of the row adds
// the LANES partials in the same fixed order (deterministic, identical in every lane). With
// LANES = 1 a thread owns a whole row in registers and there is no barrier at all in the forward.
// The *4 entries (dim % 4 == 0, 16-byte aligned views) read and write vec4s.
//
// Rows are recomputed, not stored: the backward re-derives z from a, res and the counter-based
// dropout mask, and reads only (mean, rstd) per row. Each backward workgroup walks `rpw` groups of
// RPW rows, keeps its gamma/beta column sums in registers, adds them over its rows in a fixed
// order and writes them to partial[column, part] (no float atomics); ln_reduce then adds the part
// sums, in a fixed order, into the gradient views.
//
// The row sums and the column sums of write_partials4 are unrolled by 4 by hand: the NVIDIA
// compiler leaves naga's loops rolled (kernels/lab/RESULTS.md, matmul v7). H100, evaluation graph
// at B 2,048, L 200: the 4 ln_forward4 dispatches 0.607 -> 0.481 ms.

// Dropout masks are indexed as if each run of `seg` rows were padded to `seg + seg_pad` rows (a
// batch trimmed to its longest sequence draws the masks of the untrimmed one; seg_pad 0: as is).
struct Params {
  rows: u32, dim: u32, eps: f32, thr: u32,
  scale: f32, salt: u32, rpw: u32, nparts: u32,
  seg: u32, seg_pad: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> res: array<f32>;
@group(0) @binding(3) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;      // fwd: beta   bwd: stats
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;      // fwd: y      bwd: dy
@group(0) @binding(6) var<storage, read_write> b6: array<f32>;      // fwd: stats  bwd: dA
@group(0) @binding(7) var<storage, read_write> b7: array<f32>;      // bwd: dRes
@group(0) @binding(8) var<storage, read_write> partial: array<f32>; // bwd: [2 or 3 · dim, nparts]
// per-step scalars u32 [step, seed, training, 0]: fwd binding 7, bwd binding 9
@group(0) @binding(7) var<storage, read_write> step_f: array<u32>;
@group(0) @binding(9) var<storage, read_write> step_b: array<u32>;
@group(0) @binding(10) var<storage, read_write> dsk: array<f32>; // bwd: D (SKIPADD)
@group(0) @binding(10) var<storage, read_write> dsk4: array<vec4f>;
// vec4 views of the same slots (the *4 entries)
@group(0) @binding(1) var<storage, read_write> a4: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> res4: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> gamma4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> beta4: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> stats_b: array<vec2f>;
@group(0) @binding(5) var<storage, read_write> y4: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> dy4: array<vec4f>;
@group(0) @binding(6) var<storage, read_write> stats_f: array<vec2f>;
@group(0) @binding(6) var<storage, read_write> da4: array<vec4f>;
@group(0) @binding(7) var<storage, read_write> dres4: array<vec4f>;
// ln_reduce: binding 1 = partial, 2 = gradGamma, 3 = gradBeta, 4 = gradD (SKIPD) (aliases of the
// slots above)

const RPW: u32 = 256u / LANES;

// Two halves of 256 lanes each: successive row sums alternate between them, so one barrier per
// sum suffices (a lane may still be reading the previous sum's half while others write the next).
var<workgroup> red: array<vec2f, 512>;

// Row sums: lane l's value v summed over the LANES lanes of its row, through half `half` of red.
// Uniform control flow only.
fn row_sum(v: vec2f, l: u32, half: u32) -> vec2f {
  if (LANES == 1u) { return v; }
  red[half * 256u + l] = v;
  workgroupBarrier();
  let b = half * 256u + l - l % LANES;
  if (LANES % 4u == 0u) {
    // unrolled by 4 (the NVIDIA compiler leaves naga's loops rolled), two chains
    var s0 = red[b] + red[b + 1u];
    var s1 = red[b + 2u] + red[b + 3u];
    for (var j = 4u; j < LANES; j += 4u) {
      s0 += red[b + j] + red[b + j + 1u];
      s1 += red[b + j + 2u] + red[b + j + 3u];
    }
    return s0 + s1;
  }
  var s = red[b];
  for (var j = 1u; j < LANES; j++) { s += red[b + j]; }
  return s;
}

// #include "rng"

// randU32(seed, salt, i) = pcg(i ^ key) with key = pcg(seed + pcg(salt)), computed once per thread
fn drop_key(seed: u32) -> u32 { return pcg(seed + pcg(p.salt)); }

fn dropping(training: u32) -> bool { return DROPOUT && training != 0u && p.thr != 0u; }

fn mask1(on: bool, key: u32, i: u32) -> f32 {
  if (!on) { return 1.0; }
  return select(0.0, p.scale, pcg(i ^ key) >= p.thr);
}

fn mask4(on: bool, key: u32, i: u32) -> vec4f {
  if (!on) { return vec4f(1.0); }
  return vec4f(mask1(on, key, i), mask1(on, key, i + 1u), mask1(on, key, i + 2u),
               mask1(on, key, i + 3u));
}

fn wg_index(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }

// the row's index in the untrimmed layout (dropout masks only)
fn mask_row(row: u32) -> u32 { return row + (row / p.seg) * p.seg_pad; }

// ---------------------------------------------------------------- scalar entries (any dim)

@compute @workgroup_size(256)
fn ln_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  let lane = l % LANES;
  let row = wg_index(wid, nwg) * RPW + l / LANES;
  let ok = row < p.rows;
  let on = dropping(step_f[2]);
  let key = drop_key(step_f[1]);
  let fd = f32(p.dim);
  let base = row * p.dim;
  let mbase = mask_row(row) * p.dim;
  var z: array<f32, K>;
  var s = 0.0;
  for (var k = 0u; k < K; k++) {
    let h = lane + k * LANES;
    var v = 0.0;
    if (ok && h < p.dim) {
      v = a[base + h] * mask1(on, key, mbase + h);
      if (RESIDUAL) { v += res[base + h]; }
    }
    z[k] = v;
    s += v;
  }
  let mean = row_sum(vec2f(s, 0.0), l, 0u).x / fd;
  var q = 0.0;
  for (var k = 0u; k < K; k++) {
    if (lane + k * LANES < p.dim) { let d = z[k] - mean; q += d * d; }
  }
  let rstd = inverseSqrt(row_sum(vec2f(q, 0.0), l, 1u).x / fd + p.eps);
  if (!ok) { return; }
  for (var k = 0u; k < K; k++) {
    let h = lane + k * LANES;
    if (h < p.dim) { b5[base + h] = (z[k] - mean) * rstd * gamma[h] + b4[h]; }
  }
  if (lane == 0u) { b6[2u * row] = mean; b6[2u * row + 1u] = rstd; }
}

// Column sums of (dg, db) — and (dd, 0) into the third block with SKIPD — over the RPW rows of the
// workgroup into partial[c, part]. Uniform flow.
fn write_partials(dg: array<f32, K>, db: array<f32, K>, dd: array<f32, K>, l: u32, part: u32) {
  let lane = l % LANES;
  for (var w = 0u; w < select(1u, 2u, SKIPD); w++) {
    for (var k = 0u; k < K; k++) {
      red[l] = select(vec2f(dg[k], db[k]), vec2f(dd[k], 0.0), w == 1u);
      workgroupBarrier();
      let h = lane + k * LANES;
      if (l < LANES && h < p.dim) {
        var s = red[lane];
        for (var j = 1u; j < RPW; j++) { s += red[j * LANES + lane]; }
        partial[(2u * w * p.dim + h) * p.nparts + part] = s.x;
        if (w == 0u) { partial[(p.dim + h) * p.nparts + part] = s.y; }
      }
      workgroupBarrier();
    }
  }
}

// bindings: 1 a, 2 res, 3 gamma, 4 stats, 5 dy, 6 dA (overwritten), 7 dRes (overwritten; written
// only with RESIDUAL), 8 partial, 9 step
@compute @workgroup_size(256)
fn ln_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let part = wg_index(wid, nwg);
  if (part >= p.nparts) { return; }
  let l = lid.x;
  let lane = l % LANES;
  let on = dropping(step_b[2]);
  let key = drop_key(step_b[1]);
  let fd = f32(p.dim);
  var dg: array<f32, K>;
  var db: array<f32, K>;
  var dd: array<f32, K>;
  for (var it = 0u; it < p.rpw; it++) {
    let row = (part * p.rpw + it) * RPW + l / LANES;
    let ok = row < p.rows;
    let base = row * p.dim;
    let mbase = mask_row(row) * p.dim;
    var mean = 0.0;
    var rstd = 0.0;
    if (ok) { mean = b4[2u * row]; rstd = b4[2u * row + 1u]; }
    var xh: array<f32, K>;
    var g: array<f32, K>;
    var sg = vec2f(0.0);
    for (var k = 0u; k < K; k++) {
      let h = lane + k * LANES;
      xh[k] = 0.0;
      g[k] = 0.0;
      if (ok && h < p.dim) {
        var v = a[base + h] * mask1(on, key, mbase + h);
        if (RESIDUAL) { v += res[base + h]; }
        xh[k] = (v - mean) * rstd;
        let d = b5[base + h];
        g[k] = d * gamma[h];
        sg += vec2f(g[k], g[k] * xh[k]);
        dg[k] += d * xh[k];
        db[k] += d;
      }
    }
    // alternate the two halves: one barrier per row group
    let t = row_sum(sg, l, it % 2u) / fd;
    if (ok) {
      for (var k = 0u; k < K; k++) {
        let h = lane + k * LANES;
        if (h < p.dim) {
          let dz = rstd * (g[k] - t.x - xh[k] * t.y);
          let da = dz * mask1(on, key, mbase + h);
          b6[base + h] = da;
          if (RESIDUAL) { b7[base + h] = select(dz, dz + dsk[h] * da, SKIPADD); }
          if (SKIPD) { dd[k] += da * res[base + h]; }
        }
      }
    }
  }
  workgroupBarrier();
  write_partials(dg, db, dd, l, part);
}

// ---------------------------------------------------------------- vec4 entries (dim % 4 == 0)

@compute @workgroup_size(256)
fn ln_forward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  let lane = l % LANES;
  let row = wg_index(wid, nwg) * RPW + l / LANES;
  let ok = row < p.rows;
  let on = dropping(step_f[2]);
  let key = drop_key(step_f[1]);
  let fd = f32(p.dim);
  let d4 = p.dim / 4u;
  let base = row * d4;
  let mbase = mask_row(row) * d4;
  var z: array<vec4f, K>;
  var s = vec4f(0.0);
  for (var k = 0u; k < K; k++) {
    let c = lane + k * LANES;
    var v = vec4f(0.0);
    if (ok && c < d4) {
      v = a4[base + c] * mask4(on, key, 4u * (mbase + c));
      if (RESIDUAL) { v += res4[base + c]; }
    }
    z[k] = v;
    s += v;
  }
  let mean = row_sum(vec2f((s.x + s.y) + (s.z + s.w), 0.0), l, 0u).x / fd;
  var q = vec4f(0.0);
  for (var k = 0u; k < K; k++) {
    if (lane + k * LANES < d4) { let d = z[k] - mean; q += d * d; }
  }
  let rstd = inverseSqrt(row_sum(vec2f((q.x + q.y) + (q.z + q.w), 0.0), l, 1u).x / fd + p.eps);
  if (!ok) { return; }
  for (var k = 0u; k < K; k++) {
    let c = lane + k * LANES;
    if (c < d4) { y4[base + c] = (z[k] - mean) * rstd * gamma4[c] + beta4[c]; }
  }
  if (lane == 0u) { stats_f[row] = vec2f(mean, rstd); }
}

var<workgroup> sdg: array<vec4f, 256>;
var<workgroup> sdb: array<vec4f, 256>;

// Column sums of (dg, db) over the RPW rows: per k one staging barrier, then 8·LANES threads each
// add one scalar column over the RPW rows in a fixed order; with SKIPD a second round sums dd (in
// sdg's place) into the third block. Uniform control flow.
fn write_partials4(dg: array<vec4f, K>, db: array<vec4f, K>, dd: array<vec4f, K>, l: u32,
                   part: u32) {
  let e = l % 4u;
  let ln = (l / 4u) % LANES;
  for (var w = 0u; w < select(1u, 2u, SKIPD); w++) {
    // round 1: dd's sums as `which` 0, written to rows 2·dim + h
    let which = l / (4u * LANES) + 2u * w;
    for (var k = 0u; k < K; k++) {
      sdg[l] = select(dg[k], dd[k], w == 1u);
      sdb[l] = db[k];
      workgroupBarrier();
      let h = 4u * (ln + k * LANES) + e;
      if (which < 2u + w && h < p.dim) {
        var s = 0.0;
        // unrolled by 4, two chains (RPW = 256 / LANES is a multiple of 4 for LANES <= 64)
        var s1 = 0.0;
        if (which % 2u == 0u) {
          for (var j = 0u; j < RPW; j += 4u) {
            s += sdg[j * LANES + ln][e] + sdg[(j + 1u) * LANES + ln][e];
            s1 += sdg[(j + 2u) * LANES + ln][e] + sdg[(j + 3u) * LANES + ln][e];
          }
        } else {
          for (var j = 0u; j < RPW; j += 4u) {
            s += sdb[j * LANES + ln][e] + sdb[(j + 1u) * LANES + ln][e];
            s1 += sdb[(j + 2u) * LANES + ln][e] + sdb[(j + 3u) * LANES + ln][e];
          }
        }
        s += s1;
        partial[(which * p.dim + h) * p.nparts + part] = s;
      }
      workgroupBarrier();
    }
  }
}

@compute @workgroup_size(256)
fn ln_backward4(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lid: vec3u) {
  let part = wg_index(wid, nwg);
  if (part >= p.nparts) { return; }
  let l = lid.x;
  let lane = l % LANES;
  let on = dropping(step_b[2]);
  let key = drop_key(step_b[1]);
  let fd = f32(p.dim);
  let d4 = p.dim / 4u;
  var dg: array<vec4f, K>;
  var db: array<vec4f, K>;
  var dd: array<vec4f, K>;
  for (var it = 0u; it < p.rpw; it++) {
    let row = (part * p.rpw + it) * RPW + l / LANES;
    let ok = row < p.rows;
    let base = row * d4;
    let mbase = mask_row(row) * d4;
    var st = vec2f(0.0);
    if (ok) { st = stats_b[row]; }
    var xh: array<vec4f, K>;
    var g: array<vec4f, K>;
    var sg = vec4f(0.0);
    var sgx = vec4f(0.0);
    for (var k = 0u; k < K; k++) {
      let c = lane + k * LANES;
      xh[k] = vec4f(0.0);
      g[k] = vec4f(0.0);
      if (ok && c < d4) {
        var v = a4[base + c] * mask4(on, key, 4u * (mbase + c));
        if (RESIDUAL) { v += res4[base + c]; }
        xh[k] = (v - st.x) * st.y;
        let d = dy4[base + c];
        g[k] = d * gamma4[c];
        sg += g[k];
        sgx += g[k] * xh[k];
        dg[k] += d * xh[k];
        db[k] += d;
      }
    }
    let loc = vec2f((sg.x + sg.y) + (sg.z + sg.w), (sgx.x + sgx.y) + (sgx.z + sgx.w));
    let t = row_sum(loc, l, it % 2u) / fd;
    if (ok) {
      for (var k = 0u; k < K; k++) {
        let c = lane + k * LANES;
        if (c < d4) {
          let dz = st.y * (g[k] - t.x - xh[k] * t.y);
          let da = dz * mask4(on, key, 4u * (mbase + c));
          da4[base + c] = da;
          if (RESIDUAL) { dres4[base + c] = select(dz, dz + dsk4[c] * da, SKIPADD); }
          if (SKIPD) { dd[k] += da * res4[base + c]; }
        }
      }
    }
  }
  workgroupBarrier();
  write_partials4(dg, db, dd, l, part);
}

// ---------------------------------------------------------------- gamma / beta reduce

var<workgroup> red1: array<f32, 256>;

// One 256-thread workgroup per column c of [gamma | beta (| D)]: grad += sum over parts (fixed
// order). bindings: 1 partial [2 or 3 · dim, nparts], 2 gradGamma, 3 gradBeta, 4 gradD (SKIPD)
@compute @workgroup_size(256)
fn ln_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let c = wg_index(wid, nwg);
  let l = lid.x;
  let valid = c < select(2u, 3u, SKIPD) * p.dim;
  var s = 0.0;
  if (valid) {
    for (var q = l; q < p.nparts; q += 256u) { s += a[c * p.nparts + q]; }
  }
  red1[l] = s;
  workgroupBarrier();
  if (l < 16u) {
    var t = red1[16u * l];
    for (var j = 1u; j < 16u; j++) { t += red1[16u * l + j]; }
    s = t;
  }
  workgroupBarrier();
  if (l < 16u) { red1[l] = s; }
  workgroupBarrier();
  if (l == 0u && valid) {
    var t = red1[0];
    for (var j = 1u; j < 16u; j++) { t += red1[j]; }
    if (c < p.dim) {
      res[c] += t;
    } else if (c < 2u * p.dim) {
      gamma[c - p.dim] += t;
    } else {
      b4[c - 2u * p.dim] += t;
    }
  }
}
