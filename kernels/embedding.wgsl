// Embedding lookup and its deterministic scatter-add backward (no float atomics).
//
// Forward: out[r, h] = table[ids[r], h] (zero row for ids outside [0, vocab)).
// Backward, six dispatches over one u32 workspace ws (layout below), all on the GPU, O(n + V)
// work whatever the id distribution (a single id may own every token):
//   emb_count   cnt[blk, id] += 1 for every token with 0 < id < vocab, blk = r / tblk (integer
//               atomics; padding id 0 gets no lookup gradient: padding_idx semantics)
//   emb_colscan thread per id: cnt[., id] -> exclusive prefix over the blocks; tot[id] = total
//   emb_scan    one workgroup: offsets = exclusive prefix of tot over ids, chunk offsets of the
//               segments cut into chunks of at most `ch` tokens, and chunk -> id
//   emb_place   workgroup per block: a stable counting sort, sorted[offsets[id] + cnt[blk, id] +
//               rank among the earlier same-id tokens of the block] = r (rounds of 256 tokens,
//               ranks from a workgroup array, cursors advanced by atomicMax), so every segment lists its tokens in ascending
//               order (deterministic bits); the block's cnt row is zeroed for the next step
//   emb_partial thread per (chunk, h): partial[chunk, h] = sum of dOut[r, h] over the chunk
//   emb_final   thread per (id, h): dTable[id, h] += sum of the id's chunk partials, in order
// Chunking keeps emb_partial's sums at most ch (about sqrt(n) / 4) long and emb_final's at most
// n / ch, so a hot id costs no more than many cold ones; the longest chunk, a chain of dependent
// loads, is emb_partial's critical path (session 11: ch sqrt(n) -> sqrt(n) / 4).
// ws layout (u32): cnt [nblk * vocab] | offsets [vocab + 1] | choff [vocab + 1] | chunk_id [maxch]
//                  | sorted [n]; tot shares the offsets slots until emb_scan.

struct Params { n: u32, dim: u32, vocab: u32, pad: u32 }
@group(0) @binding(0) var<uniform> p: Params;
// the backward's params (its own uniform; gather-last and the forward use `p`)
// (overwrite: emb_final's mode, below)
struct EmbParams {
  n: u32, dim: u32, vocab: u32, tblk: u32, nblk: u32, ch: u32, maxch: u32, overwrite: u32,
}
@group(0) @binding(0) var<uniform> q: EmbParams;
@group(0) @binding(1) var<storage, read_write> ids: array<i32>;
@group(0) @binding(1) var<storage, read_write> ws1: array<u32>;
@group(0) @binding(2) var<storage, read_write> f2: array<f32>;          // table | dOut
@group(0) @binding(2) var<storage, read_write> wsa: array<atomic<u32>>;
@group(0) @binding(2) var<storage, read_write> ws2: array<u32>;
@group(0) @binding(3) var<storage, read_write> f3: array<f32>;          // out | partial | dTable
// the vec4 entries (emb_gather4, gather_last_backward4: dim a multiple of 4)
@group(0) @binding(2) var<storage, read_write> f2v: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> f3v: array<vec4f>;

fn lin(gid: vec3u, nwg: vec3u, wg: u32) -> u32 { return gid.x + gid.y * nwg.x * wg; }
fn off_offsets() -> u32 { return q.nblk * q.vocab; }
fn off_choff() -> u32 { return q.nblk * q.vocab + q.vocab + 1u; }
fn off_chunk() -> u32 { return q.nblk * q.vocab + 2u * q.vocab + 2u; }
fn off_sorted() -> u32 { return q.nblk * q.vocab + 2u * q.vocab + 2u + q.maxch; }
fn valid_id(id: i32) -> bool { return id > 0 && u32(id) < q.vocab; }

// bindings: 1 ids, 2 table, 3 out
@compute @workgroup_size(256)
fn emb_gather(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  if (i >= p.n * p.dim) { return; }
  let r = i / p.dim;
  let h = i - r * p.dim;
  let id = ids[r];
  var v = 0.0;
  if (id >= 0 && u32(id) < p.vocab) { v = f2[u32(id) * p.dim + h]; }
  f3[i] = v;
}

