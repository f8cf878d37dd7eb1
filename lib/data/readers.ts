/**
 * Streaming readers for MovieLens-style interaction logs.
 *
 * Supported layouts (auto-detected by file name and first line, or forced with `format`):
 * - `udata`: MovieLens 100K `u.data` (tab, no header, user item rating timestamp)
 * - `dat`: MovieLens 1M/10M `ratings.dat` (`::`, no header)
 * - `csv`: MovieLens `ratings.csv` (header `userId,movieId,rating,timestamp`, CRLF or LF)
 * - `inter`: RecBole atomic `.inter` (tab, `name:type` header, any column order, extra columns)
 * - `delimited`: any delimited file with an explicit column mapping
 *
 * The scanner works on raw bytes in fixed-size chunks: ratings files are the hot path of data
 * preparation (25M-row files are common), and decoding every line to a JS string would cost more
 * than the whole parse. Memory is flat apart from the id interning tables.
 *
 * @module
 */

/** Names of the supported input layouts. */
export type InputFormat = "udata" | "dat" | "csv" | "inter" | "delimited";

/** All format names, for CLI validation. */
export const INPUT_FORMATS: readonly InputFormat[] = ["udata", "dat", "csv", "inter", "delimited"];

/** A user-facing data error: one line, naming file, line and field. */
export class DataFormatError extends Error {
  /** Input file the error refers to. */
  file: string;
  /** 1-based line number, or 0 for file-level errors. */
  line: number;
  /** Create an error; `line` 0 means a file-level problem. */
  constructor(file: string, line: number, detail: string) {
    super(line > 0 ? `${file}:${line}: ${detail}` : `${file}: ${detail}`);
    this.name = "DataFormatError";
    this.file = file;
    this.line = line;
  }
}

/** Column selector: a header name or a 0-based index. */
export type ColumnRef = string | number;

/** Options shared by every reader. */
export interface ReadOptions {
  /** Force a layout instead of auto-detection. */
  format?: InputFormat;
  /** Field separator (e.g. `,`, `\t`, `::`); implies `delimited` unless a format is forced. */
  sep?: string;
  /** Whether the first line is a header; auto-detected when undefined. */
  header?: boolean;
  /** User column (name or 0-based index). */
  user?: ColumnRef;
  /** Item column (name or 0-based index). */
  item?: ColumnRef;
  /** Rating column; `null` means there is none (every rating is 1.0). */
  rating?: ColumnRef | null;
  /** Timestamp column. */
  time?: ColumnRef;
  /** Skip malformed rows (counted in `skippedRows`) instead of failing. */
  skipInvalid?: boolean;
  /** Chunk size in bytes for reads (default 4 MiB). */
  chunkSize?: number;
}

/** The resolved physical layout of an input file. */
export interface ColumnLayout {
  /** The format this layout came from. */
  format: InputFormat;
  /** Separator bytes (1 or more). */
  sep: Uint8Array;
  /** Whether line 1 is a header. */
  header: boolean;
  /** Expected number of fields per line. */
  columns: number;
  /** 0-based column indices; rating -1 means absent (1.0). */
  user: number;
  /** Item column index. */
  item: number;
  /** Rating column index or -1. */
  rating: number;
  /** Timestamp column index. */
  time: number;
  /** `integer` ids must be decimal digits (MovieLens); `token` accepts any printable text. */
  idKind: "integer" | "token";
  /** Column names for messages (from the header, or synthetic). */
  names: string[];
}

/**
 * One parsed row, handed to the scanner callback. The object is reused between calls: copy what
 * you keep. Byte ranges index into `buf` and are valid only during the callback.
 */
export interface ParsedRow {
  /** Buffer holding the current line. */
  buf: Uint8Array;
  /** 1-based line number in the file. */
  line: number;
  /** Interned user index (first-appearance order). */
  user: number;
  /** Interned item index (first-appearance order). */
  item: number;
  /** Rating value (1.0 when the layout has no rating column). */
  rating: number;
  /** Timestamp value in seconds. */
  timestamp: number;
  /** Byte range of the user field. */
  userStart: number;
  /** End (exclusive) of the user field. */
  userEnd: number;
  /** Byte range of the item field. */
  itemStart: number;
  /** End (exclusive) of the item field. */
  itemEnd: number;
  /** Byte range of the rating field (empty when absent). */
  ratingStart: number;
  /** End (exclusive) of the rating field. */
  ratingEnd: number;
  /** Byte range of the timestamp field. */
  timeStart: number;
  /** End (exclusive) of the timestamp field. */
  timeEnd: number;
  /** True when the rating bytes are a plain decimal that can be copied verbatim. */
  ratingVerbatim: boolean;
  /** True when the timestamp bytes are a plain decimal that can be copied verbatim. */
  timeVerbatim: boolean;
}

