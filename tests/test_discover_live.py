"""Must-show 1 of issue 14: a server started with `-f` and `-D` on its command line only is
found by `check`, `measure` and `suggest` with no PATH, and they say so.

Debian's apache2 runs from a temporary ServerRoot: `apache2 -f CONF -D SOMEDEF -DFOREGROUND`,
127.0.0.1 on a free port, stopped by PID. Its configuration sets prefork's MaxRequestWorkers
to 37 under <IfDefine SOMEDEF> and to 23 otherwise, so a reading without the -D shows 23.
Its PidFile lies in a directory named by ${DISCOVER_RUN}, a variable only the server's
environment holds: the PidFile that confirms the server is found only by reading that
environment from /proc. A second server (no -D) runs beside it, so that `check` lints both
trees and `measure` reports both; a third one's PidFile names another process, so its tree is
not taken for the one it runs.

Other sessions may run their own apache2 at the same time. `check` and `measure` read every
confirmed server, so the tests look for this tree among those read. `suggest` sizes one
server, the one with most children: this one starts 30 (StartServers), more than the test
servers here run; should another still have more, the test asserts that discovery chose by
its rule and listed this server among the others, and the `--pid` call reads this tree.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from stacklab import free_port, stop_pid

MODULES = "/usr/lib/apache2/modules"

CONF = """\
ServerRoot {root}
ServerName discover.test
Listen 127.0.0.1:{port}
PidFile ${{DISCOVER_RUN}}/httpd.pid
ErrorLog {root}/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
DocumentRoot {root}/htdocs
<IfDefine SOMEDEF>
    StartServers 30
    MinSpareServers 30
    MaxSpareServers 40
    ServerLimit 37
    MaxRequestWorkers 37
</IfDefine>
<IfDefine !SOMEDEF>
    StartServers 2
    ServerLimit 23
    MaxRequestWorkers 23
