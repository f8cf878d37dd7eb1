// Mamba selective scan (mamba-ssm 2.2.2 `selective_scan_ref` maths), forward and backward, with the
// dt_proj Linear + softplus, the D skip and the silu(z) gate fused in. See lib/nn/mamba.ts for the
// glossary and lib/reference/mamba.ts for the float64 reference.
//
// Defines: E (inner width), N (state), R (dt rank), CH (checkpoint interval in steps), JB (how many
// of the R + 2N per-step reductions share workgroup memory at once), WGF (scan_fwd workgroup size).
// Params: nb = B, len = L. Rows are m = b·L + t.
//
// Memory plan (no B·L·E·N tensor): scan_fwd stores the state entering every chunk of CH steps,
// ckpt [B, ceil(L/CH), N, E] (e fastest: coalesced over threads). scan_bwd walks the chunks in
// reverse, recomputes the chunk's CH states into a private array from its checkpoint, then runs the
// reverse recurrence over them.
//
// Bindings (all read_write so views of the flat parameter/gradient buffers may share a dispatch):
//   1 xz [M, 2E] (z = columns E..2E−1)   2 xc [M, E]          3 xdbl [M, R+2N] = [dt_r | Bt | Ct]
//   4 dtw [E, R]   5 dtb [E]   6 alog [E, N]   7 dsk [E] (D)
//   8 yb: y [M, E] (scan_fwd output) / dy [M, E] (scan_bwd input)    9 ckpt [B, NC, N, E]
//   scan_bwd only: 10 dxc [M, E] (overwritten)  11 dxz [M, 2E] (columns E..2E−1 overwritten)
//                  12 dxdbl [M, R+2N] (overwritten)  13 part [B, E, JP] (columns 0..N+R+1 written)

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
@group(0) @binding(12) var<storage, read_write> dxdbl: array<f32>;
@group(0) @binding(13) var<storage, read_write> part: array<f32>;

const J: u32 = R + 2u * N;
// partial-sum columns per (b, e): dA_log (N) | dD | dt_proj.weight (R) | dt_proj.bias | conv w (K) | conv b
const JS: u32 = N + R + 2u;

var<workgroup> red: array<f32, E * (JB + 1u)>;
var<workgroup> red2: array<f32, E>; // S·nj ≤ E partial sums

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

// One invocation per (b, e): N states in registers, sequential over t.
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

