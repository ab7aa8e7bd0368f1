#!/usr/bin/env bash
# MPI scale-out tests (docs/scale-out.md), run by ctest when built with MOESIM_MPI:
#   mpi_test.sh MOESIM SOURCE_DIR WORK_DIR MODE
# MODE regress   the bundled suite on 1 process, mpirun -np 1 and -np 2: JUnit, Markdown and
#                text reports byte-identical, same exit code
#      replay    a 4-layer trace replayed on 1 process and on 2 and 3 ranks: text and JSON
#                reports byte-identical
#      corrupt   layer 1's weights hold a NaN, so only rank 1's share is bad input: one line
#                naming rank 1, the call, the layer and the dataset; exit 2
#      stall     rank 1 never reports (MOESIM_RANK_FAULT=1:stall): after MOESIM_RANK_TIMEOUT
#                s one line naming rank 1 and its calls, exit 2, no hang
#      throw     rank 1 fails inside a regress case (MOESIM_RANK_FAULT=1:throw): one line
#                naming rank 1 and the case, exit 2
# Localhost only: --oversubscribe (more ranks than cores is fine here), --allow-run-as-root
# when run as root (CI), binding off so the ranks share whatever cores the machine has.
set -uo pipefail
MOESIM=$1 SRC=$2 W=$3 MODE=$4
rm -rf "$W" && mkdir -p "$W" && cd "$W" || exit 1
MPIRUN=(mpirun --oversubscribe --bind-to none -q)
[ "$(id -u)" = 0 ] && MPIRUN+=(--allow-run-as-root)
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_plm_rsh_agent=false
export OMP_NUM_THREADS=1
fail() { echo "FAIL ($MODE): $*"; exit 1; }
same() {  # same FILE_A FILE_B
  cmp -s "$1" "$2" || { diff "$1" "$2" | head -20; fail "$1 and $2 differ"; }
}
one_line() {  # one_line FILE PATTERN...: exactly one line from moesim, containing every PATTERN
  local n; n=$(grep -c '^moesim' "$1")
  [ "$n" = 1 ] || { cat "$1"; fail "expected one moesim line in $1, got $n"; }
  shift_file=$1; shift
  for p in "$@"; do grep -qF -- "$p" "$shift_file" || { cat "$shift_file"; fail "missing '$p'"; }; done
}
synth() {  # synth OUT LAYERS
  "$MOESIM" synth -p qwen3-30b-a3b --layers "$2" -t 6,3 --experts 8 --top-k 2 --hidden 64 --intermediate 32 \
    --activations --weights bf16 -s 3 -o "$1" >/dev/null || fail "synth"
}
REPLAY=(replay --variant triton_bf16 --against reference --threads 1 --no-timings)

case "$MODE" in
regress)
  SUITE="$SRC/tests/suites/bundled.suite.json"
  ARGS=(regress "$SUITE" --threads 1 --no-timings)
  "$MOESIM" "${ARGS[@]}" --junit j0.xml --markdown m0.md >t0.txt 2>e0.txt; rc0=$?
  "${MPIRUN[@]}" -np 1 "$MOESIM" "${ARGS[@]}" --junit j1.xml --markdown m1.md >t1.txt 2>e1.txt; rc1=$?
  "${MPIRUN[@]}" -np 2 "$MOESIM" "${ARGS[@]}" --junit j2.xml --markdown m2.md >t2.txt 2>e2.txt; rc2=$?
  [ "$rc0" = 0 ] || { cat t0.txt e0.txt; fail "1-process regress exit $rc0"; }
  [ "$rc1" = "$rc0" ] && [ "$rc2" = "$rc0" ] || { cat e1.txt e2.txt; fail "exit codes $rc0 / $rc1 / $rc2"; }
  for f in j m t; do ext=$([ $f = j ] && echo xml || { [ $f = m ] && echo md || echo txt; }); same ${f}0.$ext ${f}1.$ext; same ${f}0.$ext ${f}2.$ext; done
  echo "ok: bundled suite byte-identical on 1 process, 1 rank and 2 ranks ($(grep -c '<testcase' j0.xml) cases)"
  ;;
