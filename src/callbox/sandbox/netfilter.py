"""Outbound connections from functions: anywhere, except this machine's own ports.

Enforced by the kernel for a whole cgroup with four small eBPF programs (cgroup/connect4,
connect6, sendmsg4, sendmsg6), the mechanism systemd's IPAddressDeny= uses: a connect() or a UDP
send to a denied address fails with EPERM before any packet leaves. They cost nothing on the
data path (only connect and unconnected UDP sends run them) and need no extra process or
firewall change. The rules are compiled into the programs (no maps, no compiler): a function
may reach an address unless it is denied, and an allow rule (address and port) beats a deny.

Denied by default: loopback, the unspecified address, every address of this machine's own
interfaces (read again when they change), and link-local networks (cloud metadata services).
Allowed by default: callbox's own HTTP port on those, and DNS on a local resolver named in
/etc/resolv.conf.
"""

from __future__ import annotations

import ctypes
import ipaddress
import os
import socket
import struct
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from callbox.sandbox import linux

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

_PROG_TYPE_CGROUP_SOCK_ADDR = 18
_CONNECT4, _CONNECT6, _SENDMSG4, _SENDMSG6 = 10, 11, 14, 15
_PROG_LOAD, _PROG_ATTACH = 5, 8
_ATTR_SIZE = 128
# struct bpf_sock_addr: where the destination address and port are.
_IP4, _IP6, _PORT = 4, 8, 24

DEFAULT_DENY = ("169.254.0.0/16", "fe80::/10")
_LOCAL_V4 = ("127.0.0.0/8", "0.0.0.0/8")
_LOCAL_V6 = ("::1/128", "::/128")


@dataclass(frozen=True)
class Rule:
    network: Network
    port: int = 0  # 0: every port

    def __str__(self) -> str:
        return f"{self.network}" + (f" port {self.port}" if self.port else "")


def parse_rule(text: str) -> Rule:
    """``ADDRESS[/PREFIX][:PORT]``, ``[IPV6][/PREFIX][:PORT]`` or ``:PORT`` (this machine)."""
    text = text.strip()
    port = 0
    if text.startswith(":"):
        raise ValueError("':PORT' is expanded by local_rules(), not parse_rule()")
    if text.startswith("["):
        address, _, rest = text[1:].partition("]")
        prefix, _, port_text = rest.partition(":")
        address += prefix
        port = int(port_text) if port_text else 0
    elif text.count(":") == 1:
        address, port_text = text.split(":")
        port = int(port_text)
    else:
        address = text
    if not 0 <= port <= 65535:
        raise ValueError(f"{text!r}: a port is between 1 and 65535")
    return Rule(ipaddress.ip_network(address, strict=False), port)


def local_networks() -> list[Network]:
    """This machine: loopback, unspecified, and every address its interfaces have now."""
    found: list[Network] = [ipaddress.ip_network(n) for n in (*_LOCAL_V4, *_LOCAL_V6)]
    try:
        lines = Path("/proc/net/fib_trie").read_text().splitlines()
    except OSError:
        lines = []
    for previous, line in zip(lines, lines[1:], strict=False):
        if line.strip() == "/32 host LOCAL":
            found.append(ipaddress.ip_network(previous.split()[-1]))
    try:
        for line in Path("/proc/net/if_inet6").read_text().splitlines():
            raw = line.split()[0]
            found.append(ipaddress.ip_network(ipaddress.IPv6Address(bytes.fromhex(raw))))
    except (OSError, ValueError, IndexError):
        pass
    return sorted(set(found), key=lambda n: (n.version, n))


def local_resolvers(resolv_conf: str = "/etc/resolv.conf") -> list[str]:
    """Name servers on this machine (systemd-resolved, dnsmasq): functions need DNS."""
    found: list[str] = []
    try:
        lines = Path(resolv_conf).read_text().splitlines()
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) >= 2 and fields[0] == "nameserver":
            try:
                address = ipaddress.ip_address(fields[1].split("%")[0])
            except ValueError:
                continue
            if any(address in network for network in local_networks()):
                found.append(str(address))
    return found


def policy(
    own_ports: Iterable[int], allow: Iterable[str] = (), deny: Iterable[str] = DEFAULT_DENY
) -> tuple[list[Rule], list[Rule]]:
    """(allow rules, deny rules): this machine denied but ``own_ports`` and local DNS, plus
    the operator's ``allow`` (``:PORT`` means that port on this machine) and ``deny``."""
    local = local_networks()
    allowed = [Rule(network, port) for port in own_ports for network in local]
    allowed += [Rule(ipaddress.ip_network(address), 53) for address in local_resolvers()]
    for item in allow:
        if not item.strip():
            continue
        if item.strip().startswith(":"):
            port = int(item.strip()[1:])
            allowed += [Rule(network, port) for network in local]
        else:
            allowed.append(parse_rule(item))
    denied = [Rule(network) for network in local]
    denied += [parse_rule(item) for item in deny if item.strip()]
    return allowed, denied


# --- the programs ----------------------------------------------------------------------


def _insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    if imm >= 1 << 31:
        imm -= 1 << 32
    return struct.pack("<BBhi", code, (src << 4) | dst, off, imm)


