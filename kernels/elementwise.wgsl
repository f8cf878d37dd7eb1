// Element-wise ops: activations (forward and backward side by side), residual adds, dropout.
// Bindings: 0 params, 1.. tensors as listed per entry point. Every entry uses 256-wide workgroups
// over a 1-D grid that may be split over x and y (runtime.ts grid()).
// Params: n elements; for dropout also the keep threshold (u32: keep when rand >= thr), the scale
// 1/(1-p) and the salt that tells dropout sites apart. Ops that only need n pass [n]: the uniform is
// rounded up to 16 bytes by the runtime, so the wider struct is always backed.

struct Params { n: u32, thr: u32, scale: f32, salt: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// dropout's per-step scalars u32 [step, seed, training, 0] (BuildContext.step); the same binding
// slot as `c`, which is legal because no entry point uses both.
@group(0) @binding(3) var<storage, read_write> stepv: array<u32>;

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

// ---- softplus (PyTorch threshold 20: identity above it) ----

// log(1 + e) without cancellation for small e (Goldberg's trick; WGSL has no log1p).
fn log1p_(e: f32) -> f32 {
  let u = 1.0 + e;
  if (u == 1.0) { return e; }
  return log(u) * e / (u - 1.0);
}

// a = x, b = y
@compute @workgroup_size(256)
fn softplus_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let x = a[i];
  b[i] = select(log1p_(exp(x)), x, x > 20.0);
}

// a = x, b = dy, c = dx (overwritten)
@compute @workgroup_size(256)
fn softplus_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let x = a[i];
  c[i] = select(b[i] * sigmoid(x), b[i], x > 20.0);
}

// ---- GELU, tanh approximation (PyTorch approximate="tanh") ----

const GELU_C: f32 = 0.7978845608028654;

// tanh through exp of a non-positive argument: no overflow for any input.
fn tanh_(x: f32) -> f32 {
  let e = exp(-2.0 * abs(x));
  return sign(x) * (1.0 - e) / (1.0 + e);
}

// a = x, b = y
@compute @workgroup_size(256)
fn gelu_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let x = a[i];
  b[i] = 0.5 * x * (1.0 + tanh_(GELU_C * (x + 0.044715 * x * x * x)));
}

// a = x, b = dy, c = dx (overwritten)
@compute @workgroup_size(256)
fn gelu_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let x = a[i];
  let t = tanh_(GELU_C * (x + 0.044715 * x * x * x));
  let dt = (1.0 - t * t) * GELU_C * (1.0 + 3.0 * 0.044715 * x * x);
  c[i] = b[i] * (0.5 * (1.0 + t) + 0.5 * x * dt);
}

// ---- residual adds ----

// c = a + b
@compute @workgroup_size(256)
fn add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  c[i] = a[i] + b[i];
}

// a += b
@compute @workgroup_size(256)
fn add_inplace(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  a[i] = a[i] + b[i];
}

// ---- dropout: counter-based mask, recomputed in the backward (nothing stored) ----

// #include "rng"

// The multiplier of element i: 1 when not training or p = 0, else 0 or 1/(1-p).
fn drop_scale(i: u32) -> f32 {
  if (stepv[2] == 0u || p.thr == 0u) { return 1.0; }
  return select(0.0, p.scale, rand_u32(stepv[1], p.salt, i) >= p.thr);
}

// a = x, b = y, binding 3 = step
@compute @workgroup_size(256)
fn dropout_forward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  b[i] = a[i] * drop_scale(i);
}

// a = dy, b = dx (overwritten), binding 3 = step: the same mask as the forward of this step
@compute @workgroup_size(256)
fn dropout_backward(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  b[i] = a[i] * drop_scale(i);
}