/** Result of a scan: the layout, the interned ids and counters. */
export interface ScanResult {
  /** Layout used. */
  layout: ColumnLayout;
  /** Data rows accepted. */
  rows: number;
  /** Rows skipped with `skipInvalid`. */
  skippedRows: number;
  /** First few skip reasons (at most 10), for reports. */
  skippedExamples: string[];
  /** Raw user ids by interned index. */
  rawUserIds: string[];
  /** Raw item ids by interned index. */
  rawItemIds: string[];
  /** Bytes read. */
  bytes: number;
}

/** Options of {@link scanInteractions}. */
export interface ScanOptions extends ReadOptions {
  /** Called once per accepted row with a reused row object. */
  onRow: (row: ParsedRow) => void;
  /** Called once with the layout before the first row (e.g. to write a header). */
  onLayout?: (layout: ColumnLayout) => void;
}

const LF = 10, CR = 13, DOT = 46, MINUS = 45, ZERO = 48, NINE = 57;
const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const utf8Strict = new TextDecoder("utf-8", { fatal: true });
const utf8Lenient = new TextDecoder("utf-8");
const NUMBER_RE = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** Show a field value in a one-line message: control bytes escaped, long values cut. */
function showValue(bytes: Uint8Array): string {
  let text = utf8Lenient.decode(bytes.length > 60 ? bytes.subarray(0, 60) : bytes);
  // deno-lint-ignore no-control-regex
  text = text.replace(/[\u0000-\u001f\u007f']/g, (c) => {
    if (c === "'") return "\\'";
    return "\\x" + c.charCodeAt(0).toString(16).padStart(2, "0");
  });
  return bytes.length > 60 ? text + "..." : text;
}

function sepName(sep: Uint8Array): string {
  const s = new TextDecoder().decode(sep);
  return s === "\t" ? "\\t" : s;
}

/** Resolve a column reference against header names; returns -1 when not found. */
function resolveColumn(ref: ColumnRef, names: string[] | null, what: string, file: string): number {
  if (typeof ref === "number" || /^\d+$/.test(ref)) {
    const index = typeof ref === "number" ? ref : Number(ref);
    if (names && index >= names.length) {
      throw new DataFormatError(
        file,
        0,
        `${what} column index ${index} out of range (${names.length} columns)`,
      );
    }
    return index;
  }
  if (!names) {
    throw new DataFormatError(
      file,
      0,
      `${what} column '${ref}' given by name but the file has no header; use a 0-based index`,
    );
  }
  const index = names.indexOf(ref);
  if (index < 0) {
    throw new DataFormatError(
      file,
      0,
      `no ${what} column '${ref}' in header (columns: ${names.join(", ")})`,
    );
  }
  return index;
}

const USER_NAMES = ["user_id", "userId", "userid", "user", "uid", "UserID"];
const ITEM_NAMES = ["item_id", "itemId", "movieId", "movie_id", "itemid", "item", "iid", "MovieID"];
const RATING_NAMES = ["rating", "Rating", "score"];
const TIME_NAMES = ["timestamp", "Timestamp", "time", "ts", "datetime"];

function findName(names: string[], candidates: string[]): number {
  for (const c of candidates) {
    const i = names.indexOf(c);
    if (i >= 0) return i;
  }
  return -1;
}

function splitText(line: string, sep: string): string[] {
  return line.split(sep);
}

function baseName(path: string): string {
  const i = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return i >= 0 ? path.slice(i + 1) : path;
}

/** Guess a separator from a line of text: the candidate that splits it into the most fields. */
function guessSep(line: string): string | null {
  let best: string | null = null, bestCount = 1;
  for (const sep of ["::", "\t", ",", ";", "|"]) {
    const n = line.split(sep).length;
    if (n > bestCount) {
      best = sep;
      bestCount = n;
    }
  }
  return best;
}

