#!/usr/bin/env bash
# Fuzzing (issue 11): builds the libFuzzer harnesses with clang (build-fuzz/, ASan+UBSan,
# coverage on the whole code), runs each for SECONDS, then runs the structured mutation
# driver (scripts/mutate_traces.py) on the real optimised binary for MUT_SECONDS / MUTANTS,
# and prints one table: runs, signals, hangs (> 20 s), peak RSS, exit codes, and whether
# every exit 2 was one line naming the input file.
#
#   scripts/fuzz.sh [SECONDS_PER_HARNESS=60] [MUTANTS=300] [MUT_SECONDS=300]
#   env: MOESIM_FUZZ_HARNESSES="trace models cli"  MOESIM_BIN=build/moesim  NICE=19
#        MOESIM_FUZZ_BUILD=build-fuzz  MOESIM_FUZZ_KEEP=dir (keep crashing inputs/mutants)
#        MOESIM_FUZZ_NO_BUILD=1 (run the harnesses already built in $MOESIM_FUZZ_BUILD/fuzz)
# Exit status 1 if any run broke a rule. Needs clang-14 + libclang-rt-14-dev + libomp-14-dev
# (scripts/setup.sh installs them).
set -uo pipefail
cd "$(dirname "$0")/.."
SECS="${1:-60}"
MUTANTS="${2:-300}"
MUT_SECS="${3:-300}"
HARNESSES="${MOESIM_FUZZ_HARNESSES:-trace models cli}"
BIN="${MOESIM_BIN:-build/moesim}"
FB="${MOESIM_FUZZ_BUILD:-build-fuzz}"
NICE="${NICE:-0}"
KEEP="${MOESIM_FUZZ_KEEP:-}"

if [ "${MOESIM_FUZZ_NO_BUILD:-0}" = 1 ]; then :  # use the harnesses already in $FB/fuzz
elif [ ! -f "$FB/build.ninja" ]; then
  CC=clang-14 CXX=clang++-14 cmake -S . -B "$FB" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMOESIM_FUZZ=ON \
    -DMOESIM_SANITIZE=ON -DMOESIM_BUILD_TESTS=OFF -DMOESIM_BUILD_BENCH=OFF ${MOESIM_FUZZ_CMAKE_ARGS:-} >/dev/null || exit 1
fi
targets=()
for h in $HARNESSES; do targets+=("fuzz_$h"); done
if [ "${MOESIM_FUZZ_NO_BUILD:-0}" != 1 ]; then
  cmake --build "$FB" -j "${MOESIM_JOBS:-2}" --target "${targets[@]}" >/dev/null || { echo "fuzz.sh: harness build failed" >&2; exit 1; }
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/moesim_fuzz.XXXXXX")"
trap 'rm -rf "$work"' EXIT
export MOESIM_FUZZ_TMP="$work"
rows=()
status=0
for h in $HARNESSES; do
  mkdir -p "$work/$h/corpus" "$work/$h/artifacts"
  cp -r "fuzz/corpus/$h/." "$work/$h/corpus/"
  log="$work/$h/log"
  # Fork mode: libFuzzer keeps going after a crash / OOM / timeout and counts them, so a
  # libhdf5 defect found in-process does not end the run. -timeout=20: over 20 s is a hang;
  # -rss_limit_mb/-malloc_limit_mb=1024: over 1 GB is a finding. Peak RSS over the harness
  # and all its jobs comes from wait4.
  ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1" UBSAN_OPTIONS="print_stacktrace=1" \
    timeout -k 10 $((SECS + 120)) nice -n "$NICE" /usr/bin/python3 -c '
import os, subprocess, sys
p = subprocess.Popen(sys.argv[1:])
_, st, ru = os.wait4(p.pid, 0)
p.returncode = 0
print("wait4_peak_rss_mb %.0f" % (ru.ru_maxrss / 1024.0), file=sys.stderr)
sys.exit(os.waitstatus_to_exitcode(st))' "$FB/fuzz/fuzz_$h" "$work/$h/corpus" -fork=1 -ignore_crashes=1 -ignore_ooms=1 \
      -ignore_timeouts=1 -max_total_time="$SECS" -timeout=20 -rss_limit_mb=1024 -malloc_limit_mb=1024 -max_len=1048576 \
      -close_fd_mask=1 -artifact_prefix="$work/$h/artifacts/" >"$log" 2>&1
  rc=$?
  last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1)
  runs=$(echo "$last" | sed -E 's/^#([0-9]+):.*/\1/')
  ooc=$(echo "$last" | sed -E 's|.*oom/timeout/crash: ([0-9]+)/([0-9]+)/([0-9]+).*|\1 \2 \3|')
  read -r oom hang sig <<<"${ooc:-0 0 0}"
  rss=$(grep -m1 'wait4_peak_rss_mb' "$log" | awk '{print $2}')
  arts=$(ls "$work/$h/artifacts" 2>/dev/null | wc -l)
  [ "$rc" = 0 ] && [ "${sig:-0}" = 0 ] && [ "${hang:-0}" = 0 ] && [ "${oom:-0}" = 0 ] || status=1
  if [ -n "$KEEP" ] && [ "$arts" != 0 ]; then mkdir -p "$KEEP/$h"; cp "$work/$h/artifacts/"* "$log" "$KEEP/$h/"; fi
  rows+=("| fuzz_$h (libFuzzer, ${SECS} s) | ${runs:-0} | ${sig:-?} | ${hang:-?} | ${rss:-?} MB | ${oom:-?} | - | exit $rc, $arts artifact(s) | n/a (in-process: only InputError allowed) |")
done

mut_out="$work/mutate.txt"
nice -n "$NICE" /usr/bin/python3 scripts/mutate_traces.py --moesim "$BIN" --count "$MUTANTS" --seconds "$MUT_SECS" \
  --json "$work/mutate.json" ${KEEP:+--keep "$KEEP/mutants"} >"$mut_out" 2>&1 || status=1

echo "fuzz.sh: ${SECS} s per harness, up to $MUTANTS mutants / ${MUT_SECS} s, $(date -u +%FT%TZ), $(git rev-parse --short HEAD)"
head -1 "$mut_out"
echo "| harness | runs | signals | hangs (>20 s) | peak RSS | >1 GB (<1 MB in) | max wall | exit codes | exit-2 one line naming file |"
echo "|---|---|---|---|---|---|---|---|---|"
for r in "${rows[@]}"; do echo "$r"; done
grep '^| mutate_traces' "$mut_out"
grep '^  violation' "$mut_out" | head -20
exit $status
