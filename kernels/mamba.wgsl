// Mamba selective scan (mamba-ssm 2.2.2 `selective_scan_ref` maths), forward and backward, with the
// dt_proj Linear + softplus, the D skip and the silu(z) gate fused in. See lib/nn/mamba.ts for the
// glossary and lib/reference/mamba.ts for the float64 reference. Version 2 (v1, one workgroup per
// row b with per-step reductions over all E channels, is kept in kernels/lab/mamba_v1.wgsl).
//
// Defines: E (inner width), N (state), R (dt rank), K (conv width), CH (checkpoint interval in
// steps), EB (channels per workgroup, divides E), NG (states per invocation, divides N), NBUF (1 or
// 2 per-step reduction buffers), WGF (scan_fwd workgroup size). Params: nb = B, len = L. Rows are m = b·L + t.
//
// Work split of scan_bwd (scan_fwd: one invocation per (b, e)): workgroup (blk, b) owns channels e = blk·EB + el, el < EB, of row b; its
// EB·(N/NG) invocations are (ng, el), each holding the NG states n = ng·NG + j of channel e in
// registers. The recurrences are independent per (e, n); only outputs need sums: over n (y, and in
// backward ∂Δ, ∂xc) and over e (∂Bt, ∂Ct, ∂dt_r). Per chunk of CH steps the chunk's inputs (Δ, xc,
// the gate factor, Bt, Ct) are staged in workgroup memory once.
//
// Memory plan (no B·L·E·N tensor): scan_fwd stores the state entering every chunk of CH steps,
// ckpt [B, ceil(L/CH), N, E] (e fastest: coalesced). scan_bwd walks the chunks in reverse,
// recomputes the chunk's states into registers (hb [CH·NG] per invocation) from its checkpoint, then
// runs the reverse recurrence over them. Sums over e of the workgroup's EB channels go to
// bcp [B·L, E/EB, R+2N]; conv1d.wgsl:bc_reduce adds the E/EB block partials into dxdbl.
//
// Bindings (all read_write so views of the flat parameter/gradient buffers may share a dispatch):
//   1 xz [M, 2E] (z = columns E..2E−1)   2 xc [M, E]          3 xdbl [M, R+2N] = [dt_r | Bt | Ct]
//   4 dtw [E, R]   5 dtb [E]   6 alog [E, N]   7 dsk [E] (D)
//   8 yb: y [M, E] (scan_fwd output) / dy [M, E] (scan_bwd input)    9 ckpt [B, NC, N, E]
//   scan_bwd only: 10 dxc [M, E] (overwritten)  11 dxz [M, 2E] (columns E..2E−1 overwritten)
//                  12 part [B, E, JP] (columns 0..N+R+1 written)  13 bcp [M, E/EB, R+2N] (written)

struct Params { nb: u32, len: u32 }
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
@group(0) @binding(13) var<storage, read_write> bcp: array<f32>;

const J: u32 = R + 2u * N;
// partial-sum columns per (b, e): dA_log (N) | dD | dt_proj.weight (R) | dt_proj.bias | conv w (K) | conv b
const JS: u32 = N + R + 2u;
const NGR: u32 = N / NG; // invocations per channel
const T: u32 = EB * NGR; // workgroup size
const NEB: u32 = E / EB; // channel blocks
const EP: u32 = EB + 1u; // padded row (bank conflicts)
const C2: u32 = 2u * N;

// chunk inputs: sh_in[(k·3 + q)·EB + el], q = 0: Δ, 1: xc, 2: gy = dy·silu(z) (backward only)
var<workgroup> sh_in: array<f32, CH * 3u * EB>;
var<workgroup> sh_bc: array<f32, CH * 2u * N>; // [k][Bt (N) | Ct (N)]
var<workgroup> sh_dtr: array<f32, CH * R>;
var<workgroup> sh_w: array<f32, EB * R>;
var<workgroup> sb: array<f32, NBUF * C2 * EP>; // [buf][∂Bt (N) | ∂Ct (N)][el]
var<workgroup> sn: array<f32, NBUF * 3u * NGR * EB>; // [buf][yss | ∂Δ | ∂xc][ng][el] partials over n
var<workgroup> cgs: array<f32, CH * EP>; // [k][el] ∂loss/∂(Δ pre-activation)

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

fn dt_pre(m: u32, e: u32) -> f32 {
  var s = dtb[e];
  for (var r = 0u; r < R; r++) { s += xdbl[m * J + r] * dtw[e * R + r]; }
  return s;
}

