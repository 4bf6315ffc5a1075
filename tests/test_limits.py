"""Memory limits on fixture trees (issue 14, Must show 2, the v2 half): cgroup v2 `memory.max`
and `memory.high` at several levels, v1 `memory.limit_in_bytes` and `memory.memsw.limit_in_bytes`,
and a /proc/meminfo with HugePages, Shmem, unreclaimable kernel memory and swap.

This machine runs cgroup v1 for memory, so v2 files cannot be produced here: a temporary
directory stands for /sys/fs/cgroup and another for /proc (each PID's `cgroup` file and
`meminfo`). The live v1 half is tests/test_limits_live.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from httpdlint import capacity, limits
from httpdlint import suggest as sg
from httpdlint.capacity import Term
from httpdlint.errors import ConfigError
from httpdlint.inputs import Gathered, SizingOptions, _constraints
from httpdlint.measure import HttpdTree, Measurement, Observation
from httpdlint.procfs import ProcessInfo

MIB = 1024**2
GIB = 1024**3
KB = 1024

APACHE = "/system.slice/apache2.service"
FPM = "/system.slice/php8.2-fpm.service"

#: PID -> (v2 cgroup, PSS): httpd's parent and children and a log shipper in apache2.service,
#: PHP-FPM in its own unit, MariaDB in another, a login shell outside system.slice.
PROCESSES = {
    100: (APACHE, 20 * MIB),
    101: (APACHE, 30 * MIB),
    102: (APACHE, 30 * MIB),
    150: (APACHE, 60 * MIB),
    300: (FPM, 10 * MIB),
    301: (FPM, 50 * MIB),
    302: (FPM, 50 * MIB),
    200: ("/system.slice/mariadb.service", 3 * GIB),
    400: ("/user.slice/user-0.slice", 5 * MIB),
}

MEMINFO = """\
MemTotal:        8388608 kB
MemFree:         1000000 kB
Shmem:            307200 kB
SUnreclaim:       102400 kB
KernelStack:       10240 kB
PageTables:        30720 kB
SwapTotal:       2097152 kB
HugePages_Total:      64
HugePages_Free:       64
Hugepagesize:       2048 kB
"""


def cgroup_tree(tmp_path: Path, mount: str = "") -> tuple[str, str]:
    """(cgroup root, proc root): limits at three levels, one of them both max and high."""
    root = tmp_path / "cgroup"
    files = {
        "system.slice/memory.max": str(4 * GIB),
        "system.slice/memory.high": "max",
        "system.slice/apache2.service/memory.max": str(GIB),
        "system.slice/apache2.service/memory.high": str(768 * MIB),
        "system.slice/apache2.service/memory.current": str(200 * MIB),
        "system.slice/php8.2-fpm.service/memory.max": str(256 * MIB),
        "system.slice/mariadb.service/memory.max": "max",
        "user.slice/memory.max": str(GIB),  # over no sized process: not read
    }
    for rel, text in files.items():
        path = root / mount / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n")
    proc = tmp_path / "proc"
    for pid, (cgroup, _) in PROCESSES.items():
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cgroup").write_text(f"0::{cgroup}\n")
    (proc / "meminfo").write_text(MEMINFO)
    return str(root), str(proc)


SIZED = [100, 101, 102, 300, 301, 302]
PSS = {pid: pss for pid, (_, pss) in PROCESSES.items()}


@pytest.mark.parametrize("mount", ["", "unified"])
def test_every_v2_limit_on_the_path_with_the_processes_inside(tmp_path: Path, mount: str) -> None:
    root, proc = cgroup_tree(tmp_path, mount)
    found = limits.cgroup_limits(SIZED, PSS, root=root, proc=proc)
    assert [(lim.name, lim.bytes) for lim in found] == [
        (f"{FPM} memory.max", 256 * MIB),
        (f"{APACHE} memory.high", 768 * MIB),
        (f"{APACHE} memory.max", GIB),
        ("/system.slice memory.max", 4 * GIB),
    ]
    by_name = {lim.name: lim for lim in found}
    apache = by_name[f"{APACHE} memory.high"]
    assert apache.pids == (100, 101, 102, 150) and apache.held == 140 * MIB
    assert apache.usage == 200 * MIB and apache.version == 2
    assert by_name[f"{FPM} memory.max"].pids == (300, 301, 302)
    # An ancestor's limit covers everything below it, the other services included.
    assert by_name["/system.slice memory.max"].pids == (100, 101, 102, 150, 200, 300, 301, 302)
    assert limits.cgroup_limit(101, root=root, proc=proc) == 768 * MIB
    data = apache.to_json()
    assert data["bounds"] == "memory; the kernel throttles above it"
    assert data["limit_bytes"] == 768 * MIB and data["held_bytes"] == 140 * MIB


def test_v1_memory_and_memory_plus_swap(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text("4:memory:/docker/abc\n0::/\n")
    base = tmp_path / "cg" / "memory" / "docker" / "abc"
    base.mkdir(parents=True)
    (base / "memory.limit_in_bytes").write_text(f"{GIB}\n")
    (base / "memory.memsw.limit_in_bytes").write_text(f"{3 * GIB // 2}\n")
    (base.parent / "memory.limit_in_bytes").write_text("9223372036854771712\n")  # no limit
    found = limits.cgroup_limits([42], {42: MIB}, root=str(tmp_path / "cg"), proc=str(proc))
    assert [(lim.name, lim.bytes, lim.version) for lim in found] == [
        ("/docker/abc memory.limit_in_bytes", GIB, 1),
        ("/docker/abc memory.memsw.limit_in_bytes", 3 * GIB // 2, 1),
    ]
    assert found[1].to_json()["bounds"] == "memory + swap"


def test_host_memory_deductions_each_with_its_source(tmp_path: Path) -> None:
    _, proc = cgroup_tree(tmp_path)
    host = limits.host_memory(proc, mapped_shmem=100 * MIB, sized_page_tables=10 * MIB)
    got = {d.name: d.bytes for d in host.deductions}
    assert got == {
        "hugepages": 64 * 2 * MIB,
        "unmapped shmem": 300 * MIB - 100 * MIB,
        "kernel": 100 * MIB + 10 * MIB + (30 - 10) * MIB,
    }
    sources = " ".join(d.source for d in host.deductions)
    for key in ("HugePages_Total", "Hugepagesize", "Shmem", "SUnreclaim", "PageTables"):
        assert key in sources
    assert host.total == 8 * GIB and host.swap_total == 2 * GIB
    assert host.usable() == 8 * GIB - 128 * MIB - 200 * MIB - 130 * MIB
    assert host.usable(GIB) == host.usable() + GIB
    # Processes that map more than Shmem holds (accounting races) never add memory.
    more = limits.host_memory(proc, mapped_shmem=GIB)
    assert {d.name: d.bytes for d in more.deductions}["unmapped shmem"] == 0


def _proc(pid: int, ppid: int, role: str, private: int) -> ProcessInfo:
    return ProcessInfo(
        pid, ppid, "apache2", PSS[pid] * 2, private, PSS[pid], 0, 1, 33, 600.0, True, role,
        private=private, anon=16 * MIB if role == "parent" else 0, pte=100 * KB, cpu=30.0,
        busy=1 if role == "child" else 0,
    )  # fmt: skip


def measured(tmp_path: Path) -> Measurement:
    """The fixture machine as measure() would see it: httpd's tree, the limits, the host."""
    root, proc = cgroup_tree(tmp_path)
    parent = _proc(100, 1, "parent", 2 * MIB)
    kids = [_proc(101, 100, "child", 20 * MIB), _proc(102, 100, "child", 20 * MIB)]
    tree = HttpdTree(parent, kids, libraries=["mod_mpm_prefork.so"])
    tree.observations = [Observation(k.pid, k.busy, k.private) for k in kids]
    others = sum(pss for pid, pss in PSS.items() if pid not in (100, 101, 102))
    found = limits.cgroup_limits(SIZED, PSS, root=root, proc=proc)
    return Measurement(
        ram_bytes=8 * GIB,
        physical_bytes=8 * GIB,
        cgroup_limit_bytes=found[0].bytes,
        trees=[tree],
        others=[],
        others_pss_bytes=others,
        limits=found,
        host=limits.host_memory(proc),
    )