/**
 * Decide the layout of a file from its name, first line and the user's options.
 * Exported for tests and for callers that want to report the detected format.
 */
export function detectLayout(
  path: string,
  firstLine: string,
  options: ReadOptions = {},
): ColumnLayout {
  const name = baseName(path).toLowerCase();
  const hasMapping = options.sep !== undefined || options.user !== undefined ||
    options.item !== undefined || options.time !== undefined || options.rating !== undefined;
  let format = options.format;
  if (!format) {
    if (name.endsWith(".inter") || /:(token|float)\b/.test(firstLine)) format = "inter";
    else if (options.sep !== undefined) format = "delimited";
    else if (name === "u.data" || /^\d+\t\d+\t\d+(\.\d+)?\t\d+$/.test(firstLine)) format = "udata";
    else if (name.endsWith(".dat") || firstLine.includes("::")) format = "dat";
    else if (/^"?userId"?,"?movieId"?,"?rating"?,"?timestamp"?$/.test(firstLine)) format = "csv";
    else if (hasMapping || guessSep(firstLine) !== null) format = "delimited";
    else {
      throw new DataFormatError(
        path,
        0,
        `cannot detect the format from the first line '${
          showValue(new TextEncoder().encode(firstLine))
        }'; use --format or --sep`,
      );
    }
  }
  const encoder = new TextEncoder();
  let sep: string;
  let header: boolean;
  let names: string[] | null = null;
  let user = 0, item = 1, rating = 2, time = 3;
  let idKind: "integer" | "token" = "integer";
  switch (format) {
    case "udata":
      sep = options.sep ?? "\t";
      header = options.header ?? false;
      break;
    case "dat":
      sep = options.sep ?? "::";
      header = options.header ?? false;
      break;
    case "csv":
      sep = options.sep ?? ",";
      header = options.header ?? true;
      break;
    case "inter":
      sep = options.sep ?? "\t";
      header = options.header ?? true;
      idKind = "token";
      break;
    default:
      sep = options.sep ?? guessSep(firstLine) ?? ",";
      idKind = "token";
      header = options.header ?? false;
      break;
  }
  const fields = splitText(firstLine, sep);
  if (format === "delimited" && options.header === undefined) {
    // A header is a first line whose would-be id/timestamp fields are not numbers.
    header = fields.some((f) => !/^\s*[+-]?[\d.]+([eE][+-]?\d+)?\s*$/.test(f));
  }
  if (header) {
    names = fields.map((f) => f.replace(/^"(.*)"$/, "$1"));
    // RecBole headers declare `name:type`; match on the name part.
    const bare = format === "inter" ? names.map((n) => n.split(":")[0]) : names;
    user = findName(bare, USER_NAMES);
    item = findName(bare, ITEM_NAMES);
    rating = findName(bare, RATING_NAMES);
    time = findName(bare, TIME_NAMES);
    if (options.user !== undefined) user = resolveColumn(options.user, bare, "user", path);
    if (options.item !== undefined) item = resolveColumn(options.item, bare, "item", path);
    if (options.time !== undefined) time = resolveColumn(options.time, bare, "timestamp", path);
    if (options.rating !== undefined) {
      rating = options.rating === null ? -1 : resolveColumn(options.rating, bare, "rating", path);
    }
    if (user < 0 || item < 0 || time < 0) {
      const missing = [user < 0 ? "user" : "", item < 0 ? "item" : "", time < 0 ? "timestamp" : ""]
        .filter((s) => s).join(", ");
      throw new DataFormatError(
        path,
        1,
        `header has no ${missing} column (columns: ${
          names.join(", ")
        }); map them with --user/--item/--time`,
      );
    }
    names = bare;
  } else {
    const n = fields.length;
    if (options.user !== undefined) user = resolveColumn(options.user, null, "user", path);
    if (options.item !== undefined) item = resolveColumn(options.item, null, "item", path);
    if (options.time !== undefined) time = resolveColumn(options.time, null, "timestamp", path);
    if (options.rating !== undefined) {
      rating = options.rating === null ? -1 : resolveColumn(options.rating, null, "rating", path);
    } else if (n === 3 && options.time === undefined && format === "delimited") {
      throw new DataFormatError(
        path,
        0,
        `3 columns and no header: say which is which with --user/--item/--time (and --rating)`,
      );
    }
    names = Array.from({ length: n }, (_, i) => `column ${i}`);
    if (user < n) names[user] = "user";
    if (item < n) names[item] = "item";
    if (rating >= 0 && rating < n) names[rating] = "rating";
    if (time < n) names[time] = "timestamp";
  }
  const columns = fields.length;
  for (const [what, index] of [["user", user], ["item", item], ["timestamp", time]] as const) {
    if (index >= columns) {
      throw new DataFormatError(
        path,
        1,
        `${what} column index ${index} out of range: line has ${columns} fields separated by '${
          sep === "\t" ? "\\t" : sep
        }'`,
      );
    }
  }
  if (rating >= columns) {
    throw new DataFormatError(path, 1, `rating column index ${rating} out of range`);
  }
  return {
    format,
    sep: encoder.encode(sep),
    header,
    columns,
    user,
    item,
    rating,
    time,
    idKind,
    names,
  };
}

