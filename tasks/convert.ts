/**
 * `convert` command: MovieLens `u.data` / `ratings.dat` / `ratings.csv`, RecBole `.inter` or any
 * delimited file -> RecBole atomic `.inter` plus `<out>.stats.json`.
 *
 * User errors print one line `convert: <message>` on stderr and return exit code 1; no stack trace.
 *
 * @module
 */

import { Command, CommanderError } from "commander";
import { convertFile } from "../lib/data/convert.ts";
import { DataFormatError, INPUT_FORMATS, type InputFormat } from "../lib/data/readers.ts";

/** Column options arrive as strings; plain digits are indices, anything else a header name. */
function columnRef(value: string | undefined): string | number | undefined {
  if (value === undefined) return undefined;
  return /^\d+$/.test(value) ? Number(value) : value;
}

/** Let people type separators the shell makes awkward. */
function unescapeSep(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const named: Record<string, string> = { "\\t": "\t", tab: "\t", comma: ",", semicolon: ";" };
  return named[value] ?? value;
}

/**
 * Run the convert CLI on `args` (without the `convert` word). Returns the exit code: 0 on success,
 * 1 on bad input or usage errors.
 */
export async function convertMain(args: string[]): Promise<number> {
  const program = new Command()
    .name("convert")
    .description("Convert a ratings file to a RecBole atomic .inter (+ <out>.stats.json)")
    .argument("<input>", "u.data, ratings.dat, ratings.csv, .inter or any delimited file")
    .option("-o, --output <path>", "output .inter (default: input name with .inter)")
    .option("--format <format>", `force the input format: ${INPUT_FORMATS.join(", ")}`)
    .option("--sep <sep>", "field separator for delimited files (e.g. ',', '\\t', '::')")
    .option("--user <col>", "user column: header name or 0-based index")
    .option("--item <col>", "item column: header name or 0-based index")
    .option("--rating <col>", "rating column (absent: every rating is 1.0)")
    .option("--no-rating", "the file has no rating column: write 1.0")
    .option("--time <col>", "timestamp column: header name or 0-based index")
    .option("--header", "the first line is a header")
    .option("--no-header", "the first line is data")
    .option("--skip-invalid", "skip malformed rows and count them in the stats")
    .option("-q, --quiet", "print nothing on success")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => Deno.stdout.writeSync(new TextEncoder().encode(s)),
      writeErr: () => {},
    });
  try {
    program.parse(args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      if (e.exitCode === 0) return 0; // --help / --version
      const line = e.message.replace(/^error: /, "").split("\n")[0];
      console.error(`convert: ${line}`);
      return 1;
    }
    throw e;
  }
  const opts = program.opts<{
    output?: string;
    format?: string;
    sep?: string;
    user?: string;
    item?: string;
    rating?: string | boolean;
    time?: string;
    header?: boolean;
    skipInvalid?: boolean;
    quiet?: boolean;
  }>();
  const input = program.args[0];
  if (opts.format !== undefined && !INPUT_FORMATS.includes(opts.format as InputFormat)) {
    console.error(
      `convert: ${input}: unknown format '${opts.format}' (expected one of ${
        INPUT_FORMATS.join(", ")
      })`,
    );
    return 1;
  }
  // commander gives rating=true by default because of --no-rating; only strings are mappings.
  const rating = opts.rating === false
    ? null
    : typeof opts.rating === "string"
    ? columnRef(opts.rating)
    : undefined;
  try {
    const stats = await convertFile(input, {
      output: opts.output,
      format: opts.format as InputFormat | undefined,
      sep: unescapeSep(opts.sep),
      user: columnRef(opts.user),
      item: columnRef(opts.item),
      rating,
      time: columnRef(opts.time),
      header: opts.header,
      skipInvalid: opts.skipInvalid,
    });
    if (!opts.quiet) {
      const mbps = stats.bytesIn / 1e6 / Math.max(stats.seconds, 1e-9);
      console.log(
        `convert: ${input} (${stats.format}) -> ${stats.output}: ${stats.rows} rows, ` +
          `${stats.users} users, ${stats.items} items, ${stats.skippedRows} skipped ` +
          `(${stats.seconds.toFixed(2)} s, ${mbps.toFixed(0)} MB/s)`,
      );
    }
    return 0;
  } catch (e) {
    if (e instanceof DataFormatError) {
      console.error(`convert: ${e.message}`);
      return 1;
    }
    if (e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotFound) {
      console.error(`convert: ${(e as Error).message.split("\n")[0]}`);
      return 1;
    }
    throw e;
  }
}

if (import.meta.main) {
  Deno.exit(await convertMain(Deno.args));
}
