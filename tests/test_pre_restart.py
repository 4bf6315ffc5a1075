"""`check --pre-restart`: httpd's own verdict, the memory check, and the systemd drop-in.

The judge is the real apache2: its `-t` message must be the one reported, Debian's stock tree
must pass, a running test server (127.0.0.1, stopped by PID) whose worst case does not fit
must fail it, and the drop-in's ExecReload= lines, run as systemd runs them, must reload a
good tree gracefully and leave the server untouched when the tree is broken.
"""

from __future__ import annotations

import http.client
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from httpd_real import apache_env, run_apache
from stacklab import free_port, stop_pid

ROOT = Path(__file__).parent.parent
DROP_IN = ROOT / "docs" / "systemd" / "httpdlint.conf"
MODULES = "/usr/lib/apache2/modules"


def httpdlint(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def tree(mpm: str = "prefork", extra: str = "") -> Path:
    root = Path(tempfile.mkdtemp(prefix="httpdlint-prerestart-"))
    root.chmod(0o755)
    (root / "htdocs").mkdir()
    (root / "htdocs" / "index.html").write_text("hi")
    port = free_port()
    (root / "port").write_text(str(port))
    (root / "httpd.conf").write_text(
        f"ServerRoot {root}\n"
        "ServerName prerestart.test\n"
        f"Listen 127.0.0.1:{port}\n"
        f"PidFile {root}/httpd.pid\n"
        f"ErrorLog {root}/error.log\n"
        f"DefaultRuntimeDir {root}\n"
        "User www-data\nGroup www-data\n"
        f"LoadModule mpm_{mpm}_module {MODULES}/mod_mpm_{mpm}.so\n"
        f"LoadModule authz_core_module {MODULES}/mod_authz_core.so\n"
        f"DocumentRoot {root}/htdocs\n"
        f"<Directory {root}/htdocs>\n    Require all granted\n</Directory>\n"
        "StartServers 3\nMinSpareServers 3\nMaxSpareServers 5\n"
        "MaxRequestWorkers 150\nMaxConnectionsPerChild 1000\n" + extra
    )
    return root


def start(apache2_bin: str, root: Path) -> subprocess.Popen:
    proc = subprocess.Popen(
        [apache2_bin, "-d", str(root), "-f", str(root / "httpd.conf"), "-DFOREGROUND"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # prefork's parent signals its whole process group when it stops: not ours.
        start_new_session=True,
    )
    deadline = time.monotonic() + 20
    while len(children(proc.pid)) < 3:
        if proc.poll() is not None:
            pytest.fail(f"apache2 exited {proc.returncode}: {proc.stderr.read()}")
        if time.monotonic() > deadline:
            pytest.fail("apache2 started no children")
        time.sleep(0.05)
    port = int((root / "port").read_text())
    for _ in range(30):  # let children serve: an idle look is declined
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/")
        conn.getresponse().read()
        conn.close()
    return proc


def children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if stat.read_text().rsplit(") ", 1)[1].split()[1] == str(pid):
                out.append(int(stat.parent.name))
        except (OSError, IndexError):
            continue
    return out


def test_httpds_own_message_fails_it(apache2_bin: str) -> None:
    root = tree(extra="<Directory /srv>\n    SSLRequireSSL\n</Directory>\n")
    conf = root / "httpd.conf"
    httpd = run_apache(apache2_bin, conf, root, "-t")
    assert httpd.returncode != 0
    said = re.search(r"Syntax error on line (\d+) of [^:]+:\s*(.+)", httpd.stderr)
    assert said, httpd.stderr
    res = httpdlint("check", "--pre-restart", str(conf))
    assert res.returncode == 1, res.stdout + res.stderr
    lines = res.stdout.strip().splitlines()
    (ours,) = [ln for ln in lines if "COR023" in ln]
    assert said.group(2).strip() in ours
    assert ours.startswith(f"{conf}:{said.group(1)}: error COR023")
    assert lines[-1].startswith("httpdlint pre-restart: FAILED")


def test_debian_stock_tree_passes_quietly(debian_conf: Path) -> None:
    """Its warnings (ServerTokens OS, Timeout 300 ...) do not fail it; one line is printed."""
    res = httpdlint("check", "--pre-restart", str(debian_conf))
    assert res.returncode == 0, res.stdout + res.stderr
    (line,) = res.stdout.strip().splitlines()
    assert line.startswith("httpdlint pre-restart: passed") and "httpd -t accepts" in line
    plain = httpdlint("check", str(debian_conf))
    assert plain.returncode == 1 and "warning" in plain.stdout


def test_plain_check_never_runs_httpd(tmp_path: Path) -> None:
    """Without --pre-restart a tree httpd refuses is still only linted (no COR023)."""
    conf = tmp_path / "httpd.conf"
    conf.write_text("ErrorLog /dev/null\nSSLRequireSSL\n")
    res = httpdlint("check", str(conf), "--select", "COR023", "-f", "json")
    assert '"COR023"' not in res.stdout


def test_overcommit_on_a_running_server_fails_it(apache2_bin: str) -> None:
    root = tree()
    proc = start(apache2_bin, root)
    try:
        res = httpdlint("check", "--pre-restart", "--pid", str(proc.pid), "--ram", "64M")
        assert res.returncode == 1, res.stdout + res.stderr
        assert "CAP009" in res.stdout and "error" in res.stdout
        fits = httpdlint("check", "--pre-restart", "--pid", str(proc.pid), "--ram", "64G")
        assert fits.returncode == 0, fits.stdout + fits.stderr
    finally:
        stop_pid(proc.pid)
        proc.wait(timeout=15)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def reload_lines(mainpid: int) -> list[list[str]]:
    """The drop-in's ExecReload= commands as systemd would run them (the empty one resets
    the list), with $MAINPID set and httpdlint run from this checkout."""
    commands: list[list[str]] = []
    for raw in DROP_IN.read_text().splitlines():
        if not raw.startswith("ExecReload="):
            continue
        value = raw.split("=", 1)[1].strip()
        if not value:
            commands = []
            continue
        argv = [a.replace("$MAINPID", str(mainpid)) for a in shlex.split(value)]
        if argv[0].endswith("/httpdlint"):
            argv = [sys.executable, "-m", "httpdlint", *argv[1:]]
        commands.append(argv)
    return commands


def systemd_reload(mainpid: int) -> tuple[int, str]:
    """Run the commands in order, stopping at the first that fails, as systemd does."""
    for argv in reload_lines(mainpid):
        done = subprocess.run(argv, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            return done.returncode, done.stdout + done.stderr
    return 0, ""


def graceful_count(root: Path) -> int:
    log = (root / "error.log").read_text(errors="replace")
    return len(re.findall(r"AH00163", log))  # prefork: "configured -- resuming normal operations"


def test_systemd_drop_in_reloads_a_good_tree_and_guards_a_broken_one(apache2_bin: str) -> None:
    assert [c[-1] for c in reload_lines(42)][-1] == "42"
    root = tree(extra="LogLevel info\n")
    proc = start(apache2_bin, root)
    try:
        before = graceful_count(root)
        code, said = systemd_reload(proc.pid)
        assert code == 0, said
        deadline = time.monotonic() + 20
        while graceful_count(root) == before and time.monotonic() < deadline:
            time.sleep(0.1)
        assert graceful_count(root) > before, "no graceful restart happened"
        conf = root / "httpd.conf"
        conf.write_text(conf.read_text() + "NoSuchDirective on\n")
        settled = graceful_count(root)
        code, said = systemd_reload(proc.pid)
        assert code == 1 and "NoSuchDirective" in said, said
        time.sleep(1)
        assert proc.poll() is None, "the server went down"
        assert graceful_count(root) == settled, "a broken tree was reloaded"
    finally:
        stop_pid(proc.pid)
        proc.wait(timeout=15)
        subprocess.run(["rm", "-rf", str(root)], check=False)


def test_no_path_checks_what_apache2ctl_would_start(debian_conf: Path) -> None:
    """No PATH and no server running: apache2ctl -t (or apachectl) on this machine."""
    if debian_conf != Path("/etc/apache2/apache2.conf"):
        pytest.skip("needs this machine's own Debian tree")
    env = {**apache_env(), "HOME": os.environ.get("HOME", "/root")}
    res = httpdlint("check", "--pre-restart", env={**os.environ, **env})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "httpd -t accepts" in res.stdout
