// C[b] = alpha * op(A[b]) · op(B[b]) + beta * C[b], row-major, f32; optional split-K.
// op(A) is [M,K] (stored [K,M] when TRANS_A); op(B) is [K,N] (stored [N,K] when TRANS_B).
//
// v10 (session 9): SKIP (define; one dispatch, no batch): the epilogue also adds Dk[col]·U[row,
// col] (U in C's layout, binding 4; Dk [N], binding 5): S5's skip term D·u, which a kernel of its
// own wrote into y before the product accumulated onto it (one more pass over y and a dispatch).
//
// v9 (session 7): only the split-K reduce changed (see splitk_reduce). `main` is v8. Measured and
// not kept (kernels/lab/RESULTS.md, session 7): workgroups that stream several M tiles with the
// next tile's first K step prefetched, 8 x 8 register tiles, and a non-transposed A staged as
// stored (v11, three forms) — all slower on the H100. Ablations there: the global loads and the
// shared-memory stashes each cost 15–25 % of `main`; WGSL itself issues FMAs at 88 % of peak.
//
// v8: the shared tiles are [stage][k][chunk] arrays and the K step is unrolled with constant k,
// so each per-k load indexes the invocation's own chunk (tx, ty) innermost. naga clamps every
// dynamic index into a workgroup array; the clamps of tx and ty are computed once per invocation
// instead of one clamp and add per load of v7's flattened index. H100, the model's training step
// (kernels/lab/kernel_ab.ts, same process): its 37 products 5.78 -> 5.30 ms, step 18.09 -> 17.52
// ms (docs/results/h100-2026-11-27-z/kernel_ab_mamba_v27_matmul_v8.txt). v7: kernels/lab/matmul_v7.wgsl.
//
// v7: v4 (kernels/lab/matmul_v4.wgsl) with the K step's inner loop unrolled by 4 (the NVIDIA
// Vulkan compiler does not unroll naga's loops): one `mac` per k on accumulators in private
// variables. It is lab v5 without v5's TN = 8 path (8 x 8 tiles measured no faster). H100, warm
// `deno task bench:kernels`, the 17 products of one training step: 3.44 ms (v4) -> 2.96 ms (v5 at
// v4's tiles); in_proj fwd 345 -> 282 µs (23.8 TFLOP/s). Ablations: kernels/lab/RESULTS.md.
//
// v4: v3's register tile (named vec4 accumulators, TN = 4, TM = 4 or 8) with a new staging path:
// - every global load is a 16-byte chunk and consecutive invocations read consecutive chunks along
//   the operand's contiguous dimension for all four transpose combinations (v3 spread a warp over
//   32 rows 1 KB apart for a non-transposed A, i.e. the backward dX = dY·W products);
// - the next K step is fetched into registers while the current one is multiplied, and shared
//   memory holds two stages, so each K step costs one barrier and its load latency is hidden;
// - shared rows are padded by one vec4 so the transposing stores (A not transposed, B transposed)
//   spread over the banks.
// Unaligned operands (VEC_* false) gather each chunk with four bounds-checked scalar loads.
//
// Register tile: rows (i*WG_Y + ty)*4 + 0..3 (i < TM/4) and columns tx*4 + 0..3, so a warp's
// shared reads are broadcasts / contiguous and its global stores coalesce.
//
// Split-K (p.splits > 1): workgroup z = batch * splits + s computes the partial product over k in
// [s*k_chunk, (s+1)*k_chunk) into a workspace (alpha 1, beta 0); `splitk_reduce` sums the partials
// in a fixed order (deterministic) and applies alpha/beta.
//
// Defines: TRANS_A, TRANS_B, VEC_A, VEC_B, VEC_C, SKIP, EPI2 (bool; EPI2 since v12); WG_X, WG_Y,
// TM, TN, BK (u32; TN = 4, TM in {4, 8}, BK a multiple of 4; at most 4 chunks of each operand per
// invocation and K step, i.e. TM*BK <= 16*WG_X and TN*BK <= 16*WG_Y — checked on the host).

