// C[b] = alpha * op(A[b]) · op(B[b]) + beta * C[b], row-major, f32; optional split-K.
// op(A) is [M,K] (stored [K,M] when TRANS_A); op(B) is [K,N] (stored [N,K] when TRANS_B).
//
// v3: v2's tiling with the register tile written out as named vec4 variables (TN = 4, TM = 4 or
// 8): on the H100 (Naga -> SPIR-V -> NVIDIA) v2's `array<vec4f, N>` accumulators indexed in loops
// ran at 1.9 TFLOP/s, below v1, consistent with them living in local memory instead of registers.
//
// v2: register tiling. A workgroup of WG_X x WG_Y threads owns a BM x BN tile of C (BM = WG_Y*TM,
// BN = WG_X*TN) and walks K in steps of BK, staging both operand tiles in shared memory k-major
// (As[k][m], Bs[k][n]) so the inner loop reads vec4 runs of rows and columns. Each thread keeps
// TM x TN accumulators in registers: rows (i*WG_Y + ty)*4 + 0..3 and columns (j*WG_X + tx)*4 + 0..3,
// interleaved so that a warp's shared reads are contiguous and its global stores coalesce.
//
// Buffers are declared as array<vec4f> so aligned operands load 16 bytes per access (one bounds
// check instead of four); unaligned operands fall back to scalar loads through `[i >> 2][i & 3]`.
// The host binds every tensor with its size rounded up to 16 bytes (lib/gpu/ops.ts).
//
// Split-K (SPLITS > 1 at run time, p.splits): workgroup z = batch * splits + s computes the partial
// product over k in [s*k_chunk, (s+1)*k_chunk) and stores it (alpha 1, beta 0) into a workspace;
// `splitk_reduce` then sums the partials in a fixed order (deterministic) and applies alpha/beta.
//
// Defines: TRANS_A, TRANS_B, VEC_A, VEC_B, VEC_C (bool); WG_X, WG_Y, TM, TN, BK (u32; TM, TN, BK
// multiples of 4; v3 requires TN = 4 and TM in {4, 8}).

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
const TM4: u32 = TM / 4u;
const TN4: u32 = TN / 4u;
const BM4: u32 = BM / 4u;
const BN4: u32 = BN / 4u;
const BK4: u32 = BK / 4u;

var<workgroup> As: array<vec4f, BK * BM4>;
var<workgroup> Bs: array<vec4f, BK * BN4>;

fn a_scalar(i: u32) -> f32 { return A[i >> 2u][i & 3u]; }
fn b_scalar(i: u32) -> f32 { return B[i >> 2u][i & 3u]; }

// Stages the BM x BK tile of op(A) starting at (m0, k0) into As (k-major); zero outside the
// matrix or past k_end so the inner loop needs no bounds checks.
fn load_a(t: u32, base: u32, m0: u32, k0: u32, k_end: u32) {
  if (TRANS_A) {
    // stored [K, M]: contiguous along m, which is As's fast axis
    if (VEC_A) {
      for (var idx = t; idx < BK * BM4; idx += NT) {
        let kk = idx / BM4;
        let r4 = idx % BM4;
        let k = k0 + kk;
        let m = m0 + r4 * 4u;
        var v = vec4f(0.0);
        if (k < k_end && m < p.m) { v = A[(base + k * p.m + m) >> 2u]; }
        As[idx] = v;
      }
    } else {
      for (var idx = t; idx < BK * BM; idx += NT) {
        let kk = idx / BM;
        let r = idx % BM;
        let k = k0 + kk;
        let m = m0 + r;
        var v = 0.0;
        if (k < k_end && m < p.m) { v = a_scalar(base + k * p.m + m); }
        As[kk * BM4 + (r >> 2u)][r & 3u] = v;
      }
    }
  } else {
    // stored [M, K]: contiguous along k; rows vary fastest across threads so the transposed
    // shared-memory stores hit distinct banks
    if (VEC_A) {
      for (var idx = t; idx < BK4 * BM; idx += NT) {
        let r = idx % BM;
        let kq = idx / BM;
        let k = k0 + kq * 4u;
        let m = m0 + r;
        var v = vec4f(0.0);
        if (k < k_end && m < p.m) { v = A[(base + m * p.k + k) >> 2u]; }
        let s = kq * 4u * BM4 + (r >> 2u);
        let c = r & 3u;
        As[s][c] = v.x;
        As[s + BM4][c] = v.y;
        As[s + 2u * BM4][c] = v.z;
        As[s + 3u * BM4][c] = v.w;
      }
    } else {
      for (var idx = t; idx < BK * BM; idx += NT) {
        let kk = idx % BK;
        let r = idx / BK;
        let k = k0 + kk;
        let m = m0 + r;
        var v = 0.0;
        if (k < k_end && m < p.m) { v = a_scalar(base + m * p.k + k); }
        As[kk * BM4 + (r >> 2u)][r & 3u] = v;
      }
    }
  }
}

