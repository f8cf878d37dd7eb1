// Mamba's causal depthwise conv1d fused with SiLU (forward and backward), and the reduction over
// rows b of the per-(b, e) parameter partial sums that conv_bwd and mamba.wgsl:scan_bwd write.
// Conv: pre[t, e] = cb[e] + Σ_k cw[e, k]·x[t − (K−1) + k, e] (x[< 0] = 0), xc = silu(pre),
// x = columns 0..E−1 of xz [M, 2E]. Rows are m = b·L + t.
//
// Also bc_reduce, the sum over channel blocks of scan_bwd's ∂(dt_r, Bt, Ct) partials.
//
// Version 5 (session 14): in the padded layout the convs stop reading at each row's length
// (cvalid): conv_fwd writes xc = 0 and conv_bwd ∂x = 0 on the right padding, and conv_bwd's time
// chunks split the real steps only (see cvalid; H100 figures in kernels/lab/RESULTS.md, session 14).
// Version 4 (session 13): conv_bwd sums its five parameter partials over the time chunks one at a
// time through 4 KB of workgroup memory (red_put) instead of 20 KB at once, which held an SM to 2
// workgroups (48 KB of workgroup memory per SM on the H100: kernels/mamba.wgsl v46); the step's
// two conv_bwd 0.402 -> 0.382 ms (kernel_ab, docs/results/h100-2026-11-27-s13/c13).
// Version 3 (session 6): conv_bwd with 8 time chunks of ~25 steps instead of 32 of ~7 (less halo
// recomputation, a shorter final sum over chunks, at constant indices); see TCN below.
// Version 2: channel quads (4 channels per invocation) along E, several steps per invocation with
// the conv inputs in registers, conv_bwd parallel over time chunks, two-level reductions.
// Defines: E, N, R, K (conv width, ≤ 4), WG (workgroup size), EQ (conv_bwd's channel quads per
// workgroup, 256 / TCN); NEB (channel blocks, bc_reduce only);
// XS (row stride of x in b1 and of ∂x in b5: 2E in xz; E where the conv reads a separate x [M, E]
// and conv_bwd writes a separate ∂x [M, E]: the last block in evaluation and prefix-mode training);
// LAST (bc_reduce: the block's ∂Ct exists at each row's last valid step only; see bc_reduce).
// Params: nb = B, len = L.
// Bindings are generic (b1..b8, all read_write) because the three entries bind different tensors:
//   conv_fwd:     b1 xz [M, 2E], b2 cw [E, 1, K], b3 cb [E], b4 xc [M, E] (overwritten);
//                 conv_fwd4 the same through vec4 views of b1 and b4
//   conv_bwd:     b1 xz, b2 cw, b3 cb, b4 dxc [M, E] (total ∂loss/∂xc), b5 dxz [M, 2E] (columns
//                 0..E−1 overwritten), b6 part [B, E, JP] (columns N+R+2 .. JP−1 written)
//   param_reduce: b1 part [B, E, JP]; ADDS Σ_b into b2 dA_log [E, N], b3 dD [E],
//                 b4 d dt_proj.weight [E, R], b5 d dt_proj.bias [E], b6 d conv1d.weight [E, 1, K],
//                 b7 d conv1d.bias [E]
//   bc_reduce:    b1 bcp [M, NEB, R+2N] (mamba.wgsl:scan_bwd), b2 dxdbl [M, R+2N] (overwritten);
//                 LAST: [M, NEB, R+N] then [nb, NEB, N], b2 [M, R+N], b3 [B, R+2N] (overwritten)
// JP = N + R + 2 + K + 1 partial columns per (b, e), in that order.

// PACKED (define): the tokens are packed (lib/data/batch.ts packBatch): step t of row b is row
// start[b] + t (b8 = lens [B], b9 = start [B + 1], i32, both for the whole batch), and a row has no
// steps past its length. bc_reduce then runs per batch slice (b0 = the slice's first row) with bcp
// in the slice's padded layout and dxdbl (b2) the whole [T, R+2N].