struct Params {
  m: u32, n: u32, k: u32,
  stride_a: u32, stride_b: u32, stride_c: u32,
  alpha: f32, beta: f32,
  k_chunk: u32, splits: u32,
}
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> A: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> B: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> C: array<vec4f>;
@group(0) @binding(4) var<storage, read_write> U: array<vec4f>; // SKIP only
@group(0) @binding(5) var<storage, read_write> Dk: array<f32>; // SKIP only

const BM: u32 = WG_Y * TM;
const BN: u32 = WG_X * TN;
const NT: u32 = WG_X * WG_Y;
const BM4: u32 = BM / 4u;
const BN4: u32 = BN / 4u;
const BK4: u32 = BK / 4u;
// padded shared rows (vec4 units) and stage sizes
const AS4: u32 = BM4 + 1u;
const BS4: u32 = BN4 + 1u;
const_assert BK % 4u == 0u && BK <= 32u; // the unrolled K step (v8)
// 16-byte chunks per K step and per invocation
const A_CHUNKS: u32 = BM4 * BK;
const B_CHUNKS: u32 = BN4 * BK;
const LA: u32 = (A_CHUNKS + NT - 1u) / NT;
const LB: u32 = (B_CHUNKS + NT - 1u) / NT;

// [stage][k][m or n chunk]: the per-k loads index the invocation's own chunk (ty, tx) innermost,
// so the clamp naga puts on every dynamic index is computed once per invocation (v8)
var<workgroup> As: array<array<array<vec4f, AS4>, BK>, 2u>;
var<workgroup> Bs: array<array<array<vec4f, BS4>, BK>, 2u>;
var<private> ptx: u32;
var<private> pty: u32;

fn a_scalar(i: u32) -> f32 { return A[i >> 2u][i & 3u]; }
fn b_scalar(i: u32) -> f32 { return B[i >> 2u][i & 3u]; }

// Chunk i of the BM x BK tile of op(A) at (m0, k0); zero outside the matrix or past k_end.
fn fetch_a(i: u32, base: u32, m0: u32, k0: u32, k_end: u32) -> vec4f {
  var v = vec4f(0.0);
  if (i >= A_CHUNKS) { return v; }
  if (TRANS_A) {
    // stored [K, M]: a chunk is 4 consecutive m of one k
    let k = k0 + i / BM4;
    let m = m0 + (i % BM4) * 4u;
    if (k >= k_end) { return v; }
    let g = base + k * p.m + m;
    if (VEC_A) {
      if (m < p.m) { v = A[g >> 2u]; }
    } else {
      for (var c = 0u; c < 4u; c++) { if (m + c < p.m) { v[c] = a_scalar(g + c); } }
    }
  } else {
    // stored [M, K]: a chunk is 4 consecutive k of one row; BK4 invocations cover a row's run
    let m = m0 + i / BK4;
    let k = k0 + (i % BK4) * 4u;
    if (m >= p.m) { return v; }
    let g = base + m * p.k + k;
    if (VEC_A) {
      if (k < k_end) { v = A[g >> 2u]; }
    } else {
      for (var c = 0u; c < 4u; c++) { if (k + c < k_end) { v[c] = a_scalar(g + c); } }
    }
  }
  return v;
}

// Stores chunk i of A into stage `st` of As (k-major: As[st][k][m]).
fn stash_a(i: u32, st: u32, v: vec4f) {
  if (i >= A_CHUNKS) { return; }
  if (TRANS_A) {
    As[st][i / BM4][i % BM4] = v;
  } else {
    let r = i / BK4;
    let k4 = (i % BK4) * 4u;
    let m4 = r >> 2u;
    let c = r & 3u;
    As[st][k4][m4][c] = v.x;
    As[st][k4 + 1u][m4][c] = v.y;
    As[st][k4 + 2u][m4][c] = v.z;
    As[st][k4 + 3u][m4][c] = v.w;
  }
}

