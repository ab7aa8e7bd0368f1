#!/usr/bin/python3
"""Structured + byte-level mutation driver for moesim's trace reader (issue 11).

Makes mutants of the committed traces -- 24 structured classes through h5py (drop/reshape/retype
datasets, odd attributes, huge dims, NaN/Inf, out-of-range ids, counts overflow, odd strings,
filters, links, ...) and 6 byte-level classes (flips in the first 4 KiB, flips anywhere,
truncation, zeroed/duplicated blocks) -- and runs each through one of `moesim inspect`,
`moesim check`, `moesim replay` (round robin). Per run it records the exit code, wall time,
peak RSS (wait4: the moesim process and its isolated reader) and, for exit 2, whether stderr
was exactly one line naming the mutant file. Prints a table; --json writes the figures.

  scripts/mutate_traces.py --moesim build/moesim --count 2000 --seconds 600 [--seed 1]
Uses Debian's python3-h5py / python3-numpy only.
"""
import argparse
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import warnings

import h5py
import numpy as np

warnings.filterwarnings("ignore", category=DeprecationWarning)  # numpy's out-of-range casts are the point

HANG_S = 20.0
MAX_READ = 1 << 26  # mutators never load a dataset over 64 MiB (a stacked "declared larger" mutant)


def load(d):
    if d.size * d.dtype.itemsize > MAX_READ:
        raise ValueError("dataset too large to mutate in memory")
    return d[()]


def all_objects(f):
    out = []
    f.visititems(lambda n, o: out.append(("/" + n, o)))
    return out


def datasets(f):
    return [n for n, o in all_objects(f) if isinstance(o, h5py.Dataset)]


def groups(f):
    return ["/"] + [n for n, o in all_objects(f) if isinstance(o, h5py.Group)]


def attr_sites(f):
    sites = []
    for n in groups(f) + datasets(f):
        for a in f[n].attrs:
            sites.append((n, a))
    return sites


def rewrite(f, name, data, **kw):
    attrs = dict(f[name].attrs)
    del f[name]
    d = f.create_dataset(name, data=data, **kw)
    for k, v in attrs.items():
        d.attrs[k] = v
    return d


HUGE = [0, -1, 2**31 - 1, 2**31, 2**32 + 1, 2**40, 2**62, -(2**63)]


def m_drop_dataset(f, r):
    del f[r.choice(datasets(f))]


def m_drop_group(f, r):
    g = [x for x in groups(f) if x != "/"]
    del f[r.choice(g)]


def m_drop_attr(f, r):
    n, a = r.choice(attr_sites(f))
    del f[n].attrs[a]


