/** Small in-memory fixtures shared by the data tests. */
import type { InteractionTable } from "../lib/data/mod.ts";

/** Build a table from literal rows [user, item, ts] (ids as strings). */
export function tableOf(rows: [string, string, number][]): InteractionTable {
  const users: string[] = [], items: string[] = [];
  const u = new Int32Array(rows.length), i = new Int32Array(rows.length);
  const ts = new Float64Array(rows.length);
  rows.forEach(([ru, ri, t], r) => {
    if (!users.includes(ru)) users.push(ru);
    if (!items.includes(ri)) items.push(ri);
    u[r] = users.indexOf(ru);
    i[r] = items.indexOf(ri);
    ts[r] = t;
  });
  return {
    rows: rows.length,
    user: u,
    item: i,
    rating: new Float32Array(rows.length).fill(1),
    timestamp: ts,
    rawUserIds: users,
    rawItemIds: items,
    skippedRows: 0,
    // deno-lint-ignore no-explicit-any
    layout: null as any,
  };
}
