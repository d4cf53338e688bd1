#!/usr/bin/env node
// Usage: node check_poseidon.mjs FIXTURES_DIR [ROTORTREE]
// 1. Regenerates every Poseidon fixture with poseidon-lite, @zk-kit/lean-imt and
//    @semaphore-protocol (poseidon_fixtures.mjs) and compares it line by line with
//    the checked-in copy in FIXTURES_DIR.
// 2. With ROTORTREE (the CLI executable), checks it against the same packages
//    (SPEC §6, --arity 2 --hash poseidon unless said):
//    - `root --at` equals the fixture roots and the Semaphore group roots, and
//      with --arity 3, 4, 8, 16 the N-ary roots of lean-imt-poseidon-nary.txt;
//    - `verify PROOF --hash poseidon` accepts every zk-kit proof of the fixture,
//      rejects it (exit 1) with a changed sibling, leaf or index, and refuses it as
//      malformed (exit 2) with a value >= p;
//    - `prove --format zk-kit` prints, for every fixture (size, index), the proof
//      zk-kit's generateProof returns, which zk-kit's verifyProof accepts;
//    - a leaf >= p is refused (exit 2) by `root`.
// Prints one line per mismatch and a summary; exit 0 all match, 1 otherwise.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LeanIMT } from "@zk-kit/lean-imt";
import {
  FIXTURES, LEAVES_IN_FILE, P, PROOF_CASES, ROOT_SIZES, SEMAPHORE_ROOT_SIZES,
  fromHex, hash2, hex, leaves, proofFromJson, proofJson,
} from "./poseidon_fixtures.mjs";

const [fixturesDir, rotortree] = process.argv.slice(2);
if (!fixturesDir) {
  process.stderr.write("usage: node check_poseidon.mjs FIXTURES_DIR [ROTORTREE]\n");
  process.exit(2);
}

let failures = 0;
let checks = 0;
function check(ok, what) {
  checks++;
  if (!ok) {
    failures++;
    console.log(`MISMATCH ${what}`);
  }
  return ok;
}

function dataLines(name) {
  return readFileSync(join(fixturesDir, name), "utf8").split("\n").filter((l) => l && !l.startsWith("#"));
}

// 1. The checked-in fixtures are what the packages compute.
for (const [name, generate] of Object.entries(FIXTURES)) {
  let want;
  try {
    want = readFileSync(join(fixturesDir, name), "utf8").split("\n");
  } catch (e) {
    check(false, `${name}: ${e.message}`);
    continue;
  }
  const got = [...generate(), ""];
  const n = Math.max(want.length, got.length);
  let first = -1;
  for (let i = 0; i < n && first < 0; i++) if (want[i] !== got[i]) first = i;
  check(first < 0, `${name} line ${first + 1}: checked in '${want[first]}', packages compute '${got[first]}'`);
}
console.log(`fixtures: ${checks - failures}/${checks} files equal what the packages compute`);

