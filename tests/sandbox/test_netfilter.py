"""The network filter: rules as operators write them, the policy, and the kernel enforcing it."""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from pathlib import Path

import pytest

from callbox.sandbox import cgroups, netfilter
from callbox.sandbox.netfilter import Rule, parse_rule


@pytest.mark.parametrize(
    ("text", "network", "port"),
    [
        ("10.0.0.5:5432", "10.0.0.5/32", 5432),
        ("10.0.0.0/8", "10.0.0.0/8", 0),
        ("192.168.1.0/24:443", "192.168.1.0/24", 443),
        ("[::1]:8080", "::1/128", 8080),
        ("[fd00::]/8:53", "fd00::/8", 53),
        ("fe80::/10", "fe80::/10", 0),
    ],
)
def test_rules_are_read_as_operators_write_them(text: str, network: str, port: int) -> None:
    assert parse_rule(text) == Rule(ipaddress.ip_network(network), port)


@pytest.mark.parametrize("text", ["10.0.0.1:99999", "not-an-address", "10.0.0.1:http"])
def test_a_bad_rule_is_refused(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rule(text)


def test_this_machine_is_denied_but_the_own_port_and_allowed_ones() -> None:
    allow, deny = netfilter.policy([8080], allow=[":5000", "10.1.2.3:6379"])
    local = netfilter.local_networks()
    assert ipaddress.ip_network("127.0.0.0/8") in local
    assert {Rule(n) for n in local} <= set(deny)
    assert Rule(ipaddress.ip_network("169.254.0.0/16")) in deny  # metadata services
    assert {Rule(n, 8080) for n in local} <= set(allow)
    assert {Rule(n, 5000) for n in local} <= set(allow)
    assert Rule(ipaddress.ip_network("10.1.2.3/32"), 6379) in allow


def test_a_local_resolver_keeps_dns_working(tmp_path: Path) -> None:
    conf = tmp_path / "resolv.conf"
    conf.write_text("# comment\nnameserver 127.0.0.53\nnameserver 8.8.8.8\noptions edns0\n")
    assert netfilter.local_resolvers(str(conf)) == ["127.0.0.53"]


def test_programs_are_whole_instructions_and_grow_with_the_rules() -> None:
    allow, deny = netfilter.policy([8080])
    small = netfilter.assemble(4, allow, deny)
    larger = netfilter.assemble(4, allow, [*deny, Rule(ipaddress.ip_network("10.0.0.0/8"))])
    assert len(small) % 8 == 0 and len(larger) > len(small)
    # The last two instructions: r0 = 1 (allow what no rule denies), exit.
    code, _, _, imm = struct.unpack("<BBhi", small[-16:-8])
    assert (code, imm) == (0xB7, 1)


@pytest.mark.skipif(os.geteuid() != 0, reason="attaching eBPF programs needs root")
def test_the_kernel_refuses_what_the_rules_deny(tmp_path: Path) -> None:
    unified = cgroups.hierarchies().get("unified")
    if not unified:
        pytest.skip("no cgroup v2 hierarchy here")
    folder = Path(unified, f"callbox-test-{os.getpid()}")
    folder.mkdir()
    allowed, denied = socket.create_server(("127.0.0.1", 0)), socket.create_server(("127.0.0.1", 0))
    try:
        allow, deny = netfilter.policy([allowed.getsockname()[1]])
        netfilter.attach(str(folder), allow, deny)
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child joins the filtered cgroup and tries both
            try:
                (folder / "cgroup.procs").write_text("0")
                results = []
                for server in (allowed, denied):
                    try:
                        socket.create_connection(server.getsockname(), timeout=2).close()
                        results.append("ok")
                    except OSError as exc:
                        results.append(str(exc.errno))
                os.write(write, ",".join(results).encode())
            finally:
                os._exit(0)
        os.close(write)
        answer = os.read(read, 100).decode()
        os.waitpid(pid, 0)
        assert answer == f"ok,{1}"  # EPERM for the denied port
        # This process is outside the cgroup: unaffected.
        socket.create_connection(denied.getsockname(), timeout=2).close()
    finally:
        allowed.close()
        denied.close()
        cgroups.remove_tree(folder)
