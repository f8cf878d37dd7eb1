// NeuMF (NCF) kernels: pointwise training pairs, MLP glue (concat/split, bias+ReLU, column sums),
// the prediction head with BCE, and the fused full-ranking MLP scorer. See lib/models/ncf.ts.
// Bindings: 0 params (4 words, meaning per entry), 1.. tensors as listed per entry point. 1-D grids
// may be split over x and y (runtime.ts grid()); `lin` recovers the linear index.

struct Params { a: u32, b: u32, c: u32, d: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> f1: array<f32>;
@group(0) @binding(1) var<storage, read_write> i1: array<i32>;
@group(0) @binding(2) var<storage, read_write> f2: array<f32>;
@group(0) @binding(2) var<storage, read_write> i2: array<i32>;
@group(0) @binding(2) var<storage, read_write> v2: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> f3: array<f32>;
@group(0) @binding(3) var<storage, read_write> u3: array<u32>;
@group(0) @binding(3) var<storage, read_write> v3: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> f4: array<f32>;
@group(0) @binding(4) var<storage, read_write> i4: array<i32>;
@group(0) @binding(5) var<storage, read_write> f5: array<f32>;
@group(0) @binding(5) var<storage, read_write> i5: array<i32>;
@group(0) @binding(6) var<storage, read_write> f6: array<f32>;
@group(0) @binding(6) var<storage, read_write> u6: array<u32>;

fn lin(gid: vec3u, nwg: vec3u) -> u32 { return gid.x + gid.y * nwg.x * 256u; }

// #include "rng"

// softplus(z) = log(1 + e^z) without overflow; log1p by Goldberg's trick (WGSL has no log1p).
fn softplus(z: f32) -> f32 {
  let e = exp(-abs(z));
  let u = 1.0 + e;
  let l1p = select(log(u) * e / (u - 1.0), e, u == 1.0);
  return max(z, 0.0) + l1p;
}

// ---- training pairs: row b -> (user+1, target) at b and (user+1, negative) at B + b ----
// params: a = B, b = V, c = salt, d = U. bindings: 1 user i32 [B], 2 target i32 [B],
// 3 step u32 [4], 4 uid i32 [2B], 5 iid i32 [2B], 6 history mask u32 [B, ceil(V/32)] (bit j of row
// b: item j is in row b's user's training history). The negative is RecBole's: an item the user
// never interacted with. Attempt a (0..NEG_TRIES-1) draws n uniformly over 1..V-1 minus the target
// with the counter RNG, n = 1 + rand_u32(seed, salt + a, b) % (V - 2), shifted up by one at or
// above the target (attempt 0 is exactly loss.wgsl's bpr_forward draw), and is kept when n is
// outside the history; after NEG_TRIES rejections the last draw is kept. Invalid rows (target
// outside 1..V-1 or user outside 0..U-1) get uid = iid = 0 at both positions.
const NEG_TRIES = 16u;

@compute @workgroup_size(256)
fn ncf_pairs(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = lin(gid, nwg);
  if (b >= p.a) { return; }
  let u = i1[b];
  let t = i2[b];
  if (t <= 0 || u32(t) >= p.b || u < 0 || u32(u) >= p.d) {
    i4[b] = 0; i4[p.a + b] = 0; i5[b] = 0; i5[p.a + b] = 0;
    return;
  }
  let row = b * ((p.b + 31u) / 32u);
  var n = 0u;
  for (var a = 0u; a < NEG_TRIES; a++) {
    n = 1u + rand_u32(u3[1], p.c + a, b) % (p.b - 2u);
    if (n >= u32(t)) { n += 1u; }
    if ((u6[row + (n >> 5u)] & (1u << (n & 31u))) == 0u) { break; }
  }
  i4[b] = u + 1; i4[p.a + b] = u + 1;
  i5[b] = t; i5[p.a + b] = i32(n);
}

// ---- evaluation user ids: uid = user + 1 (0 for padding rows) ----
// params: a = B, d = U. bindings: 1 user i32 [B], 2 uid i32 [B]
@compute @workgroup_size(256)
fn user_ids(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = lin(gid, nwg);
  if (b >= p.a) { return; }
  let u = i1[b];
  i2[b] = select(0, u + 1, u >= 0 && u32(u) < p.d);
}

// ---- out [n, da + db] = [a, b]; params: a = n, b = da, c = db, d = flags (1: a is zero, 2: b is
// zero; the zero part's binding is not read). bindings: 1 a [n, da], 2 b [n, db], 3 out ----
@compute @workgroup_size(256)
fn concat2(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  let w = p.b + p.c;
  if (i >= p.a * w) { return; }
  let r = i / w;
  let c = i - r * w;
  var v = 0.0;
  if (c < p.b) {
    if ((p.d & 1u) == 0u) { v = f1[r * p.b + c]; }
  } else if ((p.d & 2u) == 0u) {
    v = f2[r * p.c + c - p.b];
  }
  f3[i] = v;
}

// ---- the backward of concat2: da, db from dout; params a = n, b = da, c = db.
// bindings: 1 dout [n, da + db], 2 da [n, da], 3 db [n, db] (overwritten) ----
@compute @workgroup_size(256)
fn split2(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  let w = p.b + p.c;
  if (i >= p.a * w) { return; }
  let r = i / w;
  let c = i - r * w;
  if (c < p.b) { f2[r * p.b + c] = f1[i]; } else { f3[r * p.c + c - p.b] = f1[i]; }
}

// ---- y[r, c] = act(y[r, c] + bias[c]) in place; params a = rows, b = cols, c = 1 for ReLU.
// bindings: 1 y [rows, cols], 2 bias [cols] ----
@compute @workgroup_size(256)
fn bias_act(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  if (i >= p.a * p.b) { return; }
  let v = f1[i] + f2[i % p.b];
  f1[i] = select(v, max(v, 0.0), p.c == 1u);
}

// ---- dx = dy where y > 0 else 0 (y is the ReLU output); params a = n.
// bindings: 1 y, 2 dy, 3 dx (overwritten) ----
@compute @workgroup_size(256)
fn relu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  if (i >= p.a) { return; }
  f3[i] = select(0.0, f2[i], f1[i] > 0.0);
}

