// C[b] = alpha * op(A[b]) · op(B[b]) + beta * C[b], row-major, f32; optional split-K.
// op(A) is [M,K] (stored [K,M] when TRANS_A); op(B) is [K,N] (stored [N,K] when TRANS_B).
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
// multiples of 4).

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

  var acc: array<vec4f, TM * TN4>;
  for (var k0 = k_begin; k0 < k_end; k0 += BK) {
    load_a(t, ba, m0, k0, k_end);
    load_b(t, bb, k0, n0, k_end);
    workgroupBarrier();
    for (var kk = 0u; kk < BK; kk++) {
      var a: array<vec4f, TM4>;
      var b: array<vec4f, TN4>;
      for (var i = 0u; i < TM4; i++) { a[i] = As[kk * BM4 + i * WG_Y + ty]; }
      for (var j = 0u; j < TN4; j++) { b[j] = Bs[kk * BN4 + j * WG_X + tx]; }
      for (var i = 0u; i < TM4; i++) {
        for (var ii = 0u; ii < 4u; ii++) {
          let av = a[i][ii];
          for (var j = 0u; j < TN4; j++) {
            acc[(i * 4u + ii) * TN4 + j] = fma(vec4f(av), b[j], acc[(i * 4u + ii) * TN4 + j]);
          }
        }
      }
    }
    workgroupBarrier();
  }

  // z indexes (batch, split) pairs; with splits = 1 this is the batch's C, otherwise the
  // workspace slice of this partial product (stride_c = M*N, alpha 1, beta 0)
  let bc = wid.z * p.stride_c;
  for (var i = 0u; i < TM4; i++) {
    for (var ii = 0u; ii < 4u; ii++) {
      let row = m0 + (i * WG_Y + ty) * 4u + ii;
      if (row >= p.m) { continue; }
      for (var j = 0u; j < TN4; j++) {
        let col = n0 + (j * WG_X + tx) * 4u;
        if (col >= p.n) { continue; }
        var v = p.alpha * acc[(i * 4u + ii) * TN4 + j];
        let idx = bc + row * p.n + col;
        if (VEC_C && col + 3u < p.n) {
          if (p.beta != 0.0) { v += p.beta * C[idx >> 2u]; }
          C[idx >> 2u] = v;
        } else {
          for (var c = 0u; c < 4u; c++) {
            if (col + c < p.n) {
              let e = idx + c;
              var s = v[c];
              if (p.beta != 0.0) { s += p.beta * C[e >> 2u][e & 3u]; }
              C[e >> 2u][e & 3u] = s;
            }
          }
        }
      }
    }
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