// Stages the BK x BN tile of op(B) starting at (k0, n0) into Bs (k-major).
fn load_b(t: u32, base: u32, k0: u32, n0: u32, k_end: u32) {
  if (TRANS_B) {
    // stored [N, K]: contiguous along k
    if (VEC_B) {
      for (var idx = t; idx < BK4 * BN; idx += NT) {
        let c = idx % BN;
        let kq = idx / BN;
        let k = k0 + kq * 4u;
        let n = n0 + c;
        var v = vec4f(0.0);
        if (k < k_end && n < p.n) { v = B[(base + n * p.k + k) >> 2u]; }
        let s = kq * 4u * BN4 + (c >> 2u);
        let cc = c & 3u;
        Bs[s][cc] = v.x;
        Bs[s + BN4][cc] = v.y;
        Bs[s + 2u * BN4][cc] = v.z;
        Bs[s + 3u * BN4][cc] = v.w;
      }
    } else {
      for (var idx = t; idx < BK * BN; idx += NT) {
        let kk = idx % BK;
        let c = idx / BK;
        let k = k0 + kk;
        let n = n0 + c;
        var v = 0.0;
        if (k < k_end && n < p.n) { v = b_scalar(base + n * p.k + k); }
        Bs[kk * BN4 + (c >> 2u)][c & 3u] = v;
      }
    }
  } else {
    // stored [K, N]: contiguous along n, Bs's fast axis
    if (VEC_B) {
      for (var idx = t; idx < BK * BN4; idx += NT) {
        let kk = idx / BN4;
        let c4 = idx % BN4;
        let k = k0 + kk;
        let n = n0 + c4 * 4u;
        var v = vec4f(0.0);
        if (k < k_end && n < p.n) { v = B[(base + k * p.n + n) >> 2u]; }
        Bs[idx] = v;
      }
    } else {
      for (var idx = t; idx < BK * BN; idx += NT) {
        let kk = idx / BN;
        let c = idx % BN;
        let k = k0 + kk;
        let n = n0 + c;
        var v = 0.0;
        if (k < k_end && n < p.n) { v = b_scalar(base + k * p.n + n); }
        Bs[kk * BN4 + (c >> 2u)][c & 3u] = v;
      }
    }
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

@compute @workgroup_size(WG_X, WG_Y)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let tx = lid.x;
  let ty = lid.y;
  let t = ty * WG_X + tx;
  let batch = wid.z / p.splits;
  let split = wid.z % p.splits;
  let m0 = wid.y * BM;
  let n0 = wid.x * BN;
  let ba = batch * p.stride_a;
  let bb = batch * p.stride_b;
  let k_begin = split * p.k_chunk;
  let k_end = min(p.k, k_begin + p.k_chunk);

  var c0 = vec4f(0.0);
  var c1 = vec4f(0.0);
  var c2 = vec4f(0.0);
  var c3 = vec4f(0.0);
  var c4 = vec4f(0.0);
  var c5 = vec4f(0.0);
  var c6 = vec4f(0.0);
  var c7 = vec4f(0.0);
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    load_a(t, ba, m0, k0, k_end);
    load_b(t, bb, k0, n0, k_end);
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      let b = Bs[kk * BN4 + tx];
      let a0 = As[kk * BM4 + ty];
      c0 = fma_row(c0, a0.x, b);
      c1 = fma_row(c1, a0.y, b);
      c2 = fma_row(c2, a0.z, b);
      c3 = fma_row(c3, a0.w, b);
      if (TM == 8u) {
        let a1 = As[kk * BM4 + WG_Y + ty];
        c4 = fma_row(c4, a1.x, b);
        c5 = fma_row(c5, a1.y, b);
        c6 = fma_row(c6, a1.z, b);
        c7 = fma_row(c7, a1.w, b);
      }
    }
    workgroupBarrier();
  }

  // z indexes (batch, split) pairs; with splits = 1 this is the batch's C, otherwise the
  // workspace slice of this partial product (stride_c = M*N, alpha 1, beta 0)
  let bc = wid.z * p.stride_c;
  let col = n0 + tx * 4u;
  let r0 = m0 + ty * 4u;
  store4(bc, r0, col, c0);
  store4(bc, r0 + 1u, col, c1);
  store4(bc, r0 + 2u, col, c2);
  store4(bc, r0 + 3u, col, c3);
  if (TM == 8u) {
    let r1 = m0 + (WG_Y + ty) * 4u;
    store4(bc, r1, col, c4);
    store4(bc, r1 + 1u, col, c5);
    store4(bc, r1 + 2u, col, c6);
    store4(bc, r1 + 3u, col, c7);
  }
}

// Second stage of split-K: C[b] = alpha * sum_s W[b*splits + s] + beta * C[b], summed in split
// order so results do not depend on scheduling. Binding 1 is the workspace W, binding 2 is C
// (bindings of `main` reused so the module stays one file).
@compute @workgroup_size(256)
fn splitk_reduce(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  let mn = p.m * p.n;
  let batches = p.stride_a;  // reused field: number of batches
  if (i >= mn * batches) { return; }
  let b = i / mn;
  let r = i % mn;
  var s = 0.0;
  for (var j = 0u; j < p.splits; j++) {
    let w = (b * p.splits + j) * mn + r;
    s += A[w >> 2u][w & 3u];
  }
  let o = b * p.stride_c + r;
  var v = p.alpha * s;
  if (p.beta != 0.0) { v += p.beta * B[o >> 2u][o & 3u]; }
  B[o >> 2u][o & 3u] = v;
}
