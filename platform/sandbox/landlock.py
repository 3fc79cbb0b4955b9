"""Landlock (Linux >= 5.13) through raw syscalls: the run may read and execute the
(already minimal, read-only) root, write only its working folder and the null devices,
make no TCP binds/connects, and (ABI >= 6) signal nothing and reach no abstract UNIX
socket outside its own domain."""

from __future__ import annotations

import ctypes
import os

from sandbox import sysapi

EXECUTE = 1 << 0
WRITE_FILE = 1 << 1
READ_FILE = 1 << 2
READ_DIR = 1 << 3
REMOVE_DIR = 1 << 4
REMOVE_FILE = 1 << 5
MAKE_CHAR = 1 << 6
MAKE_DIR = 1 << 7
MAKE_REG = 1 << 8
MAKE_SOCK = 1 << 9
MAKE_FIFO = 1 << 10
MAKE_BLOCK = 1 << 11
MAKE_SYM = 1 << 12
REFER = 1 << 13  # ABI 2
TRUNCATE = 1 << 14  # ABI 3
IOCTL_DEV = 1 << 15  # ABI 5
NET_BIND_TCP = 1 << 0  # ABI 4
NET_CONNECT_TCP = 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET = 1 << 0  # ABI 6
SCOPE_SIGNAL = 1 << 1
RULE_PATH_BENEATH = 1
CREATE_RULESET_VERSION = 1


class _PathBeneath(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64),
                ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


def abi_version() -> int:
    ret = sysapi.libc.syscall(sysapi.SYS_landlock_create_ruleset, None, 0,
                              CREATE_RULESET_VERSION)
    return int(ret) if ret > 0 else 0


def fs_rights(abi: int) -> int:
    rights = (EXECUTE | WRITE_FILE | READ_FILE | READ_DIR | REMOVE_DIR | REMOVE_FILE
              | MAKE_CHAR | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | MAKE_BLOCK
              | MAKE_SYM)
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def restrict(abi: int, *, read: list[str], write: list[str], devices: list[str]) -> None:
    """Apply to the calling process (needs NO_NEW_PRIVS or CAP_SYS_ADMIN)."""
    handled = fs_rights(abi)
    attr = _RulesetAttr(handled, 0, 0)
    size = 8
    if abi >= 4:
        attr.handled_access_net = NET_BIND_TCP | NET_CONNECT_TCP
        size = 16
    if abi >= 6:
        attr.scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL
        size = 24
    fd = sysapi.libc.syscall(sysapi.SYS_landlock_create_ruleset, ctypes.byref(attr), size, 0)
    sysapi._check(fd, "landlock_create_ruleset")
    try:
        ro = EXECUTE | READ_FILE | READ_DIR
        dev = READ_FILE | WRITE_FILE | (IOCTL_DEV if abi >= 5 else 0) | (
            TRUNCATE if abi >= 3 else 0)
        for paths, access in ((read, ro), (write, handled), (devices, dev)):
            for path in paths:
                try:
                    pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except FileNotFoundError:
                    continue
                try:
                    if not os.path.isdir(path):
                        # Rules on files may only carry file rights.
                        access &= EXECUTE | READ_FILE | WRITE_FILE | TRUNCATE | IOCTL_DEV
                    rule = _PathBeneath(access & handled, pfd)
                    sysapi._check(sysapi.libc.syscall(sysapi.SYS_landlock_add_rule, fd,
                                                      RULE_PATH_BENEATH, ctypes.byref(rule),
                                                      0), f"landlock_add_rule {path}")
                finally:
                    os.close(pfd)
        sysapi._check(sysapi.libc.syscall(sysapi.SYS_landlock_restrict_self, fd, 0),
                      "landlock_restrict_self")
    finally:
        os.close(fd)