// ---- out[c] += Σ_r x[r * ld + off + c] for c < cols, rows in a fixed order (tree of 256 lanes):
// deterministic bias gradients. One workgroup per column. params a = rows, b = cols, c = ld,
// d = off. bindings: 1 x, 2 out [cols] ----
var<workgroup> red: array<f32, 256>;

@compute @workgroup_size(256)
fn colsum(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
          @builtin(local_invocation_id) lid: vec3u) {
  let c = wid.x + wid.y * nwg.x;
  let l = lid.x;
  var s = 0.0;
  if (c < p.b) {
    for (var r = l; r < p.a; r += 256u) { s += f1[r * p.c + p.d + c]; }
  }
  red[l] = s;
  workgroupBarrier();
  for (var k = 128u; k > 0u; k >>= 1u) {
    if (l < k) { red[l] += red[l + k]; }
    workgroupBarrier();
  }
  if (l == 0u && c < p.b) { f2[c] += red[0]; }
}

// ---- z [N, M + D] = [umf ⊙ imf, h]; params a = N, b = M, c = D.
// bindings: 1 umf [N, M], 2 imf [N, M], 3 h [N, D], 4 z ----
@compute @workgroup_size(256)
fn gmf_concat(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  let w = p.b + p.c;
  if (i >= p.a * w) { return; }
  let r = i / w;
  let c = i - r * w;
  if (c < p.b) {
    f4[i] = f1[r * p.b + c] * f2[r * p.b + c];
  } else {
    f4[i] = f3[r * p.c + c - p.b];
  }
}

// ---- the backward of gmf_concat; params a = N, b = M, c = D. bindings: 1 dz [N, M + D],
// 2 umf, 3 imf, 4 dumf [N, M], 5 dimf [N, M], 6 dh [N, D] (all overwritten) ----
@compute @workgroup_size(256)
fn gmf_concat_backward(@builtin(global_invocation_id) gid: vec3u,
                       @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  let w = p.b + p.c;
  if (i >= p.a * w) { return; }
  let r = i / w;
  let c = i - r * w;
  let g = f1[i];
  if (c < p.b) {
    let j = r * p.b + c;
    f4[j] = g * f3[j];
    f5[j] = g * f2[j];
  } else {
    f6[r * p.c + c - p.b] = g;
  }
}

// ---- head forward, one thread per pair row b: logits[b] (positive) and logits[B + b] (negative)
// = z · wp + bp; loss[b] = (softplus(-logit_pos) + softplus(logit_neg)) / 2 (BCE with logits, the
// mean over the pair), 0 on invalid rows (iid[b] == 0). params a = B, b = W (= M + D).
// bindings: 1 z [2B, W], 2 wp [W], 3 bp [1], 4 iid i32 [2B], 5 logits [2B], 6 loss [B] ----
@compute @workgroup_size(256)
fn head_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let b = lin(gid, nwg);
  if (b >= p.a) { return; }
  let rp = b * p.b;
  let rn = (p.a + b) * p.b;
  var sp = 0.0;
  var sn = 0.0;
  for (var c = 0u; c < p.b; c++) {
    let w = f2[c];
    sp += f1[rp + c] * w;
    sn += f1[rn + c] * w;
  }
  let lp = sp + f3[0];
  let ln = sn + f3[0];
  f5[b] = lp;
  f5[p.a + b] = ln;
  f6[b] = select(0.0, 0.5 * (softplus(-lp) + softplus(ln)), i4[b] > 0);
}

// ---- d(mean loss)/d logit, one thread per row n of 2B: (sigmoid(logit) - label) / (2 · count),
// label 1 for n < B, 0 after; 0 on invalid pairs. params a = B.
// bindings: 1 logits [2B], 2 iid i32 [2B], 3 stats [2] = [mean, count], 4 g [2B] ----
@compute @workgroup_size(256)
fn head_dlogit(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let n = lin(gid, nwg);
  if (n >= 2u * p.a) { return; }
  let b = select(n, n - p.a, n >= p.a);
  let count = f3[1];
  var g = 0.0;
  if (i2[b] > 0 && count > 0.0) {
    let label = select(0.0, 1.0, n < p.a);
    g = (1.0 / (1.0 + exp(-f1[n])) - label) / (2.0 * count);
  }
  f4[n] = g;
}

