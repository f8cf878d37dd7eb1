// Fused Adam over flat buffers (torch.optim.Adam semantics, L2 weight decay), one dispatch.
// The step count lives on the GPU (u32 step[0], 1-based, written by the host with writeBuffer or
// shared with the model's per-step scalars), so a training step needs no host-side arithmetic.
// Hyper-parameters live in a small f32 tensor so a schedule is also just a writeBuffer:
// [lr, beta1, beta2, eps, weight_decay, 1 - beta1, 1 - beta2, ln beta1, ln beta2], the last four
// computed in float64 on the host (1 - 0.999 in f32 arithmetic would be off by 1e-5 relative).
// Defines: HAS_SCALE (bool): multiply each gradient by scale[SCALE_INDEX] first (clip-by-norm
// coefficient from lib/gpu/reduce.ts, fused here so clipping costs no extra pass over the grads).

struct Params { n: u32 }
@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> param: array<f32>;
@group(0) @binding(2) var<storage, read_write> grad: array<f32>;
@group(0) @binding(3) var<storage, read_write> m: array<f32>;
@group(0) @binding(4) var<storage, read_write> v: array<f32>;
@group(0) @binding(5) var<storage, read_write> step: array<u32>;
@group(0) @binding(6) var<storage, read_write> hyper: array<f32>;
@group(0) @binding(7) var<storage, read_write> scale: array<f32>;

// 1 - b^t = -expm1(t ln b): a short series near 0 where 1 - exp(x) would cancel (b2 = 0.999 at
// early steps), the direct form elsewhere (there 1 - exp(x) > 0.09, so little is lost).
fn one_minus_pow(lnb: f32, t: f32) -> f32 {
  let x = t * lnb;
  if (x > -0.1) {
    return -x * (1.0 + x * (0.5 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0 + x / 720.0)))));
  }
  return 1.0 - exp(x);
}

@compute @workgroup_size(256)
fn adam(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = gid.x + gid.y * nwg.x * 256u;
  if (i >= p.n) { return; }
  let lr = hyper[0];
  let b2 = hyper[2];
  let eps = hyper[3];
  let wd = hyper[4];
  let t = f32(max(step[0], 1u));
  var g = grad[i];
  if (HAS_SCALE) { g *= scale[SCALE_INDEX]; }
  let x = param[i];
  if (wd != 0.0) { g += wd * x; }
  // torch: exp_avg.lerp_(grad, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(grad, grad, 1 - beta2)
  let m0 = m[i];
  let mi = m0 + hyper[5] * (g - m0);
  let vi = v[i] * b2 + hyper[6] * (g * g);
  m[i] = mi;
  v[i] = vi;
  // torch: denom = sqrt(v) / sqrt(1 - b2^t) + eps; p -= (lr / (1 - b1^t)) * m / denom
  let bc1 = one_minus_pow(hyper[7], t);
  let bc2 = one_minus_pow(hyper[8], t);
  let denom = sqrt(vi) / sqrt(bc2) + eps;
  param[i] = x + (-(lr / bc1) * mi) / denom;  // addcdiv_ evaluates (value * m) / denom
}
