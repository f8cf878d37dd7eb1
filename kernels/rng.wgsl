// The counter-based RNG of dropout, BPR and NCF negatives (included where needed with
// `// #include "rng"`). Reference: pcgHash / randU32 in lib/reference/elementwise.ts.

// O'Neill's pcg_hash.
fn pcg(v: u32) -> u32 {
  let state = v * 747796405u + 2891336453u;
  let word = ((state >> ((state >> 28u) + 4u)) ^ state) * 277803737u;
  return (word >> 22u) ^ word;
}

// randU32(seed, salt, i): a pure function of its arguments, so a backward recomputes a mask.
fn rand_u32(seed: u32, salt: u32, idx: u32) -> u32 {
  return pcg(idx ^ pcg(seed + pcg(salt)));
}