// Stages Δ, xc (and gy when `bwd`), Bt, Ct (and dt_r when `bwd`) of steps t0..t1−1 of row b.
// (`bwd` = false was the blocked forward's, kernels/lab/mamba_v2.wgsl.)
fn load_chunk(lid: u32, b: u32, blk: u32, t0: u32, t1: u32, bwd: bool) {
  for (var i = lid; i < CH * EB; i += T) {
    let k = i / EB;
    let el = i % EB;
    let t = t0 + k;
    if (t < t1) {
      let e = blk * EB + el;
      let m = b * p.len + t;
      sh_in[(k * 3u) * EB + el] = softplus(dt_pre(m, e));
      sh_in[(k * 3u + 1u) * EB + el] = xc[m * E + e];
      if (bwd) {
        let z = xz[m * 2u * E + E + e];
        sh_in[(k * 3u + 2u) * EB + el] = yb[m * E + e] * z * sigmoid(z);
      }
    }
  }
  for (var i = lid; i < CH * C2; i += T) {
    let k = i / C2;
    let t = t0 + k;
    if (t < t1) { sh_bc[i] = xdbl[(b * p.len + t) * J + R + i % C2]; }
  }
  if (bwd) {
    for (var i = lid; i < CH * R; i += T) {
      let t = t0 + i / R;
      if (t < t1) { sh_dtr[i] = xdbl[(b * p.len + t) * J + i % R]; }
    }
  }
}

// One invocation per (b, e): N states in registers, sequential over t (v1; the blocked forward of
// kernels/lab/mamba_v2.wgsl measured slower on the H100: 4.3 vs 2.9 ms at B = 1024, L = 200).
@compute @workgroup_size(WGF)
fn scan_fwd(@builtin(global_invocation_id) gid: vec3u) {
  let e = gid.x;
  let b = gid.y;
  if (e >= E || b >= p.nb) { return; }
  var st: array<f32, N>;
  var a: array<f32, N>;
  for (var n = 0u; n < N; n++) { a[n] = -exp(alog[e * N + n]); }
  var w: array<f32, R>;
  for (var r = 0u; r < R; r++) { w[r] = dtw[e * R + r]; }
  let bias = dtb[e];
  let dd = dsk[e];
  let nc = nchunks();
  for (var t = 0u; t < p.len; t++) {
    if (t % CH == 0u) {
      let base = ((b * nc + t / CH) * N) * E + e;
      for (var n = 0u; n < N; n++) { ckpt[base + n * E] = st[n]; }
    }
    let m = b * p.len + t;
    let u = xc[m * E + e];
    var s = bias;
    for (var r = 0u; r < R; r++) { s += xdbl[m * J + r] * w[r]; }
    let dl = softplus(s);
    let du = dl * u;
    var acc = dd * u;
    for (var n = 0u; n < N; n++) {
      st[n] = exp(dl * a[n]) * st[n] + du * xdbl[m * J + R + n];
      acc += xdbl[m * J + R + N + n] * st[n];
    }
    let z = xz[m * 2u * E + E + e];
    yb[m * E + e] = acc * z * sigmoid(z);
  }
}