replay)
  synth ml.h5 4
  for fmt in text json; do
    x=(); [ $fmt = json ] && x=(--json)
    "$MOESIM" "${REPLAY[@]}" ml.h5 "${x[@]}" >r0.$fmt 2>e0.txt; rc0=$?
    [ "$rc0" -le 1 ] || { cat e0.txt; fail "1-process replay exit $rc0"; }
    for n in 2 3; do
      "${MPIRUN[@]}" -np $n "$MOESIM" "${REPLAY[@]}" ml.h5 "${x[@]}" >r$n.$fmt 2>e$n.txt; rc=$?
      [ "$rc" = "$rc0" ] || { cat e$n.txt; fail "exit $rc on $n ranks, $rc0 on one process"; }
      same r0.$fmt r$n.$fmt
    done
  done
  grep -q "layer 3" r0.text || fail "no per-layer results in the report"
  echo "ok: 4-layer replay byte-identical on 1 process, 2 and 3 ranks ($(grep -c '^call' r0.text) calls)"
  ;;
corrupt)
  synth bad.h5 2
  /usr/bin/python3 - bad.h5 <<'PY' || fail "corrupting layer 1"
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "r+") as f:
    d = f["layers/0001/weights/w13"]
    row = d[0]
    row[0, 0] = 0x7FC0  # bf16 NaN in expert 0 of layer 1 only
    d[0] = row
PY
  "$MOESIM" "${REPLAY[@]}" bad.h5 >o0.txt 2>e0.txt; rc0=$?
  [ "$rc0" = 2 ] || { cat e0.txt; fail "1-process exit $rc0, expected 2"; }
  one_line e0.txt "bad.h5:/layers/0001/weights/w13: non-finite weight in expert 0"
  "${MPIRUN[@]}" -np 2 "$MOESIM" "${REPLAY[@]}" bad.h5 >o2.txt 2>e2.txt; rc2=$?
  [ "$rc2" = 2 ] || { cat e2.txt; fail "2-rank exit $rc2, expected 2"; }
  one_line e2.txt "rank 1, call 2 (layer 1): " "bad.h5:/layers/0001/weights/w13: non-finite weight in expert 0"
  [ -s o2.txt ] && fail "a report was printed although a rank failed"
  echo "ok: $(cat e2.txt)"
  ;;
stall)
  synth ml.h5 2
  start=$(date +%s)
  MOESIM_RANK_FAULT=1:stall MOESIM_RANK_TIMEOUT=3 timeout 60 "${MPIRUN[@]}" -np 2 "$MOESIM" "${REPLAY[@]}" ml.h5 >o.txt 2>e.txt; rc=$?
  el=$(( $(date +%s) - start ))
  [ "$rc" = 2 ] || { cat e.txt; fail "exit $rc, expected 2"; }
  [ "$el" -lt 30 ] || fail "took $el s"
  one_line e.txt "rank 1 (call 2 (layer 1), call 3 (layer 1)) did not report within 3 s"
  echo "ok ($el s): $(grep '^moesim' e.txt)"
  ;;
throw)
  SUITE="$SRC/tests/suites/bundled.suite.json"
  MOESIM_RANK_FAULT=1:throw timeout 120 "${MPIRUN[@]}" -np 2 "$MOESIM" regress "$SUITE" --threads 1 --junit j.xml >o.txt 2>e.txt; rc=$?
  [ "$rc" = 2 ] || { cat e.txt; fail "exit $rc, expected 2"; }
  one_line e.txt "rank 1, case instance 1 (" "internal error: injected fault (MOESIM_RANK_FAULT=1:throw)"
  [ -e j.xml ] && fail "a report was written although a rank failed"
  echo "ok: $(grep '^moesim' e.txt)"
  ;;
*) fail "unknown mode" ;;
esac
