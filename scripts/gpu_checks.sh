#!/usr/bin/env bash
# Every GPU measurement the open issues ask for, in one run, for a session that is lent a GPU machine
# (16 cores there): one game searched by 1, 4, 8 and 16 threads with the shipped 9x9 net on the GPU
# (issue 14: >= 6x one thread at 16), the same thread counts with the uniform evaluator (tree
# parallelism alone, no net), and the inference service against the raw forward (issue 11).
# Each figure is one line; the lines also go to $OUT (the device tool brings that folder back).
#
# Here, once per session:   ../shared/device/pack.sh        (builds .devpack/: Ray and small wheels)
# Device run, carry [".devpack"], command: <the prefix pack.sh prints> bash scripts/gpu_checks.sh
# About 4 minutes of device time, machine start not included.
# A dry run here, on the CPU: DEVICE=cpu THREADS=1,2 SECONDS_EACH=1 bash scripts/gpu_checks.sh
set -uo pipefail
device="${DEVICE:-cuda}"
threads="${THREADS:-1,4,8,16}"
seconds="${SECONDS_EACH:-6}"
out="${OUT:-/tmp/gpu_checks}"
mkdir -p "$out"
export PYTHONUNBUFFERED=1
cli=(python3 -m alphago_lite.cli)

{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "no nvidia-smi"
  nproc
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda)'
} 2>&1 | tee "$out/machine.txt"

# issue 14: one game, 9x9, 800 simulations a move; --seconds 6 gives each thread count 3 s
timeout 240 "${cli[@]}" bench search --net shipped --device "$device" --game-threads "$threads" \
  --seconds "$seconds" --no-openspiel --no-selfplay 2>&1 | tee "$out/bench_search.txt"

# issue 11: the Ray service against the raw forward, torch on the GPU, fp32 and bf16
precisions=fp32,bf16
[ "$device" = cpu ] && precisions=fp32  # bf16 is emulated on CPUs without bf16 instructions
timeout 180 "${cli[@]}" bench inference --device "$device" --backends torch --precisions "$precisions" \
  --seconds "$seconds" 2>&1 | tee "$out/bench_inference.txt"
