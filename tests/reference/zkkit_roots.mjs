#!/usr/bin/env node
// Usage: node zkkit_roots.mjs LEAVES_FILE SIZE[,SIZE...]
// LEAVES_FILE holds raw concatenated 32-byte leaves. For each SIZE, prints
// "SIZE ROOTHEX": the root of the @zk-kit/lean-imt tree built from the first
// SIZE leaves, with hash(a, b) = blake3(a || b) over 32-byte nodes.
//
// LeanIMT stores nodes as opaque values (it never reduces or validates them);
// we use bigints as it is typed for. A 32-byte value maps to a bigint by
// reading it as a big-endian unsigned integer, and back by writing it as 32
// bytes big-endian (zero-padded), so leading zero bytes are preserved.
import { readFileSync, realpathSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { LeanIMT } from "@zk-kit/lean-imt";
import { blake3 } from "@noble/hashes/blake3.js";

function die(msg) {
  process.stderr.write(`zkkit_roots.mjs: ${msg}\n`);
  process.exit(2);
}

export function bytesToBig(bytes) {
  if (bytes.length !== 32) throw new Error(`node must be 32 bytes, got ${bytes.length}`);
  return BigInt("0x" + Buffer.from(bytes).toString("hex"));
}

export function bigToBytes(n) {
  if (typeof n !== "bigint" || n < 0n || n >= 1n << 256n) throw new Error(`node out of range: ${n}`);
  return Buffer.from(n.toString(16).padStart(64, "0"), "hex");
}

export function bigToHex(n) {
  return bigToBytes(n).toString("hex");
}

export function hash2(a, b) {
  const buf = new Uint8Array(64);
  buf.set(bigToBytes(a), 0);
  buf.set(bigToBytes(b), 32);
  return bytesToBig(blake3(buf));
}

export function readLeaves(path) {
  const data = readFileSync(path);
  if (data.length % 32 !== 0) throw new Error(`${path}: length ${data.length} is not a multiple of 32`);
  const leaves = [];
  for (let off = 0; off < data.length; off += 32) leaves.push(bytesToBig(data.subarray(off, off + 32)));
  return leaves;
}

export function rootOf(leaves, { oneByOne = false } = {}) {
  const tree = new LeanIMT(hash2);
  if (oneByOne) for (const l of leaves) tree.insert(l);
  else tree.insertMany(leaves);
  if (tree.size !== leaves.length) throw new Error("tree size mismatch");
  return tree.root;
}

function main() {
  const args = process.argv.slice(2);
  if (args.length !== 2) die("usage: node zkkit_roots.mjs LEAVES_FILE SIZE[,SIZE...]");
  let leaves;
  try {
    leaves = readLeaves(args[0]);
  } catch (e) {
    die(e.message);
  }
  const sizes = args[1].split(",").map((s) => {
    if (!/^[0-9]+$/.test(s)) die(`bad SIZE '${s}'`);
    const n = Number(s);
    if (n < 1) die(`SIZE must be >= 1, got ${s}`);
    if (n > leaves.length) die(`SIZE ${s} exceeds the ${leaves.length} leaves in ${args[0]}`);
    return n;
  });
  const lines = sizes.map((n) => `${n} ${bigToHex(rootOf(leaves.slice(0, n)))}`);
  process.stdout.write(lines.join("\n") + "\n");
}

// Run main() only when executed directly, not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) main();
