"""measure.py: reading /proc, finding httpd trees, RAM and cgroups, warnings, output formats.

Most tests run against a fake /proc written to a temporary directory, so trees, ages and
permissions are exactly what the test says; a few read real processes of this machine.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from httpdlint import history, limits, procfs
from httpdlint import measure as m
from httpdlint.cli_capacity import register
from httpdlint.errors import ConfigError
from httpdlint.measure_render import render_openmetrics, render_table

MIB = 1024**2
KB = 1024


# --------------------------------------------------------------------------- a fake /proc


class FakeProc:
    """A directory laid out like /proc, enough for measure.py."""

    def __init__(self, root: Path, uptime: float = 1000.0) -> None:
        self.root = root
        root.mkdir(exist_ok=True)
        self.set_uptime(uptime)
        (root / "meminfo").write_text("MemTotal: 8388608 kB\nShmem: 1024 kB\nSUnreclaim: 2048 kB\n")

    @property
    def path(self) -> str:
        return str(self.root)

    def set_uptime(self, uptime: float) -> None:
        (self.root / "uptime").write_text(f"{uptime:.2f} 1.00\n")

    def add(
        self,
        pid: int,
        ppid: int,
        name: str,
        *,
        rss: int = 10 * MIB,
        uss: int = 2 * MIB,
        pss: int = 4 * MIB,
        swap: int = 0,
        threads: int = 1,
        started: float = 0.0,
        rollup: bool = True,
        exe: str | None = None,
        cpu: float = 10.0,
        anon: int = 0,
        shm: int = 0,
        wchan: str = "hrtimer_nanosleep",
    ) -> None:
        d = self.root / str(pid)
        d.mkdir(exist_ok=True)
        if exe is not None:
            (d / "exe").symlink_to(exe)
        tck = os.sysconf("SC_CLK_TCK")
        ticks = int(started * tck)
        rss_pages = rss // os.sysconf("SC_PAGE_SIZE")
        rest = ["S", str(ppid)] + ["0"] * 9 + [str(int(cpu * tck)), "0"] + ["0"] * 4
        rest += [str(threads), "0", str(ticks), "0", str(rss_pages)] + ["0"] * 20
        (d / "stat").write_text(f"{pid} ({name}) {' '.join(rest)}\n")
        (d / "status").write_text(
            f"Name:\t{name}\nRssAnon:\t{anon // KB} kB\nVmPTE:\t100 kB\nVmSwap:\t{swap // KB} kB\n"
        )
        task = d / "task" / str(pid)
        task.mkdir(parents=True, exist_ok=True)
        (task / "wchan").write_text(wchan)
        (d / "smaps").write_text(
            "00400000-00500000 r-xp 00000000 08:01 1 /usr/sbin/apache2\n"
            f"Rss:            {(rss - uss - shm) // KB} kB\n"
            f"Pss:            {(pss - uss - shm) // KB} kB\n"
            "Private_Clean:  0 kB\nPrivate_Dirty:  0 kB\nSwap:           0 kB\n"
            "7f0000000000-7f0001000000 rw-p 00000000 00:00 0 \n"
            f"Rss:            {uss // KB} kB\n"
            f"Pss:            {uss // KB} kB\n"
            f"Private_Clean:  {uss // 4 // KB} kB\n"
            f"Private_Dirty:  {(uss - uss // 4) // KB} kB\n"
            f"Swap:           {swap // KB} kB\n"
            "7f1000000000-7f1001000000 rw-s 00000000 00:01 6 /dev/zero (deleted)\n"
            f"Rss:            {shm // KB} kB\n"
            f"Pss:            {shm // KB} kB\n"
            "Private_Clean:  0 kB\n"
            f"Private_Dirty:  {shm // KB} kB\n"
            "Swap:           0 kB\n"
            "VmFlags: rd wr sh mr mw me ms\n"
        )
        if rollup:
            (d / "smaps_rollup").write_text(
                "00400000-7fff00000000 ---p 00000000 00:00 0    [rollup]\n"
                f"Rss:            {rss // KB} kB\n"
                f"Pss:            {pss // KB} kB\n"
                f"Shared_Clean:   {(rss - uss) // KB} kB\n"
                f"Private_Clean:  {uss // 4 // KB} kB\n"
                f"Private_Dirty:  {(uss - uss // 4) // KB} kB\n"
                "Private_Hugetlb: 0 kB\n"
                f"Swap:           {swap // KB} kB\n"
            )
        (d / "maps").write_text(
            "7f0000000000-7f0000001000 r-xp 00000000 08:01 1 /usr/lib/apache2/modules/"
            "mod_mpm_prefork.so\n"
            "7f0000002000-7f0000003000 r-xp 00000000 08:01 2 /usr/lib/apache2/modules/mod_perl.so\n"
            "7f0000004000-7f0000005000 rw-p 00000000 00:00 0 \n"
        )
        (d / "cgroup").write_text("0::/\n")
        (d / "cmdline").write_bytes(name.encode() + b"\0-k\0start\0" if rss else b"")

    def remove(self, pid: int) -> None:
        import shutil

        shutil.rmtree(self.root / str(pid))


def _as_nobody(function, *args):
    """Run function(*args) in a forked child that has dropped to uid/gid 65534; its result."""
    import pickle

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never return into pytest
        code = 0
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(65534)
            os.setuid(65534)
            os.write(write, pickle.dumps(function(*args)))
        except BaseException as exc:  # noqa: BLE001 - reported to the parent, not raised here
            os.write(write, pickle.dumps(exc))
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        data = f.read()
    os.waitpid(pid, 0)
    result = pickle.loads(data)
    if isinstance(result, BaseException):
        raise result
    return result


@pytest.fixture
def fake(tmp_path: Path) -> FakeProc:
    proc = FakeProc(tmp_path / "proc")
    proc.add(1, 0, "systemd", rss=8 * MIB, uss=3 * MIB, pss=4 * MIB, started=1)
    proc.add(
        100, 1, "apache2", rss=100 * MIB, uss=2 * MIB, pss=20 * MIB, started=10, anon=30 * MIB,
        wchan="do_epoll_wait",
    )  # fmt: skip
    for i, pid in enumerate((101, 102, 103)):
        proc.add(pid, 100, "apache2", rss=120 * MIB, uss=(20 + i) * MIB, pss=40 * MIB, started=20)
    proc.add(104, 100, "rotatelogs", rss=1 * MIB, uss=MIB // 2, pss=MIB // 2, started=20)
    proc.add(200, 1, "mysqld", rss=400 * MIB, uss=380 * MIB, pss=390 * MIB, threads=30, started=5)
    proc.add(300, 1, "kthreadd", rss=0, uss=0, pss=0)
    return proc


# --------------------------------------------------------------------------- reading


def test_read_process_from_rollup(fake: FakeProc) -> None:
    p = procfs.read_process(101, proc=fake.path)
    assert p is not None and p.exact
    assert (p.pid, p.ppid, p.name, p.threads) == (101, 100, "apache2", 1)
    assert (p.rss, p.uss, p.pss, p.private) == (120 * MIB, 20 * MIB, 40 * MIB, 20 * MIB)
    assert p.age == pytest.approx(1000 - 20, abs=0.1) and p.cpu == pytest.approx(10)
    assert p.busy is None  # only read in detail


def test_read_process_in_detail_leaves_shared_memory_out_of_private(fake: FakeProc) -> None:
    # A child that alone touched 8 MiB of opcache's shared mapping: USS counts them, the
    # private memory does not; they are its shm (PSS), counted once for the tree.
    fake.add(110, 100, "apache2", rss=40 * MIB, uss=12 * MIB, pss=30 * MIB, shm=8 * MIB)
    p = procfs.read_process(110, proc=fake.path, detail=True)
    assert p.uss == 20 * MIB and p.private == 12 * MIB and p.shm == 8 * MIB
    assert p.pte == 100 * KB and p.busy == 1


def test_busy_threads_by_where_they_wait(fake: FakeProc) -> None:
    fake.add(120, 100, "apache2", threads=4)
    task = fake.root / "120" / "task"
    for tid, wchan in ((121, "futex_do_wait"), (122, "do_epoll_wait"), (123, "anon_pipe_read")):
        (task / str(tid)).mkdir()
        (task / str(tid) / "wchan").write_text(wchan)
    assert procfs.busy_threads(120, fake.path) == 1  # the main task sleeps in a handler
    (task / "120" / "wchan").write_text("inet_csk_accept")
    assert procfs.busy_threads(120, fake.path) == 0


def test_read_process_gone_is_none(fake: FakeProc) -> None:
    assert procfs.read_process(99999, proc=fake.path) is None


def test_comm_with_spaces_and_parentheses(fake: FakeProc) -> None:
    fake.add(400, 1, "a (b) c", rss=MIB)
    assert procfs.read_process(400, proc=fake.path).name == "a (b) c"


def test_mod_perl_renamed_comm(fake: FakeProc) -> None:
    # mod_perl sets $0 to the command line; the kernel keeps 15 characters of it.
    fake.add(500, 1, "/usr/sbin/apach", rss=50 * MIB, exe="/usr/sbin/apache2 (deleted)")
    fake.add(501, 500, "/usr/sbin/apach", rss=60 * MIB, uss=10 * MIB)
    fake.add(502, 1, "/usr/sbin/httpd", rss=MIB, exe="/usr/sbin/httpd")
    fake.add(503, 1, "/opt/x/bin/ngin", rss=MIB)
    # From the executable's link when readable, else from a cut name that begins an httpd name.
    assert procfs.read_process(500, proc=fake.path).name == "apache2"
    assert procfs.read_process(501, proc=fake.path).name == "apache2"
    assert procfs.read_process(502, proc=fake.path).name == "httpd"
    assert procfs.read_process(503, proc=fake.path).name == "ngin"
    trees, _, _ = m.find_trees(procfs.read_processes([500, 501, 1], proc=fake.path), proc=fake.path)
    assert [(t.parent.pid, [c.pid for c in t.children]) for t in trees] == [(500, [501])]


def test_permission_denied_falls_back_to_rss(fake: FakeProc, monkeypatch) -> None:
    def denied(pid: int, proc: str):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(procfs, "_read_rollup", denied)
    p = procfs.read_process(101, proc=fake.path)
    assert p is not None and not p.exact
    assert p.uss == p.pss == p.rss == 120 * MIB


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to switch to another user")
def test_real_permission_fallback_as_another_user() -> None:
    # This test process is root's: a reader running as nobody may not read its memory maps,
    # and gets RSS in place of USS and PSS with exact=False, not an exception.
    info = _as_nobody(m.read_process, os.getpid())
    assert info is not None and info.exact is False
    assert info.uss == info.pss == info.rss > 0
    assert info.name == procfs.read_process(os.getpid()).name
    warnings = _as_nobody(lambda: m._permission_warnings([info], []))
    assert warnings[0].code == "no-permission" and "uid 0" in warnings[0].message


def test_real_process_uss_grows_by_what_it_writes() -> None:
    code = (
        "import sys; b = bytearray(48 * 1024 * 1024)\n"
        "for i in range(0, len(b), 4096): b[i] = 1\n"
        "print('ready', flush=True); sys.stdin.read()"
    )
    base = subprocess.Popen(
        [sys.executable, "-c", "import sys; print('ready', flush=True); sys.stdin.read()"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    big = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert base.stdout.readline().strip() == "ready"
        assert big.stdout.readline().strip() == "ready"
        small_info, big_info = procfs.read_process(base.pid), procfs.read_process(big.pid)
        assert small_info.exact and big_info.exact
        grown = big_info.uss - small_info.uss
        assert abs(grown - 48 * MIB) < 0.05 * 48 * MIB
        assert big_info.pss >= big_info.uss and big_info.rss >= big_info.pss
    finally:
        for p in (base, big):
            p.stdin.close()
            p.wait(timeout=10)


def test_read_processes_of_this_machine_includes_self() -> None:
    infos = {p.pid: p for p in procfs.read_processes()}
    me = infos[os.getpid()]
    assert me.rss > 0 and me.threads >= 1


# --------------------------------------------------------------------------- trees


def test_find_trees_by_discovery(fake: FakeProc) -> None:
    result = m.measure(proc=fake.path, min_cpu=0)
    assert len(result.trees) == 1
    tree = result.tree
    assert tree.parent.pid == 100 and tree.parent.role == "parent"
    assert [c.pid for c in tree.children] == [101, 102, 103]
    assert {c.role for c in tree.children} == {"child"}
    assert tree.largest_child.pid == 103
    assert tree.shared == 30 * MIB  # the parent's anonymous memory
    assert tree.pss_total() == 20 * MIB + 3 * 40 * MIB + MIB // 2
    assert tree.mpm == "prefork" and tree.interpreters == ["mod_perl.so"]
    assert tree.busy_seen is True
    # A piped logger is part of the tree; other services and kernel threads are not.
    assert [(p.pid, p.role) for p in tree.loggers] == [(104, "logger")]
    others = {p.pid: p for p in result.others}
    assert set(others) == {1, 200}
    assert result.others[0].name == "mysqld"
    assert result.others_pss_bytes == 4 * MIB + 390 * MIB
    assert not [w for w in result.warnings if w.code != "no-permission-others"]


def test_given_pid_that_is_a_child_means_its_parent(fake: FakeProc) -> None:
    result = m.measure([102], proc=fake.path, min_cpu=0)
    assert result.tree.parent.pid == 100
    assert any(w.code == "pid-is-child" for w in result.warnings)


def test_given_pid_not_running(fake: FakeProc) -> None:
    with pytest.raises(ConfigError, match="no process with PID 4242 is running"):
        m.measure([4242], proc=fake.path)


def test_several_servers_and_children_that_served_nothing(fake: FakeProc) -> None:
    fake.add(600, 1, "httpd", rss=50 * MIB, started=995)
    for pid in (601, 602, 603, 604):
        # Old or young does not matter: no CPU used and not serving now.
        fake.add(pid, 600, "httpd", rss=60 * MIB, uss=5 * MIB, cpu=0, wchan="inet_csk_accept")
    result = m.measure(proc=fake.path)
    assert sorted(t.parent.pid for t in result.trees) == [100, 600]
    assert result.tree.parent.pid == 600  # most children
    codes = [w.code for w in result.warnings]
    assert "several-httpd" in codes
    young = [w for w in result.warnings if w.code == "young-children"]
    assert len(young) == 1 and "4 of 4 children of httpd 600" in young[0].message
    assert "less than 0.05 s of CPU" in young[0].message


def test_no_httpd(tmp_path: Path) -> None:
    proc = FakeProc(tmp_path / "p")
    proc.add(1, 0, "init")
    result = m.measure(proc=proc.path)
    assert result.trees == [] and result.tree is None
    assert [w.code for w in result.warnings] == ["no-httpd"]


def test_permission_warning_names_the_owner(fake: FakeProc, monkeypatch) -> None:
    for reader in ("_read_rollup", "_read_smaps"):
        real = getattr(procfs, reader)

        def denied_for_children(pid: int, proc: str, real=real):
            if pid in (101, 102, 103):
                raise PermissionError(13, "Permission denied")
            return real(pid, proc)

        monkeypatch.setattr(procfs, reader, denied_for_children)
    result = m.measure(proc=fake.path, min_cpu=0)
    warning = next(w for w in result.warnings if w.code == "no-permission")
    assert "3 httpd process(es)" in warning.message and "RSS" in warning.message
    assert result.tree.largest_child.private == 120 * MIB  # RSS stands in, an overstatement


def test_sample_keeps_the_largest_child_seen(fake: FakeProc) -> None:
    looks = []

    def sleep(seconds: float) -> None:
        # Between looks: child 101 grows to 50 MiB, then is recycled (exits).
        if len(looks) == 1:
            fake.add(101, 100, "apache2", rss=150 * MIB, uss=50 * MIB, pss=60 * MIB, started=20)
        else:
            fake.remove(101)
        fake.set_uptime(1000 + 10 * len(looks))

    result = m.sample(
        20,
        10,
        proc=fake.path,
        sleep=sleep,
        min_cpu=0,
        progress=lambda done, total: looks.append((done, total)),
    )
    assert looks == [(1, 3), (2, 3), (3, 3)]
    assert result.samples == 3
    tree = result.tree
    assert [c.pid for c in tree.children] == [102, 103]
    assert tree.largest_child.pid == 101 and tree.largest_child.private == 50 * MIB
    assert len(tree.observations) == 3 + 3 + 2  # every child at every look


def test_parse_duration() -> None:
    assert m.parse_duration("10m") == 600
    assert m.parse_duration("10s") == 10
    assert m.parse_duration("1h") == 3600
    assert m.parse_duration("500ms") == 0.5
    assert m.parse_duration("30") == 30
    for bad in ("", "10x", "-1s", "m"):
        with pytest.raises(ValueError, match="invalid duration"):
            m.parse_duration(bad)


# --------------------------------------------------------------------------- RAM and cgroups


def _cgroups(tmp_path: Path, cgroup_line: str, files: dict[str, str]) -> tuple[str, str]:
    proc = tmp_path / "proc"
    (proc / "42").mkdir(parents=True)
    (proc / "42" / "cgroup").write_text(cgroup_line)
    root = tmp_path / "cg"
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return str(root), str(proc)


@pytest.mark.parametrize(
    ("line", "files", "expected"),
    [
        (
            "0::/system.slice/apache2.service\n",
            {"system.slice/apache2.service/memory.max": "1073741824\n"},
            1024 * MIB,
        ),
        (
            "0::/system.slice/apache2.service\n",
            {"system.slice/apache2.service/memory.max": "max\n"},
            None,
        ),
        ("0::/a/b\n", {"a/memory.max": "536870912\n", "a/b/memory.max": "max\n"}, 512 * MIB),
        ("0::/\n", {"memory.max": "268435456\n"}, 256 * MIB),
        (
            "4:memory:/docker/abc\n0::/\n",
            {"memory/docker/abc/memory.limit_in_bytes": "2147483648\n"},
            2048 * MIB,
        ),
        (
            "4:memory:/docker/abc\n",
            {"memory/docker/abc/memory.limit_in_bytes": "9223372036854771712\n"},
            None,
        ),
        ("4:cpu,memory:/x\n", {"memory/memory.limit_in_bytes": "104857600\n"}, 100 * MIB),
        ("0::/u\n", {"unified/u/memory.max": "3221225472\n"}, 3072 * MIB),
        ("0::/\n", {}, None),
    ],
)
def test_cgroup_limit(tmp_path: Path, line: str, files: dict, expected: int | None) -> None:
    root, proc = _cgroups(tmp_path, line, files)
    assert limits.cgroup_limit(42, root=root, proc=proc) == expected


def test_ram_is_the_smaller_of_physical_and_cgroup(tmp_path: Path) -> None:
    root, proc = _cgroups(
        tmp_path, "0::/a\n", {"a/memory.max": str(1024 * MIB), "a/memory.high": "max"}
    )
    (Path(proc) / "meminfo").write_text(f"MemTotal: {8 * 1024 * 1024} kB\n")
    assert limits.ram(42, root=root, proc=proc) == (1024 * MIB, 8 * 1024 * MIB, 1024 * MIB)
    (Path(root) / "a" / "memory.max").write_text("max\n")
    assert limits.ram(42, root=root, proc=proc) == (8 * 1024 * MIB, 8 * 1024 * MIB, None)


# --------------------------------------------------------------------------- logs

_REACHED = (
    "server reached MaxRequestWorkers setting, consider raising the MaxRequestWorkers setting"
)
ERROR_LOG = "\n".join(
    [
        "[Mon Mar 03 10:00:00.000000 2025] [mpm_prefork:notice] [pid 9] AH00163: resuming",
        f"[Mon Mar 03 10:05:00.000000 2025] [mpm_prefork:error] [pid 9] AH00161: {_REACHED}",
        f"[Mon Mar 03 10:06:00.000000 2025] [mpm_event:error] [pid 9:tid 1] AH00484: {_REACHED}",
        f"[Mon Mar 03 10:07:00.000000 2025] [mpm_worker:error] [pid 9:tid 1] AH00286: {_REACHED}",
        "[Mon Mar 03 10:08:00 2010] [error] server reached MaxClients setting, consider raising"
        " the MaxClients setting",
        "[Mon Mar 03 10:09:00.000000 2025] [core:notice] [pid 9] AH00094: Command line: 'apache2'",
        "",
    ]
)

KERNEL_LOG = "\n".join(
    [
        "Mar  3 10:10:00 web kernel: [123.4] apache2 invoked oom-killer: gfp_mask=0x100cca",
        "Mar  3 10:10:00 web kernel: [123.5] Out of memory: Killed process 4321 (apache2)"
        " total-vm:300000kB, anon-rss:200000kB",
        "Mar  3 10:11:00 web kernel: [124.5] Out of memory: Kill process 4400 (httpd) score 50",
        "Mar  3 10:12:00 web kernel: [125.5] Memory cgroup out of memory: Killed process 4500"
        " (apache2) total-vm:1kB",
        "Mar  3 10:13:00 web kernel: [126.5] Out of memory: Killed process 77 (mysqld) vm:1kB",
        "",
    ]
)


def test_find_limit_hits() -> None:
    hits = history.find_limit_hits(ERROR_LOG)
    assert len(hits) == 4
    assert "AH00161" in hits[0] and "MaxClients" in hits[3]


def test_find_oom_kills_only_httpd() -> None:
    kills = history.find_oom_kills(KERNEL_LOG)
    assert [(pid, name) for pid, name, _ in kills] == [
        (4321, "apache2"),
        (4400, "httpd"),
        (4500, "apache2"),
    ]


def test_error_log_warnings(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text(ERROR_LOG)
    warnings = history.error_log_warnings([str(log), str(tmp_path / "missing.log")])
    assert [w.code for w in warnings] == ["limit-reached"]
    assert "4 time(s)" in warnings[0].message and str(log) in warnings[0].message


def test_kernel_log_warnings() -> None:
    (warning,) = history.kernel_log_warnings(KERNEL_LOG)
    assert warning.code == "oom-killed" and "3 time(s)" in warning.message
    assert history.kernel_log_warnings("nothing here\n") == []


def test_kernel_log_reading_never_raises() -> None:
    assert isinstance(history.kernel_log_warnings(), list)


def test_open_error_logs_of_a_process(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    with open(log, "w"):
        assert str(log) in history.open_error_logs(os.getpid())


# --------------------------------------------------------------------------- output

_SAMPLE = re.compile(r'^[a-z_:][a-z0-9_:]*(\{([a-z_]+="[^"\\]*(\\.[^"\\]*)*",?)*\})? -?[0-9.e+]+$')


def test_openmetrics_is_well_formed(fake: FakeProc) -> None:
    text = render_openmetrics(m.measure(proc=fake.path, min_cpu=0))
    lines = text.splitlines()
    assert lines[-1] == "# EOF" and text.endswith("\n")
    typed: set[str] = set()
    for line in lines[:-1]:
        if line.startswith("# TYPE "):
            name = line.split()[2]
            assert name not in typed
            typed.add(name)
        elif line.startswith(("# HELP ", "# UNIT ")):
            assert line.split()[2] in typed
        else:
            assert _SAMPLE.match(line), line
            assert line.split("{")[0].split()[0] in typed
    assert 'httpdlint_httpd_children{parent_pid="100",name="apache2"} 3' in lines
    assert (
        'httpdlint_httpd_largest_child_bytes{parent_pid="100",name="apache2",kind="private"} '
        f"{22 * MIB}" in lines
    )


def test_json_shape(fake: FakeProc) -> None:
    data = m.measure(proc=fake.path, min_cpu=0).to_json()
    assert data["schema"] == 1 and data["ram_bytes"] > 0
    roles = {p["pid"]: p["role"] for p in data["processes"]}
    assert roles[100] == "parent" and roles[101] == "child" and roles[200] == "other"
    for p in data["processes"]:
        assert set(p) >= {"pid", "ppid", "role", "name", "rss", "uss", "pss", "swap", "threads"}
    json.dumps(data)


def test_table(fake: FakeProc) -> None:
    text = render_table(m.measure(proc=fake.path, min_cpu=0))
    assert "httpd 100 (apache2, prefork, mod_perl.so): 3 children" in text
    assert "largest child: PID 103, private 22 MiB" in text
    assert "shared (parent anonymous + shared memory, once) 30 MiB" in text
    assert "1 piped loggers" in text


# --------------------------------------------------------------------------- command line


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


def test_cli_pid_not_running_is_one_line_exit_2(cli: typer.Typer) -> None:
    result = CliRunner().invoke(cli, ["measure", "--pid", "999999999"])
    assert result.exit_code == 2
    assert result.stderr == "no process with PID 999999999 is running\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "xml"], "unknown format 'xml'"),
        (["--duration", "ten"], "invalid duration 'ten'"),
        (["--interval", "soon"], "invalid duration 'soon'"),
    ],
)
def test_cli_bad_input(cli: typer.Typer, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["measure", *args])
    assert result.exit_code == 2 and message in result.stderr
    assert len(result.stderr.splitlines()) == 1 and "Traceback" not in result.output


def test_cli_openmetrics_written_atomically(cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "httpd.prom"
    out.write_text("old\n")
    os.chmod(out, 0o600)
    old_umask = os.umask(0o022)
    try:
        result = CliRunner().invoke(
            cli, ["measure", "--format", "openmetrics", "--output", str(out), "--no-logs"]
        )
    finally:
        os.umask(old_umask)
    assert result.exit_code == 0, result.output
    assert out.read_text().endswith("# EOF\n")
    # Readable by node_exporter (another user), and no temporary file left behind.
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["httpd.prom"]


def test_cli_output_into_missing_directory(cli: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["measure", "--no-logs", "--output", str(tmp_path / "no" / "such" / "x.prom")]
    )
    assert result.exit_code == 2 and "cannot write" in result.stderr


def test_cli_json_and_sampling(cli: typer.Typer) -> None:
    start = time.monotonic()
    result = CliRunner().invoke(
        cli, ["measure", "--format", "json", "--duration", "1s", "--interval", "0.5s", "--no-logs"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["schema"] == 1 and data["samples"] == 3
    assert time.monotonic() - start >= 1.0


@pytest.mark.parametrize(
    ("name", "httpd"),
    [
        ("apache2", True),
        ("httpd", True),
        ("httpd24", True),
        ("httpd.worker", True),
        ("httpd-prefork", True),
        ("httpdlint", False),
        ("apache2ctl", False),
        ("nginx", False),
    ],
)
def test_is_httpd_name(name: str, httpd: bool) -> None:
    assert procfs.is_httpd_name(name) is httpd


def test_config_tests_are_not_servers(fake: FakeProc) -> None:
    fake.add(700, 1, "apache2", rss=30 * MIB)
    (fake.root / "700" / "cmdline").write_bytes(b"apache2\0-t\0-f\0/tmp/x.conf\0")
    (fake.root / "100" / "cmdline").write_bytes(b"/usr/sbin/apache2\0-k\0start\0")
    fake.add(701, 1, "apache2", rss=0)
    (fake.root / "701" / "cmdline").write_bytes(b"")  # a zombie
    result = m.measure(proc=fake.path, min_cpu=0)
    assert [t.parent.pid for t in result.trees] == [100]


# Each MPM's messages as httpd 2.4's server/mpm/*/ writes them into the error log.
MPM_LIMIT_LINES = [
    ("[mpm_prefork:error] [pid 1] AH00161: server reached MaxRequestWorkers setting, "
     "consider raising the MaxRequestWorkers setting", "reached"),
    ("[mpm_worker:error] [pid 1] AH00286: server reached MaxRequestWorkers setting, "
     "consider raising the MaxRequestWorkers setting", "reached"),
    ("[mpm_event:error] [pid 1] AH00484: server reached MaxRequestWorkers setting, "
     "consider raising the MaxRequestWorkers setting", "reached"),
    ("[mpm_worker:error] [pid 1] AH00288: scoreboard is full, not at MaxRequestWorkers",
     "scoreboard-full"),
    ("[mpm_event:error] [pid 1] AH03490: scoreboard is full, not at MaxRequestWorkers."
     "Increase ServerLimit.", "scoreboard-full"),
    ("[mpm_worker:error] [pid 1] AH00287: server is within MinSpareThreads of "
     "MaxRequestWorkers, consider raising the MaxRequestWorkers setting", "near"),
    ("[mpm_event:error] [pid 1] AH10159: server is within MinSpareThreads of "
     "MaxRequestWorkers, consider raising the MaxRequestWorkers setting", "near"),
    ("[error] server reached MaxClients setting, consider raising the MaxClients setting",
     "reached"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "kind"), MPM_LIMIT_LINES)
def test_every_mpm_limit_message_is_found_with_its_kind(line: str, kind: str) -> None:
    text = "[core:notice] AH00094: Command line: 'apache2'\n" + line + "\n"
    assert history.find_limit_hits(text) == [line]
    assert history.limit_kind(line) == kind


def test_limit_warnings_name_each_kind(tmp_path: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text("\n".join(line for line, _ in MPM_LIMIT_LINES) + "\n")
    codes = [w.code for w in history.error_log_warnings([str(log)])]
    assert codes == ["limit-reached", "limit-scoreboard-full", "limit-near"]