</IfDefine>
"""


def _package_server_stopped() -> None:
    """The apache2 package's own server must not run: stop it by its PidFile's PID."""
    pidfile = Path("/run/apache2/apache2.pid")
    with contextlib.suppress(OSError, ValueError):
        pid = int(pidfile.read_text().strip())
        if Path(f"/proc/{pid}/exe").resolve().name == "apache2":
            stop_pid(pid)


def _children(pid: int) -> int:
    count = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if stat.read_text().rsplit(") ", 1)[1].split()[1] == str(pid):
                count += 1
    return count


@contextlib.contextmanager
def _server(binary: str, root: Path, define: bool, children: int):
    """apache2 -f CONF [-D SOMEDEF] -DFOREGROUND, its own session and environment; the
    parent PID once its PidFile holds it, it answers, and `children` children run."""
    port = free_port()
    run = root / "run"
    run.mkdir(parents=True)
    (root / "htdocs").mkdir()
    conf = root / "site.conf"
    conf.write_text(CONF.format(root=root, port=port, modules=MODULES))
    argv = [binary, "-f", str(conf), *(["-D", "SOMEDEF"] if define else []), "-DFOREGROUND"]
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "DISCOVER_RUN": str(run)}
    proc = subprocess.Popen(
        argv,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        pidfile = run / "httpd.pid"
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"apache2 exited {proc.returncode}: {proc.stderr.read()}")
            ready = pidfile.exists() and pidfile.read_text().strip() == str(proc.pid)
            if ready and _children(proc.pid) >= children:
                with contextlib.suppress(OSError):
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"apache2 {proc.pid} not ready: {(root / 'error.log')}")
            time.sleep(0.05)
        yield proc.pid, conf
    finally:
        stop_pid(proc.pid)
        proc.wait(timeout=15)


def _httpdlint(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "DISCOVER_RUN"}
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd="/",
    )


def _json(done: subprocess.CompletedProcess, codes=(0,)) -> dict:
    assert done.returncode in codes, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def servers(apache2_bin: str):
    if not Path(MODULES, "mod_mpm_prefork.so").exists():
        pytest.skip("Debian's apache2 modules are not installed")
    _package_server_stopped()
    with (
        tempfile.TemporaryDirectory(prefix="httpdlint-discover-") as tmp,
        _server(apache2_bin, Path(tmp, "one"), True, 30) as one,
        _server(apache2_bin, Path(tmp, "two"), False, 2) as two,
        _server(apache2_bin, Path(tmp, "three"), False, 2) as three,
    ):
        # The third one's PidFile is made to name another process (init): its tree is then
        # not the one it runs, as when a PidFile is shared or stale, and must not be used.
        Path(tmp, "three", "run", "httpd.pid").write_text("1\n")
        yield one, two, three


def _ours(config: dict, pid: int, conf: Path) -> None:
    assert config["root"] == str(conf)
    assert config["server_root"] == str(conf.parent)
    found = config["found"]
    assert found["how"] == "running"
    assert found["pid"] == pid
    assert found["binary"].endswith("apache2")
    assert found["options"] == ["-f", str(conf), "-D", "SOMEDEF", "-D", "FOREGROUND"]


def test_check_without_path_lints_each_running_tree(servers) -> None:
    (pid, conf), (pid2, conf2), (pid3, conf3) = servers
    doc = _json(_httpdlint("check", "--format", "json"), codes=(0, 1))
    configs = doc.get("configs") or [doc["config"]]
    by_root = {c["root"]: c for c in configs}
    _ours(by_root[str(conf)], pid, conf)
    assert by_root[str(conf)]["mpm"]["effective"]["MaxRequestWorkers"] == 37
    assert by_root[str(conf2)]["found"]["pid"] == pid2
    assert by_root[str(conf2)]["mpm"]["effective"]["MaxRequestWorkers"] == 23
    # Not confirmed by its PidFile: not linted, and said so.
    assert str(conf3) not in by_root
    unconfirmed = f"httpd {pid3} runs {conf3}? Its PidFile holds PID 1: not used"
    assert unconfirmed in by_root[str(conf)]["found"]["notes"]
    text = _httpdlint("check")
    assert f"configuration: {conf} (running httpd {pid}: -f {conf} -D SOMEDEF" in text.stdout


def test_measure_without_path_reports_each_server_with_its_settings(servers) -> None:
    (pid, conf), (pid2, conf2), (pid3, _) = servers
    doc = _json(_httpdlint("measure", "--format", "json", "--no-logs"))
    trees = {t["parent"]: t for t in doc["httpd"]}
    _ours(trees[pid]["config"], pid, conf)
    # The MaxRequestWorkers set under the -D given only on the server's command line.
    assert trees[pid]["mpm_settings"]["MaxRequestWorkers"] == 37
    assert trees[pid]["mpm_settings"]["ServerLimit"] == 37
    assert trees[pid2]["mpm_settings"]["MaxRequestWorkers"] == 23
    assert pid3 not in trees
    assert doc["config"]["found"]["how"] == "running"
    text = _httpdlint("measure", "--no-logs").stdout
    assert f"  configuration: {conf} (running httpd {pid}: -f {conf} -D SOMEDEF" in text


def test_measure_with_pid_reads_that_servers_tree(servers) -> None:
    (pid, conf), _, _ = servers
    doc = _json(_httpdlint("measure", "--format", "json", "--no-logs", "--pid", str(pid)))
    assert [t["parent"] for t in doc["httpd"]] == [pid]
    _ours(doc["config"], pid, conf)
    assert doc["httpd"][0]["mpm_settings"]["MaxRequestWorkers"] == 37


def test_suggest_without_path_sizes_the_busiest_and_names_the_others(servers) -> None:
    (pid, conf), (pid2, _), (pid3, _) = servers
    sizing = ("--ram", "1G", "--child-size", "8M", "--no-logs")
    doc = _json(_httpdlint("suggest", "--format", "json", *sizing))
    found = doc["config"]["found"]
    assert found["how"] == "running"
    others = {o["pid"] for o in found["others"]}
    assert pid2 in others | {found["pid"]}
    assert pid3 not in others
    if found["pid"] == pid:
        _ours(doc["config"], pid, conf)
        assert doc["current"]["MaxRequestWorkers"] == 37
    else:  # another session's server has more children than ours: chosen by the rule
        assert _children(found["pid"]) >= _children(pid)
        assert pid in others
    assert any("--pid" in w["message"] for w in doc["warnings"] if w["code"] == "configuration")
    chosen = _json(_httpdlint("suggest", "--format", "json", "--pid", str(pid), *sizing))
    _ours(chosen["config"], pid, conf)
    assert chosen["current"]["MaxRequestWorkers"] == 37
    text = _httpdlint("suggest", "--pid", str(pid), *sizing).stdout
    assert f"configuration: {conf} (running httpd {pid}: -f {conf} -D SOMEDEF" in text
