// S5 time-aware SSM (SPEC §2.1): the scans and the small glue kernels around the matmuls of
// lib/nn/s5.ts. Complex numbers are (re, im) pairs; state-like tensors are [B·L, P, 2] interleaved.
//
// Bindings: 0 = Params; 1..7 = the tensors listed per entry point (generic names because one
// binding number carries a different tensor in each entry). Every storage binding is read_write so
// views of the flat parameter / gradient buffers can share a dispatch.
//
// Glossary: nb = B, nl = L, np = P, nh = H; lam = Λ; s = dt·exp(log_step); z = Λs; a = e^z;
// phi = φ₁(z) = (e^z − 1)/z; dphi = φ₁'(z); g = s·φ₁(z); v = B̃u; x = state; lm = adjoint of x.

struct Params {
  nb: u32,
  nl: u32,
  np: u32,
  nh: u32,
  clip: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> t1: array<f32>;
@group(0) @binding(2) var<storage, read_write> t2: array<f32>;
@group(0) @binding(3) var<storage, read_write> t3: array<f32>;
@group(0) @binding(4) var<storage, read_write> t4: array<f32>;
@group(0) @binding(5) var<storage, read_write> t5: array<f32>;
@group(0) @binding(6) var<storage, read_write> t6: array<f32>;
@group(0) @binding(7) var<storage, read_write> t7: array<f32>;
// PACKED (define; packed tokens, lib/data/batch.ts packBatch): the scans and skip_backward read
// 8 = lens [B] and 9 = start [B + 1] (i32): step t of row b is row start[b] + t, and a row has no
// steps past its length.
@group(0) @binding(8) var<storage, read_write> ti8: array<i32>;
@group(0) @binding(9) var<storage, read_write> ti9: array<i32>;
// LENS (define; session 15): the padded layout with row lengths (binding 8 = lengths [B], i32):
// the scans walk each row's first lengths[b] steps only — scan_forward writes x = 0 past them,
// scan_backward leaves ∂v there as G, which is 0 (no loss reads those steps: ∂y is 0 there,
// LayerIO.lengths) — and skip_backward sums over them only.

const CLIP_RE: f32 = -1e-4;

fn cmul(a: vec2f, b: vec2f) -> vec2f {
  return vec2f(a.x * b.x - a.y * b.y, a.x * b.y + a.y * b.x);
}

// conj(a)·b
fn cmulc(a: vec2f, b: vec2f) -> vec2f {
  return vec2f(a.x * b.x + a.y * b.y, a.x * b.y - a.y * b.x);
}

// a / b
fn cdiv(a: vec2f, b: vec2f) -> vec2f {
  return cmulc(b, a) / dot(b, b);
}

struct Disc { a: vec2f, phi: vec2f, dphi: vec2f }

// e^z, guarded: once the magnitude underflows the phase z.y may be huge (1e9 for a 3e7 s gap) and
// cos/sin of it are not reliable on every driver, so a is set to exactly 0 instead of 0·cos(huge).
// The phase is first reduced to [−π, π] with a three-part 2π (Cody-Waite, fma): GPU cos/sin are
// only accurate on [−π, π] (Vulkan leaves larger arguments unspecified; NVIDIA's fast path loses
// accuracy with magnitude), and phases of 1e3..1e5 rad are common (Im Λ up to 325, s up to ~1e3
// while the decay has not yet underflowed). Exact for |k| < 2^16 turns.
const TWO_PI_1: f32 = 6.28125;
const TWO_PI_2: f32 = 0.0019353071693331003;
const TWO_PI_3: f32 = 1.0253131677018246e-11;
const INV_TWO_PI: f32 = 0.15915494309189535;

fn cexp(z: vec2f) -> vec2f {
  let m = exp(z.x);
  if (m == 0.0) { return vec2f(0.0); }
  let k = round(z.y * INV_TWO_PI);
  let r = fma(-k, TWO_PI_3, fma(-k, TWO_PI_2, fma(-k, TWO_PI_1, z.y)));
  return m * vec2f(cos(r), sin(r));
}

// a, φ₁(z), φ₁'(z) for z = Λs. |z| < 1: Taylor to z^10 (error < 1/12! ≈ 2e-9); else closed forms,
// whose cancellation is then at most ~1 ulp relative.
fn discretize(lam: vec2f, s: f32) -> Disc {
  let z = lam * s;
  let a = cexp(z);
  var phi: vec2f;
  var dphi: vec2f;
  if (dot(z, z) < 1.0) {
    // φ₁ = Σ z^k/(k+1)!
    phi = vec2f(1.0 / 39916800.0, 0.0);
    phi = cmul(phi, z) + vec2f(1.0 / 3628800.0, 0.0);
    phi = cmul(phi, z) + vec2f(1.0 / 362880.0, 0.0);
    phi = cmul(phi, z) + vec2f(1.0 / 40320.0, 0.0);
    phi = cmul(phi, z) + vec2f(1.0 / 5040.0, 0.0);
    phi = cmul(phi, z) + vec2f(1.0 / 720.0, 0.0);
    phi = cmul(phi, z) + vec2f(1.0 / 120.0, 0.0);
    phi = cmul(phi, z) + vec2f(1.0 / 24.0, 0.0);
    phi = cmul(phi, z) + vec2f(1.0 / 6.0, 0.0);
    phi = cmul(phi, z) + vec2f(0.5, 0.0);
    phi = cmul(phi, z) + vec2f(1.0, 0.0);
    // φ₁' = Σ (k+1) z^k/(k+2)!
    dphi = vec2f(11.0 / 479001600.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(10.0 / 39916800.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(9.0 / 3628800.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(8.0 / 362880.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(7.0 / 40320.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(6.0 / 5040.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(5.0 / 720.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(4.0 / 120.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(3.0 / 24.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(2.0 / 6.0, 0.0);
    dphi = cmul(dphi, z) + vec2f(0.5, 0.0);
  } else {
    phi = cdiv(a - vec2f(1.0, 0.0), z);
    dphi = cdiv(a - phi, z);
  }
  return Disc(a, phi, dphi);
}

// Λ[q] as used by the forward (Re clamped to ≤ −1e-4 when p.clip != 0).
fn lambda_at(lam: vec2f) -> vec2f {
  if (p.clip != 0u) { return vec2f(min(lam.x, CLIP_RE), lam.y); }
  return lam;
}

fn linear(gid: vec3u, nwg: vec3u, wg: u32) -> u32 {
  return gid.x + gid.y * nwg.x * wg;
}

// Rearranges the parameters into matmul layouts, one invocation per (q, h) of P·H:
// t1 = B [P,H,2] → t3 = Bm [2P,H] (row 2q+c = component c of B̃[q,:]);
// t2 = C [H,P,2] → t4 = Cm [H,2P] (Cm[h,2q] = Re C̃, Cm[h,2q+1] = −Im C̃, so Re(C̃x) = Cm·x).
@compute @workgroup_size(256)
fn prep(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear(gid, nwg, 256u);
  if (i >= p.np * p.nh) { return; }
  let q = i / p.nh;
  let h = i % p.nh;
  let src = (q * p.nh + h) * 2u;
  t3[(2u * q) * p.nh + h] = t1[src];
  t3[(2u * q + 1u) * p.nh + h] = t1[src + 1u];
  let c = (h * p.np + q) * 2u;
  t4[c] = t2[c];
  t4[c + 1u] = -t2[c + 1u];
}

// Steps of row b (L, or its length when PACKED or LENS) and its first activation row.
fn row_steps(b: u32) -> u32 {
  if (PACKED || LENS) { return u32(clamp(ti8[b], 0, i32(p.nl))); }
  return p.nl;
}

fn row_start(b: u32) -> u32 {
  if (PACKED) { return u32(ti9[b]); }
  return b * p.nl;
}

// Forward scan, v2 (session 12): one workgroup of SF_T invocations per row b, over chunks of
// CS = SF_T / P steps. Phase 1: every invocation (k, q) of the chunk discretises its step t0 + k
// and state q in parallel and stages a = e^{Λs} and s·φ₁·v in workgroup memory; phase 2: the P
// invocations q < P walk the chunk's CS steps, x ← a·x + s·φ₁·v (x unchanged where s = 0), and
// store the states. The recurrence is the only sequential part. v1 (commit 94d6451) had one
// invocation per (b, q) do both, 32K invocations at B 1,024: latency-bound. H100: the training
// step's two forward scans 0.160 → 0.126 ms; at B 2,048 (evaluation) 0.202 → 0.244 ms.
// t1 = dt [B,L], t2 = Lambda [P,2], t3 = log_step [P], t4 = v [B,L,P,2] (= B̃u), t5 = x (out).
const SF_T: u32 = 256u;
var<workgroup> sf_ag: array<vec4f, SF_T>; // (a, s·φ₁·v) of chunk slot k·P + q
var<workgroup> sf_s: array<f32, SF_T>; // s of the slot (0: identity step)
var<workgroup> sf_len: u32;

// Steps of row b, uniform across the workgroup (a storage load is not uniform by itself).
fn row_steps_uniform(lid: u32, b: u32) -> u32 {
  if (lid == 0u) { sf_len = row_steps(b); }
  return workgroupUniformLoad(&sf_len);
}

@compute @workgroup_size(SF_T)
fn scan_forward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                @builtin(local_invocation_id) lidv: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.nb) { return; }
  let lid = lidv.x;
  let cs = max(1u, SF_T / p.np); // steps per chunk
  let q = lid % p.np;
  let k = lid / p.np; // the invocation's step within a chunk (phase 1)
  let lam = lambda_at(vec2f(t2[2u * q], t2[2u * q + 1u]));
  let step = exp(t3[q]);
  let nl = row_steps_uniform(lid, b);
  let row0 = row_start(b);
  var x = vec2f(0.0); // the running state of the walkers (lid < P)
  for (var t0 = 0u; t0 < nl; t0 += cs) {
    let t = t0 + k;
    if (k < cs && t < nl) {
      let bt = row0 + t;
      let o = (bt * p.np + q) * 2u;
      let s = t1[bt] * step;
      let d = discretize(lam, s);
      sf_ag[lid] = vec4f(d.a, s * cmul(d.phi, vec2f(t4[o], t4[o + 1u])));
      sf_s[lid] = s;
    }
    workgroupBarrier();
    if (lid < p.np) {
      let n = min(cs, nl - t0);
      var o = ((row0 + t0) * p.np + lid) * 2u;
      for (var j = 0u; j < n; j++) {
        let e = sf_ag[j * p.np + lid];
        x = select(x, cmul(e.xy, x) + e.zw, sf_s[j * p.np + lid] != 0.0);
        t5[o] = x.x;
        t5[o + 1u] = x.y;
        o += 2u * p.np;
      }
    }
    workgroupBarrier();
  }
  // LENS: the states past the row's length are 0
  if (LENS) {
    let o = (row0 + nl) * p.np * 2u;
    for (var i = lid; i < (p.nl - nl) * p.np * 2u; i += SF_T) { t5[o + i] = 0.0; }
  }
}

// Per-row partial sums of dD = Σ_t dy·u, one invocation per (b, h): t1 = u, t3 = dy, t5 = partial dD [B,H]. (du = D·dy is the skip term of the du = dv·Bm product's epilogue
// since session 9; this kernel wrote it, and read du's old value, before.)
// Unrolled by 8 so that many independent loads are in flight: the loop is latency-bound otherwise.
@compute @workgroup_size(64)
fn skip_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear(gid, nwg, 64u);
  if (i >= p.nb * p.nh) { return; }
  let b = i / p.nh;
  let h = i % p.nh;
  let base = row_start(b) * p.nh + h;
  let nl = row_steps(b);
  var acc = 0.0;
  var acc1 = 0.0;
  var t = 0u;
  for (; t + 8u <= nl; t += 8u) {
    let k0 = base + t * p.nh;
    let k1 = k0 + p.nh;
    let k2 = k1 + p.nh;
    let k3 = k2 + p.nh;
    let k4 = k3 + p.nh;
    let k5 = k4 + p.nh;
    let k6 = k5 + p.nh;
    let k7 = k6 + p.nh;
    acc += t3[k0] * t1[k0] + t3[k1] * t1[k1] + t3[k2] * t1[k2] + t3[k3] * t1[k3];
    acc1 += t3[k4] * t1[k4] + t3[k5] * t1[k5] + t3[k6] * t1[k6] + t3[k7] * t1[k7];
  }
  acc += acc1;
  for (; t < nl; t++) {
    let k = base + t * p.nh;
    acc += t3[k] * t1[k];
  }
  t5[i] = acc;
}

// Reverse scan, one invocation per (b, q): λ[t] = G[t] + conj(a[t+1])·λ[t+1] with G = dy·conj(C̃)
// precomputed by a matmul; writes dv = conj(g)·λ over G in place and the per-row partials of dΛ
// and dlog_step. t1 = dt, t2 = Lambda, t3 = log_step, t4 = v, t5 = x, t6 = G in / dv out
// [B,L,P,2], t7 = partials [B, 3P] (dΛ re/im interleaved in [0, 2P), dlog_step in [2P, 3P)).
// scan_backward's running state (one invocation's): λ, a[t+1], dΛ, dlog_step
var<private> bw_lm: vec2f;
var<private> bw_anext: vec2f;
var<private> bw_dl: vec2f;
var<private> bw_dls: f32;

// One reverse step at offset o given its inputs: s = dt·step, its discretisation d, G = t6[o],
// the previous state xp and v = t4[o]; writes dv over G.
fn bw_step(o: u32, lam: vec2f, s: f32, d: Disc, g: vec2f, xp: vec2f, v: vec2f) {
  bw_lm = g + cmulc(bw_anext, bw_lm);
  if (s == 0.0) {
    // a = 1, g = 0: λ passes through, nothing flows into v, Λ or log_step
    t6[o] = 0.0;
    t6[o + 1u] = 0.0;
    bw_anext = vec2f(1.0, 0.0);
    return;
  }
  let dv = cmulc(s * d.phi, bw_lm);
  t6[o] = dv.x;
  t6[o + 1u] = dv.y;
  let da = cmulc(xp, bw_lm);
  let dg = cmulc(v, bw_lm);
  // dΛ += conj(s·a)·da + conj(s²·φ₁')·dg;  ds = Re(conj(a)·(dg + conj(Λ)·da))
  bw_dl += s * (cmulc(d.a, da) + s * cmulc(d.dphi, dg));
  bw_dls += s * dot(d.a, dg + cmulc(lam, da));
  bw_anext = d.a;
}

// scan_backward's prefetch registers: s (step), G, v of four steps and the states x before them
var<private> ns0: f32;
var<private> ns1: f32;
var<private> ns2: f32;
var<private> ns3: f32;
var<private> ng0: vec2f;
var<private> ng1: vec2f;
var<private> ng2: vec2f;
var<private> ng3: vec2f;
var<private> nv0: vec2f;
var<private> nv1: vec2f;
var<private> nv2: vec2f;
var<private> nv3: vec2f;
var<private> nx0: vec2f;
var<private> nx1: vec2f;
var<private> nx2: vec2f;
var<private> nx3: vec2f;

// Loads steps bt, bt − 1, bt − 2, bt − 3 (token rows; row = floats between steps) into the
// prefetch registers; the state before bt − 3 only when it exists (`before`), else 0.
fn bw_prefetch4(bt: u32, row: u32, q: u32, before: bool) {
  let o = (bt * p.np + q) * 2u;
  ns0 = t1[bt];
  ns1 = t1[bt - 1u];
  ns2 = t1[bt - 2u];
  ns3 = t1[bt - 3u];
  ng0 = vec2f(t6[o], t6[o + 1u]);
  ng1 = vec2f(t6[o - row], t6[o - row + 1u]);
  ng2 = vec2f(t6[o - 2u * row], t6[o - 2u * row + 1u]);
  ng3 = vec2f(t6[o - 3u * row], t6[o - 3u * row + 1u]);
  nv0 = vec2f(t4[o], t4[o + 1u]);
  nv1 = vec2f(t4[o - row], t4[o - row + 1u]);
  nv2 = vec2f(t4[o - 2u * row], t4[o - 2u * row + 1u]);
  nv3 = vec2f(t4[o - 3u * row], t4[o - 3u * row + 1u]);
  nx0 = vec2f(t5[o - row], t5[o - row + 1u]);
  nx1 = vec2f(t5[o - 2u * row], t5[o - 2u * row + 1u]);
  nx2 = vec2f(t5[o - 3u * row], t5[o - 3u * row + 1u]);
  nx3 = vec2f(0.0);
  if (before) { nx3 = vec2f(t5[o - 4u * row], t5[o - 4u * row + 1u]); }
}

// Reverse scan, one invocation per (b, q): λ[t] = G[t] + conj(a[t+1])·λ[t+1] with G = dy·conj(C̃)
// precomputed by a matmul; writes dv = conj(g)·λ over G in place and the per-row partials of dΛ
// and dlog_step. t1 = dt, t2 = Lambda, t3 = log_step, t4 = v, t5 = x, t6 = G in / dv out
// [B,L,P,2], t7 = partials [B, 3P] (dΛ re/im interleaved in [0, 2P), dlog_step in [2P, 3P)).
// Like scan_forward, four steps' loads and discretisations are issued before the state walks
// through them (same arithmetic as one step at a time).
@compute @workgroup_size(64)
fn scan_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = linear(gid, nwg, 64u);
  if (i >= p.nb * p.np) { return; }
  let b = i / p.np;
  let q = i % p.np;
  let raw = vec2f(t2[2u * q], t2[2u * q + 1u]);
  let lam = lambda_at(raw);
  let step = exp(t3[q]);
  bw_lm = vec2f(0.0);
  bw_anext = vec2f(0.0);
  bw_dl = vec2f(0.0);
  bw_dls = 0.0;
  let row = 2u * p.np; // floats between consecutive steps
  let nl = row_steps(b);
  let row0 = row_start(b);
  // Session 7: the next group's loads (s, G, v and the states before it) are issued before this
  // group computes, into the prefetch registers n*, so a group waits on no load of its own.
  if (4u <= nl) { bw_prefetch4(row0 + nl - 1u, row, q, nl > 4u); } // steps nl − 1 .. nl − 4
  var k = 0u;
  for (; k + 4u <= nl; k += 4u) {
    // steps t, t − 1, t − 2, t − 3
    let t = nl - 1u - k;
    let bt = row0 + t;
    let o0 = (bt * p.np + q) * 2u;
    let o1 = o0 - row;
    let o2 = o1 - row;
    let o3 = o2 - row;
    let s0 = ns0 * step;
    let s1 = ns1 * step;
    let s2 = ns2 * step;
    let s3 = ns3 * step;
    let g0 = ng0;
    let g1 = ng1;
    let g2 = ng2;
    let g3 = ng3;
    let v0 = nv0;
    let v1 = nv1;
    let v2 = nv2;
    let v3 = nv3;
    let x0 = nx0;
    let x1 = nx1;
    let x2 = nx2;
    let x3 = nx3;
    // steps t − 4 .. t − 7; the state before t − 7 exists when t > 7
    if (k + 8u <= nl) { bw_prefetch4(bt - 4u, row, q, t > 7u); }
    let d0 = discretize(lam, s0);
    let d1 = discretize(lam, s1);
    let d2 = discretize(lam, s2);
    let d3 = discretize(lam, s3);
    bw_step(o0, lam, s0, d0, g0, x0, v0);
    bw_step(o1, lam, s1, d1, g1, x1, v1);
    bw_step(o2, lam, s2, d2, g2, x2, v2);
    bw_step(o3, lam, s3, d3, g3, x3, v3);
  }
  for (; k < nl; k++) {
    let t = nl - 1u - k;
    let bt = row0 + t;
    let o = (bt * p.np + q) * 2u;
    let s = t1[bt] * step;
    var xp = vec2f(0.0);
    if (t > 0u) { xp = vec2f(t5[o - row], t5[o - row + 1u]); }
    bw_step(o, lam, s, discretize(lam, s), vec2f(t6[o], t6[o + 1u]), xp, vec2f(t4[o], t4[o + 1u]));
  }
  var dl = bw_dl;
  // clamped entries: the forward used a constant, so Re gets no gradient (as jnp/torch clip)
  if (p.clip != 0u && raw.x > CLIP_RE) { dl.x = 0.0; }
  let w = b * 3u * p.np;
  t7[w + 2u * q] = dl.x;
  t7[w + 2u * q + 1u] = dl.y;
  t7[w + 2u * p.np + q] = bw_dls;
}

// Deterministic reductions of partials [slices, n] over slices, ADDED into gradients: the layer's
// four (dB̃, dC̃, dD, dΛ with dlog_step) in one dispatch (session 9; one dispatch each before).
// Workgroup = 16 outputs × 16 lanes; each lane sums a fixed strided subset of the slices, then
// lane 0 adds the 16 lane sums in a fixed order (no float atomics, bit-reproducible).
var<workgroup> red: array<f32, 256>;

// One reduction of reduce_all: partials t1[at + s·n + j] for s < slices, j < n; its outputs at
// t2[out ..] (and, for dΛ, dlog_step at t2[out2 ..]); workgroups wg0 .. of the dispatch.
struct RTask { at: u32, n: u32, slices: u32, out: u32, out2: u32, wg0: u32, pad0: u32, pad1: u32 }
struct RParams { nh: u32, np: u32, pad0: u32, pad1: u32, task: array<RTask, 4> }
@group(0) @binding(0) var<uniform> rp: RParams;

// Four independent chains (session 7): with one chain the dD and dΛ reductions (64 and 96
// outputs over 1,024 slices: 4 and 6 workgroups) waited on 64 dependent loads per lane, ~32 µs
// each on the H100; the NVIDIA compiler leaves naga's loops rolled, so the unroll is by hand.
fn slice_sum(at: u32, n: u32, slices: u32, j: u32, lane: u32) -> f32 {
  var a0 = 0.0;
  var a1 = 0.0;
  var a2 = 0.0;
  var a3 = 0.0;
  if (j < n) {
    var s = lane;
    for (; s + 48u < slices; s += 64u) {
      a0 += t1[at + s * n + j];
      a1 += t1[at + (s + 16u) * n + j];
      a2 += t1[at + (s + 32u) * n + j];
      a3 += t1[at + (s + 48u) * n + j];
    }
    for (; s < slices; s += 16u) { a0 += t1[at + s * n + j]; }
  }
  return (a0 + a1) + (a2 + a3);
}

// task 0: dB̃ from [S, 2P, H]: j = (2q+c)·H + h → out[(q·H + h)·2 + c]; task 1: dC̃ from [S, H, 2P]
// = dyᵀx: out[j], negated for imaginary parts (conj(x)); task 2: dD [B, H] → out[j]; task 3: the
// scan backward's [B, 3P] → dΛ out[j] for j < 2P, dlog_step out2[j − 2P].
@compute @workgroup_size(16, 16)
fn reduce_all(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  var k = 0u;
  if (wid.x >= rp.task[1].wg0) { k = 1u; }
  if (wid.x >= rp.task[2].wg0) { k = 2u; }
  if (wid.x >= rp.task[3].wg0) { k = 3u; }
  let tk = rp.task[k];
  let j = (wid.x - tk.wg0) * 16u + lid.x;
  red[lid.y * 16u + lid.x] = slice_sum(tk.at, tk.n, tk.slices, j, lid.y);
  workgroupBarrier();
  if (lid.y != 0u || j >= tk.n) { return; }
  var sum = 0.0;
  for (var l = 0u; l < 16u; l++) { sum += red[l * 16u + lid.x]; }
  if (k == 0u) {
    let r = j / rp.nh;
    let h = j % rp.nh;
    t2[tk.out + ((r / 2u) * rp.nh + h) * 2u + (r % 2u)] += sum;
  } else if (k == 1u) {
    t2[tk.out + j] += select(sum, -sum, (j % 2u) == 1u);
  } else if (k == 2u || j < 2u * rp.np) {
    t2[tk.out + j] += sum;
  } else {
    t2[tk.out2 + j - 2u * rp.np] += sum;
  }
}
