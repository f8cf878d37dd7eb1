/**
 * Data pipeline: readers and converter for MovieLens-style logs, sequential dataset building,
 * batching and seeded shuffling. Pure TypeScript, no GPU.
 *
 * @module
 */

export * from "./readers.ts";
export * from "./convert.ts";
export * from "./dataset.ts";
export * from "./batch.ts";
export * from "./shuffle.ts";
