"""keep_freed_memory: the net's forwards stop page-faulting their activations (alphago_lite/net/memory.py)."""
from __future__ import annotations

import subprocess
import sys

import pytest

from alphago_lite.net.memory import keep_freed_memory

# In a fresh interpreter (malloc settings cannot be undone): 12 forwards of a 9x9 4x48 net at batch 256 on a
# thread other than the main one, as in an inference server; prints the minor page faults of the last 8.
FORWARDS = """
import resource, sys, threading
import torch
from alphago_lite.net.memory import keep_freed_memory
from alphago_lite.net.model import PolicyValueNet
if sys.argv[1] == "keep":
    assert keep_freed_memory()
torch.set_num_threads(1)
net = PolicyValueNet(9, 17, 4, 48, 48).eval()
x = (torch.rand(256, 17, 9, 9) < 0.3).float()
def run():
    with torch.inference_mode():
        for i in range(12):
            if i == 4:
                start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            net(x)
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
thread = threading.Thread(target=run)
thread.start()
thread.join()
"""


def faults_per_forward(mode: str) -> float:
    out = subprocess.run([sys.executable, "-c", FORWARDS, mode], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1]) / 8


@pytest.mark.slow  # two fresh interpreters that import torch
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc settings")
def test_kept_memory_cuts_the_page_faults_of_a_forward_at_least_fivefold():
    default, kept = faults_per_forward("default"), faults_per_forward("keep")
    assert default > 500, f"{default} page faults per forward by default: the measurement no longer shows the cost"
    assert kept * 5 < default, f"{kept} page faults per forward with freed memory kept, {default} without"


def test_keep_freed_memory_says_whether_it_applied():
    # glibc on the machines this project runs on; the call is idempotent
    assert keep_freed_memory() is sys.platform.startswith("linux")
