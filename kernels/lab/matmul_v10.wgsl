// Lab v10 = kernels/matmul.wgsl v9 with TN = 8 allowed (session 7): the thread's 8 columns are two
// vec4 groups WG_X·4 apart (tx·4 and (tx + WG_X)·4), so a warp's B reads stay contiguous; 8 x 8
// tiles do 64 FMAs per 4 shared vec4 reads (8 x 4: 32 per 3). Defines as v9, TN in {4, 8}.

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

// Row `row` of this workgroup's tile, columns col..col+3: alpha/beta epilogue, vec4 when aligned.
fn store4(bc: u32, row: u32, col: u32, acc: vec4f) {
  if (row >= p.m || col >= p.n) { return; }
  var v = p.alpha * acc;
  let idx = bc + row * p.n + col;
  if (VEC_C && col + 3u < p.n) {
    if (p.beta != 0.0) { v += p.beta * C[idx >> 2u]; }
    C[idx >> 2u] = v;
    return;
  }
  for (var c = 0u; c < 4u; c++) {
    if (col + c < p.n) {
      let e = idx + c;
      var s = v[c];
      if (p.beta != 0.0) { s += p.beta * C[e >> 2u][e & 3u]; }
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
var<private> d0: vec4f;
var<private> d1: vec4f;
var<private> d2: vec4f;
var<private> d3: vec4f;
var<private> d4: vec4f;
var<private> d5: vec4f;
var<private> d6: vec4f;
var<private> d7: vec4f;

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
  if (TN == 8u) {
    let e = Bs[st][k][ptx + WG_X];
    d0 = fma_row(d0, a0.x, e);
    d1 = fma_row(d1, a0.y, e);
    d2 = fma_row(d2, a0.z, e);
    d3 = fma_row(d3, a0.w, e);
    if (TM == 8u) {
      let a1 = As[st][k][pty + WG_Y];
      d4 = fma_row(d4, a1.x, e);
      d5 = fma_row(d5, a1.y, e);
      d6 = fma_row(d6, a1.z, e);
      d7 = fma_row(d7, a1.w, e);
    }
  }
}

fn zero_acc() {
  c0 = vec4f(0.0);
  c1 = vec4f(0.0);
  c2 = vec4f(0.0);
  c3 = vec4f(0.0);
  c4 = vec4f(0.0);
  c5 = vec4f(0.0);
  c6 = vec4f(0.0);
  c7 = vec4f(0.0);
  d0 = vec4f(0.0);
  d1 = vec4f(0.0);
  d2 = vec4f(0.0);
  d3 = vec4f(0.0);
  d4 = vec4f(0.0);
  d5 = vec4f(0.0);
  d6 = vec4f(0.0);
  d7 = vec4f(0.0);
}

// The tile's accumulators to C (rows from m0, columns from n0) at batch/split slice bc.
fn store_tile(bc: u32, m0: u32, n0: u32) {
  let col = n0 + ptx * 4u;
  let r0 = m0 + pty * 4u;
  store4(bc, r0, col, c0);
  store4(bc, r0 + 1u, col, c1);
  store4(bc, r0 + 2u, col, c2);
  store4(bc, r0 + 3u, col, c3);
  if (TM == 8u) {
    let r1 = m0 + (WG_Y + pty) * 4u;
    store4(bc, r1, col, c4);
    store4(bc, r1 + 1u, col, c5);
    store4(bc, r1 + 2u, col, c6);
    store4(bc, r1 + 3u, col, c7);
  }
  if (TN == 8u) {
    let col1 = col + WG_X * 4u;
    store4(bc, r0, col1, d0);
    store4(bc, r0 + 1u, col1, d1);
    store4(bc, r0 + 2u, col1, d2);
    store4(bc, r0 + 3u, col1, d3);
    if (TM == 8u) {
      let r1 = m0 + (WG_Y + pty) * 4u;
      store4(bc, r1, col1, d4);
      store4(bc, r1 + 1u, col1, d5);
      store4(bc, r1 + 2u, col1, d6);
      store4(bc, r1 + 3u, col1, d7);
    }
  }
}

// v9: a workgroup takes the M tiles wid.y, wid.y + nwg.y, ... (the host may launch fewer
// workgroups along M than there are tiles) as one stream of K steps: the last K step of a tile
// prefetches the first one of the next, so a short-K product (K = 64: 8 K steps a tile) no longer
// pays a tile's prologue latency and the grid's launch per tile.
@compute @workgroup_size(WG_X, WG_Y)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let tx = lid.x;
  let ty = lid.y;
  ptx = tx;
  pty = ty;
  let t = ty * WG_X + tx;
  let batch = wid.z / p.splits;
  let split = wid.z % p.splits;
  let n0 = wid.x * BN;
  let ba = batch * p.stride_a;
  let bb = batch * p.stride_b;
  let k_begin = split * p.k_chunk;
  let k_end = min(p.k, k_begin + p.k_chunk);
  let tiles_m = (p.m + BM - 1u) / BM;
  if (k_end <= k_begin || wid.y >= tiles_m) { return; } // uniform per workgroup
  let nk = (k_end - k_begin + BK - 1u) / BK;
  // this workgroup's tiles times their K steps, one stream
  let total = (tiles_m - wid.y + nwg.y - 1u) / nwg.y * nk;
  let m_step = nwg.y * BM;
  // z indexes (batch, split) pairs; with splits = 1 this is the batch's C, otherwise the
  // workspace slice of this partial product (stride_c = M*N, alpha 1, beta 0)
  let bc = wid.z * p.stride_c;

  // prefetch registers: chunks t, t + NT, t + 2NT, t + 3NT of each operand
  var ra0 = vec4f(0.0);
  var ra1 = vec4f(0.0);
  var ra2 = vec4f(0.0);
  var ra3 = vec4f(0.0);
  var rb0 = vec4f(0.0);
  var rb1 = vec4f(0.0);
  var rb2 = vec4f(0.0);
  var rb3 = vec4f(0.0);

  // prologue: the first tile's K step 0 into stage 0
  var m0 = wid.y * BM;
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
  workgroupBarrier();

  var kt = 0u; // K step within the current tile
  for (var it = 0u; it < total; it++) {
    let cur = it & 1u;
    let more = it + 1u < total;
    let last = kt + 1u == nk; // the tile's last K step
    // issue the next K step's global loads (the next tile's first when this one ends) before
    // multiplying the current one
    if (more) {
      var m1 = m0;
      var k1 = k_begin + (kt + 1u) * BK;
      if (last) {
        m1 = m0 + m_step;
        k1 = k_begin;
      }
      ra0 = fetch_a(t, ba, m1, k1, k_end);
      if (LA > 1u) { ra1 = fetch_a(t + NT, ba, m1, k1, k_end); }
      if (LA > 2u) { ra2 = fetch_a(t + 2u * NT, ba, m1, k1, k_end); }
      if (LA > 3u) { ra3 = fetch_a(t + 3u * NT, ba, m1, k1, k_end); }
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
    if (last) {
      store_tile(bc, m0, n0);
      zero_acc();
      m0 += m_step;
      kt = 0u;
    } else {
      kt += 1u;
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
}
