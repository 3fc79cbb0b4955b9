"""A seccomp-BPF deny list, assembled by hand (no dependency): calls that reach the
network, other processes, the kernel's keyrings, BPF, io_uring, mounts and new namespaces
fail with EPERM; `clone3` fails with ENOSYS so libc falls back to `clone`, whose flags we
can inspect; any non-x86-64 ABI kills the process."""

from __future__ import annotations

import ctypes
import errno
import os
import struct

from sandbox import sysapi

AUDIT_ARCH_X86_64 = 0xC000003E
X32_SYSCALL_BIT = 0x40000000

# BPF opcodes
LD_W_ABS = 0x20
JEQ_K = 0x15
JGE_K = 0x35
JSET_K = 0x45
RET_K = 0x06
SECCOMP_RET_KILL_PROCESS = 0x80000000
SECCOMP_RET_ERRNO = 0x00050000
SECCOMP_RET_ALLOW = 0x7FFF0000

SYS_clone = 56
SYS_clone3 = 435

# name -> x86-64 number
DENIED: dict[str, int] = {
    "socket": 41, "ptrace": 101, "syslog": 103, "uselib": 134, "personality": 135,
    "vhangup": 153, "pivot_root": 155, "adjtimex": 159, "chroot": 161, "acct": 163,
    "settimeofday": 164, "mount": 165, "umount2": 166, "swapon": 167, "swapoff": 168,
    "reboot": 169, "sethostname": 170, "setdomainname": 171, "iopl": 172, "ioperm": 173,
    "create_module": 174, "init_module": 175, "delete_module": 176, "get_kernel_syms": 177,
    "query_module": 178, "quotactl": 179, "nfsservctl": 180, "lookup_dcookie": 212,
    "clock_settime": 227, "kexec_load": 246, "add_key": 248, "request_key": 249,
    "keyctl": 250, "migrate_pages": 256, "unshare": 272, "move_pages": 279,
    "perf_event_open": 298, "fanotify_init": 300, "name_to_handle_at": 303,
    "open_by_handle_at": 304, "clock_adjtime": 305, "setns": 308,
    "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
    "kexec_file_load": 320, "bpf": 321, "userfaultfd": 323, "io_uring_setup": 425,
    "io_uring_enter": 426, "io_uring_register": 427, "open_tree": 428, "move_mount": 429,
    "fsopen": 430, "fsconfig": 431, "fsmount": 432, "fspick": 433, "pidfd_getfd": 438,
    "process_madvise": 440, "mount_setattr": 442, "quotactl_fd": 443, "memfd_secret": 447,
}
NEW_NAMESPACE_FLAGS = (sysapi.CLONE_NEWNS | sysapi.CLONE_NEWCGROUP | sysapi.CLONE_NEWUTS
                       | sysapi.CLONE_NEWIPC | sysapi.CLONE_NEWUSER | sysapi.CLONE_NEWPID
                       | sysapi.CLONE_NEWNET | sysapi.CLONE_NEWTIME)


def _ins(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k)


def build_program() -> bytes:
    """The filter as raw `struct sock_filter` array bytes."""
    if os.uname().machine != "x86_64":
        raise OSError(errno.ENOSYS, "the seccomp filter is written for x86-64 only")
    eperm = SECCOMP_RET_ERRNO | errno.EPERM
    prog = [
        _ins(LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _ins(JEQ_K, 1, 0, AUDIT_ARCH_X86_64),
        _ins(RET_K, 0, 0, SECCOMP_RET_KILL_PROCESS),
        _ins(LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
        _ins(JGE_K, 0, 1, X32_SYSCALL_BIT),
        _ins(RET_K, 0, 0, eperm),
        _ins(JEQ_K, 0, 1, SYS_clone3),
        _ins(RET_K, 0, 0, SECCOMP_RET_ERRNO | errno.ENOSYS),
        # clone: refuse any new-namespace flag (args[0], low 32 bits on little endian)
        _ins(JEQ_K, 0, 4, SYS_clone),
        _ins(LD_W_ABS, 0, 0, 16),
        _ins(JSET_K, 0, 1, NEW_NAMESPACE_FLAGS),
        _ins(RET_K, 0, 0, eperm),
        _ins(RET_K, 0, 0, SECCOMP_RET_ALLOW),
    ]
    for nr in sorted(set(DENIED.values())):
        prog.append(_ins(JEQ_K, 0, 1, nr))
        prog.append(_ins(RET_K, 0, 0, eperm))
    prog.append(_ins(RET_K, 0, 0, SECCOMP_RET_ALLOW))
    return b"".join(prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class Filter:
    """Built once in the warm parent; `install()` is two syscalls in the child."""

    def __init__(self) -> None:
        raw = build_program()
        self._buf = ctypes.create_string_buffer(raw, len(raw))
        self._prog = _SockFprog(len(raw) // 8, ctypes.addressof(self._buf))

    def install(self) -> None:
        # NO_NEW_PRIVS must be set first (also needed without CAP_SYS_ADMIN).
        sysapi.prctl(sysapi.PR_SET_NO_NEW_PRIVS, 1)
        sysapi.prctl(sysapi.PR_SET_SECCOMP, sysapi.SECCOMP_MODE_FILTER,
                     ctypes.addressof(self._prog))
