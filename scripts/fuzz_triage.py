#!/usr/bin/python3
"""Triage of libFuzzer artifacts (issue 11; called by scripts/fuzz.sh).

Each artifact (crash-*, timeout-*, oom-*, leak-*, slow-unit-*) is re-run once through the
harness binary, which prints the sanitizer's or libFuzzer's stack; the top frame that is not
sanitizer/libFuzzer/libc/libstdc++ machinery classifies it:

  libhdf5     the frame is inside libhdf5 (H5* function or the libhdf5 shared object): a defect
              of libhdf5 on hostile metadata, which the product contains by parsing in the
              isolated reader -- *only* if --contained is given (the harness runs what the
              isolated child runs) and the real binary turns the artifact into exit 2 with one
              stderr line naming the file, within 20 s;
  moesim      any other frame on top (moesim's own code): always a failure;
  unreproduced the re-run ended normally (a timeout under load, a flaky input): passes only if
              the real binary handles the file cleanly (exit 0/1, or one-line exit 2 naming it,
              within 20 s), else a failure;
  nostack     the re-run failed without a stack (e.g. an RSS-limit OOM): a failure.

With --moesim, every artifact is also run through `moesim inspect` (the file the harness read).
Prints one summary line; exit 1 if any artifact fails; --json writes the details.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

FRAME = re.compile(r"^\s*#(\d+) 0x[0-9a-f]+ (?:in )?(.+)$")  # "#3 0x... in FUNCTION FILE:LINE" or "(MODULE+0x..)"
MACHINERY = re.compile(
    r"^(__asan|__ubsan|__sanitizer|__interceptor_|__lsan|__msan|fuzzer::|__libc_|__GI_|_start|raise|abort|"
    r"memcpy|memmove|memset|memcmp|strlen|strnlen|strcmp|strncmp|malloc|calloc|realloc|free|posix_memalign|"
    r"operator new|operator delete|std::__throw|__cxa_|__gxx_|_Unwind|__assert|__pthread|pthread_|gsignal|"
    r"std::__1::|std::terminate|LLVMFuzzerRunDriver|main$|__restore_rt|__sigsetjmp|std::allocator|"
    r"std::__new_allocator|__gnu_cxx::new_allocator|std::vector<.*>::(_M_|vector|resize|reserve)|"
    r"std::_Vector_base|std::__uninitialized|std::__cxx11::basic_string<.*>::(_M_|basic_string|resize|reserve))")
MACHINERY_MODULE = re.compile(r"(libc\.so|libstdc\+\+\.so|libgcc_s\.so|ld-linux|libm\.so)")
SYMBOLIZER = "/usr/lib/llvm-14/bin/llvm-symbolizer"


def top_frame(log):
    """First stack frame that is not sanitizer/libFuzzer/libc machinery, or None."""
    frames = []
    for line in log.splitlines():
        m = FRAME.match(line)
        if m:
            if m.group(1) == "0" and frames:
                break  # only the first stack (ASan may print allocation stacks after it)
            frames.append(m.group(2))
    for f in frames:
        if MACHINERY.match(f) or (MACHINERY_MODULE.search(f) and not f.startswith("H5")):
            continue
        return f
    return None


def classify(frame):
    return "libhdf5" if frame.startswith("H5") or "libhdf5" in frame else "moesim"


def run(cmd, timeout, env=None):
    t0 = time.monotonic()
    try:
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=timeout, env=env)
        return p.returncode, p.stderr.decode("utf-8", "replace"), time.monotonic() - t0
    except subprocess.TimeoutExpired as e:
        return None, (e.stderr or b"").decode("utf-8", "replace"), time.monotonic() - t0


def real_binary_ok(moesim, path, need_exit2):
    """(ok, description): `moesim inspect path` -- exit 2 with one stderr line naming path."""
    rc, err, wall = run([moesim, "inspect", path], 60)
    lines = [l for l in err.splitlines() if l.strip()]
    one_line = len(lines) == 1 and path in lines[0]
    desc = "inspect exit %s in %.1f s: %s" % (rc, wall, lines[0][:200] if lines else "(no stderr)")
    if rc is None or wall > 20.0 or rc < 0:
        return False, desc
    if need_exit2:
        return rc == 2 and one_line, desc
    return rc in (0, 1) or (rc == 2 and one_line), desc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--harness", required=True, help="the libFuzzer binary that found the artifacts")
    ap.add_argument("--moesim", default="", help="real binary: run `moesim inspect` on each artifact")
    ap.add_argument("--contained", action="store_true", help="libhdf5 frames are contained by the isolated reader")
    ap.add_argument("--json", default="")
    ap.add_argument("artifacts", nargs="*")
    a = ap.parse_args()
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = "detect_leaks=0:allocator_may_return_null=1:symbolize=1:external_symbolizer_path=" + SYMBOLIZER
    env["UBSAN_OPTIONS"] = "print_stacktrace=1"
    work = tempfile.mkdtemp(prefix="moesim_triage_")
    counts, details, failed = {}, [], 0
    for art in sorted(a.artifacts):
        rc, log, wall = run([a.harness, "-timeout=20", "-rss_limit_mb=1024", "-malloc_limit_mb=1024", art], 90, env)
        frame = top_frame(log)
        if rc == 0:
            cls = "unreproduced"
        elif frame is None:
            cls = "nostack"
        else:
            cls = classify(frame)
        rec = {"artifact": os.path.basename(art), "class": cls, "harness_exit": rc, "harness_wall_s": round(wall, 1),
               "top_frame": (frame or "")[:300]}
        ok = cls == "libhdf5" and a.contained or cls == "unreproduced"
        if a.moesim and ok:
            path = os.path.join(work, os.path.basename(art) + ".h5")  # a name the one-line check can look for
            shutil.copyfile(art, path)
            ok, rec["real_binary"] = real_binary_ok(a.moesim, path, cls == "libhdf5")
            os.unlink(path)
        rec["ok"] = bool(ok)
        failed += 0 if ok else 1
        counts[cls] = counts.get(cls, 0) + 1
        details.append(rec)
    shutil.rmtree(work, ignore_errors=True)
    summary = ", ".join("%d %s" % (v, k) for k, v in sorted(counts.items())) or "none"
    print("triage: %d artifact(s): %s; %d failing" % (len(details), summary, failed))
    for d in details:
        if not d["ok"]:
            print("  failing: " + json.dumps(d))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"counts": counts, "failed": failed, "artifacts": details}, f, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
