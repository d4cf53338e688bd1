#!/usr/bin/env python3
"""Generate the Poseidon parameters over BN254 (circomlib / poseidon-lite).

The round constants and the Cauchy MDS matrices come from the Grain LFSR
procedure of the Poseidon reference implementation (hadeshash,
generate_parameters_grain.sage) with field = prime (1), S-box x^5 (0),
n = 254 bits, t = 2..17, R_F = 8 and R_P from PARTIAL_ROUNDS. This file is a
fresh implementation of that published procedure, not a copy.

The optimised (sparse) form used by the scalar path is derived here too, from
the dense parameters alone:
  * the constants of the partial rounds are moved so that each partial round
    adds one scalar to state[0]; the rest is carried forward through the MDS
    into the first full round of the second half;
  * each partial round's MDS is factored as  M = Sparse_r * D(B)  with
    D(B) = [[1, 0], [0, B]] (it commutes with the partial S-box), going from
    the last partial round backwards; the dense factor left over is merged
    into the MDS of the last first-half full round (`pre_sparse`).
Every value is written canonical (not Montgomery), as four little-endian
64-bit limbs.

  python3 tools/poseidon_params.py > src/poseidon/params.inc
  python3 tools/poseidon_params.py --check src/poseidon/params.inc
"""
import sys

P = 0x30644E72E131A029B85045B68181585D2833E84879B9709143E1F593F0000001
FIELD_BITS = 254
FULL_ROUNDS = 8
PARTIAL_ROUNDS = [56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68]  # t = 2..17
MIN_T, MAX_T = 2, 17


class Grain:
    """The 80-bit self-shrinking Grain LFSR of the Poseidon paper (appendix F)."""

    def __init__(self, t, full_rounds, partial_rounds):
        def bits(value, width):
            return [int(c) for c in format(value, "0%db" % width)]
        self.state = (bits(1, 2) + bits(0, 4) + bits(FIELD_BITS, 12) + bits(t, 12)
                      + bits(full_rounds, 10) + bits(partial_rounds, 10) + [1] * 30)
        assert len(self.state) == 80
        for _ in range(160):
            self._clock()

    def _clock(self):
        s = self.state
        bit = s[62] ^ s[51] ^ s[38] ^ s[23] ^ s[13] ^ s[0]
        s.pop(0)
        s.append(bit)
        return bit

    def bit(self):
        # Self-shrinking: of each pair, a first bit of 1 emits the second.
        while True:
            first = self._clock()
            second = self._clock()
            if first == 1:
                return second

    def integer(self, nbits):
        value = 0
        for _ in range(nbits):
            value = (value << 1) | self.bit()
        return value

    def field_element(self):
        # Rejection sampling: values >= p are drawn again.
        while True:
            value = self.integer(FIELD_BITS)
            if value < P:
                return value


def inv(x):
    return pow(x, P - 2, P)


def mat_mul(a, b):
    n, m, k = len(a), len(b[0]), len(b)
    return [[sum(a[i][l] * b[l][j] for l in range(k)) % P for j in range(m)] for i in range(n)]


def mat_vec(a, v):
    return [sum(a[i][j] * v[j] for j in range(len(v))) % P for i in range(len(a))]


def mat_inv(a):
    n = len(a)
    m = [list(row) + [int(i == j) for j in range(n)] for i, row in enumerate(a)]
    for col in range(n):
        pivot = next(r for r in range(col, n) if m[r][col] != 0)
        m[col], m[pivot] = m[pivot], m[col]
        f = inv(m[col][col])
        m[col] = [x * f % P for x in m[col]]
        for r in range(n):
            if r != col and m[r][col] != 0:
                g = m[r][col]
                m[r] = [(x - g * y) % P for x, y in zip(m[r], m[col])]
    return [row[n:] for row in m]


