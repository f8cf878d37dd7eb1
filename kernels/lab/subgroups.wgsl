// Lab probe (session 7, kernels/lab/subgroup_probe.ts): do WGSL subgroups work under Deno's
// WebGPU on this adapter, with which subgroup size, and how fast is a butterfly reduction?
// No `enable subgroups;`: naga in Deno 2.9.6 refuses the directive ("not yet implemented") but
// takes the builtins when the device was created with the feature.

@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@group(0) @binding(1) var<storage, read_write> outf: array<f32>;

@compute @workgroup_size(64)
fn info(
  @builtin(local_invocation_index) lid: u32,
  @builtin(subgroup_size) sgs: u32,
  @builtin(subgroup_invocation_id) sid: u32,
) {
  out[lid * 4u] = sgs;
  out[lid * 4u + 1u] = sid;
  out[lid * 4u + 2u] = subgroupAdd(lid);
  out[lid * 4u + 3u] = subgroupShuffleXor(lid, 1u);
}

// ITERS rounds of a 16-lane butterfly sum of a vec4 (4 xor-shuffles), as scan_bwd's per-step
// sums over 16 channels would need.
@compute @workgroup_size(128)
fn butterfly(@builtin(global_invocation_id) gid: vec3u) {
  var v = vec4f(f32(gid.x) * 1e-6);
  var acc = vec4f(0.0);
  for (var i = 0u; i < ITERS; i++) {
    var s = v;
    s += subgroupShuffleXor(s, 8u);
    s += subgroupShuffleXor(s, 4u);
    s += subgroupShuffleXor(s, 2u);
    s += subgroupShuffleXor(s, 1u);
    acc += s;
    v = fma(v, vec4f(0.999), vec4f(1e-7));
  }
  outf[gid.x] = acc.x + acc.y + acc.z + acc.w;
}