// Chunk i of the BK x BN tile of op(B) at (k0, n0).
fn fetch_b(i: u32, base: u32, k0: u32, n0: u32, k_end: u32) -> vec4f {
  var v = vec4f(0.0);
  if (i >= B_CHUNKS) { return v; }
  if (TRANS_B) {
    // stored [N, K]: 4 consecutive k of one n
    let n = n0 + i / BK4;
    let k = k0 + (i % BK4) * 4u;
    if (n >= p.n) { return v; }
    let g = base + n * p.k + k;
    if (VEC_B) {
      if (k < k_end) { v = B[g >> 2u]; }
    } else {
      for (var c = 0u; c < 4u; c++) { if (k + c < k_end) { v[c] = b_scalar(g + c); } }
    }
  } else {
    // stored [K, N]: 4 consecutive n of one k
    let k = k0 + i / BN4;
    let n = n0 + (i % BN4) * 4u;
    if (k >= k_end) { return v; }
    let g = base + k * p.n + n;
    if (VEC_B) {
      if (n < p.n) { v = B[g >> 2u]; }
    } else {
      for (var c = 0u; c < 4u; c++) { if (n + c < p.n) { v[c] = b_scalar(g + c); } }
    }
  }
  return v;
}

// Stores chunk i of B into stage `st` of Bs (k-major: Bs[st][k][n]).
fn stash_b(i: u32, st: u32, v: vec4f) {
  if (i >= B_CHUNKS) { return; }
  if (TRANS_B) {
    let cn = i / BK4;
    let k4 = (i % BK4) * 4u;
    let n4 = cn >> 2u;
    let c = cn & 3u;
    Bs[st][k4][n4][c] = v.x;
    Bs[st][k4 + 1u][n4][c] = v.y;
    Bs[st][k4 + 2u][n4][c] = v.z;
    Bs[st][k4 + 3u][n4][c] = v.w;
  } else {
    Bs[st][i / BN4][i % BN4] = v;
  }
}

fn fma_row(acc: vec4f, a: f32, b: vec4f) -> vec4f { return fma(vec4f(a), b, acc); }

// v12 (session 12), EPI2 (define): the aligned epilogue in two passes, every row's beta·C load
// before any store. Interleaved, as store4 does, each row's load waits on the previous row's store
// (the bindings may alias): one memory round trip per row, which a short K does not amortise.
// H100 (kernel_ab, same process): x_proj's dX products with beta = 1, K = 36 and 68: 159 → 133
// and 210 → 187 µs; the same epilogue on every product made the others slower (in_proj dX, K =
// 256 with beta: 245 → 291 µs; x_proj fwd, no beta: 158 → 184; S5's SKIP products +6 µs), so
// lib/gpu/ops.ts sets EPI2 only for beta ≠ 0 without SKIP at K ≤ 128.
const_assert !(EPI2 && SKIP); // epi4 has no skip term
// Final value of row `row`, columns col..col+3 (aligned path): alpha·acc + beta·C.
fn epi4(bc: u32, row: u32, col: u32, acc: vec4f) -> vec4f {
  var v = p.alpha * acc;
  if (row >= p.m) { return v; }
  if (p.beta != 0.0) { v += p.beta * C[(bc + row * p.n + col) >> 2u]; }
  return v;
}

fn put4(bc: u32, row: u32, col: u32, v: vec4f) {
  if (row < p.m) { C[(bc + row * p.n + col) >> 2u] = v; }
}

// Row `row` of this workgroup's tile, columns col..col+3: alpha/beta epilogue, vec4 when aligned.
fn store4(bc: u32, row: u32, col: u32, acc: vec4f) {
  if (row >= p.m || col >= p.n) { return; }
  var v = p.alpha * acc;
  let idx = bc + row * p.n + col;
  if (VEC_C && col + 3u < p.n) {
    if (p.beta != 0.0) { v += p.beta * C[idx >> 2u]; }
    if (SKIP) { v += vec4f(Dk[col], Dk[col + 1u], Dk[col + 2u], Dk[col + 3u]) * U[idx >> 2u]; }
    C[idx >> 2u] = v;
    return;
  }
  for (var c = 0u; c < 4u; c++) {
    if (col + c < p.n) {
      let e = idx + c;
      var s = v[c];
      if (p.beta != 0.0) { s += p.beta * C[e >> 2u][e & 3u]; }
      if (SKIP) { s += Dk[col + c] * U[e >> 2u][e & 3u]; }
      C[e >> 2u][e & 3u] = s;
    }
  }
}

