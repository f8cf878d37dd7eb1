// Losses over logits [rows, vocab] with integer targets [rows]. A row is valid when
// 0 < target < vocab; other rows (target 0: padding, partial last batch) get no loss and no
// gradient, and means are over the `count` valid rows. PAD column 0 is a normal class.
//
// KC: logits cached in registers per thread (columns l + 256·k, k < KC: V <= 4,096 read once).
// Cross-entropy, fused (the default; logits read once, dlogits written in the same pass):
//   ce_count     one workgroup: stats[1] = count of valid rows (needed by the 1/count)
//   ce_fused     one workgroup per row: lse from merged (max, sum) pairs, loss[b] = lse - logit[t],
//                dlogits = (softmax - onehot) / count (overwritten; 0 on padding rows)
//   loss_reduce  one workgroup: stats = [sum/count, count]; acc += [sum, count] (a running
//                accumulator the host reads once per epoch)
// Cross-entropy, separate: ce_forward (loss and lse per row), loss_reduce, then
//   ce_backward  dlogits = (softmax - onehot) / count, one thread per element
// BPR with one negative per row, sampled from the counter RNG uniformly in 1..V-1 minus the target:
//   bpr_forward  loss[b] = -log sigmoid(s_pos - s_neg) = softplus(s_neg - s_pos); negatives[b]
//   loss_reduce  as above
//   bpr_backward dlogits: -sigmoid(s_neg - s_pos)/count at the target, +same at the negative, 0
//                elsewhere (overwritten), so the tied logits matmul's backward yields the
//                representation and item-embedding gradients with no scatter here.