def m_reshape(f, r):
    n = r.choice(datasets(f))
    d = load(f[n])
    shapes = [(d.size,), (1,) + d.shape, d.shape[::-1], (max(d.size // 2, 1),)]
    s = r.choice(shapes)
    flat = d.reshape(-1)
    need = int(np.prod(s))
    flat = np.resize(flat, need) if flat.size else np.zeros(need, d.dtype)
    rewrite(f, n, flat.reshape(s))


def m_retype(f, r):
    n = r.choice(datasets(f))
    d = load(f[n])
    t = r.choice([np.float64, np.int32, np.int64, np.uint8, np.uint16, np.float32, np.int16, np.float16, np.uint64])
    rewrite(f, n, d.astype(t))


def m_huge_dim(f, r):
    sites = [("/model", a) for a in ("num_experts", "top_k", "hidden", "intermediate", "num_shared_experts")]
    sites += [(g, "num_tokens") for g in groups(f) if g.startswith("/calls/") and g.count("/") == 2]
    n, a = r.choice(sites)
    if n in f:
        f[n].attrs[a] = np.int64(r.choice(HUGE))


def m_odd_attr_type(f, r):
    n, a = r.choice(attr_sites(f))
    f[n].attrs[a] = r.choice([np.array([1, 2, 3]), "seven", 3.5, np.float32(np.nan), np.array([], dtype=np.int64),
                              np.bool_(True), np.array(["a", "b"], dtype=h5py.string_dtype()), np.uint64(2**64 - 1)])


def m_nan_inf(f, r):
    cands = [n for n in datasets(f) if f[n].dtype.kind in "fu" and f[n].size]
    n = r.choice(cands)
    d = load(f[n]).copy()
    flat = d.reshape(-1)
    i = r.randrange(flat.size)
    if d.dtype.kind == "f":
        flat[i] = r.choice([np.nan, np.inf, -np.inf])
    elif d.dtype == np.uint16:
        flat[i] = r.choice([0x7FC0, 0x7F80, 0xFF80, 0x7C00])  # bf16/fp16 NaN/Inf
    else:
        flat[i] = r.choice([0x7F, 0xFF, 0x7C])
    f[n][...] = d


def m_ids(f, r):
    cands = [n for n in datasets(f) if n.endswith("topk_ids")]
    n = r.choice(cands)
    d = load(f[n]).copy()
    d.reshape(-1)[r.randrange(d.size)] = r.choice([-1, -2, 2**31 - 1, -(2**31), int(f["/model"].attrs["num_experts"]), 10**6])
    f[n][...] = d


def m_dup_ids(f, r):
    n = r.choice([n for n in datasets(f) if n.endswith("topk_ids")])
    d = load(f[n]).copy()
    if d.ndim == 2 and d.shape[1] > 1:
        d[r.randrange(d.shape[0]), 1] = d[0, 0] if d.shape[0] else 0
    f[n][...] = d


def m_counts_overflow(f, r):
    for g in groups(f):
        if g.startswith("/calls/") and g.count("/") == 2:
            e = int(f["/model"].attrs["num_experts"])
            if g + "/expert_counts" in f:
                del f[g + "/expert_counts"]
            vals = np.full(e, r.choice([2**62, 2**63 - 1, 2**61 + 7]), dtype=np.int64)
            if r.random() < 0.3:
                vals[:] = -vals
            f.create_dataset(g + "/expert_counts", data=vals)
            return


def m_odd_strings(f, r):
    sites = [(n, a) for n, a in attr_sites(f) if isinstance(f[n].attrs[a], (str, bytes))]
    n, a = r.choice(sites)
    f[n].attrs[a] = r.choice(["x" * 200000, "\x00abc", "", "tile=\n128", "../../etc/passwd", "ü" * 1000,
                              np.bytes_(b"\xff\xfe\x00\x01"), "BLOCK_SIZE_M", "a,b,,=c"])


def m_context(f, r):
    if "/context" not in f:
        f.create_group("/context")
    a = r.choice(["tp", "ep", "dp", "max_num_batched_tokens", "device", "backend", "tactic", "flashinfer_version", "framework"])
    if a in ("tp", "ep", "dp", "max_num_batched_tokens"):
        f["/context"].attrs[a] = np.int64(r.choice(HUGE))
    else:
        f["/context"].attrs[a] = r.choice(["bogus", "sm9999", "BLOCK_SIZE_Q=7", "nope@", "9.9.9.9.9.9.x", "triton_bf16 ",
                                            "BLOCK_SIZE_M=0", "BLOCK_SIZE_M=99999999999999999999", "vllm@\x01"])
    if r.random() < 0.3:
        f["/model"].attrs[r.choice(["weight_layout", "scale_layout"])] = r.choice(["swizzled_999", "", "linear\n"])


def m_format(f, r):
    if r.random() < 0.5:
        f.attrs["format_version"] = np.int64(r.choice([0, 2, -1, 2**40]))
    else:
        f.attrs["format"] = r.choice(["moesim-tracex", "", "MOESIM-TRACE"])


def m_declared_larger(f, r):
    n = r.choice(datasets(f))
    d = f[n]
    if d.ndim == 0 or d.size == 0:
        return
    attrs = dict(d.attrs)
    data = load(d)
    del f[n]
    shape = (data.shape[0] * r.choice([2, 1000, 100000]),) + data.shape[1:]
    nd = f.create_dataset(n, shape=shape, dtype=data.dtype, chunks=True, maxshape=(None,) + data.shape[1:])
    nd[: data.shape[0]] = data
    for k, v in attrs.items():
        nd.attrs[k] = v


def m_many_attrs(f, r):
    g = f.require_group("/context/env")
    for i in range(r.choice([100, 5000])):
        g.attrs["V%05d" % i] = "x"


def m_many_calls(f, r):
    for i in range(r.choice([50, 3000])):
        f.create_group("/calls/x%05d" % i)


def m_filters(f, r):
    n = r.choice([n for n in datasets(f) if f[n].size])
    d = load(f[n])
    kw = r.choice([dict(compression="gzip", compression_opts=9), dict(compression="lzf"), dict(scaleoffset=0) if d.dtype.kind in "iu" else dict(shuffle=True),
                   dict(shuffle=True, fletcher32=True, chunks=True), dict(compression="gzip", shuffle=True)])
    rewrite(f, n, d, **kw)


def m_links(f, r):
    n = r.choice(datasets(f))
    del f[n]
    f[n] = r.choice([h5py.SoftLink("/nonexistent"), h5py.ExternalLink("/etc/passwd", "/x"), h5py.SoftLink(n)])


def m_dataset_to_group(f, r):
    n = r.choice(datasets(f))
    del f[n]
    f.create_group(n)


def m_empty(f, r):
    n = r.choice(datasets(f))
    rewrite(f, n, r.choice([np.zeros((0,), np.int32), np.float32(1.0), np.zeros((0, 0), np.float32)]))


def m_masked(f, r):
    for g in groups(f):
        if g.startswith("/calls/") and g.count("/") == 2:
            f[g].attrs["ids_masked"] = np.int64(r.choice([0, 1, 2**40]))
            if g + "/topk_ids" in f:
                d = load(f[g + "/topk_ids"]).copy()
                if d.size:
                    d.reshape(-1)[: max(1, d.size // 3)] = -1
                    f[g + "/topk_ids"][...] = d
            return


def m_weights(f, r):
    if "/weights/w13" not in f:
        return m_retype(f, r)
    n = r.choice([x for x in ("/weights/w13", "/weights/w2", "/weights/w13_scale", "/weights/w2_scale") if x in f])
    choice = r.randrange(3)
    if choice == 0:
        f[n].attrs["dtype"] = r.choice(["fp8_e4m3fn", "bf16", "e2m1x2", "f64", "bogus"])
    elif choice == 1:
        d = load(f[n])
        rewrite(f, n, d[: max(1, d.shape[0] - 1)])
    else:
        d = load(f[n])
        rewrite(f, n, d, chunks=(1,) + d.shape[1:], compression="gzip")


STRUCTURED = [m_drop_dataset, m_drop_group, m_drop_attr, m_reshape, m_retype, m_huge_dim, m_odd_attr_type, m_nan_inf,
              m_ids, m_dup_ids, m_counts_overflow, m_odd_strings, m_context, m_format, m_declared_larger, m_many_attrs,
              m_many_calls, m_filters, m_links, m_dataset_to_group, m_empty, m_masked, m_weights]


def b_flip_head(b, r):
    for _ in range(r.randint(1, 8)):
        i = r.randrange(min(4096, len(b)))
        b[i] = r.randrange(256)


def b_flip_any(b, r):
    for _ in range(r.randint(1, 16)):
        b[r.randrange(len(b))] ^= 1 << r.randrange(8)


def b_truncate(b, r):
    del b[r.randrange(1, len(b)):]


def b_zero_block(b, r):
    i = r.randrange(len(b))
    n = r.choice([8, 64, 512, 4096])
    b[i:i + n] = bytes(len(b[i:i + n]))


def b_dup_block(b, r):
    i, j = r.randrange(len(b)), r.randrange(len(b))
    n = r.choice([8, 64, 512])
    b[j:j + n] = b[i:i + n]


def b_magic_ints(b, r):
    # Overwrite an 8-byte little-endian word with a large value (sizes/addresses in HDF5 metadata).
    i = r.randrange(max(1, min(len(b), 8192) - 8))
    b[i:i + 8] = r.choice([2**63 - 1, 2**32, 2**40, 0xFFFFFFFFFFFFFFFF, 1 << 48]).to_bytes(8, "little")


BYTES = [b_flip_head, b_flip_any, b_truncate, b_zero_block, b_dup_block, b_magic_ints]


def make_mutant(seed_path, out_path, r):
    if r.random() < 0.55:
        shutil.copyfile(seed_path, out_path)
        m = r.choice(STRUCTURED)
        with h5py.File(out_path, "r+") as f:
            m(f, r)
            if r.random() < 0.15:  # stack a second structured mutation
                r.choice(STRUCTURED)(f, r)
        return "s:" + m.__name__[2:]
    b = bytearray(open(seed_path, "rb").read())
    m = r.choice(BYTES)
    m(b, r)
    open(out_path, "wb").write(b)
    return "b:" + m.__name__[2:]


def run_one(cmd, timeout, errpath):
    """Runs cmd; returns (rc, wall s, stderr, hung, peak RSS MB, CPU s). rc < 0 = killed by signal.
    Peak RSS comes from wait4 on this child: its own maximum and that of the descendants it
    reaped (the isolated reader), so each run is measured on its own."""
    t0 = time.monotonic()
    with open(errpath, "wb") as ef:
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=ef, start_new_session=True,
                             preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY,) * 2))
    hung = False
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - t0 > timeout:
            hung = True
            os.killpg(p.pid, signal.SIGKILL)
            pid, status, ru = os.wait4(p.pid, 0)
            break
        time.sleep(0.002)
    p.returncode = 0  # reaped here; keep Popen from waiting again
    wall = time.monotonic() - t0
    rc = -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)
    err = open(errpath, "rb").read().decode("utf-8", "replace")
    return rc, wall, err, hung, ru.ru_maxrss / 1024.0, ru.ru_utime + ru.ru_stime


def new_stats():
    return {"runs": 0, "signals": 0, "hangs": 0, "over_1gb": 0, "peak_rss_mb": 0.0, "max_wall_s": 0.0, "cpu_s": 0.0, "exit": {},
            "exit2_not_one_line": 0, "exit2_not_naming_file": 0, "mutation_errors": 0, "by_command": {}, "by_kind": {}, "bad": []}


def merge(into, st):
    for k in ("runs", "signals", "hangs", "over_1gb", "exit2_not_one_line", "exit2_not_naming_file", "mutation_errors", "cpu_s"):
        into[k] += st[k]
    into["peak_rss_mb"] = max(into["peak_rss_mb"], st["peak_rss_mb"])
    into["max_wall_s"] = max(into["max_wall_s"], st["max_wall_s"])
    for k in ("exit", "by_command", "by_kind"):
        for kk, v in st[k].items():
            into[k][kk] = into[k].get(kk, 0) + v
    into["bad"] += st["bad"]


def worker(a, seeds, cmds, w, t_end, json_path):
    """Mutants w, w + jobs, w + 2 jobs, ... (mutant i: seed i % #seeds, command i % #commands)."""
    r = random.Random(a.seed * 1000 + w)
    work = tempfile.mkdtemp(prefix="moesim_mut_", dir="/dev/shm" if os.path.isdir("/dev/shm") else None)
    stats = new_stats()
    i = w
    while i < a.count and (t_end is None or time.monotonic() < t_end):
        seed = seeds[i % len(seeds)]
        mpath = os.path.join(work, "mutant_%06d.h5" % i)
        try:
            kind = make_mutant(seed, mpath, r)
        except Exception:
            stats["mutation_errors"] += 1
            if os.path.exists(mpath):
                os.unlink(mpath)
            i += a.jobs
            continue
        cmd_name = cmds[i % len(cmds)]
        cmd = [a.moesim, cmd_name, mpath]
        if cmd_name == "check":
            cmd += ["--device", "h100"]
        rc, wall, err, hung, rss_mb, cpu = run_one(cmd, a.timeout, os.path.join(work, "stderr.txt"))
        stats["runs"] += 1
        stats["cpu_s"] += cpu
        stats["by_command"][cmd_name] = stats["by_command"].get(cmd_name, 0) + 1
        stats["by_kind"][kind] = stats["by_kind"].get(kind, 0) + 1
        stats["max_wall_s"] = max(stats["max_wall_s"], wall)
        stats["peak_rss_mb"] = max(stats["peak_rss_mb"], rss_mb)
        key = "signal" if rc < 0 else str(rc)
        stats["exit"][key] = stats["exit"].get(key, 0) + 1
        violations = []
        if rc < 0:
            stats["signals"] += 1
            violations.append("signal %d" % -rc)
        if hung or wall > HANG_S:
            stats["hangs"] += 1
            violations.append("hang %.1fs" % wall)
        if rss_mb > 1024 and os.path.getsize(mpath) < 1 << 20:
            stats["over_1gb"] += 1
            violations.append("rss %.0f MB" % rss_mb)
        if rc not in (0, 1, 2) and rc >= 0:
            violations.append("exit %d" % rc)
        if rc == 2:
            lines = [l for l in err.splitlines() if l.strip()]
            if len(lines) != 1:
                stats["exit2_not_one_line"] += 1
                violations.append("exit2 with %d lines" % len(lines))
            elif mpath not in lines[0]:
                stats["exit2_not_naming_file"] += 1
                violations.append("exit2 not naming the file")
        if violations:
            rec = {"mutant": i, "kind": kind, "seed": os.path.basename(seed), "command": cmd_name, "why": violations,
                   "stderr": err[-500:]}
            stats["bad"].append(rec)
            if a.keep:
                os.makedirs(a.keep, exist_ok=True)
                shutil.copyfile(mpath, os.path.join(a.keep, "mutant_%06d_%s.h5" % (i, cmd_name)))
        os.unlink(mpath)
        i += a.jobs
        if json_path and stats["runs"] % 200 == 0:  # partial figures survive an interrupted run
            with open(json_path, "w") as f:
                json.dump(stats, f, indent=1)
    shutil.rmtree(work, ignore_errors=True)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(stats, f, indent=1)
    return stats


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--moesim", default="build/moesim")
    ap.add_argument("--seeds", nargs="*", default=None,
                    help="default: the committed traces (fuzz/corpus/trace, tests/data/golden, traces/default)")
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0 = no limit)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1, help="parallel workers (worker w makes mutants w, w+jobs, ...)")
    ap.add_argument("--commands", default="inspect,check,replay")
    ap.add_argument("--timeout", type=float, default=40.0)
    ap.add_argument("--keep", default="", help="directory to keep mutants that violated a rule")
    ap.add_argument("--json", default="")
    a = ap.parse_args()
    # The driver itself stays under 4 GiB per worker (a runaway mutation must not take the
    # machine down); each moesim run gets the limit lifted again (preexec_fn) and is measured
    # on its own.
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, resource.RLIM_INFINITY))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    if a.seeds:
        seeds = a.seeds
    else:
        seeds = []
        for d in ("fuzz/corpus/trace", "tests/data/golden", "traces/default"):
            full = os.path.join(root, d)
            if os.path.isdir(full):
                seeds += [os.path.join(full, s) for s in sorted(os.listdir(full)) if s.endswith(".h5")]
    cmds = a.commands.split(",")
    t_end = time.monotonic() + a.seconds if a.seconds else None
    stats = new_stats()
    if a.jobs <= 1:
        merge(stats, worker(a, seeds, cmds, 0, t_end, a.json))
    else:
        pids = []
        for w in range(a.jobs):
            pid = os.fork()
            if pid == 0:
                try:
                    worker(a, seeds, cmds, w, t_end, "%s.w%d" % (a.json or os.path.join(tempfile.gettempdir(), "mutate_%d.json" % os.getpid()), w))
                finally:
                    os._exit(0)
            pids.append(pid)
        for pid in pids:
            os.waitpid(pid, 0)
        for w in range(a.jobs):
            part = "%s.w%d" % (a.json or os.path.join(tempfile.gettempdir(), "mutate_%d.json" % os.getpid()), w)
            try:
                with open(part) as f:
                    merge(stats, json.load(f))
                os.unlink(part)
            except (OSError, ValueError):
                print("mutation driver: worker %d left no figures" % w, file=sys.stderr)
    print("mutation driver: %d mutants of %d committed trace(s) through %s (round robin; seed %d, %d worker(s)), %d mutations not applicable; "
          "structured %d, byte-level %d; moesim CPU %.0f s" %
          (stats["runs"], len(seeds), "/".join(cmds), a.seed, a.jobs, stats["mutation_errors"],
           sum(v for k, v in stats["by_kind"].items() if k.startswith("s:")), sum(v for k, v in stats["by_kind"].items() if k.startswith("b:")),
           stats["cpu_s"]))
    print("| harness | runs | CPU | signals | hangs (>20 s) | peak RSS | >1 GB (<1 MB in) | max wall | exit codes / artifacts | exit-2 one line naming file |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    ex = ", ".join("%s: %d" % (k, v) for k, v in sorted(stats["exit"].items()))
    ok2 = stats["exit2_not_one_line"] == 0 and stats["exit2_not_naming_file"] == 0
    print("| mutate_traces.py (%s) | %d | %.0f s | %d | %d | %.0f MB | %d | %.1f s | %s | %s |" %
          ("/".join("%s %d" % kv for kv in sorted(stats["by_command"].items())), stats["runs"], stats["cpu_s"], stats["signals"],
           stats["hangs"], stats["peak_rss_mb"], stats["over_1gb"], stats["max_wall_s"], ex,
           "yes" if ok2 else "NO (%d multi-line, %d not naming)" % (stats["exit2_not_one_line"], stats["exit2_not_naming_file"])))
    for b in stats["bad"][:20]:
        print("  violation: %s" % json.dumps(b))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(stats, f, indent=1)
    return 1 if stats["bad"] else 0


if __name__ == "__main__":
    sys.exit(main())