/** Read the first line of a file as text (for detection), or null when the file is empty. */
async function readFirstLine(file: Deno.FsFile, path: string): Promise<string | null> {
  const buf = new Uint8Array(64 * 1024);
  let len = 0;
  while (len < buf.length) {
    const n = await file.read(buf.subarray(len));
    if (n === null) break;
    len += n;
    if (buf.subarray(0, len).indexOf(LF) >= 0) break;
  }
  await file.seek(0, Deno.SeekMode.Start);
  if (len === 0) return null;
  let start = 0;
  if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3;
  let end = buf.subarray(0, len).indexOf(LF);
  if (end < 0) end = len;
  const nul = buf.subarray(0, len).indexOf(0);
  if (nul >= 0) {
    throw new DataFormatError(
      path,
      0,
      `binary data (NUL byte at offset ${nul}); expected a text ratings file`,
    );
  }
  if (end > start && buf[end - 1] === CR) end--;
  try {
    return utf8Strict.decode(buf.subarray(start, end));
  } catch {
    throw new DataFormatError(path, 1, `invalid UTF-8 in the first line`);
  }
}

/** Interns ids: decimal ids without leading zeros go through a number map (no string decode). */
interface IdInterner {
  /** Dense table for small ids (value -> index + 1): a typed-array load beats a Map lookup. */
  dense: Int32Array;
  numeric: Map<number, number>;
  text: Map<string, number>;
  raw: string[];
}

/** Ids below this use the dense table (at most 64 MiB per interner). */
const DENSE_LIMIT = 1 << 24;

function createInterner(): IdInterner {
  return { dense: new Int32Array(1 << 16), numeric: new Map(), text: new Map(), raw: [] };
}

function internText(interner: IdInterner, key: string): number {
  let index = interner.text.get(key);
  if (index === undefined) {
    index = interner.raw.length;
    interner.raw.push(key);
    interner.text.set(key, index);
  }
  return index;
}

function internNumber(interner: IdInterner, value: number): number {
  if (value < DENSE_LIMIT) {
    let dense = interner.dense;
    if (value >= dense.length) {
      let n = dense.length;
      while (n <= value) n *= 2;
      const bigger = new Int32Array(n);
      bigger.set(dense);
      interner.dense = dense = bigger;
    }
    const slot = dense[value];
    if (slot !== 0) return slot - 1;
    const index = interner.raw.length;
    interner.raw.push(String(value));
    dense[value] = index + 1;
    return index;
  }
  let index = interner.numeric.get(value);
  if (index === undefined) {
    index = interner.raw.length;
    interner.raw.push(String(value));
    interner.numeric.set(value, index);
  }
  return index;
}

/**
 * Parse an id field; returns the interned index or -1 when invalid. Canonical decimal ids (no
 * leading zero, at most 15 digits) use the numeric map; `integer` ids must be digits only.
 */
function parseId(
  interner: IdInterner,
  buf: Uint8Array,
  start: number,
  end: number,
  kind: "integer" | "token",
): number {
  if (end <= start) return -1;
  let value = 0;
  let digits = true;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c < ZERO || c > NINE) {
      digits = false;
      break;
    }
    value = value * 10 + (c - ZERO);
  }
  if (digits && (end - start <= 15) && (buf[start] !== ZERO || end - start === 1)) {
    return internNumber(interner, value);
  }
  if (kind === "integer" && !digits) return -1;
  for (let i = start; i < end; i++) {
    const c = buf[i];
    if (c < 0x20 || c === 0x7f) return -1;
  }
  let text: string;
  try {
    text = utf8Strict.decode(buf.subarray(start, end));
  } catch {
    return -1;
  }
  return internText(interner, text);
}

