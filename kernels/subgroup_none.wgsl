// kernels/subgroup.wgsl's functions for a device without subgroups (the runtime includes this file
// in its place): never called there, since hosts enable subgroup paths from Gpu.subgroupSize.
fn sg_xor1(v: f32, mask: u32) -> f32 { return v; }
fn sg_xor2(v: vec2<f32>, mask: u32) -> vec2<f32> { return v; }
fn sg_xor4(v: vec4<f32>, mask: u32) -> vec4<f32> { return v; }