struct Params { nb: u32, len: u32, b0: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> b1: array<f32>;
@group(0) @binding(2) var<storage, read_write> b2: array<f32>;
@group(0) @binding(3) var<storage, read_write> b3: array<f32>;
@group(0) @binding(4) var<storage, read_write> b4: array<f32>;
@group(0) @binding(5) var<storage, read_write> b5: array<f32>;
@group(0) @binding(6) var<storage, read_write> b6: array<f32>;
@group(0) @binding(7) var<storage, read_write> b7: array<f32>;
@group(0) @binding(8) var<storage, read_write> clens: array<i32>;
@group(0) @binding(9) var<storage, read_write> cstart: array<i32>;

// The activation row of step t of row b (b·L + t, or start[b] + t when PACKED).
fn crow(b: u32, t: u32) -> u32 {
  if (PACKED) { return u32(cstart[b]) + t; }
  return b * p.len + t;
}

// Steps of row b the conv writes: L, or the row's length when PACKED.
fn csteps(b: u32) -> u32 {
  if (PACKED) { return u32(clamp(clens[b], 0, i32(p.len))); }
  return p.len;
}

// v5: steps of row b with real inputs, the row's length (≤ csteps). Past it (the padded layout's
// right padding) the conv writes zeros without reading: no loss reads those steps (every layer is
// causal), their ∂xc is 0 (mamba.wgsl:scan_bwd writes 0 there), so their ∂x is 0 too.
fn cvalid(b: u32) -> u32 { return u32(clamp(clens[b], 0, i32(p.len))); }

const JS: u32 = N + R + 2u;
const JP: u32 = JS + K + 1u;
const EV: u32 = (E + 3u) / 4u; // channel quads per row
const CT: u32 = 8u; // conv_fwd: steps per invocation
// conv_bwd: time chunks per row (one per invocation row of the workgroup); the channel quads per
// workgroup are the define EQ (EQ·TCN = 256 invocations; lib/nn/mamba.ts dispatches ceil(EV / EQ)
// × B). Version 3: 8 chunks of ~25 steps instead of 32 of ~7 (less halo, a shorter final sum), the
// sum at constant indices.
const TCN: u32 = 8u;
const_assert TCN == 8u && EQ * TCN == 256u;

fn sigmoid4(x: vec4<f32>) -> vec4<f32> { return 1.0 / (1.0 + exp(-x)); }

// x[m, e0 .. e0 + 3] (columns 0..E−1 of xz = b1); channels ≥ E read as 0
fn x4(m: u32, e0: u32) -> vec4<f32> {
  let o = m * XS + e0;
  if (E % 4u == 0u) { return vec4<f32>(b1[o], b1[o + 1u], b1[o + 2u], b1[o + 3u]); }
  var v = vec4<f32>(0.0);
  if (e0 < E) { v.x = b1[o]; }
  if (e0 + 1u < E) { v.y = b1[o + 1u]; }
  if (e0 + 2u < E) { v.z = b1[o + 2u]; }
  if (e0 + 3u < E) { v.w = b1[o + 3u]; }
  return v;
}

// weight of the tap that reads j steps back (cw[e, K − 1 − j]; 0 when j ≥ K)
fn wtap(e0: u32, j: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (j < K) {
    let k = K - 1u - j;
    if (e0 < E) { v.x = b2[e0 * K + k]; }
    if (e0 + 1u < E) { v.y = b2[(e0 + 1u) * K + k]; }
    if (e0 + 2u < E) { v.z = b2[(e0 + 2u) * K + k]; }
    if (e0 + 3u < E) { v.w = b2[(e0 + 3u) * K + k]; }
  }
  return v;
}

fn bias4(e0: u32) -> vec4<f32> {
  var v = vec4<f32>(0.0);
  if (e0 < E) { v.x = b3[e0]; }
  if (e0 + 1u < E) { v.y = b3[e0 + 1u]; }
  if (e0 + 2u < E) { v.z = b3[e0 + 2u]; }
  if (e0 + 3u < E) { v.w = b3[e0 + 3u]; }
  return v;
}

// b4[o .. o + 3] (a [M, E] tensor) for channels e0 .. e0 + 3 < E
fn ld_b4(o: u32, e0: u32) -> vec4<f32> {
  if (E % 4u == 0u) { return vec4<f32>(b4[o], b4[o + 1u], b4[o + 2u], b4[o + 3u]); }
  var v = vec4<f32>(0.0);
  if (e0 < E) { v.x = b4[o]; }
  if (e0 + 1u < E) { v.y = b4[o + 1u]; }
  if (e0 + 2u < E) { v.z = b4[o + 2u]; }
  if (e0 + 3u < E) { v.w = b4[o + 3u]; }
  return v;
}

fn st_b4(o: u32, e0: u32, v: vec4<f32>) {
  if (e0 < E) { b4[o] = v.x; }
  if (e0 + 1u < E) { b4[o + 1u] = v.y; }
  if (e0 + 2u < E) { b4[o + 2u] = v.z; }
  if (e0 + 3u < E) { b4[o + 3u] = v.w; }
}

fn st_b5(o: u32, e0: u32, v: vec4<f32>) {
  if (e0 < E) { b5[o] = v.x; }
  if (e0 + 1u < E) { b5[o + 1u] = v.y; }
  if (e0 + 2u < E) { b5[o + 2u] = v.z; }
  if (e0 + 3u < E) { b5[o + 3u] = v.w; }
}

// One invocation per (b, run of CT steps, channel quad), quads fastest (coalesced rows); the last
// K − 1 ≤ 3 inputs slide through registers. 1-D grid split by grid(). Needs K ≤ 4.
@compute @workgroup_size(WG)
fn conv_fwd(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  let nt = (p.len + CT - 1u) / CT;
  if (i >= p.nb * nt * EV) { return; }
  let e0 = (i % EV) * 4u;
  let r = i / EV;
  let t0 = (r % nt) * CT;
  let b = r / nt;
  let rb = crow(b, 0u); // row of step 0 (one load when PACKED)
  let t1 = min(t0 + CT, csteps(b));
  if (t0 >= t1) { return; }
  let w0 = wtap(e0, 0u);
  let w1 = wtap(e0, 1u);
  let w2 = wtap(e0, 2u);
  let w3 = wtap(e0, 3u);
  let bias = bias4(e0);
  var x1 = vec4<f32>(0.0);
  var x2 = vec4<f32>(0.0);
  var x3 = vec4<f32>(0.0);
  let tv = clamp(cvalid(b), t0, t1); // v5: steps from tv on are padding (zeros, no loads)
  if (t0 < tv) {
    if (t0 >= 1u) { x1 = x4(rb + t0 - 1u, e0); }
    if (t0 >= 2u) { x2 = x4(rb + t0 - 2u, e0); }
    if (t0 >= 3u) { x3 = x4(rb + t0 - 3u, e0); }
  }
  for (var t = t0; t < tv; t++) {
    let m = rb + t;
    let x0 = x4(m, e0);
    let s = bias + w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
    st_b4(m * E + e0, e0, s * sigmoid4(s));
    x3 = x2;
    x2 = x1;
    x1 = x0;
  }
  for (var t = tv; t < t1; t++) {
    let m = rb + t;
    st_b4(m * E + e0, e0, vec4<f32>(0.0));
  }
}

// [time chunk][quad] partials of one conv parameter at a time (v4: 4 KB instead of 20 KB for all
// five at once, so the workgroup memory no longer holds an SM to 2 workgroups; see red_put)
var<workgroup> red: array<array<vec4<f32>, EQ>, TCN>;

// Sums column j (tap j: conv weight column K − 1 − j; j = 4: the bias) of the TCN chunk partials
// over the chunks, in a fixed order (two chains), into the (b, e) partials b6. Every invocation
// calls it (two barriers).
fn red_put(j: u32, v: vec4<f32>, lid: u32, tc: u32, ql: u32, qb: u32, b: u32) {
  red[tc][ql] = v;
  workgroupBarrier();
  let q2 = qb * EQ + lid;
  if (lid < EQ && (j < K || j == 4u) && q2 < EV) {
    let s = ((red[0][lid] + red[2][lid]) + (red[4][lid] + red[6][lid])) +
      ((red[1][lid] + red[3][lid]) + (red[5][lid] + red[7][lid]));
    var col = JS + K;
    if (j < 4u) { col = JS + K - 1u - j; }
    let e2 = q2 * 4u;
    let o = (b * E + e2) * JP + col;
    if (e2 < E) { b6[o] = s.x; }
    if (e2 + 1u < E) { b6[o + JP] = s.y; }
    if (e2 + 2u < E) { b6[o + 2u * JP] = s.z; }
    if (e2 + 3u < E) { b6[o + 3u * JP] = s.w; }
  }
  workgroupBarrier();
}

// Workgroup (quad block, b); invocation (time chunk tc, quad): steps t0 .. t1 − 1 of the chunk,
// walking τ = t0 .. t1 + 2 forward with the inputs and the pre-activation gradients g sliding
// through registers: ∂x[τ − 3] = Σ_j w_j·g[τ − 3 + j] (tap j reads j steps back). The conv weight
// and bias gradients of the chunk sum in registers, then over the TCN chunks in workgroup memory
// (fixed order: deterministic) into one partial per (b, e). Needs K ≤ 4.
@compute @workgroup_size(256)
fn conv_bwd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let ql = lid % EQ;
  let tc = lid / EQ;
  let q = wid.x * EQ + ql;
  let b = wid.y;
  let rb = crow(b, 0u); // row of step 0 (one load when PACKED)
  let e0 = q * 4u;
  let nl = csteps(b);
  // v5: the time chunks split the row's real steps; the padding's ∂x is 0 (cvalid)
  let nv = min(cvalid(b), nl);
  let ct = (nv + TCN - 1u) / TCN;
  let t0 = min(tc * ct, nv);
  let t1 = min(t0 + ct, nv);
  var gw0 = vec4<f32>(0.0);
  var gw1 = vec4<f32>(0.0);
  var gw2 = vec4<f32>(0.0);
  var gw3 = vec4<f32>(0.0);
  var gb = vec4<f32>(0.0);
  if (q < EV && t0 < t1) {
    let w0 = wtap(e0, 0u);
    let w1 = wtap(e0, 1u);
    let w2 = wtap(e0, 2u);
    let w3 = wtap(e0, 3u);
    let bias = bias4(e0);
    var x1 = vec4<f32>(0.0);
    var x2 = vec4<f32>(0.0);
    var x3 = vec4<f32>(0.0);
    if (t0 >= 1u) { x1 = x4(rb + t0 - 1u, e0); }
    if (t0 >= 2u) { x2 = x4(rb + t0 - 2u, e0); }
    if (t0 >= 3u) { x3 = x4(rb + t0 - 3u, e0); }
    var g1 = vec4<f32>(0.0);
    var g2 = vec4<f32>(0.0);
    var g3 = vec4<f32>(0.0);
    for (var tau = t0; tau < t1 + 3u; tau++) {
      var g0 = vec4<f32>(0.0);
      var x0 = vec4<f32>(0.0);
      if (tau < nv) {
        let m = rb + tau;
        x0 = x4(m, e0);
        let s = bias + w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
        let sg = sigmoid4(s);
        g0 = ld_b4(m * E + e0, e0) * sg * (1.0 + s * (1.0 - sg));
        if (tau < t1) {
          gb += g0;
          gw0 += g0 * x0;
          gw1 += g0 * x1;
          gw2 += g0 * x2;
          gw3 += g0 * x3;
        }
      }
      if (tau >= t0 + 3u) {
        st_b5((rb + tau - 3u) * XS + e0, e0, w0 * g3 + w1 * g2 + w2 * g1 + w3 * g0);
      }
      g3 = g2;
      g2 = g1;
      g1 = g0;
      x3 = x2;
      x2 = x1;
      x1 = x0;
    }
  }
  if (q < EV) {
    for (var t = nv + tc; t < nl; t += TCN) { st_b5((rb + t) * XS + e0, e0, vec4<f32>(0.0)); }
  }
  red_put(0u, gw0, lid, tc, ql, wid.x, b);
  red_put(1u, gw1, lid, tc, ql, wid.x, b);
  red_put(2u, gw2, lid, tc, ql, wid.x, b);
  red_put(3u, gw3, lid, tc, ql, wid.x, b);
  red_put(4u, gb, lid, tc, ql, wid.x, b);
}

