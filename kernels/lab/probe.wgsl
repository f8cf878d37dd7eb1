// Lab probes (session 7, kernels/lab/gpu_probe.ts): the FMA rate WGSL reaches with no memory
// traffic at all, and a near-empty kernel for the cost of one dispatch in a pass.
// Defines: ITERS (u32), CHAINS (u32: 4 or 8 independent vec4 chains).
struct Params { n: u32, a: u32, b: u32, c: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn fma_peak(@builtin(global_invocation_id) gid: vec3u) {
  let s = f32(gid.x) * 1e-9;
  var a0 = vec4f(s);
  var a1 = vec4f(s + 1.0);
  var a2 = vec4f(s + 2.0);
  var a3 = vec4f(s + 3.0);
  var a4 = vec4f(s + 4.0);
  var a5 = vec4f(s + 5.0);
  var a6 = vec4f(s + 6.0);
  var a7 = vec4f(s + 7.0);
  let m = vec4f(0.9999999);
  let c = vec4f(1e-7);
  // 4 x CHAINS vec4 FMAs per iteration
  for (var i = 0u; i < ITERS; i++) {
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    if (CHAINS == 8u) {
      a4 = fma(a4, m, c);
      a5 = fma(a5, m, c);
      a6 = fma(a6, m, c);
      a7 = fma(a7, m, c);
    }
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    if (CHAINS == 8u) {
      a4 = fma(a4, m, c);
      a5 = fma(a5, m, c);
      a6 = fma(a6, m, c);
      a7 = fma(a7, m, c);
    }
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    if (CHAINS == 8u) {
      a4 = fma(a4, m, c);
      a5 = fma(a5, m, c);
      a6 = fma(a6, m, c);
      a7 = fma(a7, m, c);
    }
    a0 = fma(a0, m, c);
    a1 = fma(a1, m, c);
    a2 = fma(a2, m, c);
    a3 = fma(a3, m, c);
    if (CHAINS == 8u) {
      a4 = fma(a4, m, c);
      a5 = fma(a5, m, c);
      a6 = fma(a6, m, c);
      a7 = fma(a7, m, c);
    }
  }
  let t = a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7;
  out[gid.x] = t.x + t.y + t.z + t.w;
}

// One workgroup writes one value (the cost of a dispatch, not of its work).
@compute @workgroup_size(64)
fn tiny(@builtin(local_invocation_index) lid: u32) {
  if (lid == 0u) { out[p.a] = out[p.a] + 1.0; }
}
