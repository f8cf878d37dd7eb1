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

// Steps of row b (L, or its length when PACKED) and its first activation row.
fn row_steps(b: u32) -> u32 {
  if (PACKED) { return u32(clamp(ti8[b], 0, i32(p.nl))); }
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
// store the states. The recurrence is the only sequential part; v1 (commit b069a94) ran the
// discretisation on one invocation per (b, q) too, 32K invocations at B 1,024: latency-bound.
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

// Reverse scan, v2 (session 12; v1, one invocation per (b, q) walking its row, is at commit
// b069a94): λ[t] = G[t] + conj(a[t+1])·λ[t+1] with G = dy·conj(C̃) precomputed by a matmul;
// writes dv = conj(s·φ₁)·λ over G in place and the per-row partials of dΛ and dlog_step. One
// workgroup of SF_T invocations per row b walks the row's chunks of CS = SF_T / P steps from the
// last: phase 1, every invocation (k, q) discretises step t0 + k of state q and loads its G, v and
// the state before it; phase 2, the P walkers q run the recurrence down the chunk (the only
// sequential part) and leave λ in workgroup memory; phase 3, every (k, q) forms dv and its terms
// of dΛ and dlog_step. The per-slot partials are summed over k at the end in a fixed order.
// t1 = dt, t2 = Lambda, t3 = log_step, t4 = v, t5 = x, t6 = G in / dv out [B,L,P,2],
// t7 = partials [B, 3P] (dΛ re/im interleaved in [0, 2P), dlog_step in [2P, 3P)).
var<workgroup> sb_ga: array<vec4f, SF_T>; // (G, then λ; a' = a, or 1 where s = 0) of a slot

@compute @workgroup_size(SF_T)
fn scan_backward(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
                 @builtin(local_invocation_id) lidv: vec3u) {
  let b = wid.x + wid.y * nwg.x;
  if (b >= p.nb) { return; }
  let lid = lidv.x;
  let cs = max(1u, SF_T / p.np); // steps per chunk
  let q = lid % p.np;
  let k = lid / p.np;
  let raw = vec2f(t2[2u * q], t2[2u * q + 1u]);
  let lam = lambda_at(raw);
  let step = exp(t3[q]);
  let nl = row_steps_uniform(lid, b);
  let row0 = row_start(b);
  let row = 2u * p.np; // floats between consecutive steps
  var lm = vec2f(0.0); // walkers: λ and a' of the step after
  var anext = vec2f(0.0);
  var dl = vec2f(0.0); // every slot: its terms of dΛ and dlog_step
  var dls = 0.0;
  for (var c = (nl + cs - 1u) / cs; c > 0u; c--) {
    let t0 = (c - 1u) * cs;
    let t = t0 + k;
    let live = k < cs && t < nl;
    var s = 0.0;
    var d = Disc(vec2f(0.0), vec2f(0.0), vec2f(0.0));
    var v = vec2f(0.0);
    var xp = vec2f(0.0);
    var o = 0u;
    if (live) {
      let bt = row0 + t;
      o = (bt * p.np + q) * 2u;
      s = t1[bt] * step;
      d = discretize(lam, s);
      v = vec2f(t4[o], t4[o + 1u]);
      if (t > 0u) { xp = vec2f(t5[o - row], t5[o - row + 1u]); }
      sb_ga[lid] = vec4f(t6[o], t6[o + 1u], select(vec2f(1.0, 0.0), d.a, s != 0.0));
    }
    workgroupBarrier();
    if (lid < p.np) {
      for (var j = min(cs, nl - t0); j > 0u; j--) {
        let e = sb_ga[(j - 1u) * p.np + lid];
        lm = e.xy + cmulc(anext, lm);
        sb_ga[(j - 1u) * p.np + lid] = vec4f(lm, e.zw);
        anext = e.zw;
      }
    }
    workgroupBarrier();
    if (live) {
      let l = sb_ga[lid].xy;
      if (s == 0.0) {
        // a = 1, g = 0: λ passes through, nothing flows into v, Λ or log_step
        t6[o] = 0.0;
        t6[o + 1u] = 0.0;
      } else {
        let dv = cmulc(s * d.phi, l);
        t6[o] = dv.x;
        t6[o + 1u] = dv.y;
        let da = cmulc(xp, l);
        let dg = cmulc(v, l);
        // dΛ += conj(s·a)·da + conj(s²·φ₁')·dg;  ds = Re(conj(a)·(dg + conj(Λ)·da))
        dl += s * (cmulc(d.a, da) + s * cmulc(d.dphi, dg));
        dls += s * dot(d.a, dg + cmulc(lam, da));
      }
    }
    workgroupBarrier();
  }
  sb_ga[lid] = vec4f(dl, dls, 0.0);
  workgroupBarrier();
  if (lid >= p.np) { return; }
  var acc = vec4f(0.0);
  for (var j = 0u; j < cs; j++) { acc += sb_ga[j * p.np + lid]; }
  var dlo = acc.xy;
  // clamped entries: the forward used a constant, so Re gets no gradient (as jnp/torch clip)
  if (p.clip != 0u && raw.x > CLIP_RE) { dlo.x = 0.0; }
  let w = b * 3u * p.np;
  t7[w + 2u * q] = dlo.x;
  t7[w + 2u * q + 1u] = dlo.y;
  t7[w + 2u * p.np + q] = acc.z;
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