def test_memory_high_of_httpds_unit_binds_against_the_unit_only(tmp_path: Path) -> None:
    m = measured(tmp_path)
    result = sg.suggest(None, SizingOptions(live=False), measured=m, logs=False)
    data = result.to_json()
    name = f"{APACHE} memory.high"
    assert data["binding"] == {"name": name, "limit_bytes": 768 * MIB}
    unit = next(c for c in data["constraints"] if c["name"] == name)
    # Its reserve is the log shipper in the same unit (60 MiB), not MariaDB's 3 GiB.
    assert unit["others_bytes"] == 60 * MIB and data["reserved_bytes"] > 3 * GIB
    assert unit["budget_bytes"] == 768 * MIB - 60 * MIB - data["shared_bytes"]
    assert data["processes"] == unit["budget_bytes"] // data["per_process_bytes"]
    # The host is MemTotal less the deductions; its budget would allow more processes.
    assert data["ram_bytes"] == 8 * GIB - (128 + 300 + 140) * MIB
    host = next(b for b in result.recommendation.bounds if b.name == "host")
    assert host.processes > data["processes"]
    # PHP-FPM's unit holds none of this sizing's terms here (no pool is proxied to): not used.
    assert {c["name"] for c in data["constraints"]} == {
        f"{APACHE} memory.high",
        f"{APACHE} memory.max",
        "/system.slice memory.max",
    }
    # Every deduction is an input line with its source; the limits too.
    text = sg.render(result, "text")
    assert "less hugepages" in text and "HugePages_Total x Hugepagesize" in text
    assert f"limit {name}" in text and f"Binding: the cgroup limit {name}, 768 MiB" in text