/** Parsed number state shared by parseNumber's callers (avoids allocating a result object). */
const numberOut = { value: 0, verbatim: false };

/**
 * Parse a decimal number from bytes. Fast path: `[-]digits[.digits]` with at most 15 significant
 * digits, computed as mantissa / 10^k — a single correctly-rounded division, so the value equals
 * what `Number(text)` gives. Anything else goes through `Number` after a strict regex.
 * Returns false when the field is not a finite number.
 */
function parseNumber(buf: Uint8Array, start: number, end: number): boolean {
  if (end <= start) return false;
  let i = start;
  let negative = false;
  if (buf[i] === MINUS) {
    negative = true;
    i++;
  }
  let mantissa = 0, nDigits = 0, fracDigits = 0, seenDot = false;
  let simple = i < end;
  for (; i < end; i++) {
    const c = buf[i];
    if (c >= ZERO && c <= NINE) {
      mantissa = mantissa * 10 + (c - ZERO);
      nDigits++;
      if (seenDot) fracDigits++;
    } else if (c === DOT && !seenDot) {
      seenDot = true;
    } else {
      simple = false;
      break;
    }
  }
  if (simple && nDigits > 0 && nDigits <= 15) {
    const v = fracDigits === 0 ? mantissa : mantissa / POW10[fracDigits];
    numberOut.value = negative ? -v : v;
    numberOut.verbatim = true;
    return true;
  }
  for (let j = start; j < end; j++) {
    const c = buf[j];
    if (c >= 0x80 || c < 0x20) return false;
  }
  const text = utf8Lenient.decode(buf.subarray(start, end));
  if (!NUMBER_RE.test(text)) return false;
  const v = Number(text);
  if (!Number.isFinite(v)) return false;
  numberOut.value = v;
  numberOut.verbatim = false;
  return true;
}

/**
 * Stream a ratings file row by row. Throws {@link DataFormatError} on the first bad row unless
 * `skipInvalid` is set, and for file-level problems (missing, empty, binary, unknown format).
 */
export async function scanInteractions(path: string, options: ScanOptions): Promise<ScanResult> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) throw new DataFormatError(path, 0, "no such file");
    if (e instanceof Deno.errors.PermissionDenied) {
      throw new DataFormatError(path, 0, "permission denied");
    }
    throw new DataFormatError(path, 0, `cannot open: ${(e as Error).message}`);
  }
  try {
    const info = await file.stat();
    if (info.isDirectory) throw new DataFormatError(path, 0, "is a directory, expected a file");
    const firstLine = await readFirstLine(file, path);
    if (firstLine === null || firstLine.trim() === "") {
      throw new DataFormatError(path, 0, "empty file (no data rows)");
    }
    const layout = detectLayout(path, firstLine, options);
    options.onLayout?.(layout);
    return scanBody(file, path, layout, options);
  } finally {
    file.close();
  }
}