if (rotortree) {
  const tmp = mkdtempSync(join(tmpdir(), "rotortree-poseidon-"));
  try {
    checkCli(tmp);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

console.log(failures ? `check_poseidon: FAILED (${failures} of ${checks} checks)` : `check_poseidon: all ${checks} checks pass`);
process.exit(failures ? 1 : 0);

function run(args, input) {
  const r = spawnSync(rotortree, args, { encoding: "utf8", input, maxBuffer: 1 << 26 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.trim(), cmd: `rotortree ${args.join(" ")}` };
}

function writeLeaves(path, values) {
  writeFileSync(path, Buffer.from(values.map((v) => v.toString(16).padStart(64, "0")).join(""), "hex"));
}

function rootLines(leavesPath, sizes, arity = 2) {
  const r = run(["root", "--leaves", leavesPath, "--arity", String(arity), "--hash", "poseidon", "--at", sizes.join(",")]);
  if (!check(r.status === 0, `${r.cmd}: exit ${r.status}: ${r.stderr}`)) return null;
  return new Map(r.stdout.trim().split("\n").map((l) => l.split(" ")).map(([s, h]) => [Number(s), h]));
}

function checkCli(tmp) {
  const before = checks - failures;
  const allLeaves = leaves(Math.max(...ROOT_SIZES));
  const leavesPath = join(tmp, "leaves.bin");
  writeLeaves(leavesPath, allLeaves);
  // prove reads its whole leaf file: give it only the leaves the proofs use.
  const proofLeavesPath = join(tmp, "proof-leaves.bin");
  writeLeaves(proofLeavesPath, allLeaves.slice(0, LEAVES_IN_FILE));

  // Roots at every fixture size.
  const wantRoots = new Map(dataLines("zkkit-lean-imt-poseidon.txt").map((l) => l.split(" ")).map(([s, h]) => [Number(s), h]));
  const gotRoots = rootLines(leavesPath, [...wantRoots.keys()]);
  if (gotRoots) for (const [size, root] of wantRoots) check(gotRoots.get(size) === root, `root ${size}: zk-kit ${root}, rotortree ${gotRoots.get(size)}`);

  // N-ary roots with poseidonK.
  const nary = dataLines("lean-imt-poseidon-nary.txt").map((l) => l.split(" "));
  for (const arity of new Set(nary.map((f) => f[0]))) {
    const want = nary.filter((f) => f[0] === arity);
    const got = rootLines(leavesPath, want.map((f) => f[1]), arity);
    if (got) for (const [, size, root] of want) check(got.get(Number(size)) === root, `root --arity ${arity} ${size}: spec model ${root}, rotortree ${got.get(Number(size))}`);
  }

  // The Semaphore group roots from the identity commitments.
  const semaphore = dataLines("semaphore-group.txt").map((l) => l.split(" "));
  const commitmentsPath = join(tmp, "commitments.bin");
  writeLeaves(commitmentsPath, semaphore.filter((f) => f[0] === "member").map((f) => fromHex(f[5])));
  const groupRoots = rootLines(commitmentsPath, SEMAPHORE_ROOT_SIZES);
  for (const [, size, root] of groupRoots ? semaphore.filter((f) => f[0] === "root") : []) {
    check(groupRoots.get(Number(size)) === root, `Semaphore group of ${size}: @semaphore-protocol/group ${root}, rotortree ${groupRoots.get(Number(size))}`);
  }

  // zk-kit's proofs verified by rotortree, intact and altered.
  const verify = (proof, label) => {
    const path = join(tmp, `${label}.json`);
    writeFileSync(path, typeof proof === "string" ? proof : proofJson(proof));
    return run(["verify", path, "--hash", "poseidon"]);
  };
  const other = (v) => (v + 1n) % P;
  for (const line of dataLines("zkkit-poseidon-proofs.txt")) {
    const [size, index, json] = line.split(" ");
    const label = `zk-kit proof ${size} ${index}`;
    const proof = proofFromJson(json);
    let r = verify(json, "intact");
    check(r.status === 0 && r.stdout.trim() === "valid", `${label}: ${r.cmd} exit ${r.status}, '${r.stdout.trim()}' ${r.stderr}`);
    const altered = [["leaf", { ...proof, leaf: other(proof.leaf) }]];
    if (proof.siblings.length > 0) {
      altered.push(["last sibling", { ...proof, siblings: [...proof.siblings.slice(0, -1), other(proof.siblings.at(-1))] }]);
      altered.push(["index", { ...proof, index: proof.index ^ 1 }]);
    } else {
      altered.push(["root", { ...proof, root: other(proof.root) }]);
    }
    for (const [what, bad] of altered) {
      r = verify(bad, "altered");
      check(r.status === 1, `${label} with another ${what}: rotortree verify exit ${r.status} (want 1 invalid) ${r.stdout.trim()} ${r.stderr}`);
    }
    r = verify({ ...proof, leaf: proof.leaf + P }, "noncanonical");
    check(r.status === 2, `${label} with leaf + p: rotortree verify exit ${r.status} (want 2 malformed) ${r.stdout.trim()} ${r.stderr}`);
  }

  // rotortree's zk-kit proofs: zk-kit's shape and values, accepted by zk-kit.
  const fixtureProofs = new Map(dataLines("zkkit-poseidon-proofs.txt").map((l) => l.split(" ")).map(([s, i, j]) => [`${s} ${i}`, j]));
  for (const [size, index] of PROOF_CASES) {
    const label = `rotortree prove ${size} ${index}`;
    const r = run(["prove", "--leaves", proofLeavesPath, "--arity", "2", "--hash", "poseidon", "--size", String(size),
      "--index", String(index), "--format", "zk-kit"]);
    if (!check(r.status === 0, `${label}: ${r.cmd} exit ${r.status}: ${r.stderr}`)) continue;
    let parsed;
    try {
      parsed = JSON.parse(r.stdout);
    } catch (e) {
      check(false, `${label}: not JSON (${e.message}): ${r.stdout}`);
      continue;
    }
    const decimal = (v) => typeof v === "string" && /^(0|[1-9][0-9]*)$/.test(v);
    const shaped =
      JSON.stringify(Object.keys(parsed)) === '["root","leaf","index","siblings"]' &&
      decimal(parsed.root) && decimal(parsed.leaf) && Number.isSafeInteger(parsed.index) &&
      Array.isArray(parsed.siblings) && parsed.siblings.every(decimal);
    if (!check(shaped, `${label}: not a zk-kit LeanIMTMerkleProof with decimal strings: ${r.stdout.trim()}`)) continue;
    const proof = proofFromJson(r.stdout);
    check(LeanIMT.verifyProof(proof, hash2), `${label}: zk-kit verifyProof rejects ${r.stdout.trim()}`);
    check(proofJson(proof) === fixtureProofs.get(`${size} ${index}`),
      `${label}: ${proofJson(proof)}, zk-kit generateProof ${fixtureProofs.get(`${size} ${index}`)}`);
  }

  // A leaf >= p is refused, never reduced.
  for (const [what, value] of [["p", P], ["2^256 - 1", (1n << 256n) - 1n]]) {
    const path = join(tmp, "bad-leaf.bin");
    writeFileSync(path, Buffer.concat([Buffer.from(hex(allLeaves[0]), "hex"), Buffer.from(value.toString(16).padStart(64, "0"), "hex")]));
    const r = run(["root", "--leaves", path, "--arity", "2", "--hash", "poseidon"]);
    check(r.status === 2 && r.stdout === "" && r.stderr !== "", `leaf ${what}: ${r.cmd} exit ${r.status} (want 2, nothing printed) '${r.stdout.trim()}'`);
  }
  console.log(`rotortree CLI: ${checks - failures - before} checks pass`);
}
