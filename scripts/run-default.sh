#!/usr/bin/env bash
# Sets up and builds moesim, then runs the main job on the bundled default traces:
# shape hazards of a 400k-token Nemotron-3-Super layer across kernel variants, devices and
# library versions, and a numeric replay of a small Qwen3-30B-A3B-shaped bf16 layer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build >/dev/null
M=build/moesim
echo "== moesim inspect traces/default/nemotron-3-super-400k.h5"
$M inspect traces/default/nemotron-3-super-400k.h5