// Workgroup (blk, b), invocation (ng, el). Per step: the (ng, el) invocations write their ∂Bt, ∂Ct
// contributions and their partial sums over n; after one barrier invocations lid < 2N sum a
// column over the EB channels into bcp, and the last EB invocations ("finalisers", one per channel
// el2) finish that channel's ∂z, ∂xc, ∂Δ and parameter sums. The ∂dt_r columns are summed over
// channels once per chunk. Parameter gradients are per-(b, e) partial sums, reduced over b by
// conv1d.wgsl:param_reduce.
@compute @workgroup_size(T)
fn scan_bwd(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u) {
  let blk = wid.x;
  let b = wid.y;
  let el = lid % EB;
  let ng = lid / EB;
  let e = blk * EB + el;
  var a: array<f32, NG>;
  for (var j = 0u; j < NG; j++) { a[j] = -exp(alog[e * N + ng * NG + j]); }
  // finaliser role: channel e2
  let fin = lid >= T - EB;
  let el2 = lid - (T - EB); // valid when fin
  let e2 = blk * EB + (lid % EB);
  var fw: array<f32, R>;
  for (var r = 0u; r < R; r++) { fw[r] = dtw[e2 * R + r]; }
  let fbias = dtb[e2];
  let fd = dsk[e2];
  for (var i = lid; i < EB * R; i += T) { sh_w[i] = dtw[blk * EB * R + i]; }
  let nc = nchunks();
  var dh: array<f32, NG>; // ∂loss/∂hs[t] from steps > t, already multiplied by exp(Δ[t+1]A)
  var gA: array<f32, NG>; // Σ_t ∂loss/∂A[e, n]
  var hb: array<f32, CH * NG>; // hb[k·NG + j] = state before step t0 + k
  var hc: array<f32, NG>; // state after the current step
  var gw: array<f32, R>;
  var gD = 0.0;
  var gb = 0.0;
  var buf = 0u;
  for (var ci = nc; ci > 0u; ci--) {
    let t0 = (ci - 1u) * CH;
    let t1 = min(t0 + CH, p.len);
    load_chunk(lid, b, blk, t0, t1, true);
    workgroupBarrier();
    let base = ((b * nc + ci - 1u) * N + ng * NG) * E + e;
    for (var j = 0u; j < NG; j++) { hc[j] = ckpt[base + j * E]; }
    for (var k = 0u; k < CH; k++) {
      if (t0 + k < t1) {
        let dl = sh_in[(k * 3u) * EB + el];
        let du = dl * sh_in[(k * 3u + 1u) * EB + el];
        for (var j = 0u; j < NG; j++) {
          hb[k * NG + j] = hc[j];
          hc[j] = exp(dl * a[j]) * hc[j] + du * sh_bc[k * C2 + ng * NG + j];
        }
      }
    }
    for (var kk = 0u; kk < CH; kk++) {
      let k = CH - 1u - kk;
      let t = t0 + k;
      if (t < t1) {
        let m = b * p.len + t;
        let dl = sh_in[(k * 3u) * EB + el];
        let u = sh_in[(k * 3u + 1u) * EB + el];
        let gy = sh_in[(k * 3u + 2u) * EB + el];
        let du = dl * u;
        var yp = 0.0;
        var gdl = 0.0;
        var gu = 0.0;
        for (var j = 0u; j < NG; j++) {
          let n = ng * NG + j;
          let bt = sh_bc[k * C2 + n];
          let ct = sh_bc[k * C2 + N + n];
          let hcur = hc[j];
          let prev = hb[k * NG + j];
          yp += ct * hcur;
          let g = dh[j] + gy * ct;
          let da = exp(dl * a[j]);
          let q = da * prev;
          gdl += g * (a[j] * q + bt * u);
          gA[j] += g * dl * q;
          gu += g * dl * bt;
          sb[(buf * C2 + n) * EP + el] = g * du;
          sb[(buf * C2 + N + n) * EP + el] = gy * hcur;
          dh[j] = g * da;
          hc[j] = prev;
        }
        sn[((buf * 3u) * NGR + ng) * EB + el] = yp;
        sn[((buf * 3u + 1u) * NGR + ng) * EB + el] = gdl;
        sn[((buf * 3u + 2u) * NGR + ng) * EB + el] = gu;
        workgroupBarrier();
        for (var c = lid; c < C2; c += T) {
          var s = 0.0;
          for (var q = 0u; q < EB; q++) { s += sb[(buf * C2 + c) * EP + q]; }
          bcp[(m * NEB + blk) * J + R + c] = s;
        }
        if (fin) {
          let u2 = sh_in[(k * 3u + 1u) * EB + el2];
          var yss = fd * u2;
          var sgdl = 0.0;
          var sgu = 0.0;
          for (var g = 0u; g < NGR; g++) {
            yss += sn[((buf * 3u) * NGR + g) * EB + el2];
            sgdl += sn[((buf * 3u + 1u) * NGR + g) * EB + el2];
            sgu += sn[((buf * 3u + 2u) * NGR + g) * EB + el2];
          }
          let z = xz[m * 2u * E + E + e2];
          let sz = sigmoid(z);
          let dy = yb[m * E + e2];
          let gy2 = dy * z * sz;
          dxz[m * 2u * E + E + e2] = dy * yss * sz * (1.0 + z * (1.0 - sz));
          gD += gy2 * u2;
          dxc[m * E + e2] = sgu + gy2 * fd;
          var s = fbias;
          for (var r = 0u; r < R; r++) { s += sh_dtr[k * R + r] * fw[r]; }
          var gs = sgdl;
          if (s <= 20.0) { gs = sgdl * sigmoid(s); }
          gb += gs;
          for (var r = 0u; r < R; r++) { gw[r] += gs * sh_dtr[k * R + r]; }
          cgs[k * EP + el2] = gs;
        }
        if (NBUF == 1u) { workgroupBarrier(); }
        buf = (buf + 1u) % NBUF;
      }
    }
    workgroupBarrier();
    for (var i = lid; i < CH * R; i += T) {
      let k = i / R;
      let r = i % R;
      let t = t0 + k;
      if (t < t1) {
        var s = 0.0;
        for (var q = 0u; q < EB; q++) { s += cgs[k * EP + q] * sh_w[q * R + r]; }
        bcp[((b * p.len + t) * NEB + blk) * J + r] = s;
      }
    }
    workgroupBarrier();
  }
  let pa = (b * E + e) * (JS + K + 1u);
  for (var j = 0u; j < NG; j++) { part[pa + ng * NG + j] = gA[j] * a[j]; } // dA/dA_log = A
  if (fin) {
    let pb = (b * E + e2) * (JS + K + 1u);
    part[pb + N] = gD;
    for (var r = 0u; r < R; r++) { part[pb + N + 1u + r] = gw[r]; }
    part[pb + N + 1u + R] = gb;
  }
}
