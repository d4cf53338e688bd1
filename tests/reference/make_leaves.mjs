#!/usr/bin/env node
// Usage: node make_leaves.mjs [--poseidon] COUNT OUTFILE
// Writes COUNT raw 32-byte leaves (big-endian), leaf i =
//   default:     SHA-256("rotortree" || u64 little-endian i)
//   --poseidon:  int_be(SHA-256("rotortree-poseidon" || u64 little-endian i)) mod p,
//                p the BN254 scalar field (a canonical field element, SPEC §6)
import { createHash } from "node:crypto";
import { realpathSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

export const BN254_P = 21888242871839275222246405745257275088548364400416034343698204186575808495617n;
export const POSEIDON_LEAF_DOMAIN = "rotortree-poseidon";

function sha256Indexed(prefix, i) {
  const idx = Buffer.alloc(8);
  idx.writeBigUInt64LE(BigInt(i));
  return createHash("sha256").update(Buffer.from(prefix, "ascii")).update(idx).digest();
}

// The leaves of the BLAKE3/SHA-256 fixtures, as 32 bytes.
export function sha256Leaf(i) {
  return sha256Indexed("rotortree", i);
}

// The leaves of the Poseidon fixtures, as a bigint < p.
export function poseidonLeaf(i) {
  return BigInt("0x" + sha256Indexed(POSEIDON_LEAF_DOMAIN, i).toString("hex")) % BN254_P;
}

function die(msg) {
  process.stderr.write(`make_leaves.mjs: ${msg}\n`);
  process.exit(2);
}

function main() {
  const args = process.argv.slice(2);
  const poseidon = args[0] === "--poseidon";
  if (poseidon) args.shift();
  if (args.length !== 2) die("usage: node make_leaves.mjs [--poseidon] COUNT OUTFILE");
  if (!/^[0-9]+$/.test(args[0])) die(`bad COUNT '${args[0]}'`);
  const count = Number(args[0]);
  if (!Number.isSafeInteger(count)) die(`COUNT too large '${args[0]}'`);

  const out = Buffer.alloc(count * 32);
  for (let i = 0; i < count; i++) {
    if (poseidon) out.write(poseidonLeaf(i).toString(16).padStart(64, "0"), i * 32, "hex");
    else sha256Leaf(i).copy(out, i * 32);
  }
  writeFileSync(args[1], out);
}

// Run main() only when executed directly, not when imported.
if (process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) main();