function scanBody(
  file: Deno.FsFile,
  path: string,
  layout: ColumnLayout,
  options: ScanOptions,
): ScanResult {
  const chunkSize = options.chunkSize ?? 4 * 1024 * 1024;
  const skipInvalid = options.skipInvalid ?? false;
  const onRow = options.onRow;
  const users = createInterner();
  const items = createInterner();
  const sep = layout.sep;
  const sep0 = sep[0];
  const sepLen = sep.length;
  const columns = layout.columns;
  const userCol = layout.user, itemCol = layout.item, ratingCol = layout.rating;
  const timeCol = layout.time;
  const idKind = layout.idKind;
  const starts = new Int32Array(columns + 1);
  const ends = new Int32Array(columns + 1);
  const row: ParsedRow = {
    buf: new Uint8Array(0),
    line: 0,
    user: 0,
    item: 0,
    rating: 0,
    timestamp: 0,
    userStart: 0,
    userEnd: 0,
    itemStart: 0,
    itemEnd: 0,
    ratingStart: 0,
    ratingEnd: 0,
    timeStart: 0,
    timeEnd: 0,
    ratingVerbatim: true,
    timeVerbatim: true,
  };
  let buf = new Uint8Array(chunkSize);
  let carry = 0;
  let lineNo = 0;
  let rows = 0, skipped = 0, bytes = 0;
  const skippedExamples: string[] = [];
  let lastUserLen = 0, lastUser = -1;
  let lastUserBytes = new Uint8Array(64);
  let eof = false;
  let firstChunk = true;

  const fail = (line: number, detail: string): void => {
    if (!skipInvalid) throw new DataFormatError(path, line, detail);
    skipped++;
    if (skippedExamples.length < 10) skippedExamples.push(`${path}:${line}: ${detail}`);
  };
  const fieldError = (line: number, col: number, what: string, s: number, e: number) => {
    fail(
      line,
      `field '${layout.names[col]}': expected ${what}, got '${showValue(buf.subarray(s, e))}'`,
    );
  };

  while (!eof) {
    if (carry === buf.length) {
      // A single line longer than the buffer: grow rather than fail.
      const bigger = new Uint8Array(buf.length * 2);
      bigger.set(buf);
      buf = bigger;
    }
    // Synchronous reads: an async read of a page-cached chunk spends more time in the event
    // loop hand-off than in the copy.
    const n = file.readSync(buf.subarray(carry));
    let len: number;
    if (n === null) {
      eof = true;
      len = carry;
      if (len === 0) break;
    } else {
      bytes += n;
      len = carry + n;
      if (buf.subarray(carry, len).indexOf(0) >= 0) {
        const at = bytes - n + buf.subarray(carry, len).indexOf(0);
        throw new DataFormatError(path, 0, `binary data (NUL byte at offset ${at}); expected text`);
      }
    }
    let pos = 0;
    if (firstChunk) {
      firstChunk = false;
      if (buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) pos = 3;
    }
    row.buf = buf;
    for (;;) {
      if (pos >= len) break;
      // One pass per line finds the separators and the line end together (a separate
      // indexOf(LF) per line costs a native call per row). OR all bytes so non-ASCII lines get
      // a UTF-8 check.
      let field = 0;
      let fs = pos;
      let high = 0;
      let i = pos;
      for (; i < len; i++) {
        const c = buf[i];
        if (c === LF) break;
        high |= c;
        if (
          c === sep0 && (sepLen === 1 || (sepLen === 2 && buf[i + 1] === sep[1]) ||
            (sepLen > 2 && matchesAt(buf, i, sep)))
        ) {
          if (field < columns) {
            starts[field] = fs;
            ends[field] = i;
          }
          field++;
          i += sepLen - 1;
          fs = i + 1;
        }
      }
      if (i >= len && !eof) break; // incomplete line: wait for the next chunk
      const s0 = pos;
      let e = i;
      pos = i + 1;
      if (e > s0 && buf[e - 1] === CR) e--;
      lineNo++;
      const line = lineNo;
      if (line === 1 && layout.header) continue;
      if (e === s0) continue; // blank line (typically a trailing one)
      if (fs > e) fs = e; // a separator swallowed the CR: "a,b,\r"
      if (field < columns) {
        starts[field] = fs;
        ends[field] = e;
      }
      field++;
      if (field !== columns) {
        fail(
          line,
          `expected ${columns} fields separated by '${sepName(sep)}', got ${field}`,
        );
        continue;
      }
      if (high & 0x80) {
        try {
          utf8Strict.decode(buf.subarray(s0, e));
        } catch {
          fail(line, `invalid UTF-8 in line '${showValue(buf.subarray(s0, e))}'`);
          continue;
        }
      }
      // Users usually come in runs: compare bytes with the previous row's user before hashing.
      const us = starts[userCol], ue = ends[userCol];
      let user = -1;
      if (lastUser >= 0 && ue - us === lastUserLen) {
        let same = true;
        for (let k = 0; k < lastUserLen; k++) {
          if (buf[us + k] !== lastUserBytes[k]) {
            same = false;
            break;
          }
        }
        if (same) user = lastUser;
      }
      if (user < 0) {
        user = parseId(users, buf, us, ue, idKind);
        if (user < 0) {
          fieldError(line, userCol, idKind === "integer" ? "an integer id" : "an id token", us, ue);
          continue;
        }
        if (ue - us <= lastUserBytes.length) {
          lastUserBytes.set(buf.subarray(us, ue));
        } else {
          lastUserBytes = buf.slice(us, ue);
        }
        lastUserLen = ue - us;
        lastUser = user;
      }
      const is = starts[itemCol], ie = ends[itemCol];
      const item = parseId(items, buf, is, ie, idKind);
      if (item < 0) {
        fieldError(line, itemCol, idKind === "integer" ? "an integer id" : "an id token", is, ie);
        continue;
      }
      let rating = 1;
      let ratingVerbatim = true;
      let rs = 0, re = 0;
      if (ratingCol >= 0) {
        rs = starts[ratingCol];
        re = ends[ratingCol];
        if (!parseNumber(buf, rs, re)) {
          fieldError(line, ratingCol, "a finite number", rs, re);
          continue;
        }
        rating = numberOut.value;
        ratingVerbatim = numberOut.verbatim;
      }
      const ts = starts[timeCol], te = ends[timeCol];
      if (!parseNumber(buf, ts, te)) {
        fieldError(line, timeCol, "a finite number of seconds", ts, te);
        continue;
      }
      row.line = line;
      row.user = user;
      row.item = item;
      row.rating = rating;
      row.timestamp = numberOut.value;
      row.userStart = us;
      row.userEnd = ue;
      row.itemStart = is;
      row.itemEnd = ie;
      row.ratingStart = rs;
      row.ratingEnd = re;
      row.timeStart = ts;
      row.timeEnd = te;
      row.ratingVerbatim = ratingVerbatim;
      row.timeVerbatim = numberOut.verbatim;
      rows++;
      onRow(row);
    }
    // Keep the incomplete tail line for the next read.
    carry = len - pos;
    if (carry > 0) buf.copyWithin(0, pos, len);
  }
  if (rows === 0 && skipped === 0) {
    throw new DataFormatError(path, 0, "empty file (no data rows)");
  }
  return {
    layout,
    rows,
    skippedRows: skipped,
    skippedExamples,
    rawUserIds: users.raw,
    rawItemIds: items.raw,
    bytes,
  };
}