var<workgroup> prs: array<f32, 256>;

// Workgroup e, invocation (b group bg < 4, column slot js < 64): sums part[b, e, j] over b ≡ bg
// (mod 4) in 8 independent chains, then the 4 group sums in workgroup memory (fixed order:
// deterministic), and adds the total to the gradient view that column j belongs to.
@compute @workgroup_size(256)
fn param_reduce(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let e = wid.x;
  let js = lid % 64u;
  let bg = lid / 64u;
  for (var j0 = 0u; j0 < JP; j0 += 64u) {
    let j = j0 + js;
    var s0 = 0.0;
    var s1 = 0.0;
    if (j < JP) {
      let st = 4u * E * JP;
      var o = (bg * E + e) * JP + j;
      var b = bg;
      for (; b + 28u < p.nb; b += 32u) {
        s0 += b1[o] + b1[o + st];
        s1 += b1[o + 2u * st] + b1[o + 3u * st];
        s0 += b1[o + 4u * st] + b1[o + 5u * st];
        s1 += b1[o + 6u * st] + b1[o + 7u * st];
        o += 8u * st;
      }
      for (; b < p.nb; b += 4u) {
        s0 += b1[o];
        o += st;
      }
    }
    prs[lid] = s0 + s1;
    workgroupBarrier();
    if (bg == 0u && j < JP) {
      let s = prs[js] + prs[64u + js] + prs[128u + js] + prs[192u + js];
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
    workgroupBarrier();
  }
}

// bcp[o .. o + 3]: columns j .. j + 3 of one block's partial row (columns ≥ J read as 0)
fn bcp4(o: u32, j: u32, J: u32) -> vec4<f32> {
  if (J % 4u == 0u) { return vec4<f32>(b1[o], b1[o + 1u], b1[o + 2u], b1[o + 3u]); }
  var v = vec4<f32>(b1[o], 0.0, 0.0, 0.0);
  if (j + 1u < J) { v.y = b1[o + 1u]; }
  if (j + 2u < J) { v.z = b1[o + 2u]; }
  if (j + 3u < J) { v.w = b1[o + 3u]; }
  return v;
}

// One invocation per (m, 4 consecutive columns j): dxdbl[m, j] = Σ_blk bcp[m, blk, j] (fixed
// order: deterministic); 4·NEB independent loads per invocation. PACKED: m is the slice's padded
// row b·L + t, written to the token of step t of row b0 + b (padding steps are skipped).
// LAST (the last block of prefix-mode training, after scan_bwd SLIM): bcp and dxdbl hold the
// R + N columns dt_r | Bt only, and the last steps' ∂Ct partials [nb, NEB, N] follow the slice's
// rows in bcp; invocations past the rows' sum them into b3 = ∂x_dbl at each row's last step, [B,
// R+2N] (columns before R + N are 0 there: those steps' dt_r and Bt parts are in dxdbl).
@compute @workgroup_size(WG)
fn bc_reduce(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let J = select(R + 2u * N, R + N, LAST); // columns per row of bcp and dxdbl
  let JQ = (J + 3u) / 4u;
  let i = gid.x + gid.y * nwg.x * WG;
  if (LAST && i >= p.nb * p.len * JQ) {
    // the last steps' ∂x_dbl rows [R + 2N]: 0 up to R + N, then Σ_blk of the ∂Ct partials
    let JL = R + 2u * N;
    let k = i - p.nb * p.len * JQ;
    if (k >= p.nb * JL) { return; }
    let b = k / JL;
    let c = k % JL;
    var s = 0.0;
    if (c >= R + N) {
      for (var q = 0u; q < NEB; q++) { s += b1[p.nb * p.len * NEB * J + (b * NEB + q) * N + c - R - N]; }
    }
    b3[(p.b0 + b) * JL + c] = s;
    return;
  }
  if (i >= p.nb * p.len * JQ) { return; }
  let m = i / JQ;
  let j = (i % JQ) * 4u;
  var s = vec4<f32>(0.0);
  if (J % 4u == 0u && NEB % 4u == 0u) {
    // unrolled by 4, two chains (the NVIDIA compiler leaves naga's loops rolled)
    var s1 = vec4<f32>(0.0);
    for (var q = 0u; q < NEB; q += 4u) {
      let o = (m * NEB + q) * J + j;
      s += bcp4(o, j, J) + bcp4(o + J, j, J);
      s1 += bcp4(o + 2u * J, j, J) + bcp4(o + 3u * J, j, J);
    }
    s += s1;
  } else {
    for (var q = 0u; q < NEB; q++) { s += bcp4((m * NEB + q) * J + j, j, J); }
  }
  var row = m;
  if (PACKED) {
    // m = b·L + t of the slice's padded layout: step t of batch row b0 + b, if it is one
    let b = p.b0 + m / p.len;
    let t = m % p.len;
    if (t >= csteps(b)) { return; }
    row = crow(b, t);
  }
  let o = row * J + j;
  b2[o] = s.x;
  if (j + 1u < J) { b2[o + 1u] = s.y; }
  if (j + 2u < J) { b2[o + 2u] = s.z; }
  if (j + 3u < J) { b2[o + 3u] = s.w; }
}

// ---- conv_fwd4: conv_fwd with 16-byte loads and stores (E % 4 == 0, 16-byte aligned views; the
// builder picks it then). WGSL has no generics and one entry point may not use both a binding's
// scalar and vec4 view, so conv_fwd4 repeats conv_fwd with these accessors swapped in; the
// arithmetic is identical. H100, B 1,024, L 200: 0.142 -> 0.093 ms per dispatch. The same for
// conv_bwd (0.439 -> 0.433 ms) and bc_reduce (−5 %) did not pay for the copy
// (kernels/lab/RESULTS.md).
@group(0) @binding(1) var<storage, read_write> b1v: array<vec4<f32>>;
@group(0) @binding(4) var<storage, read_write> b4v: array<vec4<f32>>;

fn x4v(m: u32, e0: u32) -> vec4<f32> { return b1v[(m * XS + e0) / 4u]; }
fn st_b4v(o: u32, e0: u32, v: vec4<f32>) { b4v[o / 4u] = v; }

@compute @workgroup_size(WG)
fn conv_fwd4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * WG;
  let nt = (p.len + CT - 1u) / CT;
  if (i >= p.nb * nt * EV) { return; }
  let e0 = (i % EV) * 4u;
  let r = i / EV;
  let t0 = (r % nt) * CT;
  let b = r / nt;
  let rb = crow(b, 0u); // row of step 0 (one load when PACKED)
  let t1 = min(t0 + CT, csteps(b));
  if (t0 >= t1) { return; }
  let w0 = wtap(e0, 0u);
  let w1 = wtap(e0, 1u);
  let w2 = wtap(e0, 2u);
  let w3 = wtap(e0, 3u);
  let bias = bias4(e0);
  var x1 = vec4<f32>(0.0);
  var x2 = vec4<f32>(0.0);
  var x3 = vec4<f32>(0.0);
  let tv = clamp(cvalid(b), t0, t1); // v5: steps from tv on are padding (zeros, no loads)
  if (t0 < tv) {
    if (t0 >= 1u) { x1 = x4v(rb + t0 - 1u, e0); }
    if (t0 >= 2u) { x2 = x4v(rb + t0 - 2u, e0); }
    if (t0 >= 3u) { x3 = x4v(rb + t0 - 3u, e0); }
  }
  for (var t = t0; t < tv; t++) {
    let m = rb + t;
    let x0 = x4v(m, e0);
    let s = bias + w0 * x0 + w1 * x1 + w2 * x2 + w3 * x3;
    st_b4v(m * E + e0, e0, s * sigmoid4(s));
    x3 = x2;
    x2 = x1;
    x1 = x0;
  }
  for (var t = tv; t < t1; t++) {
    let m = rb + t;
    st_b4v(m * E + e0, e0, vec4<f32>(0.0));
  }
}