def dense_parameters(t):
    """Round constants (flat, (R_F+R_P)*t) and MDS, with out_i = sum_j M[i][j]*s_j."""
    rp = PARTIAL_ROUNDS[t - 2]
    grain = Grain(t, FULL_ROUNDS, rp)
    constants = [grain.field_element() for _ in range((FULL_ROUNDS + rp) * t)]
    while True:
        # Cauchy matrix 1/(x_i + y_j) from 2t distinct sampled elements; the
        # elements are drawn as raw 254-bit integers (no rejection), as the
        # reference does, then taken mod p.
        xy = [grain.integer(FIELD_BITS) % P for _ in range(2 * t)]
        while len(set(xy)) != 2 * t:
            xy = [grain.integer(FIELD_BITS) % P for _ in range(2 * t)]
        xs, ys = xy[:t], xy[t:]
        if any((x + y) % P == 0 for x in xs for y in ys):
            continue
        mds = [[inv((x + y) % P) for y in ys] for x in xs]
        return constants, mds


def dense_permutation(t, state, constants, mds):
    """The textbook permutation (used by --selftest)."""
    rp = PARTIAL_ROUNDS[t - 2]
    half = FULL_ROUNDS // 2
    for r in range(FULL_ROUNDS + rp):
        state = [(s + constants[r * t + i]) % P for i, s in enumerate(state)]
        if r < half or r >= half + rp:
            state = [pow(s, 5, P) for s in state]
        else:
            state[0] = pow(state[0], 5, P)
        state = mat_vec(mds, state)
    return state


def optimised_parameters(t, constants, mds):
    rp = PARTIAL_ROUNDS[t - 2]
    half = FULL_ROUNDS // 2
    rounds = [constants[r * t:(r + 1) * t] for r in range(FULL_ROUNDS + rp)]
    # Constants: forward pass over the partial rounds.
    partial_constants = []
    carry = [0] * t
    for r in range(half, half + rp):
        c = [(a + b) % P for a, b in zip(rounds[r], carry)]
        partial_constants.append(c[0])
        carry = mat_vec(mds, [0] + c[1:])
    full_constants = rounds[:half] + rounds[half + rp:]
    full_constants[half] = [(a + b) % P for a, b in zip(full_constants[half], carry)]
    # Matrices: backward pass, M_r' = Sparse_r * D(B_r).
    sparse = [None] * rp
    current = mds
    for r in range(rp - 1, -1, -1):
        m00 = current[0][0]
        a = current[0][1:]
        b = [current[i][0] for i in range(1, t)]
        b_hat = [row[1:] for row in current[1:]]
        b_inv = mat_inv(b_hat) if t > 1 else []
        u = [sum(a[l] * b_inv[l][j] for l in range(t - 1)) % P for j in range(t - 1)]
        sparse[r] = (m00, u, b)
        d = [[int(i == j == 0) for j in range(t)] for i in range(t)]
        for i in range(1, t):
            for j in range(1, t):
                d[i][j] = b_hat[i - 1][j - 1]
        current = mat_mul(d, mds) if r > 0 else d
    pre_sparse = mat_mul(current, mds)
    return full_constants, partial_constants, pre_sparse, sparse


def optimised_permutation(t, state, opt, mds):
    full_constants, partial_constants, pre_sparse, sparse = opt
    rp = PARTIAL_ROUNDS[t - 2]
    half = FULL_ROUNDS // 2
    for r in range(half):
        state = [pow((s + full_constants[r][i]) % P, 5, P) for i, s in enumerate(state)]
        state = mat_vec(pre_sparse if r == half - 1 else mds, state)
    for r in range(rp):
        s0 = pow((state[0] + partial_constants[r]) % P, 5, P)
        m00, u, b = sparse[r]
        out0 = (m00 * s0 + sum(x * y for x, y in zip(u, state[1:]))) % P
        state = [out0] + [(b[i] * s0 + state[i + 1]) % P for i in range(t - 1)]
    for r in range(half, FULL_ROUNDS):
        state = [pow((s + full_constants[r][i]) % P, 5, P) for i, s in enumerate(state)]
        state = mat_vec(mds, state)
    return state