// emb_gather with 16-byte loads and stores, a quarter of the invocations (dim % 4 == 0; session 7:
// the scalar entry's integer division per element made it ~2x its memory time on the H100)
@compute @workgroup_size(256)
fn emb_gather4(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  let d4 = p.dim / 4u;
  if (i >= p.n * d4) { return; }
  let r = i / d4;
  let h = i - r * d4;
  let id = ids[r];
  var v = vec4f(0.0);
  if (id >= 0 && u32(id) < p.vocab) { v = f2v[u32(id) * d4 + h]; }
  f3v[i] = v;
}

// bindings: 1 ids, 2 ws (atomic)
@compute @workgroup_size(256)
fn emb_count(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let r = lin(gid, nwg, 256u);
  if (r >= q.n) { return; }
  let id = ids[r];
  if (!valid_id(id)) { return; }
  atomicAdd(&wsa[(r / q.tblk) * q.vocab + u32(id)], 1u);
}

// bindings: 1 ws. Thread per id; eight independent loads in flight per step (the walk over the
// blocks is the kernel's critical path: 26 -> 18 µs on the H100 against four; session 11).
@compute @workgroup_size(256)
fn emb_colscan(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let v = lin(gid, nwg, 256u);
  if (v >= q.vocab) { return; }
  let V = q.vocab;
  var run = 0u;
  var b = 0u;
  for (; b + 8u <= q.nblk; b += 8u) {
    let i = b * V + v;
    let c0 = ws1[i];
    let c1 = ws1[i + V];
    let c2 = ws1[i + 2u * V];
    let c3 = ws1[i + 3u * V];
    let c4 = ws1[i + 4u * V];
    let c5 = ws1[i + 5u * V];
    let c6 = ws1[i + 6u * V];
    let c7 = ws1[i + 7u * V];
    let r1 = run + c0;
    let r2 = r1 + c1;
    let r3 = r2 + c2;
    let r4 = r3 + c3;
    let r5 = r4 + c4;
    let r6 = r5 + c5;
    let r7 = r6 + c6;
    ws1[i] = run;
    ws1[i + V] = r1;
    ws1[i + 2u * V] = r2;
    ws1[i + 3u * V] = r3;
    ws1[i + 4u * V] = r4;
    ws1[i + 5u * V] = r5;
    ws1[i + 6u * V] = r6;
    ws1[i + 7u * V] = r7;
    run = r7 + c7;
  }
  for (; b < q.nblk; b++) {
    let i = b * V + v;
    let c = ws1[i];
    ws1[i] = run;
    run += c;
  }
  ws1[off_offsets() + v] = run;
}

var<workgroup> scan: array<vec2u, 256>;

// bindings: 1 ws. One workgroup; thread t owns a contiguous range of ids.
@compute @workgroup_size(256)
fn emb_scan(@builtin(local_invocation_id) lid: vec3u) {
  let t = lid.x;
  let per = (q.vocab + 255u) / 256u;
  let lo = min(t * per, q.vocab);
  let hi = min(lo + per, q.vocab);
  var s = vec2u(0u);
  for (var v = lo; v < hi; v++) {
    let c = ws1[off_offsets() + v];
    s += vec2u(c, (c + q.ch - 1u) / q.ch);
  }
  scan[t] = s;
  workgroupBarrier();
  // Hillis-Steele inclusive scan over the 256 range sums
  for (var d = 1u; d < 256u; d <<= 1u) {
    var x = vec2u(0u);
    if (t >= d) { x = scan[t - d]; }
    workgroupBarrier();
    scan[t] += x;
    workgroupBarrier();
  }
  var run = scan[t] - s;
  for (var v = lo; v < hi; v++) {
    let c = ws1[off_offsets() + v];
    let nch = (c + q.ch - 1u) / q.ch;
    ws1[off_offsets() + v] = run.x;
    ws1[off_choff() + v] = run.y;
    for (var k = 0u; k < nch; k++) { ws1[off_chunk() + run.y + k] = v; }
    run += vec2u(c, nch);
  }
  if (t == 255u) {
    ws1[off_offsets() + q.vocab] = scan[255].x;
    ws1[off_choff() + q.vocab] = scan[255].y;
  }
}