// ---- dz[n, c] = g[n] · wp[c]; params a = N, b = W. bindings: 1 g [N], 2 wp [W], 3 dz [N, W] ----
@compute @workgroup_size(256)
fn head_dz(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  if (i >= p.a * p.b) { return; }
  let r = i / p.b;
  f3[i] = f1[r] * f2[i - r * p.b];
}

// ---- out[r, c] = x[r, c] · w[c]; params a = rows, b = cols. bindings: 1 x, 2 w, 3 out ----
@compute @workgroup_size(256)
fn scale_cols(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  if (i >= p.a * p.b) { return; }
  f3[i] = f1[i] * f2[i % p.b];
}

// ---- out [C, R] = in [R, C]ᵀ; params a = R, b = C. bindings: 1 in, 2 out ----
@compute @workgroup_size(256)
fn transpose(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  if (i >= p.a * p.b) { return; }
  let r = i / p.b;
  let c = i - r * p.b;
  f2[c * p.a + r] = f1[i];
}

// ---- pack [2D + 1] = [b2 (D), wp[M..M+D) (D), bp]; params a = D, b = M.
// bindings: 1 b2 [D], 2 wp [M + D], 3 bp [1], 4 pack ----
@compute @workgroup_size(256)
fn pack_head(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg);
  if (i >= 2u * p.a + 1u) { return; }
  if (i < p.a) {
    f4[i] = f1[i];
  } else if (i < 2u * p.a) {
    f4[i] = f2[p.b + i - p.a];
  } else {
    f4[i] = f3[0];
  }
}

// ---- fused full-ranking MLP scorer: for row b and every item i,
//   scores[b, i] += Σ_j wo[j] · relu(b2[j] + Σ_k W2[j, k] · relu(au[b, k] + biT[k, i])) + bp
// with au = the user half of layer 1 plus its bias, biT = the item half of layer 1 for all items,
// transposed [H1, Vp] with Vp = V rounded up to 4 (so a lane reads its 4 consecutive items as one
// vec4 and a workgroup's lanes read consecutive vec4s), W2 given transposed (w2t [H1, D]), pack =
// [b2, wo, bp] (pack_head). The B·V·H1·D multiply-adds run as: one workgroup per (row, 256 items),
// each lane 4 items × 4 outputs j at a time in vec4 accumulators; the item half is recomputed per
// 4 outputs (an add and a max against 16 FMAs). Rows whose target is outside 1..V-1 (padding rows)
// are skipped whole (uniform per workgroup).
// params a = B, b = V, c = H1, d = D (a multiple of 4).
// bindings: 1 au [B, H1], 2 biT [H1, Vp], 3 w2t [H1, D], 4 pack [2D + 1], 5 targets i32 [B],
// 6 scores [B, V] (accumulated into)
@compute @workgroup_size(64)
fn mlp_pairs(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let b = wid.y + wid.z * 65535u;
  if (b >= p.a) { return; }
  let t = i5[b];
  if (t <= 0 || u32(t) >= p.b) { return; }
  let V = p.b;
  let H1 = p.c;
  let D = p.d;
  let q4 = (V + 3u) >> 2u;           // vec4s per biT row
  let q = min(wid.x * 64u + lid.x, q4 - 1u);
  let i0 = (wid.x * 64u + lid.x) * 4u;
  let arow = b * H1;
  var out = vec4f(0.0);
  for (var j0 = 0u; j0 < D; j0 += 4u) {
    var a0 = vec4f(0.0);
    var a1 = vec4f(0.0);
    var a2 = vec4f(0.0);
    var a3 = vec4f(0.0);
    for (var k = 0u; k < H1; k++) {
      let h = max(vec4f(f1[arow + k]) + v2[k * q4 + q], vec4f(0.0));
      let w = v3[(k * D + j0) >> 2u];
      a0 += w * h.x;
      a1 += w * h.y;
      a2 += w * h.z;
      a3 += w * h.w;
    }
    let bias = vec4f(f4[j0], f4[j0 + 1u], f4[j0 + 2u], f4[j0 + 3u]);
    let wo = vec4f(f4[D + j0], f4[D + j0 + 1u], f4[D + j0 + 2u], f4[D + j0 + 3u]);
    out += vec4f(dot(max(a0 + bias, vec4f(0.0)), wo), dot(max(a1 + bias, vec4f(0.0)), wo),
                 dot(max(a2 + bias, vec4f(0.0)), wo), dot(max(a3 + bias, vec4f(0.0)), wo));
  }
  out += vec4f(f4[2u * D]);
  let base = b * V;
  if (i0 < V) { f6[base + i0] += out.x; }
  if (i0 + 1u < V) { f6[base + i0 + 1u] += out.y; }
  if (i0 + 2u < V) { f6[base + i0 + 2u] += out.z; }
  if (i0 + 3u < V) { f6[base + i0 + 3u] += out.w; }
}