def limbs(value):
    return "{0x%016xu, 0x%016xu, 0x%016xu, 0x%016xu}" % tuple(
        (value >> (64 * i)) & (2**64 - 1) for i in range(4))


def emit():
    out = ["// Generated by tools/poseidon_params.py; do not edit. Canonical values,",
           "// four little-endian 64-bit limbs each. Included by src/poseidon/params.cpp.", ""]
    for t in range(MIN_T, MAX_T + 1):
        constants, mds = dense_parameters(t)
        full_c, partial_c, pre_sparse, sparse = optimised_parameters(t, constants, mds)
        rp = PARTIAL_ROUNDS[t - 2]
        out.append("// t = %d: R_F = %d, R_P = %d" % (t, FULL_ROUNDS, rp))
        out.append("constexpr Limbs kRoundConstants%d[%d] = {" % (t, len(constants)))
        out += ["  %s," % limbs(c) for c in constants]
        out.append("};")
        out.append("constexpr Limbs kMds%d[%d] = {" % (t, t * t))
        out += ["  %s," % limbs(x) for row in mds for x in row]
        out.append("};")
        out.append("constexpr Limbs kFullConstants%d[%d] = {" % (t, FULL_ROUNDS * t))
        out += ["  %s," % limbs(x) for row in full_c for x in row]
        out.append("};")
        out.append("constexpr Limbs kPartialConstants%d[%d] = {" % (t, rp))
        out += ["  %s," % limbs(x) for x in partial_c]
        out.append("};")
        out.append("constexpr Limbs kPreSparse%d[%d] = {" % (t, t * t))
        out += ["  %s," % limbs(x) for row in pre_sparse for x in row]
        out.append("};")
        # Per partial round: m00, u[0..t-2] (row 0), b[0..t-2] (column 0): 2t-1 values.
        out.append("constexpr Limbs kSparse%d[%d] = {" % (t, rp * (2 * t - 1)))
        for m00, u, b in sparse:
            out += ["  %s," % limbs(x) for x in [m00] + u + b]
        out.append("};")
        out.append("")
    out.append("constexpr Tables kTables[%d] = {" % (MAX_T - MIN_T + 1))
    for t in range(MIN_T, MAX_T + 1):
        out.append("  {%d, %d, %d, kRoundConstants%d, kMds%d, kFullConstants%d, kPartialConstants%d, "
                   "kPreSparse%d, kSparse%d}," % ((t, FULL_ROUNDS, PARTIAL_ROUNDS[t - 2]) + (t,) * 6))
    out.append("};")
    return "\n".join(out) + "\n"


def selftest():
    import random
    rng = random.Random(1)
    for t in range(MIN_T, MAX_T + 1):
        constants, mds = dense_parameters(t)
        opt = optimised_parameters(t, constants, mds)
        for _ in range(3):
            state = [rng.randrange(P) for _ in range(t)]
            assert dense_permutation(t, state, constants, mds) == optimised_permutation(t, state, opt, mds), t
    # poseidon-lite: poseidon2([1, 2]) is the first element of the permutation of [0, 1, 2].
    c, m = dense_parameters(3)
    print(hex(dense_permutation(3, [0, 1, 2], c, m)[0]))
    c, m = dense_parameters(2)
    print(hex(dense_permutation(2, [0, 1], c, m)[0]))


if __name__ == "__main__":
    if len(sys.argv) == 2 and sys.argv[1] == "--selftest":
        selftest()
    elif len(sys.argv) == 3 and sys.argv[1] == "--check":
        with open(sys.argv[2]) as f:
            if f.read() != emit():
                sys.exit("%s differs from what tools/poseidon_params.py generates" % sys.argv[2])
    elif len(sys.argv) == 1:
        sys.stdout.write(emit())
    else:
        sys.exit(__doc__)