_LDX_W = 0x61  # dst = *(u32 *)(src + off)
_AND32_K = 0x54  # dst &= imm (32 bits)
_JNE32_K = 0x56  # if dst != imm (32 bits): goto +off
_MOV64_K = 0xB7  # dst = imm
_MOV64_X = 0xBF  # dst = src
_EXIT = 0x95


def _words(network: Network, version: int) -> list[tuple[int, int, int]]:
    """(context offset, value, mask) per 32-bit word of the address, in the kernel's order."""
    if network.version == 4 and version == 6:  # an IPv6 socket reaching an IPv4 address
        network = ipaddress.IPv6Network(
            (
                int(ipaddress.IPv6Address(f"::ffff:{network.network_address}")),
                96 + network.prefixlen,
            )
        )
    address = network.network_address.packed
    mask = network.netmask.packed
    base = _IP4 if version == 4 else _IP6
    words = []
    for i in range(0, len(address), 4):
        word_mask = int.from_bytes(mask[i : i + 4], sys.byteorder)
        if word_mask:
            words.append((base + i, int.from_bytes(address[i : i + 4], sys.byteorder), word_mask))
    return words


def _block(rule: Rule, version: int, verdict: int) -> bytes:
    """Instructions: if the destination matches ``rule``, return ``verdict``; else fall through."""
    tests: list[tuple[int, int, int]] = _words(rule.network, version)
    if rule.port:
        tests.append((_PORT, socket.htons(rule.port), 0xFFFFFFFF))
    size = sum(3 if mask != 0xFFFFFFFF else 2 for _, _, mask in tests) + 2
    out, emitted = [], 0
    for offset, value, mask in tests:
        out.append(_insn(_LDX_W, 2, 6, offset))
        emitted += 1
        if mask != 0xFFFFFFFF:
            out.append(_insn(_AND32_K, 2, 0, 0, mask))
            emitted += 1
        emitted += 1
        out.append(_insn(_JNE32_K, 2, 0, size - emitted, value))  # to the next block
    out += [_insn(_MOV64_K, 0, 0, 0, verdict), _insn(_EXIT)]
    return b"".join(out)


def assemble(version: int, allow: Iterable[Rule], deny: Iterable[Rule]) -> bytes:
    """The program for one address family: allow rules, then deny rules, then allow."""
    code = [_insn(_MOV64_X, 6, 1)]  # r6 = the context
    code += [_block(r, version, 1) for r in allow if _fits(r, version)]
    code += [_block(r, version, 0) for r in deny if _fits(r, version)]
    code += [_insn(_MOV64_K, 0, 0, 0, 1), _insn(_EXIT)]
    return b"".join(code)


def _fits(rule: Rule, version: int) -> bool:
    return rule.network.version == version or (rule.network.version == 4 and version == 6)


def _load(code: bytes, attach_type: int) -> int:
    insns = ctypes.create_string_buffer(code, len(code))
    license_ = ctypes.create_string_buffer(b"GPL")
    log = ctypes.create_string_buffer(1 << 16)
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into(
        "<IIQQIIQ",
        attr,
        0,
        _PROG_TYPE_CGROUP_SOCK_ADDR,
        len(code) // 8,
        ctypes.addressof(insns),
        ctypes.addressof(license_),
        1,
        len(log),
        ctypes.addressof(log),
    )
    struct.pack_into("<I", attr, 68, attach_type)  # expected_attach_type
    fd = int(linux.libc().syscall(linux.syscall_number("bpf"), _PROG_LOAD, attr, _ATTR_SIZE))
    if fd < 0:
        errno = ctypes.get_errno()
        detail = log.value.decode(errors="replace").strip().splitlines()[-3:]
        raise OSError(errno, f"bpf program load: {os.strerror(errno)}; {' / '.join(detail)}")
    return fd


def _attach(cgroup_fd: int, program_fd: int, attach_type: int) -> None:
    attr = ctypes.create_string_buffer(_ATTR_SIZE)
    struct.pack_into("<IIII", attr, 0, cgroup_fd, program_fd, attach_type, 0)
    linux.check(
        int(linux.libc().syscall(linux.syscall_number("bpf"), _PROG_ATTACH, attr, _ATTR_SIZE)),
        "bpf program attach",
    )


def attach(cgroup: str, allow: list[Rule], deny: list[Rule]) -> None:
    """Filter every process in ``cgroup`` (a cgroup v2 folder) and below; replaces the
    programs attached before. Needs root (CAP_SYS_ADMIN / CAP_BPF)."""
    programs = {
        _CONNECT4: assemble(4, allow, deny),
        _SENDMSG4: assemble(4, allow, deny),
        _CONNECT6: assemble(6, allow, deny),
        _SENDMSG6: assemble(6, allow, deny),
    }
    cgroup_fd = os.open(cgroup, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for attach_type, code in programs.items():
            program_fd = _load(code, attach_type)
            try:
                _attach(cgroup_fd, program_fd, attach_type)
            finally:
                os.close(program_fd)  # the cgroup keeps the program
    finally:
        os.close(cgroup_fd)
