#!/usr/bin/env node
// Usage: node bench_poseidon.mjs [LEAVES] [--hashes H]
// The node peer of `rotortree bench --hash poseidon --arity 2` (issue 12's
// "insert_many >= 50x poseidon-lite + zk-kit" target): times @zk-kit/lean-imt
// insertMany of LEAVES leaves (default 10000; make_leaves.mjs --poseidon's leaves,
// so `rotortree` can be given the same file) into an empty tree with
// hash(a, b) = poseidon-lite poseidon2([a, b]), then poseidon2 alone on H
// independent input pairs (default 10000). Prints one JSON object:
//   leaves, seconds, cpu_seconds, leaves_per_sec, hashes (parent hashes insertMany
//   made), hashes_per_sec (of insertMany), poseidon2_hashes, poseidon2_seconds,
//   poseidon2_cpu_seconds, poseidon2_hashes_per_sec (poseidon2 alone), node, packages.
// Rates are per wall-clock second; cpu_seconds shows how much of it the process
// had on a busy machine.
// Single-threaded (JavaScript); leaf generation is outside the timed part.
import { readFileSync } from "node:fs";
import { LeanIMT } from "@zk-kit/lean-imt";
import { poseidon2 } from "poseidon-lite";
import { leaves as makeLeaves } from "./poseidon_fixtures.mjs";

function die(msg) {
  process.stderr.write(`bench_poseidon.mjs: ${msg}\n`);
  process.exit(2);
}

function count(text, what) {
  if (!/^[1-9][0-9]*$/.test(text ?? "")) die(`bad ${what} '${text}'`);
  const n = Number(text);
  if (!Number.isSafeInteger(n)) die(`${what} too large '${text}'`);
  return n;
}

const args = process.argv.slice(2);
let leafCount = 10000;
let poseidonCount = 10000;
for (let i = 0; i < args.length; i++) {
  if (args[i] === "--hashes") poseidonCount = count(args[++i], "--hashes");
  else if (i === 0) leafCount = count(args[i], "LEAVES");
  else die("usage: node bench_poseidon.mjs [LEAVES] [--hashes H]");
}

const leaves = makeLeaves(Math.max(leafCount, 2 * poseidonCount));

// Warm the JIT on a separate small tree so the timed run is steady state.
new LeanIMT((a, b) => poseidon2([a, b]), leaves.slice(0, 256));

let hashes = 0;
const tree = new LeanIMT((a, b) => {
  hashes++;
  return poseidon2([a, b]);
});
const cpuSeconds = (since) => {
  const { user, system } = process.cpuUsage(since);
  return (user + system) / 1e6;
};
let t0 = process.hrtime.bigint();
let cpu0 = process.cpuUsage();
tree.insertMany(leaves.slice(0, leafCount));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = cpuSeconds(cpu0);
if (tree.size !== leafCount) die(`tree holds ${tree.size} leaves, wanted ${leafCount}`);

let sink = 0n;
t0 = process.hrtime.bigint();
cpu0 = process.cpuUsage();
for (let i = 0; i < poseidonCount; i++) sink ^= poseidon2([leaves[2 * i], leaves[2 * i + 1]]);
const poseidonSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
const poseidonCpu = cpuSeconds(cpu0);
if (sink === -1n) console.log(""); // keep the results live

const version = (name) =>
  JSON.parse(readFileSync(new URL(`./node_modules/${name}/package.json`, import.meta.url), "utf8")).version;
console.log(JSON.stringify({
  leaves: leafCount,
  seconds,
  cpu_seconds: cpu,
  leaves_per_sec: leafCount / seconds,
  hashes,
  hashes_per_sec: hashes / seconds,
  poseidon2_hashes: poseidonCount,
  poseidon2_seconds: poseidonSeconds,
  poseidon2_cpu_seconds: poseidonCpu,
  poseidon2_hashes_per_sec: poseidonCount / poseidonSeconds,
  node: process.version,
  packages: { "poseidon-lite": version("poseidon-lite"), "@zk-kit/lean-imt": version("@zk-kit/lean-imt") },
}));