// accumulators of the thread's rows r (column group tx*4 .. tx*4 + 3); private so that `mac` can
// update them (the driver keeps them in registers)
var<private> c0: vec4f;
var<private> c1: vec4f;
var<private> c2: vec4f;
var<private> c3: vec4f;
var<private> c4: vec4f;
var<private> c5: vec4f;
var<private> c6: vec4f;
var<private> c7: vec4f;

// One k of the register tile (k a constant at every call): A rows ty (and ty + WG_Y) of stage st,
// B columns tx.
fn mac(st: u32, k: u32) {
  let b = Bs[st][k][ptx];
  let a0 = As[st][k][pty];
  c0 = fma_row(c0, a0.x, b);
  c1 = fma_row(c1, a0.y, b);
  c2 = fma_row(c2, a0.z, b);
  c3 = fma_row(c3, a0.w, b);
  if (TM == 8u) {
    let a1 = As[st][k][pty + WG_Y];
    c4 = fma_row(c4, a1.x, b);
    c5 = fma_row(c5, a1.y, b);
    c6 = fma_row(c6, a1.z, b);
    c7 = fma_row(c7, a1.w, b);
  }
}

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  ptx = tx;
  pty = ty;
  let t = ty * WG_X + tx;
  let batch = wid.z / p.splits;
  let split = wid.z % p.splits;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let ba = batch * p.stride_a;
  let bb = batch * p.stride_b;
  let k_begin = split * p.k_chunk;
  let k_end = min(p.k, k_begin + p.k_chunk);
  var nk = 0u;
  if (k_end > k_begin) { nk = (k_end - k_begin + BK - 1u) / BK; }

  // prefetch registers: chunks t, t + NT, t + 2NT, t + 3NT of each operand
  var ra0 = vec4f(0.0);
  var ra1 = vec4f(0.0);
  var ra2 = vec4f(0.0);
  var ra3 = vec4f(0.0);
  var rb0 = vec4f(0.0);
  var rb1 = vec4f(0.0);
  var rb2 = vec4f(0.0);
  var rb3 = vec4f(0.0);

  // prologue: K step 0 into stage 0
  if (nk > 0u) {
    ra0 = fetch_a(t, ba, m0, k_begin, k_end);
    if (LA > 1u) { ra1 = fetch_a(t + NT, ba, m0, k_begin, k_end); }
    if (LA > 2u) { ra2 = fetch_a(t + 2u * NT, ba, m0, k_begin, k_end); }
    if (LA > 3u) { ra3 = fetch_a(t + 3u * NT, ba, m0, k_begin, k_end); }
    rb0 = fetch_b(t, bb, k_begin, n0, k_end);
    if (LB > 1u) { rb1 = fetch_b(t + NT, bb, k_begin, n0, k_end); }
    if (LB > 2u) { rb2 = fetch_b(t + 2u * NT, bb, k_begin, n0, k_end); }
    if (LB > 3u) { rb3 = fetch_b(t + 3u * NT, bb, k_begin, n0, k_end); }
    stash_a(t, 0u, ra0);
    if (LA > 1u) { stash_a(t + NT, 0u, ra1); }
    if (LA > 2u) { stash_a(t + 2u * NT, 0u, ra2); }
    if (LA > 3u) { stash_a(t + 3u * NT, 0u, ra3); }
    stash_b(t, 0u, rb0);
    if (LB > 1u) { stash_b(t + NT, 0u, rb1); }
    if (LB > 2u) { stash_b(t + 2u * NT, 0u, rb2); }
    if (LB > 3u) { stash_b(t + 3u * NT, 0u, rb3); }
  }
  workgroupBarrier();

  for (var it = 0u; it < nk; it++) {
    let cur = it & 1u;
    let more = it + 1u < nk;
    // issue the next K step's global loads before multiplying the current one
    if (more) {
      let k1 = k_begin + (it + 1u) * BK;
      ra0 = fetch_a(t, ba, m0, k1, k_end);
      if (LA > 1u) { ra1 = fetch_a(t + NT, ba, m0, k1, k_end); }
      if (LA > 2u) { ra2 = fetch_a(t + 2u * NT, ba, m0, k1, k_end); }
      if (LA > 3u) { ra3 = fetch_a(t + 3u * NT, ba, m0, k1, k_end); }
      rb0 = fetch_b(t, bb, k1, n0, k_end);
      if (LB > 1u) { rb1 = fetch_b(t + NT, bb, k1, n0, k_end); }
      if (LB > 2u) { rb2 = fetch_b(t + 2u * NT, bb, k1, n0, k_end); }
      if (LB > 3u) { rb3 = fetch_b(t + 3u * NT, bb, k1, n0, k_end); }
    }
    // the K step unrolled with constant k (v8; BK ≤ 32): in a branch dead for this BK the index
    // is taken mod BK so that it stays a valid constant
    mac(cur, 0u);
    mac(cur, 1u);
    mac(cur, 2u);
    mac(cur, 3u);
    if (BK > 4u) {
      mac(cur, 4u % BK);
      mac(cur, 5u % BK);
      mac(cur, 6u % BK);
      mac(cur, 7u % BK);
    }
    if (BK > 8u) {
      mac(cur, 8u % BK);
      mac(cur, 9u % BK);
      mac(cur, 10u % BK);
      mac(cur, 11u % BK);
    }
    if (BK > 12u) {
      mac(cur, 12u % BK);
      mac(cur, 13u % BK);
      mac(cur, 14u % BK);
      mac(cur, 15u % BK);
    }
    if (BK > 16u) {
      mac(cur, 16u % BK);
      mac(cur, 17u % BK);
      mac(cur, 18u % BK);
      mac(cur, 19u % BK);
    }
    if (BK > 20u) {
      mac(cur, 20u % BK);
      mac(cur, 21u % BK);
      mac(cur, 22u % BK);
      mac(cur, 23u % BK);
    }
    if (BK > 24u) {
      mac(cur, 24u % BK);
      mac(cur, 25u % BK);
      mac(cur, 26u % BK);
      mac(cur, 27u % BK);
    }
    if (BK > 28u) {
      mac(cur, 28u % BK);
      mac(cur, 29u % BK);
      mac(cur, 30u % BK);
      mac(cur, 31u % BK);
    }
    // the other stage was last read before the previous barrier: safe to overwrite now
    if (more) {
      let nxt = 1u - cur; // the other stage
      stash_a(t, nxt, ra0);
      if (LA > 1u) { stash_a(t + NT, nxt, ra1); }
      if (LA > 2u) { stash_a(t + 2u * NT, nxt, ra2); }
      if (LA > 3u) { stash_a(t + 3u * NT, nxt, ra3); }
      stash_b(t, nxt, rb0);
      if (LB > 1u) { stash_b(t + NT, nxt, rb1); }
      if (LB > 2u) { stash_b(t + 2u * NT, nxt, rb2); }
      if (LB > 3u) { stash_b(t + 3u * NT, nxt, rb3); }
    }
    workgroupBarrier();
  }

  // z indexes (batch, split) pairs; with splits = 1 this is the batch's C, otherwise the
  // workspace slice of this partial product (stride_c = M*N, alpha 1, beta 0)
  let bc = wid.z * p.stride_c;
  let col = n0 + tx * 4u;
  let r0 = m0 + ty * 4u;
  let r1 = m0 + (WG_Y + ty) * 4u;
  if (EPI2 && VEC_C && col + 3u < p.n) {
    let v0 = epi4(bc, r0, col, c0);
    let v1 = epi4(bc, r0 + 1u, col, c1);
    let v2 = epi4(bc, r0 + 2u, col, c2);
    let v3 = epi4(bc, r0 + 3u, col, c3);
    var v4 = vec4f(0.0);
    var v5 = vec4f(0.0);
    var v6 = vec4f(0.0);
    var v7 = vec4f(0.0);
    if (TM == 8u) {
      v4 = epi4(bc, r1, col, c4);
      v5 = epi4(bc, r1 + 1u, col, c5);
      v6 = epi4(bc, r1 + 2u, col, c6);
      v7 = epi4(bc, r1 + 3u, col, c7);
    }
    put4(bc, r0, col, v0);
    put4(bc, r0 + 1u, col, v1);
    put4(bc, r0 + 2u, col, v2);
    put4(bc, r0 + 3u, col, v3);
    if (TM == 8u) {
      put4(bc, r1, col, v4);
      put4(bc, r1 + 1u, col, v5);
      put4(bc, r1 + 2u, col, v6);
      put4(bc, r1 + 3u, col, v7);
    }
    return;
  }
  store4(bc, r0, col, c0);
  store4(bc, r0 + 1u, col, c1);
  store4(bc, r0 + 2u, col, c2);
  store4(bc, r0 + 3u, col, c3);
  if (TM == 8u) {
    store4(bc, r1, col, c4);
    store4(bc, r1 + 1u, col, c5);
    store4(bc, r1 + 2u, col, c6);
    store4(bc, r1 + 3u, col, c7);
  }
}

