// Element-wise activations: forward and backward side by side.
// Bindings: 0 params {n}, 1.. tensors as listed per entry point. WG is the workgroup size.

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;

fn sigmoid(x: f32) -> f32 { return 1.0 / (1.0 + exp(-x)); }

// a = x, b = y
@compute @workgroup_size(256)
fn silu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let x = a[i];
  b[i] = x * sigmoid(x);
}

// a = x, b = dy, c = dx (overwritten)
@compute @workgroup_size(256)
fn silu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let x = a[i];
  let s = sigmoid(x);
  c[i] = b[i] * s * (1.0 + x * (1.0 - s));
}
