/**
 * Where the workplace's shared material lives (real ml-100k data and the official model's golden
 * files, which may not be redistributed and so are not in this repository): `$SS4REC_SHARED`,
 * else `../shared` beside the checkout, else `/work/shared`. Tests that need it are ignored, not
 * failed, when none exists.
 */
function findShared(): URL {
  const candidates = [
    Deno.env.get("SS4REC_SHARED"),
    new URL("../../shared/", import.meta.url).pathname,
    "/work/shared",
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      if (Deno.statSync(c).isDirectory) return new URL(`file://${c.replace(/\/?$/, "/")}`);
    } catch {
      // try the next one
    }
  }
  return new URL("../../shared/", import.meta.url);
}

/** The shared folder as a directory URL (ends with `/`). */
export const SHARED: URL = findShared();
