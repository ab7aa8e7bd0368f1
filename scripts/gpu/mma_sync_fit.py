#!/usr/bin/env python3
"""Fits FDPA parameters to the H200 mma.sync recordings of scripts/gpu/mma_sync_probe.py
(issue 16), independently of moesim's C++ model: an exact-integer T-FDPA written from MMA-Sim's
description (arXiv:2511.10909), chained per L products.

  mma_sync_fit.py inst FILE FMT L,F,EZ ...     mismatch count per parameter set (FMT fp16|bf16)
  mma_sync_fit.py member FILE...               Triton membership probes: which K order fits
  mma_sync_fit.py chain FILE NSAMPLES           Triton chains: contiguous vs k32_pairs order
CPU only (numpy); slow (pure Python), meant for fitting, not CI.
"""
import struct
import sys

import numpy as np

FMTS = {"fp16": (5, 10, 15), "bf16": (8, 7, 127), "e4m3": (4, 3, 7), "fp32": (8, 23, 127)}
def decode(fmt, bits):
    eb, mb, bias = FMTS[fmt]
    nb = 1 + eb + mb
    s = (bits >> (nb - 1)) & 1
    e = (bits >> mb) & ((1 << eb) - 1)
    m = bits & ((1 << mb) - 1)
    if fmt == "e4m3":
        if e == 15 and m == 7: return ("nan", s, 0, 0, 0)
    elif e == (1 << eb) - 1:
        return ("nan" if m else "inf", s, 0, 0, 0)
    if e == 0:
        if m == 0: return ("zero", s, 0, 0, 0)
        return ("sub", s, m, 1 - bias - mb, 1 - bias)  # (cls, neg, mag, q, e)
    return ("norm", s, m | (1 << mb), e - bias - mb, e - bias)
NAN32 = 0x7FFFFFFF
def round_rz32(neg, mag, lsb, p=23):
    if mag == 0: return 0
    msb = lsb + mag.bit_length() - 1
    sign = 0x80000000 if neg else 0
    if msb >= 128: return sign | 0x7F800000
    qexp = max(msb, -126) - p
    r = mag << (lsb - qexp) if lsb >= qexp else (mag >> (qexp - lsb))
    frac = r << (23 - p)
    if r == 0: return 0
    if msb < -126: return sign | frac
    return sign | ((msb + 127) << 23) | (frac & 0x7FFFFF)
def step(fmt, a, b, c, L, F, ez, cfmt="fp32"):
    C = decode(cfmt, c)
    pinf = ninf = False
    if C[0] == "nan": return NAN32
    if C[0] == "inf":
        if C[1]: ninf = True
        else: pinf = True
    terms = []
    for x, y in zip(a, b):
        X, Y = decode(fmt, x), decode(fmt, y)
        if X[0] == "nan" or Y[0] == "nan": return NAN32
        if X[0] == "inf" or Y[0] == "inf":
            if X[0] == "zero" or Y[0] == "zero": return NAN32
            if X[1] != Y[1]: ninf = True
            else: pinf = True
            continue
        mag = X[2] * Y[2]
        terms.append((X[1] != Y[1], mag, X[3] + Y[3], ez if mag == 0 else X[4] + Y[4]))
    if pinf and ninf: return NAN32
    if pinf: return 0x7F800000
    if ninf: return 0xFF800000
    terms.append((C[1], C[2], C[3], ez if C[2] == 0 else C[4]))
    emax = max(t[3] for t in terms)
    lsb = emax - F
    s = 0
    for neg, mag, q, e in terms:
        if mag == 0: continue
        sh = q - lsb
        t = mag << sh if sh >= 0 else mag >> (-sh)
        s += -t if neg else t
    return round_rz32(s < 0, abs(s), lsb)
def chain(fmt, arow, bcol, c, L, F, ez, order=None):
    K = len(arow)
    idx = list(range(K)) if order is None else order
    acc = c
    for s0 in range(0, K, L):
        ii = idx[s0:s0 + L]
        acc = step(fmt, [arow[i] for i in ii], [bcol[i] for i in ii], acc, L, F, ez)
    return acc
