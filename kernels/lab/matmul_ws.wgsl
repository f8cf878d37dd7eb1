// Lab (session 8): a weight-stationary product for the model's long-M, small K·N shapes,
// C [M, N] = alpha · A [M, K] · op(B) [K, N] + beta · C (A not transposed, one batch).
// `main` (kernels/matmul.wgsl) stages a BM × BK tile of A and a BK × BN tile of B through
// workgroup memory every K step, with a barrier per step; its ablations (RESULTS.md, session 7)
// put the global loads and the shared-memory stashes at 15–25 % each. Here a workgroup stages
// its BN columns of op(B) for the whole K once, then walks row tiles (grid-stride over M): each
// invocation reads its TM rows of A straight from global memory, 16 bytes (4 k) at a time, the
// next 4 k loaded while the current ones multiply; the invocations of a row group share those
// loads (one cache line serves them all), and op(B) comes from workgroup memory with no barrier
// in the loop at all.
//
// Defines: TRANS_B (bool: B stored [N, K]), KD (K, a multiple of 4), BN (columns per workgroup,
// a multiple of TN), TM (rows per invocation, 4 or 8), TN (columns per invocation, 4 or 8),
// NT (invocations). Host: K·BN·4 bytes of workgroup memory; N, K multiples of 4.
// Invocation t: column group cg = t % NCG (columns n0 + 4·cg .. + 3, and with TN = 8 also
// n0 + 4·(cg + NCG) .. + 3: a warp's workgroup-memory reads are contiguous), row group
// rg = t / NCG (rows m0 + rg·TM ..) of the tile; invocations past NCG·RGS only help stage B.

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

const K4: u32 = KD / 4u;
const BN4: u32 = BN / 4u;
const NCG: u32 = BN / TN;
const RGS: u32 = NT / NCG;
const BM: u32 = RGS * TM;
var<workgroup> Bs: array<array<vec4f, BN4>, KD>; // [k][column quad]

// accumulators: row r, column quad j (TN = 8: two quads)
var<private> c00: vec4f; var<private> c01: vec4f; var<private> c10: vec4f; var<private> c11: vec4f;
var<private> c20: vec4f; var<private> c21: vec4f; var<private> c30: vec4f; var<private> c31: vec4f;
var<private> c40: vec4f; var<private> c41: vec4f; var<private> c50: vec4f; var<private> c51: vec4f;
var<private> c60: vec4f; var<private> c61: vec4f; var<private> c70: vec4f; var<private> c71: vec4f;
// the current 4 k of each row (a) and the next 4 (q)
var<private> a0: vec4f; var<private> a1: vec4f; var<private> a2: vec4f; var<private> a3: vec4f;
var<private> a4: vec4f; var<private> a5: vec4f; var<private> a6: vec4f; var<private> a7: vec4f;
var<private> q0: vec4f; var<private> q1: vec4f; var<private> q2: vec4f; var<private> q3: vec4f;
var<private> q4: vec4f; var<private> q5: vec4f; var<private> q6: vec4f; var<private> q7: vec4f;
var<private> pcg: u32;

fn b_elem(k: u32, n: u32) -> f32 {
  if (n >= p.n) { return 0.0; }
  let i = select(k * p.n + n, n * p.k + k, TRANS_B);
  return B[i >> 2u][i & 3u];
}

// rows r0 .. r0 + TM − 1 (clamped into A), quad k4
fn load_q(r0: u32, k4: u32) {
  let last = p.m - 1u;
  q0 = A[min(r0, last) * K4 + k4];
  q1 = A[min(r0 + 1u, last) * K4 + k4];
  q2 = A[min(r0 + 2u, last) * K4 + k4];
  q3 = A[min(r0 + 3u, last) * K4 + k4];
  if (TM > 4u) {
    q4 = A[min(r0 + 4u, last) * K4 + k4];
    q5 = A[min(r0 + 5u, last) * K4 + k4];
    q6 = A[min(r0 + 6u, last) * K4 + k4];
    q7 = A[min(r0 + 7u, last) * K4 + k4];
  }
}