def test_swap_counts_only_when_asked(tmp_path: Path) -> None:
    m = measured(tmp_path)
    plain = sg.suggest(None, SizingOptions(live=False), measured=m, logs=False).sizing.ram
    every = sg.suggest(None, SizingOptions(live=False, swap="all"), measured=m, logs=False)
    assert every.sizing.ram == plain + 2 * GIB and every.inputs["swap"].value == 2 * GIB
    some = sg.suggest(None, SizingOptions(live=False, swap=GIB), measured=m, logs=False)
    assert some.sizing.ram == plain + GIB
    with pytest.raises(ConfigError, match="SwapTotal"):
        sg.suggest(None, SizingOptions(live=False, swap=3 * GIB), measured=m, logs=False)


def test_a_pool_in_its_own_unit_is_checked_against_it(tmp_path: Path) -> None:
    m = measured(tmp_path)
    out = Gathered(None, {}, "this-machine")
    out.pool_members = {"php-fpm www": {300, 301, 302}}
    pool = Term("pool", "php-fpm www", 8, 50 * MIB, 10 * MIB, 1, "pm.max_children")
    found = {c.name: c for c in _constraints(out, m, m.tree, [pool])}
    fpm = found[f"{FPM} memory.max"]
    assert (fpm.httpd, fpm.terms, fpm.others) == (False, ("php-fpm www",), 0)
    # system.slice holds both, and MariaDB and the log shipper as its reserve.
    wide = found["/system.slice memory.max"]
    assert wide.httpd and wide.terms == ("php-fpm www",) and wide.others == 3 * GIB + 60 * MIB
    s = capacity.Sizing(
        ram=8 * GIB, reserve=GIB, shared=16 * MIB, child=20 * MIB, terms=(pool,),
        constraints=tuple(found.values()),
    )  # fmt: skip
    [note] = capacity.constraint_notes(s)
    # 8 x (50 MiB x 1.1 + 128 KiB kernel) + 10 MiB base does not fit 256 MiB: 4 processes do.
    assert f"{FPM} memory.max 256 MiB" in note and "php-fpm www fits 4 processes" in note


def test_bad_swap_option_is_one_line_and_exit_2() -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", "suggest", "--ram", "1G", "--child-size", "10M",
         "--swap", "lots"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "--swap" in done.stderr


def test_cap009_names_the_cgroup_limit_that_binds() -> None:
    from httpdlint import engine
    from httpdlint.model import load_model

    example = Path(__file__).resolve().parents[1] / "examples" / "outage" / "conf" / "httpd.conf"
    model = load_model(str(example))
    unit = capacity.Constraint(f"{APACHE} memory.max", GIB, True, (), 100 * MIB)
    # 256 children of 25 MiB fit in 64 GiB, not in the unit's 1 GiB.
    roomy = capacity.Sizing(ram=64 * GIB, reserve=GIB, shared=0, child=25 * MIB)
    assert engine.run(model, engine.Settings(select=["CAP009"], sizing=roomy)) == []
    bound = capacity.Sizing(**{**roomy.__dict__, "constraints": (unit,)})
    (finding,) = engine.run(model, engine.Settings(select=["CAP009"], sizing=bound))
    assert f"> 1024 MiB ({APACHE} memory.max)" in finding.message
    assert "100 MiB reserve" in finding.message  # the unit's own, not the host's 1 GiB