def read_moesimma(path):
    d = open(path, "rb").read()
    assert d[:8] == b"MOESIMMA"
    v, nt, M, N, K, eb, bl, nd = struct.unpack("<8I", d[8:40])
    bks = struct.unpack(f"<{nd}I", d[40:40 + 4 * nd])
    off = 40 + 4 * nd
    dt = np.uint16 if eb == 2 else np.uint8
    def take(n, dtype):
        nonlocal off
        a = np.frombuffer(d, dtype=dtype, count=n, offset=off); off += n * np.dtype(dtype).itemsize; return a
    A = take(nt * M * K, dt).reshape(nt, M, K)
    B = take(nt * N * K, dt).reshape(nt, N, K) if bl == 0 else take(nt * K * N, dt).reshape(nt, K, N).transpose(0, 2, 1)
    C = take(nt * M * N, np.uint32).reshape(nt, M, N)
    Ds = [take(nt * M * N, np.uint32).reshape(nt, M, N) for _ in range(nd)]
    return dict(nt=nt, M=M, N=N, K=K, A=A, B=B, C=C, D=Ds, bks=bks)


def e4m3_to_fp16_bits(c):
    c = np.asarray(c, dtype=np.uint16)
    s, e, m = (c >> 7) & 1, (c >> 3) & 0xF, c & 7
    normal = (s << 15) | ((e + 8) << 10) | (m << 7)
    sub = np.zeros_like(c)
    for mm in range(1, 8):
        p = int(np.floor(np.log2(mm)))
        sub = np.where(m == mm, ((p - 9 + 15) << 10) | ((mm - (1 << p)) << (10 - p)), sub)
    out = np.where(e == 0, (s << 15) | sub, normal)
    return np.where((c & 0x7F) == 0x7F, 0x7E00 | (s << 15), out).astype(np.uint16)


def k32_pairs(K):
    o = []
    for c in range(0, K, 32):
        o += [c + k for k in range(32) if k % 4 < 2] + [c + k for k in range(32) if k % 4 >= 2]
    return o


def main():
    mode = sys.argv[1]
    if mode == "inst":
        r = read_moesimma(sys.argv[2])
        fmt = sys.argv[3]
        A, B, C, D = r["A"], r["B"], r["C"], r["D"][0]
        for spec in sys.argv[4:]:
            L, F, ez = map(int, spec.split(","))
            bad = sum(chain(fmt, [int(x) for x in A[t, m]], [int(x) for x in B[t, n]], int(C[t, m, n]), L, F, ez) != int(D[t, m, n])
                      for t in range(r["nt"]) for m in range(r["M"]) for n in range(r["N"]))
            print(sys.argv[2], spec, bad, "of", r["nt"] * r["M"] * r["N"])
    elif mode == "member":
        for path in sys.argv[2:]:
            r = read_moesimma(path)
            A, B, D = r["A"], r["B"], r["D"][0]
            before = {}
            for t in range(r["nt"]):
                for m in range(r["M"]):
                    i = int(np.nonzero(A[t, m] == 0x78)[0][0])
                    j = int(np.nonzero(A[t, m] == 0x01)[0][0])
                    for n in range(r["N"]):
                        if B[t, n, i] == 0x78 and B[t, n, j] == 0x01:
                            before[(i, j)] = int(D[t, m, n]) != 0
            for name, step in (("contiguous", lambda k: k // 16), ("k32_pairs", lambda k: (k // 32) * 2 + (k % 4) // 2)):
                bad = sum((step(i) < step(j)) != v for (i, j), v in before.items())
                print(path, name, "contradicts", bad, "of", len(before), "ordered pairs")
    elif mode == "chain":
        r = read_moesimma(sys.argv[2])
        fp8 = r["A"].dtype == np.uint8
        A = e4m3_to_fp16_bits(r["A"]) if fp8 else r["A"]
        B = e4m3_to_fp16_bits(r["B"]) if fp8 else r["B"]
        fmt = "fp16" if fp8 else "bf16"
        rng = np.random.default_rng(0)
        order = k32_pairs(r["K"])
        bad = {"contiguous": 0, "k32_pairs": 0}
        n = int(sys.argv[3])
        for _ in range(n):
            t, m, c = rng.integers(r["nt"]), rng.integers(r["M"]), rng.integers(r["N"])
            a, b, d = [int(x) for x in A[t, m]], [int(x) for x in B[t, c]], int(r["D"][0][t, m, c])
            bad["contiguous"] += chain(fmt, a, b, int(r["C"][t, m, c]), 16, 25, -133) != d
            bad["k32_pairs"] += chain(fmt, a, b, int(r["C"][t, m, c]), 16, 25, -133, order) != d
        print(sys.argv[2], n, "samples, mismatches", bad)


if __name__ == "__main__":
    main()
