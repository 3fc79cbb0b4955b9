"""Thin ctypes wrappers for the Linux calls Python's os module lacks (3.11)."""

from __future__ import annotations

import ctypes
import os

libc = ctypes.CDLL(None, use_errno=True)

# mount(2) flags
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

# clone/unshare flags
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
CLONE_NEWTIME = 0x00000080

# prctl
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_SECCOMP = 22
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_SET_CHILD_SUBREAPER = 36
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
SECCOMP_MODE_FILTER = 2

SYS_pivot_root = 155
SYS_close_range = 436
SYS_landlock_create_ruleset = 444
SYS_landlock_add_rule = 445
SYS_landlock_restrict_self = 446

libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                       ctypes.c_char_p]
libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
libc.unshare.argtypes = [ctypes.c_int]
libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                       ctypes.c_ulong]
libc.syscall.restype = ctypes.c_long


def _check(ret: int, what: str) -> int:
    if ret < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")
    return ret


def _b(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def mount(source: str | None, target: str, fstype: str | None, flags: int,
          data: str | None = None) -> None:
    _check(libc.mount(_b(source), _b(target), _b(fstype), flags, _b(data)),
           f"mount {target}")


def umount2(target: str, flags: int) -> None:
    _check(libc.umount2(_b(target), flags), f"umount {target}")


def unshare(flags: int) -> None:
    _check(libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int) -> None:
    _check(libc.setns(fd, nstype), "setns")


def pivot_root(new_root: str, put_old: str) -> None:
    _check(libc.syscall(SYS_pivot_root, _b(new_root), _b(put_old)), "pivot_root")


def prctl(option: int, a2: int = 0, a3: int = 0, a4: int = 0, a5: int = 0) -> int:
    return _check(libc.prctl(option, a2, a3, a4, a5), f"prctl({option})")


def close_range(first: int) -> None:
    """Close every fd >= first in one call (a loop over the fd limit costs tens of ms)."""
    if libc.syscall(SYS_close_range, first, 0xFFFFFFFF, 0) < 0:
        import resource

        os.closerange(first, resource.getrlimit(resource.RLIMIT_NOFILE)[0])


MADV_HUGEPAGE = 14
MADV_COLLAPSE = 25  # Linux >= 6.1
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]


def collapse_heap_to_hugepages() -> int:
    """Back this process's anonymous memory with transparent huge pages where possible.

    Fork copies one entry per 2 MiB huge page instead of 512 page-table entries, and exit
    frees as few: for a warm parent holding ~170 MiB of torch/pandas heap this cuts fork +
    exit from ~10 ms to ~4 ms. Children still copy-on-write 4 KiB at a time (the kernel
    splits the huge mapping on the first write). Best effort; returns ranges collapsed."""
    huge = 2 * 1024 * 1024
    done = 0
    try:
        with open("/proc/self/maps") as fh:
            lines = fh.readlines()
    except OSError:
        return 0
    for line in lines:
        parts = line.split()
        path = parts[5] if len(parts) > 5 else ""
        if parts[1] != "rw-p" or (path and path != "[heap]"):
            continue
        lo, hi = (int(x, 16) for x in parts[0].split("-"))
        lo, hi = (lo + huge - 1) // huge * huge, hi // huge * huge
        if hi <= lo:
            continue
        libc.madvise(lo, hi - lo, MADV_HUGEPAGE)
        if libc.madvise(lo, hi - lo, MADV_COLLAPSE) == 0:
            done += 1
    return done


# glibc's fork through a PyDLL: the GIL stays held and no Python code runs around it.
_pylibc = ctypes.PyDLL(None, use_errno=True)
_pylibc.fork.restype = ctypes.c_int
_pylibc.fork.argtypes = []


def fork_without_python_hooks() -> int:
    """fork(2), without CPython's before- and after-fork work (os.fork's).

    That work re-creates the interpreter's thread locks and runs the modules' at-fork
    hooks (threading, logging, random, concurrent.futures, torch): in a torch process it
    costs the child ~1 ms and ~280 copy-on-write page faults (benchmarks/RESULTS.md,
    eighth round). Only for a single-threaded process that holds no import or logging
    lock, whose children reset their signal handlers and seed `random` themselves: the
    sandbox's warm parent. glibc's own at-fork handlers (malloc, libgomp, torch's C++
    ones) still run."""
    pid = _pylibc.fork()
    if pid < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))
    return pid