struct Params { rows: u32, vocab: u32, salt: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> x1: array<f32>;
@group(0) @binding(2) var<storage, read_write> tg: array<i32>;
@group(0) @binding(3) var<storage, read_write> x3: array<f32>;
@group(0) @binding(4) var<storage, read_write> x4: array<f32>;
@group(0) @binding(4) var<storage, read_write> neg4: array<i32>;
@group(0) @binding(5) var<storage, read_write> x5: array<f32>;
@group(0) @binding(5) var<storage, read_write> step5: array<u32>;

fn valid(t: i32) -> bool { return t > 0 && u32(t) < p.vocab; }

var<workgroup> red: array<f32, 256>;

fn wmax(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l < s) { red[l] = max(red[l], red[l + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn wsum(v: f32, l: u32) -> f32 {
  red[l] = v;
  workgroupBarrier();
  for (var s = 128u; s > 0u; s >>= 1u) {
    if (l < s) { red[l] += red[l + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

const KC: u32 = 16u;

var<workgroup> red2: array<vec2f, 256>;

// (max, sum of exp(x - max)) pairs merged: deterministic for a fixed order of merges
fn merge(a: vec2f, b: vec2f) -> vec2f {
  let m = max(a.x, b.x);
  return vec2f(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// log-sum-exp of row `base` over the workgroup: each thread reads its columns l + 256·k once,
// keeps e_k = exp(x_k - m) for k < KC in `xv` (m: the thread's own max; columns past 256·KC are
// read again later), merges (max, sum) locally, then 16 × 16 merges in the workgroup (2 barriers).
// Returns (lse, m); lse is the same in every thread, and softmax_k = e_k · exp(m - lse).
fn row_lse(base: u32, l: u32, xv: ptr<function, array<f32, KC>>) -> vec2f {
  var m = -3.4028235e38;
  for (var k = 0u; k < KC; k++) {
    let j = l + 256u * k;
    var v = -3.4028235e38;
    if (j < p.vocab) { v = x1[base + j]; }
    (*xv)[k] = v;
    m = max(m, v);
  }
  for (var j = l + 256u * KC; j < p.vocab; j += 256u) { m = max(m, x1[base + j]); }
  var s = 0.0;
  for (var k = 0u; k < KC; k++) {
    var e = 0.0;
    if (l + 256u * k < p.vocab) { e = exp((*xv)[k] - m); }
    (*xv)[k] = e;
    s += e;
  }
  for (var j = l + 256u * KC; j < p.vocab; j += 256u) { s += exp(x1[base + j] - m); }
  red2[l] = vec2f(m, s);
  workgroupBarrier();
  var t = red2[16u * (l % 16u)];
  for (var i = 1u; i < 16u; i++) { t = merge(t, red2[16u * (l % 16u) + i]); }
  workgroupBarrier();
  if (l < 16u) { red2[l] = t; }
  workgroupBarrier();
  var r = red2[0];
  for (var i = 1u; i < 16u; i++) { r = merge(r, red2[i]); }
  return vec2f(r.x + log(r.y), m);
}

// bindings: 1 logits, 2 targets, 3 loss [rows], 4 lse [rows]; one workgroup per row
@compute @workgroup_size(256)
fn ce_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
              @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.rows) { return; }
  let l = lid.x;
  let base = b * p.vocab;
  var xv: array<f32, KC>;
  let lse = row_lse(base, l, &xv).x;
  if (l == 0u) {
    x4[b] = lse;
    let t = tg[b];
    x3[b] = select(0.0, lse - x1[base + u32(max(t, 0))], valid(t));
  }
}

// Forward and backward in one pass over the row (logits read once, dlogits written once):
// loss[b] = lse - logit[target]; dlogits = (softmax - onehot) / count, 0 on padding rows. The
// count of valid rows comes from ce_count, dispatched before.
// bindings: 1 logits, 2 targets, 3 loss [rows], 4 stats [2] (count in [1]), 5 dlogits
@compute @workgroup_size(256)
fn ce_fused(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
            @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.rows) { return; }
  let l = lid.x;
  let base = b * p.vocab;
  var xv: array<f32, KC>;
  let lm = row_lse(base, l, &xv);
  let lse = lm.x;
  let t = tg[b];
  let c = x4[1];
  let on = valid(t) && c > 0.0;
  if (l == 0u) { x3[b] = select(0.0, lse - x1[base + u32(max(t, 0))], valid(t)); }
  let inv = select(0.0, 1.0 / c, on);
  let scale = exp(lm.y - lse);
  let tj = u32(max(t, 0));
  for (var k = 0u; k < KC; k++) {
    let j = l + 256u * k;
    if (j < p.vocab) {
      var g = 0.0;
      if (on) { g = (xv[k] * scale - select(0.0, 1.0, j == tj)) * inv; }
      x5[base + j] = g;
    }
  }
  for (var j = l + 256u * KC; j < p.vocab; j += 256u) {
    var g = 0.0;
    if (on) { g = (exp(x1[base + j] - lse) - select(0.0, 1.0, j == tj)) * inv; }
    x5[base + j] = g;
  }
}

@group(0) @binding(1) var<storage, read_write> tg1: array<i32>;
@group(0) @binding(2) var<storage, read_write> cnt2: array<f32>;

// bindings: 1 targets, 2 stats [2]: stats[1] = count of valid rows (read by ce_fused)
@compute @workgroup_size(256)
fn ce_count(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  var c = 0u;
  for (var b = l; b < p.rows; b += 256u) {
    let t = tg1[b];
    if (t > 0 && u32(t) < p.vocab) { c += 1u; }
  }
  red[l] = f32(c);
  workgroupBarrier();
  var s = 0.0;
  for (var i = 0u; i < 16u; i++) { s += red[16u * (l % 16u) + i]; }
  workgroupBarrier();
  if (l < 16u) { red[l] = s; }
  workgroupBarrier();
  if (l == 0u) {
    var total = 0.0;
    for (var i = 0u; i < 16u; i++) { total += red[i]; }
    cnt2[1] = total;
  }
}

// bindings: 1 loss [rows], 2 targets, 3 stats [2] = [mean, count], 4 acc [2] += [sum, count]
@compute @workgroup_size(256)
fn loss_reduce(@builtin(local_invocation_id) lid: vec3u) {
  let l = lid.x;
  var s = 0.0;
  var c = 0.0;
  for (var b = l; b < p.rows; b += 256u) {
    if (valid(tg[b])) { s += x1[b]; c += 1.0; }
  }
  s = wsum(s, l);
  c = wsum(c, l);
  if (l == 0u) {
    x3[0] = select(0.0, s / c, c > 0.0);
    x3[1] = c;
    x4[0] += s;
    x4[1] += c;
  }
}

// bindings: 1 logits, 2 targets, 3 lse, 4 stats, 5 dlogits; one thread per element
@compute @workgroup_size(256)
fn ce_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.rows * p.vocab) { return; }
  let b = i / p.vocab;
  let j = i - b * p.vocab;
  let t = tg[b];
  let c = x4[1];
  var g = 0.0;
  if (valid(t) && c > 0.0) {
    g = (exp(x1[i] - x3[b]) - select(0.0, 1.0, u32(t) == j)) / c;
  }
  x5[i] = g;
}

// #include "rng"

// bindings: 1 logits, 2 targets, 3 loss [rows], 4 negatives i32 [rows], 5 step; thread per row
@compute @workgroup_size(256)
fn bpr_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = gid.x + gid.y * nwg.x * 256u;
  if (b >= p.rows) { return; }
  let t = tg[b];
  if (!valid(t)) { x3[b] = 0.0; neg4[b] = 0; return; }
  var n = 1u + rand_u32(step5[1], p.salt, b) % (p.vocab - 2u);
  if (n >= u32(t)) { n += 1u; }
  neg4[b] = i32(n);
  let d = x1[b * p.vocab + u32(t)] - x1[b * p.vocab + n];
  // -log sigmoid(d) = softplus(-d) = max(-d, 0) + log(1 + exp(-|d|)), with log1p by Goldberg
  let e = exp(-abs(d));
  let u = 1.0 + e;
  let l1p = select(log(u) * e / (u - 1.0), e, u == 1.0);
  x3[b] = max(-d, 0.0) + l1p;
}

// bindings: 1 logits, 2 targets, 3 stats, 4 negatives, 5 dlogits; one thread per element
@compute @workgroup_size(256)
fn bpr_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.rows * p.vocab) { return; }
  let b = i / p.vocab;
  let j = i - b * p.vocab;
  let t = tg[b];
  let c = x3[1];
  var g = 0.0;
  if (valid(t) && c > 0.0) {
    let n = u32(neg4[b]);
    if (j == u32(t) || j == n) {
      let d = x1[b * p.vocab + u32(t)] - x1[b * p.vocab + n];
      let coef = 1.0 / (1.0 + exp(d)) / c;
      g = select(coef, -coef, j == u32(t));
    }
  }
  x5[i] = g;
}
