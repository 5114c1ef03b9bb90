#!/usr/bin/env bash
# Plain recipe, worker node: joins the head and offers its CPUs to search workers (and GPUs, if any,
# to inference servers).   bash scripts/cluster/start-worker.sh HEAD_IP
set -euo pipefail
cd "$(dirname "$0")/../.."
HEAD=${1:?usage: start-worker.sh HEAD_IP}
.venv/bin/ray start --address="$HEAD:6379" --num-cpus="${NUM_CPUS:-$(nproc)}" ${NUM_GPUS:+--num-gpus=$NUM_GPUS}