var<workgroup> sid: array<vec4u, 64>;

// bindings: 1 ids, 2 ws. Workgroup per block of tblk tokens, in rounds of 256.
@compute @workgroup_size(256)
fn emb_place(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
             @builtin(local_invocation_id) lid: vec3u) {
  let blk = wid.x + wid.y * nwg.x;
  if (blk >= q.nblk) { return; }
  let l = lid.x;
  let row = blk * q.vocab;
  for (var r0 = blk * q.tblk; r0 < min(blk * q.tblk + q.tblk, q.n); r0 += 256u) {
    let r = r0 + l;
    var id = 0xFFFFFFFFu;
    if (r < q.n) {
      let v = ids[r];
      if (valid_id(v)) { id = u32(v); }
    }
    sid[l >> 2u][l & 3u] = id;
    workgroupBarrier();
    var rank = 0u;
    var base = 0u;
    if (id != 0xFFFFFFFFu) {
      // the earlier same-id tokens of the round, four at a time (session 11: the scalar loop of up
      // to 255 workgroup loads was the kernel's critical path: 62 -> 30 µs on the H100)
      let lq = l >> 2u;
      let one = vec4u(1u);
      var acc = vec4u(0u);
      for (var j = 0u; j < lq; j++) { acc += select(vec4u(0u), one, sid[j] == vec4u(id)); }
      let early = vec4u(0u, 1u, 2u, 3u) < vec4u(l & 3u);
      acc += select(vec4u(0u), one, (sid[lq] == vec4u(id)) & early);
      rank = acc.x + acc.y + acc.z + acc.w;
      base = atomicLoad(&wsa[row + id]);
      let slot = atomicLoad(&wsa[off_offsets() + id]) + base + rank;
      atomicStore(&wsa[off_sorted() + slot], r);
    }
    storageBarrier();
    // the block's cursor moves past this round's tokens of the id (max: order-free, exact)
    if (id != 0xFFFFFFFFu) { atomicMax(&wsa[row + id], base + rank + 1u); }
    storageBarrier();
  }
  // zero this block's counts for the next step (only this workgroup touches the row)
  for (var v = l; v < q.vocab; v += 256u) { atomicStore(&wsa[row + v], 0u); }
}

// bindings: 1 ws, 2 dOut [n, dim], 3 partial [maxch, dim]. Thread per (chunk, h).
@compute @workgroup_size(256)
fn emb_partial(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  let c = i / q.dim;
  let h = i - c * q.dim;
  if (c >= ws1[off_choff() + q.vocab]) { return; }
  let v = ws1[off_chunk() + c];
  let lo = ws1[off_offsets() + v] + (c - ws1[off_choff() + v]) * q.ch;
  let hi = min(lo + q.ch, ws1[off_offsets() + v + 1u]);
  // unrolled by 8, two chains: the eight index loads, then the eight gathers, are in flight
  // together (the NVIDIA compiler leaves naga's loops rolled, and each step is two dependent loads)
  var s = 0.0;
  var s1 = 0.0;
  var k = lo;
  for (; k + 8u <= hi; k += 8u) {
    let i0 = ws1[off_sorted() + k];
    let i1 = ws1[off_sorted() + k + 1u];
    let i2 = ws1[off_sorted() + k + 2u];
    let i3 = ws1[off_sorted() + k + 3u];
    let i4 = ws1[off_sorted() + k + 4u];
    let i5 = ws1[off_sorted() + k + 5u];
    let i6 = ws1[off_sorted() + k + 6u];
    let i7 = ws1[off_sorted() + k + 7u];
    s += (f2[i0 * q.dim + h] + f2[i1 * q.dim + h]) + (f2[i2 * q.dim + h] + f2[i3 * q.dim + h]);
    s1 += (f2[i4 * q.dim + h] + f2[i5 * q.dim + h]) + (f2[i6 * q.dim + h] + f2[i7 * q.dim + h]);
  }
  for (; k < hi; k++) { s += f2[ws1[off_sorted() + k] * q.dim + h]; }
  f3[c * q.dim + h] = s + s1;
}