fn take_q() {
  a0 = q0; a1 = q1; a2 = q2; a3 = q3;
  if (TM > 4u) { a4 = q4; a5 = q5; a6 = q6; a7 = q7; }
}

// k = 4·k4 + kk (kk constant after inlining)
fn kstep(k: u32, kk: u32) {
  let b0 = Bs[k][pcg];
  let b1 = Bs[k][min(pcg + NCG, BN4 - 1u)];
  c00 = fma(vec4f(a0[kk]), b0, c00);
  c10 = fma(vec4f(a1[kk]), b0, c10);
  c20 = fma(vec4f(a2[kk]), b0, c20);
  c30 = fma(vec4f(a3[kk]), b0, c30);
  if (TN > 4u) {
    c01 = fma(vec4f(a0[kk]), b1, c01);
    c11 = fma(vec4f(a1[kk]), b1, c11);
    c21 = fma(vec4f(a2[kk]), b1, c21);
    c31 = fma(vec4f(a3[kk]), b1, c31);
  }
  if (TM > 4u) {
    c40 = fma(vec4f(a4[kk]), b0, c40);
    c50 = fma(vec4f(a5[kk]), b0, c50);
    c60 = fma(vec4f(a6[kk]), b0, c60);
    c70 = fma(vec4f(a7[kk]), b0, c70);
    if (TN > 4u) {
      c41 = fma(vec4f(a4[kk]), b1, c41);
      c51 = fma(vec4f(a5[kk]), b1, c51);
      c61 = fma(vec4f(a6[kk]), b1, c61);
      c71 = fma(vec4f(a7[kk]), b1, c71);
    }
  }
}

fn put(m: u32, n: u32, v: vec4f) {
  if (m < p.m && n < p.n) {
    let i = (m * p.n + n) >> 2u;
    var o = p.alpha * v;
    if (p.beta != 0.0) { o += p.beta * C[i]; }
    C[i] = o;
  }
}

fn put_row(m: u32, n: u32, v0: vec4f, v1: vec4f) {
  put(m, n, v0);
  if (TN > 4u) { put(m, n + 4u * NCG, v1); }
}

@compute @workgroup_size(NT)
fn main(
  @builtin(local_invocation_index) lid: u32,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let n0 = wid.y * BN;
  for (var i = lid; i < KD * BN; i += NT) {
    let k = i / BN;
    let n = i % BN;
    Bs[k][n / 4u][n % 4u] = b_elem(k, n0 + n);
  }
  workgroupBarrier();
  pcg = lid % NCG;
  let rg = lid / NCG;
  if (rg >= RGS) { return; }
  let nc = n0 + 4u * pcg;
  for (var tile = wid.x; tile * BM < p.m; tile += nwg.x) {
    let r0 = tile * BM + rg * TM;
    c00 = vec4f(0.0); c01 = vec4f(0.0); c10 = vec4f(0.0); c11 = vec4f(0.0);
    c20 = vec4f(0.0); c21 = vec4f(0.0); c30 = vec4f(0.0); c31 = vec4f(0.0);
    c40 = vec4f(0.0); c41 = vec4f(0.0); c50 = vec4f(0.0); c51 = vec4f(0.0);
    c60 = vec4f(0.0); c61 = vec4f(0.0); c70 = vec4f(0.0); c71 = vec4f(0.0);
    load_q(r0, 0u);
    for (var k4 = 0u; k4 < K4; k4++) {
      take_q();
      load_q(r0, min(k4 + 1u, K4 - 1u));
      kstep(4u * k4, 0u);
      kstep(4u * k4 + 1u, 1u);
      kstep(4u * k4 + 2u, 2u);
      kstep(4u * k4 + 3u, 3u);
    }
    put_row(r0, nc, c00, c01);
    put_row(r0 + 1u, nc, c10, c11);
    put_row(r0 + 2u, nc, c20, c21);
    put_row(r0 + 3u, nc, c30, c31);
    if (TM > 4u) {
      put_row(r0 + 4u, nc, c40, c41);
      put_row(r0 + 5u, nc, c50, c51);
      put_row(r0 + 6u, nc, c60, c61);
      put_row(r0 + 7u, nc, c70, c71);
    }
  }
}