function matchesAt(buf: Uint8Array, at: number, sep: Uint8Array): boolean {
  for (let k = 0; k < sep.length; k++) if (buf[at + k] !== sep[k]) return false;
  return true;
}

/** Interactions of a file in columnar form, ids interned in first-appearance order. */
export interface InteractionTable {
  /** Number of rows. */
  rows: number;
  /** Interned user index per row (into `rawUserIds`). */
  user: Int32Array;
  /** Interned item index per row (into `rawItemIds`). */
  item: Int32Array;
  /** Rating per row. */
  rating: Float32Array;
  /** Timestamp (seconds, float64 exact) per row. */
  timestamp: Float64Array;
  /** Raw user id strings. */
  rawUserIds: string[];
  /** Raw item id strings. */
  rawItemIds: string[];
  /** Rows skipped with `skipInvalid`. */
  skippedRows: number;
  /** The layout that was read. */
  layout: ColumnLayout;
}

/**
 * Read a whole ratings file (any supported layout) into columnar arrays. Growth is by doubling,
 * so memory is about 20 bytes per interaction at peak.
 */
export async function readInteractions(
  path: string,
  options: ReadOptions = {},
): Promise<InteractionTable> {
  let cap = 1 << 16;
  let user = new Int32Array(cap);
  let item = new Int32Array(cap);
  let rating = new Float32Array(cap);
  let timestamp = new Float64Array(cap);
  let n = 0;
  const result = await scanInteractions(path, {
    ...options,
    onRow(row) {
      if (n === cap) {
        cap *= 2;
        user = grow(user, cap);
        item = grow(item, cap);
        rating = grow(rating, cap);
        timestamp = grow(timestamp, cap);
      }
      user[n] = row.user;
      item[n] = row.item;
      rating[n] = row.rating;
      timestamp[n] = row.timestamp;
      n++;
    },
  });
  return {
    rows: n,
    // subarray, not slice: a copy would double the peak for large files.
    user: user.subarray(0, n),
    item: item.subarray(0, n),
    rating: rating.subarray(0, n),
    timestamp: timestamp.subarray(0, n),
    rawUserIds: result.rawUserIds,
    rawItemIds: result.rawItemIds,
    skippedRows: result.skippedRows,
    layout: result.layout,
  };
}

function grow<T extends Int32Array | Float32Array | Float64Array>(a: T, cap: number): T {
  const b = new (a.constructor as { new (n: number): T })(cap);
  b.set(a);
  return b;
}
