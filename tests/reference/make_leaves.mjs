#!/usr/bin/env node
// Usage: node make_leaves.mjs COUNT OUTFILE
// Writes COUNT raw 32-byte leaves, leaf i = SHA-256("rotortree" || u64 little-endian i).
import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";

function die(msg) {
  process.stderr.write(`make_leaves.mjs: ${msg}\n`);
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.length !== 2) die("usage: node make_leaves.mjs COUNT OUTFILE");
if (!/^[0-9]+$/.test(args[0])) die(`bad COUNT '${args[0]}'`);
const count = Number(args[0]);
if (!Number.isSafeInteger(count)) die(`COUNT too large '${args[0]}'`);

const prefix = Buffer.from("rotortree", "ascii");
const out = Buffer.alloc(count * 32);
const idx = Buffer.alloc(8);
for (let i = 0; i < count; i++) {
  idx.writeBigUInt64LE(BigInt(i));
  createHash("sha256").update(prefix).update(idx).digest().copy(out, i * 32);
}
writeFileSync(args[1], out);