// Second stage of split-K: C[b] = alpha * sum_s W[b*splits + s] + beta * C[b]. Binding 1 is the
// workspace W, binding 2 is C (bindings of `main` reused so the module stays one file).
// v9: a workgroup of 16 x 16 invocations sums 64 consecutive outputs: invocation (x, y) takes
// outputs 4x .. 4x + 3 (one vec4 when VEC_C) over the slices j = y, y + 16, ... in two chains, and
// invocation (x, 0) adds the 16 partial sums in a fixed order (deterministic). v8 ran one
// invocation per output over all the slices: 8,192 outputs x 262 slices made 32 workgroups of
// ~65 dependent loads each (33 µs on the H100 for 8.6 MB).
const RS: u32 = 16u; // slice groups per workgroup
var<workgroup> red: array<array<vec4f, 16>, RS>;

fn ws4(i: u32, r: u32, mn: u32) -> vec4f {
  if (VEC_C) { return A[i >> 2u]; }
  var v = vec4f(0.0);
  for (var c = 0u; c < 4u; c++) {
    if (r + c < mn) { v[c] = A[(i + c) >> 2u][(i + c) & 3u]; }
  }
  return v;
}

@compute @workgroup_size(16, RS)
fn splitk_reduce(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let mn = p.m * p.n;
  let batches = p.stride_a; // reused field: number of batches
  let chunks = (mn + 63u) / 64u;
  let w = wid.x + wid.y * nwg.x;
  let b = w / chunks;
  let r = (w % chunks) * 64u + lid.x * 4u;
  let live = b < batches && r < mn;
  var s0 = vec4f(0.0);
  var s1 = vec4f(0.0);
  if (live) {
    let base = b * p.splits * mn + r;
    var j = lid.y;
    for (; j + RS < p.splits; j += 2u * RS) {
      s0 += ws4(base + j * mn, r, mn);
      s1 += ws4(base + (j + RS) * mn, r, mn);
    }
    if (j < p.splits) { s0 += ws4(base + j * mn, r, mn); }
  }
  red[lid.y][lid.x] = s0 + s1;
  workgroupBarrier();
  if (lid.y != 0u || !live) { return; }
  var s = red[0][lid.x];
  for (var g = 1u; g < RS; g++) { s += red[g][lid.x]; }
  let o = b * p.stride_c + r;
  var v = p.alpha * s;
  if (VEC_C) {
    if (p.beta != 0.0) { v += p.beta * B[o >> 2u]; }
    B[o >> 2u] = v;
    return;
  }
  for (var c = 0u; c < 4u; c++) {
    if (r + c < mn) {
      var x = v[c];
      if (p.beta != 0.0) { x += p.beta * B[(o + c) >> 2u][(o + c) & 3u]; }
      B[(o + c) >> 2u][(o + c) & 3u] = x;
    }
  }
}