// bindings: 1 ws, 2 partial, 3 dTable [vocab, dim] (accumulated; with q.overwrite != 0,
// overwritten and 0 for ids without tokens: lib/nn/embedding.ts sumById). Thread per (id, h).
@compute @workgroup_size(256)
fn emb_final(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  if (i >= q.vocab * q.dim) { return; }
  let v = i / q.dim;
  let h = i - v * q.dim;
  let c0 = ws1[off_choff() + v];
  let c1 = ws1[off_choff() + v + 1u];
  if (c0 == c1) {
    if (q.overwrite != 0u) { f3[i] = 0.0; }
    return;
  }
  var s = f2[c0 * q.dim + h];
  for (var c = c0 + 1u; c < c1; c++) { s += f2[c * q.dim + h]; }
  f3[i] = select(f3[i], 0.0, q.overwrite != 0u) + s;
}

// ---- gather-last: out[b, h] = x[b, clamp(len_b, 1, L) - 1, h] ----
// Params reused as [B, L, H] = (n, dim, vocab). Bindings: 1 lengths (i32), 2 x | dOut, 3 out | dx.

fn last_pos(b: u32) -> u32 { return u32(clamp(ids[b], 1, i32(p.dim))) - 1u; }

@compute @workgroup_size(256)
fn gather_last_forward(@builtin(global_invocation_id) gid: vec3u,
                       @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  let H = p.vocab;
  if (i >= p.n * H) { return; }
  let b = i / H;
  let h = i - b * H;
  f3[i] = f2[(b * p.dim + last_pos(b)) * H + h];
}

// dx[b, t, h] = (t == last) ? dOut[b, h] : 0, one thread per element of dx (overwritten)
@compute @workgroup_size(256)
fn gather_last_backward(@builtin(global_invocation_id) gid: vec3u,
                        @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  let H = p.vocab;
  if (i >= p.n * p.dim * H) { return; }
  let bt = i / H;
  let h = i - bt * H;
  let b = bt / p.dim;
  let t = bt - b * p.dim;
  f3[i] = select(0.0, f2[b * H + h], t == last_pos(b));
}

// gather_last_backward with 16-byte stores (H % 4 == 0)
@compute @workgroup_size(256)
fn gather_last_backward4(@builtin(global_invocation_id) gid: vec3u,
                         @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  let h4 = p.vocab / 4u;
  if (i >= p.n * p.dim * h4) { return; }
  let bt = i / h4;
  let h = i - bt * h4;
  let b = bt / p.dim;
  let t = bt - b * p.dim;
  f3v[i] = select(vec4f(0.0), f2v[b * h4 + h], t == last_pos(b));
}

// The backward of picking each row's last step when the picked rows' gradient is ADDED (the last
// block's residual in prefix-mode training): dx[row(b), h] += dOut[b, h], one thread per element
// of dOut. p.pad = 0: row(b) = b·L + last_pos(b) (padded [B, L, H]; binding 1 lengths); p.pad = 1:
// row(b) = ids[b], none when negative (packed tokens; binding 1 the rows' last tokens).
@compute @workgroup_size(256)
fn last_add(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let i = lin(gid, nwg, 256u);
  let H = p.vocab;
  if (i >= p.n * H) { return; }
  let b = i / H;
  let h = i - b * H;
  var row = 0u;
  if (p.pad == 0u) {
    row = b * p.dim + last_pos(b);
  } else {
    if (ids[b] < 0) { return; }
    row = u32(ids[b]);
  }
  f3[row * H + h] += f2[i];
}
