// C[b] = alpha * op(A[b]) · op(B[b]) + beta * C[b], row-major, f32.
// op(A) is [M,K] (stored [K,M] when TRANS_A); op(B) is [K,N] (stored [N,K] when TRANS_B).
// v1: 16x16 shared-memory tiles, one output per invocation. Correct first; faster versions keep
// this entry's contract (see tasks/bench_kernels.ts).
// Defines: TRANS_A, TRANS_B (bool).

struct Params { m: u32, n: u32, k: u32, stride_a: u32, stride_b: u32, stride_c: u32, alpha: f32, beta: f32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> A: array<f32>;
@group(0) @binding(2) var<storage, read_write> B: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;

const T: u32 = 16u;
var<workgroup> As: array<array<f32, 16>, 16>;
var<workgroup> Bs: array<array<f32, 16>, 16>;

fn load_a(base: u32, row: u32, col: u32) -> f32 {
  if (row >= p.m || col >= p.k) { return 0.0; }
  if (TRANS_A) { return A[base + col * p.m + row]; }
  return A[base + row * p.k + col];
}

fn load_b(base: u32, row: u32, col: u32) -> f32 {
  if (row >= p.k || col >= p.n) { return 0.0; }
  if (TRANS_B) { return B[base + col * p.k + row]; }
  return B[base + row * p.n + col];
}

@compute @workgroup_size(16, 16)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid: vec3u) {
  let batch = wid.z;
  let row = wid.y * T + lid.y;
  let col = wid.x * T + lid.x;
  let ba = batch * p.stride_a;
  let bb = batch * p.stride_b;
  var acc = 0.0;
  for (var t = 0u; t < p.k; t += T) {
    As[lid.y][lid.x] = load_a(ba, row, t + lid.x);
    Bs[lid.y][lid.x] = load_b(bb, t + lid.y, col);
    workgroupBarrier();
    for (var i = 0u; i < T; i++) { acc += As[lid.y][i] * Bs[i][lid.x]; }
    workgroupBarrier();
  }
  if (row < p.m && col < p.n) {
    let idx = batch * p.stride_c + row * p.n + col;
    var v = p.alpha * acc;
    if (p.beta != 0.0) { v += p.beta * C[idx]; }
    C[idx] = v;
  }
}
