// Subgroup helpers, `// #include "subgroup"`. On a device without subgroups (Gpu.subgroupSize 0) the
// runtime includes kernels/subgroup_none.wgsl instead, so a kernel that names them still compiles;
// kernels call them only on a path their host enables from Gpu.subgroupSize. No `enable subgroups;`:
// naga in Deno 2.9.6 refuses the directive but takes the builtins on a device with the feature.
fn sg_xor1(v: f32, mask: u32) -> f32 { return subgroupShuffleXor(v, mask); }
fn sg_xor2(v: vec2<f32>, mask: u32) -> vec2<f32> { return subgroupShuffleXor(v, mask); }
fn sg_xor4(v: vec4<f32>, mask: u32) -> vec4<f32> { return subgroupShuffleXor(v, mask); }
