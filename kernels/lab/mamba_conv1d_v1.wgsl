// Mamba's causal depthwise conv1d fused with SiLU (forward and backward), and the reduction over
// rows b of the per-(b, e) parameter partial sums that conv_bwd and mamba.wgsl:scan_bwd write.
// Conv: pre[t, e] = cb[e] + Σ_k cw[e, k]·x[t − (K−1) + k, e] (x[< 0] = 0), xc = silu(pre),
// x = columns 0..E−1 of xz [M, 2E]. Rows are m = b·L + t.
//
// Also bc_reduce, the sum over channel blocks of scan_bwd's ∂(dt_r, Bt, Ct) partials.
//
// Defines: E, N, R, K (conv width), WG (workgroup size); NEB (channel blocks, bc_reduce only).
// Params: nb = B, len = L.
// Bindings are generic (b1..b8, all read_write) because the three entries bind different tensors:
//   conv_fwd:     b1 xz [M, 2E], b2 cw [E, 1, K], b3 cb [E], b4 xc [M, E] (overwritten)
//   conv_bwd:     b1 xz, b2 cw, b3 cb, b4 dxc [M, E] (total ∂loss/∂xc), b5 dxz [M, 2E] (columns
//                 0..E−1 overwritten), b6 part [B, E, JP] (columns N+R+2 .. JP−1 written)
//   param_reduce: b1 part [B, E, JP]; ADDS Σ_b into b2 dA_log [E, N], b3 dD [E],
//                 b4 d dt_proj.weight [E, R], b5 d dt_proj.bias [E], b6 d conv1d.weight [E, 1, K],
//                 b7 d conv1d.bias [E]
//   bc_reduce:    b1 bcp [M, NEB, R+2N] (mamba.wgsl:scan_bwd), b2 dxdbl [M, R+2N] (overwritten)
// JP = N + R + 2 + K + 1 partial columns per (b, e), in that order.

struct Params { nb: u32, len: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;
@group(0) @binding(6) var<storage, read_write> b6: array<f32>;
@group(0) @binding(7) var<storage, read_write> b7: array<f32>;

const JS: u32 = N + R + 2u;
const JP: u32 = JS + K + 1u;

fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

// One invocation per (m, e); 1-D grid split by grid().
@compute @workgroup_size(WG)
fn conv_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.nb * p.len * E) { return; }
  let e = i % E;
  let m = i / E;
  let t = m % p.len;
  var s = b3[e];
  for (var k = 0u; k < K; k++) {
    let back = K - 1u - k; // how many steps before t this tap reads
    if (t >= back) { s += b2[e * K + k] * b1[(m - back) * 2u * E + e]; }
  }
  b4[i] = s * sigmoid(s);
}

// One invocation per (b, e), reverse over t: a window of the last K pre-activation gradients gives
// ∂x[t] = Σ_k cw[k]·g[t + (K−1) − k] without a second pass or a [M, E] scratch tensor, and the
// conv weight/bias gradients sum in registers into one partial per (b, e).
@compute @workgroup_size(WG)
fn conv_bwd(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  let b = gid.y;
  if (e >= E || b >= p.nb) { return; }
  var w: array<f32, K>;
  for (var k = 0u; k < K; k++) { w[k] = b2[e * K + k]; }
  let bias = b3[e];
  var win: array<f32, K>; // win[j] = g[t + j]
  var gw: array<f32, K>;
  var gb = 0.0;
  for (var t = p.len; t > 0u; t--) {
    let m = b * p.len + t - 1u;
    var xs: array<f32, K>;
    var s = bias;
    for (var k = 0u; k < K; k++) {
      let back = K - 1u - k;
      if (t - 1u >= back) { xs[k] = b1[(m - back) * 2u * E + e]; } else { xs[k] = 0.0; }
      s += w[k] * xs[k];
    }
    let sg = sigmoid(s);
    let g = b4[m * E + e] * sg * (1.0 + s * (1.0 - sg));
    gb += g;
    for (var k = 0u; k < K; k++) { gw[k] += g * xs[k]; }
    for (var j = K - 1u; j > 0u; j--) { win[j] = win[j - 1u]; }
    win[0] = g;
    var dx = 0.0;
    for (var j = 0u; j < K; j++) { dx += w[K - 1u - j] * win[j]; }
    b5[m * 2u * E + e] = dx;
  }
  let pb = (b * E + e) * JP + JS;
  for (var k = 0u; k < K; k++) { b6[pb + k] = gw[k]; }
  b6[pb + K] = gb;
}

// One invocation per (e, j): sums the B partials (fixed order: deterministic) and adds the total to
// the gradient view that column j belongs to.
@compute @workgroup_size(WG)
fn param_reduce(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= E * JP) { return; }
  let e = i / JP;
  let j = i % JP;
  var s = 0.0;
  for (var b = 0u; b < p.nb; b++) { s += b1[(b * E + e) * JP + j]; }
  if (j < N) {
    b2[e * N + j] += s;
  } else if (j == N) {
    b3[e] += s;
  } else if (j < N + 1u + R) {
    b4[e * R + j - N - 1u] += s;
  } else if (j == N + 1u + R) {
    b5[e] += s;
  } else if (j < JS + K) {
    b6[e * K + j - JS] += s;
  } else {
    b7[e] += s;
  }
}

// One invocation per (m, j): dxdbl[m, j] = Σ_blk bcp[m, blk, j] (fixed order: deterministic).
@compute @workgroup_size(WG)
fn bc_reduce(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let J = R + 2u * N;
  let i = gid.x + gid.y * nwg.x * WG;
  if (i >= p.nb * p.len * J) { return; }
  let m = i / J;
  let j = i % J;
  var s = 0.0;
  for (var q = 0u; q < NEB; q++) { s += b1[(m * NEB + q) * J + j]; }
  b2[i] = s;
}
