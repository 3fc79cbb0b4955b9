#!/usr/bin/env bash
# One short device check for the GPU sandbox (see docs/sandbox.md). Uses the machine's own
# python3 with torch + CUDA; writes results under $OUT when set.
set -u
OUT=${OUT:-/tmp/gpu_proof}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
PY=${PY:-python3}
{
  nvidia-smi -L
  uname -r
  $PY -c "import sys, torch; print(sys.version.split()[0], torch.__version__, torch.version.cuda)"
  mount | grep cgroup; cat /proc/self/cgroup; cat /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; ls /dev/nvidia*
  cat /sys/kernel/mm/transparent_hugepage/enabled
} 2>&1 | tee "$OUT/env.txt"
timeout 150 $PY benchmarks/gpu_proof.py --out "$OUT/gpu_proof.json" 2>&1 | tail -80
# The CPU attack suite on this machine's kernel and cgroup setup (cgroup v2 here).
timeout 150 $PY -m pytest tests/sandbox -q -x --confcutdir=tests/sandbox -p no:cacheprovider \
  2>&1 | tee "$OUT/attack_suite.txt" | tail -25
timeout 70 $PY benchmarks/sandbox_bench.py --runs 150 --seconds 5 --json "$OUT/bench.json" \
  2>&1 | tail -40