// One workgroup per row b, one invocation per channel e (workgroup size E), so that the per-step
// gradients of the shared inputs dt_r, Bt, Ct (sums over e) reduce through workgroup memory
// without atomics. Parameter gradients are per-(b, e) partial sums, reduced over b by
// conv1d.wgsl:param_reduce.
@compute @workgroup_size(E)
fn scan_bwd(@builtin(local_invocation_id) lid: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let e = lid.x;
  let b = wid.x;
  var a: array<f32, N>;
  for (var n = 0u; n < N; n++) { a[n] = -exp(alog[e * N + n]); }
  var w: array<f32, R>;
  for (var r = 0u; r < R; r++) { w[r] = dtw[e * R + r]; }
  let bias = dtb[e];
  let dd = dsk[e];
  let nc = nchunks();
  var dh: array<f32, N>; // ∂loss/∂hs[t] from steps > t, already multiplied by exp(Δ[t+1]A)
  var gA: array<f32, N>; // Σ_t ∂loss/∂A[e, n]
  var gw: array<f32, R>;
  var gD = 0.0;
  var gb = 0.0;
  var hb: array<f32, (CH + 1u) * N>; // hb[k·N + n] = state before step t0 + k
  var cj: array<f32, J>; // this channel's contributions to dt_r, Bt, Ct gradients at step t
  for (var ci = nc; ci > 0u; ci--) {
    let t0 = (ci - 1u) * CH;
    let t1 = min(t0 + CH, p.len);
    let base = ((b * nc + ci - 1u) * N) * E + e;
    for (var n = 0u; n < N; n++) { hb[n] = ckpt[base + n * E]; }
    for (var t = t0; t < t1; t++) {
      let m = b * p.len + t;
      let u = xc[m * E + e];
      var s = bias;
      for (var r = 0u; r < R; r++) { s += xdbl[m * J + r] * w[r]; }
      let dl = softplus(s);
      let k = t - t0;
      for (var n = 0u; n < N; n++) {
        hb[(k + 1u) * N + n] = exp(dl * a[n]) * hb[k * N + n] + dl * u * xdbl[m * J + R + n];
      }
    }
    for (var t = t1; t > t0; t--) {
      let k = t - 1u - t0;
      let m = b * p.len + t - 1u;
      let u = xc[m * E + e];
      var s = bias;
      for (var r = 0u; r < R; r++) { s += xdbl[m * J + r] * w[r]; }
      let dl = softplus(s);
      var yss = dd * u;
      for (var n = 0u; n < N; n++) { yss += xdbl[m * J + R + N + n] * hb[(k + 1u) * N + n]; }
      let z = xz[m * 2u * E + E + e];
      let sz = sigmoid(z);
      let dy = yb[m * E + e];
      let gy = dy * z * sz;
      dxz[m * 2u * E + E + e] = dy * yss * sz * (1.0 + z * (1.0 - sz));
      gD += gy * u;
      var gu = gy * dd;
      var gdl = 0.0;
      for (var n = 0u; n < N; n++) {
        let prev = hb[k * N + n];
        let bt = xdbl[m * J + R + n];
        let ct = xdbl[m * J + R + N + n];
        cj[R + N + n] = gy * hb[(k + 1u) * N + n];
        let g = dh[n] + gy * ct;
        let da = exp(dl * a[n]);
        gdl += g * (a[n] * da * prev + bt * u);
        gA[n] += g * dl * da * prev;
        cj[R + n] = g * dl * u;
        gu += g * dl * bt;
        dh[n] = g * da;
      }
      var gs = gdl;
      if (s <= 20.0) { gs = gdl * sigmoid(s); }
      gb += gs;
      for (var r = 0u; r < R; r++) {
        gw[r] += gs * xdbl[m * J + r];
        cj[r] = gs * w[r];
      }
      dxc[m * E + e] = gu;
      // Σ_e cj[j] for every j, JB columns at a time (row stride JB + 1 avoids bank conflicts).
      // Each column's E-long sum is split over S = ⌊E / nj⌋ invocations, then the S partials are
      // summed: a serial chain of ~E/S + S loads instead of E.
      for (var j0 = 0u; j0 < J; j0 += JB) {
        let nj = min(JB, J - j0);
        for (var jj = 0u; jj < nj; jj++) { red[e * (JB + 1u) + jj] = cj[j0 + jj]; }
        workgroupBarrier();
        let S = max(1u, E / nj);
        let span = (E + S - 1u) / S;
        let jj = e % nj;
        let sp = e / nj;
        if (sp < S) {
          var sum = 0.0;
          for (var q = sp * span; q < min(E, (sp + 1u) * span); q++) {
            sum += red[q * (JB + 1u) + jj];
          }
          red2[sp * nj + jj] = sum;
        }
        workgroupBarrier();
        if (e < nj) {
          var sum = 0.0;
          for (var q = 0u; q < S; q++) { sum += red2[q * nj + e]; }
          dxdbl[m * J + j0 + e] = sum;
        }
        workgroupBarrier();
      }
    }
  }
  let pb = (b * E + e) * (JS + K + 1u);
  for (var n = 0u; n < N; n++) { part[pb + n] = gA[n] * a[n]; } // dA/dA_log = A
  part[pb + N] = gD;
  for (var r = 0u; r < R; r++) { part[pb + N + 1u + r] = gw[r]; }
  part[pb + N + 1u + R] = gb;
}
