// LayerNorm over the last dimension, optionally fused with the block's "dropout + residual add":
//   z = a * drop(i) + res      (drop = 1 without DROPOUT or when not training; res = 0 without RESIDUAL)
//   y = (z - mean) * rstd * gamma + beta,  rstd = 1 / sqrt(var + eps)  (biased variance)
// Defines: RESIDUAL (bool), DROPOUT (bool). With a define off the corresponding binding is still
// statically used and must be bound (the builder passes a harmless alias).
// One 64-thread workgroup normalises `rpw` consecutive rows; thread l owns columns l, l+64, ...
// (dim <= 64 * MAXK). Rows are recomputed, not stored: the backward re-derives z from a, res and
// the counter-based dropout mask, and reads only (mean, rstd) per row.
// Gamma/beta gradients: each backward workgroup writes its column sums to partial[part, 2*dim]
// (no float atomics); ln_reduce then adds the part sums, in a fixed order, into the grad views.

struct Params {
  rows: u32, dim: u32, eps: f32, thr: u32,
  scale: f32, salt: u32, rpw: u32, nparts: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> res: array<f32>;
@group(0) @binding(3) var<storage, read_write> gamma: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;      // fwd: beta   bwd: stats
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;      // fwd: y      bwd: dy
@group(0) @binding(6) var<storage, read_write> b6: array<f32>;      // fwd: stats  bwd: dA
@group(0) @binding(7) var<storage, read_write> b7: array<f32>;      // bwd: dRes
@group(0) @binding(8) var<storage, read_write> partial: array<f32>; // bwd: [nparts, 2*dim]
// per-step scalars u32 [step, seed, training, 0]: fwd binding 7, bwd binding 9
@group(0) @binding(7) var<storage, read_write> step_f: array<u32>;
@group(0) @binding(9) var<storage, read_write> step_b: array<u32>;
// ln_reduce: binding 1 = partial, 2 = gradGamma, 3 = gradBeta (aliases of the slots above)

const WG: u32 = 64u;
const MAXK: u32 = 8u;

var<workgroup> red: array<vec2f, 64>;

// Sum of v over the workgroup (tree, fixed order: deterministic). Called in uniform control flow.
fn wsum(v: vec2f, l: u32) -> vec2f {
  red[l] = v;
  workgroupBarrier();
  for (var s = 32u; s > 0u; s >>= 1u) {
    if (l < s) { red[l] += red[l + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

fn rand_u32(seed: u32, salt: u32, idx: u32) -> u32 {
  return pcg(idx ^ pcg(seed + pcg(salt)));
}

fn drop_scale(training: u32, seed: u32, i: u32) -> f32 {
  if (!DROPOUT || training == 0u || p.thr == 0u) { return 1.0; }
  return select(0.0, p.scale, rand_u32(seed, p.salt, i) >= p.thr);
}

fn wg_index(wid: vec3u, nwg: vec3u) -> u32 { return wid.x + wid.y * nwg.x; }

@compute @workgroup_size(64)
fn ln_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  let base = wg_index(wid, nwg) * p.rpw;
  let training = step_f[2];
  let seed = step_f[1];
  let fd = f32(p.dim);
  for (var i = 0u; i < p.rpw; i++) {
    let row = base + i;
    if (row >= p.rows) { break; }
    var z: array<f32, MAXK>;
    var s = 0.0;
    for (var k = 0u; k < MAXK; k++) {
      let h = l + k * WG;
      if (h < p.dim) {
        let idx = row * p.dim + h;
        var v = a[idx] * drop_scale(training, seed, idx);
        if (RESIDUAL) { v += res[idx]; }
        z[k] = v;
        s += v;
      }
    }
    let mean = wsum(vec2f(s, 0.0), l).x / fd;
    var q = 0.0;
    for (var k = 0u; k < MAXK; k++) {
      if (l + k * WG < p.dim) { let d = z[k] - mean; q += d * d; }
    }
    let rstd = inverseSqrt(wsum(vec2f(q, 0.0), l).x / fd + p.eps);
    for (var k = 0u; k < MAXK; k++) {
      let h = l + k * WG;
      if (h < p.dim) { b5[row * p.dim + h] = (z[k] - mean) * rstd * gamma[h] + b4[h]; }
    }
    if (l == 0u) { b6[2u * row] = mean; b6[2u * row + 1u] = rstd; }
  }
}

// bindings: 1 a, 2 res, 3 gamma, 4 stats, 5 dy, 6 dA (overwritten), 7 dRes (overwritten; written
// only with RESIDUAL), 8 partial, 9 step
@compute @workgroup_size(64)
fn ln_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
               @builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  let part = wg_index(wid, nwg);
  if (part >= p.nparts) { return; }
  let base = part * p.rpw;
  let training = step_b[2];
  let seed = step_b[1];
  let fd = f32(p.dim);
  var dg: array<f32, MAXK>;
  var db: array<f32, MAXK>;
  for (var i = 0u; i < p.rpw; i++) {
    let row = base + i;
    if (row >= p.rows) { break; }
    let mean = b4[2u * row];
    let rstd = b4[2u * row + 1u];
    var xh: array<f32, MAXK>;
    var g: array<f32, MAXK>;
    var m: array<f32, MAXK>;
    var sg = vec2f(0.0);
    for (var k = 0u; k < MAXK; k++) {
      let h = l + k * WG;
      if (h < p.dim) {
        let idx = row * p.dim + h;
        m[k] = drop_scale(training, seed, idx);
        var v = a[idx] * m[k];
        if (RESIDUAL) { v += res[idx]; }
        xh[k] = (v - mean) * rstd;
        let d = b5[idx];
        g[k] = d * gamma[h];
        sg += vec2f(g[k], g[k] * xh[k]);
        dg[k] += d * xh[k];
        db[k] += d;
      }
    }
    let t = wsum(sg, l) / fd;
    for (var k = 0u; k < MAXK; k++) {
      let h = l + k * WG;
      if (h < p.dim) {
        let idx = row * p.dim + h;
        let dz = rstd * (g[k] - t.x - xh[k] * t.y);
        b6[idx] = dz * m[k];
        if (RESIDUAL) { b7[idx] = dz; }
      }
    }
  }
  for (var k = 0u; k < MAXK; k++) {
    let h = l + k * WG;
    if (h < p.dim) {
      partial[part * 2u * p.dim + h] = dg[k];
      partial[part * 2u * p.dim + p.dim + h] = db[k];
    }
  }
}

var<workgroup> red1: array<f32, 256>;

// One 256-thread workgroup per column c of [gamma | beta]: grad += sum over parts (fixed order).
// bindings: 1 partial, 2 gradGamma, 3 gradBeta
@compute @workgroup_size(256)
fn ln_reduce(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let c = wg_index(wid, nwg);
  let l = lid.x;
  let valid = c < 2u * p.dim;
  var s = 0.0;
  if (valid) {
    for (var q = l; q < p.nparts; q += 256u) { s += a[q * 2u * p.dim + c]; }
  }
  red1[l] = s;
  workgroupBarrier();
  for (var w = 128u; w > 0u; w >>= 1u) {
    if (l < w) { red1[l] += red1[l + w]; }
    workgroupBarrier();
  }
  if (l == 0u && valid) {
    if (c < p.dim) { res[c] += red1[0]; } else { gamma[c - p.dim] += red1[0]; }
  }
}
