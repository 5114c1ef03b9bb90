#!/usr/bin/env bash
# Plain recipe, head node: offers its GPUs (inference servers) and CPUs (learner, search workers).
#   bash scripts/cluster/start-head.sh            # then on each worker: start-worker.sh HEAD_IP
set -euo pipefail
cd "$(dirname "$0")/../.."
.venv/bin/ray start --head --port=6379 --num-cpus="${NUM_CPUS:-$(nproc)}" ${NUM_GPUS:+--num-gpus=$NUM_GPUS}
echo "train on this cluster with: .venv/bin/alphago-lite train configs/go19_cluster.yaml --address auto"
