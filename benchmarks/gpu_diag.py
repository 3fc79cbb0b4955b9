"""Which isolation step breaks CUDA start-up in a forked child (device diagnostics)."""
from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "platform"))
import torch

from sandbox import sysapi

S = sysapi
CASES = {
    "plain": (0, 0),
    "pid": (S.CLONE_NEWPID, 0),
    "net": (0, S.CLONE_NEWNET),
    "ipc": (0, S.CLONE_NEWIPC),
    "uts": (0, S.CLONE_NEWUTS),
    "mnt": (0, S.CLONE_NEWNS),
    "all": (S.CLONE_NEWPID, S.CLONE_NEWNET | S.CLONE_NEWIPC | S.CLONE_NEWUTS | S.CLONE_NEWNS),
}
pidfd = os.open("/proc/self/ns/pid", os.O_RDONLY)
for name, (before, after) in CASES.items():
    r, w = os.pipe()
    if before:
        S.unshare(before)
    pid = os.fork()
    if pid == 0:
        try:
            if after:
                S.unshare(after)
            torch.cuda.init()
            x = torch.ones(4, device="cuda").sum().item()
            msg = f"ok {x}"
        except BaseException as e:
            msg = f"FAIL {str(e)[:160]}"
        os.write(w, msg.encode())
        os._exit(0)
    if before:
        S.setns(pidfd, S.CLONE_NEWPID)
    os.waitpid(pid, 0)
    os.close(w)
    print(name, os.read(r, 400).decode(), flush=True)
    os.close(r)
