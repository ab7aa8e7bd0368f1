#!/usr/bin/python3
"""SGLang expert-distribution recorder dumps as torch.save writes them
(python/sglang/srt/eplb/expert_distribution.py @d55f1c2 :865-887 per_pass/per_token, :938-946 stat).
  sglang_dist_fixture.py MODE OUT.pt EXPECTED.npz     MODE: per_token | per_pass | stat
Model: 3 hidden layers (layer 0 dense), 4 logical experts, top-2; EPLB map with 6 physical
experts (2 redundant) for per_token / per_pass. K < 8: the recorder's 8 columns are -1 padded.
EXPECTED.npz: per_token ids_<i> logical [T, 2] per record with tokens; counts_<i> per call."""
import sys

import numpy as np
import torch

mode, out, exp = sys.argv[1], sys.argv[2], sys.argv[3]
rng = np.random.default_rng(5)
L, E, P, K = 3, 4, 6, 2
phys_to_log = np.array([[0, 1, 2, 3, 0, 1]] * L, dtype=np.int64)  # physical 4, 5 replicate logical 0, 1
expected = {}
if mode == "stat":
    lc = np.zeros((4, L, E), np.int32)  # ring buffer of 4 passes, the last one never filled
    for b in range(3):
        for l in range(1, L):
            t = rng.integers(1, 9)
            for _ in range(t):
                for e in rng.permutation(E)[:K]:
                    lc[b, l, e] += 1
        expected[f"counts_{b}"] = lc[b, 1].astype(np.int64)
    torch.save(dict(rank=0, logical_count=torch.from_numpy(lc), average_utilization_rate_over_window=None), out)
else:
    records, n = [], 0
    for p, (T, fm) in enumerate([(5, 1), (3, 2), (0, 4), (4, 2)]):  # EXTEND, DECODE, IDLE, DECODE
        rows = 16
        topk = -np.ones((L, rows, 8), np.int32)
        logical = np.zeros((T, K), np.int32)
        for t in range(T):
            lg = rng.permutation(E)[:K]
            logical[t] = lg
            for l in range(1, L):
                # pick a physical replica of each logical expert (0 -> 0 or 4, 1 -> 1 or 5)
                topk[l, t, :K] = [x + 4 if x < 2 and rng.random() < 0.5 else x for x in lg]
        if T:
            logical[0, 1] = -1 if mode == "per_token" and p == 3 else logical[0, 1]
            if mode == "per_token" and p == 3:
                topk[1, 0, 1] = -1  # a masked slot (EP padding) stays -1
        cnt = np.zeros((L, P), np.int32)
        for t in range(T):
            for k in range(K):
                if topk[1, t, k] >= 0:
                    cnt[1, topk[1, t, k]] += 1
        rec = dict(forward_pass_id=100 + p, rank=0, gatherer_key="primary", global_physical_count=torch.from_numpy(cnt))
        if mode == "per_token":
            rec.update(input_ids=list(range(T)), positions=list(range(T)), extend_seq_lens=[T] if fm == 1 else None,
                       forward_mode=fm, topk_ids_of_layer=torch.from_numpy(topk),
                       misc_objects=[])
            if T:
                expected[f"ids_{n}"] = logical
                n += 1
        elif T:
            c = np.zeros(E, np.int64)
            for p_ in range(P):
                c[phys_to_log[1, p_]] += cnt[1, p_]
            expected[f"counts_{n}"] = c
            n += 1
        records.append(rec)
    torch.save(dict(records=records, last_physical_to_logical_map=torch.from_numpy(phys_to_log)), out)
np.savez(exp, **expected)
