"""Discovery's parts: httpd's command line as main.c reads it, the rule for running a binary's
-V, a process's environment, the usual paths of each layout, -C/-c in the loader, and the
provenance every output carries."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from httpdlint.discover import (
    LAYOUTS,
    binary_refusal,
    discover,
    find_binaries,
    load_models,
    parse_options,
    running,
    usual_paths,
)
from httpdlint.errors import ConfigError
from httpdlint.loader import COMMAND_LINE_SOURCE
from httpdlint.model import load_model
from httpdlint.procfs import environ

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    "argv, conf, root, defines, before, after",
    [
        (["apache2", "-k", "start"], None, None, [], [], []),
        (["httpd", "-f", "/x/h.conf", "-d", "/x"], "/x/h.conf", "/x", [], [], []),
        (
            ["httpd", "-f/x/h.conf", "-d/x", "-DSSL", "-D", "X"],
            "/x/h.conf",
            "/x",
            ["SSL", "X"],
            [],
            [],
        ),
        (
            ["httpd", "-C", "ServerRoot /r", "-c", "Listen 81"],
            None,
            None,
            [],
            ["ServerRoot /r"],
            ["Listen 81"],
        ),
        (["httpd", "-CDefine A", "-cDefine B"], None, None, [], ["Define A"], ["Define B"]),
        # flags grouped as getopt groups them; the value ends the group
        (["httpd", "-XDFOO", "-Xf", "/a.conf"], "/a.conf", None, ["FOO"], [], []),
        # -k, -e, -E take a value that is never an option: `-e -f` sets no file
        (["httpd", "-e", "-f", "-E", "/log", "-k", "-d"], None, None, [], [], []),
        # the last -f and -d win, every -D counts
        (["httpd", "-f", "a", "-f", "b", "-D", "A", "-D", "B"], "b", None, ["A", "B"], [], []),
        # options end at `--` or at the first word that is not one
        (["httpd", "-D", "A", "--", "-D", "B"], None, None, ["A"], [], []),
        (["httpd", "-D", "A", "stray", "-f", "x"], None, None, ["A"], [], []),
        # a valued option at the end has an empty value
        (["httpd", "-f"], "", None, [], [], []),
    ],
)
def test_options_as_httpd_reads_them(argv, conf, root, defines, before, after) -> None:
    options = parse_options(argv)
    assert options.conf == conf
    assert options.root == root
    assert options.defines == defines
    assert options.before == before
    assert options.after == after


def test_options_keep_their_order_for_the_report() -> None:
    argv = ["apache2", "-k", "start", "-DFOREGROUND", "-f", "/c", "-C", "Define X", "-d", "/r"]
    assert parse_options(argv).as_list() == [
        *("-D", "FOREGROUND", "-f", "/c", "-C", "Define X", "-d", "/r"),
    ]


def test_command_line_directives_are_read_before_and_after_the_file(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        textwrap.dedent(
            """\
            LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so
            <IfDefine FROM_C>
                ServerLimit 40
                MaxRequestWorkers 40
            </IfDefine>
            MaxSpareServers 12
            """
        )
    )
    # -C defines what the file's <IfDefine> tests; -c comes last and wins over the file.
    before = ["ServerName c.test", "Define FROM_C"]
    model = load_model(str(conf), before=before, after=["MaxSpareServers 20"])
    effective = model.mpm.effective
    assert effective["MaxRequestWorkers"] == 40
    assert effective["MaxSpareServers"] == 20
    names = [(d.name, d.file) for d in model.tree]
    assert names[0] == ("ServerName", COMMAND_LINE_SOURCE)
    assert names[-1] == ("MaxSpareServers", COMMAND_LINE_SOURCE)
    plain = load_model(str(conf))
    assert plain.mpm.effective["MaxRequestWorkers"] != 40
    assert plain.mpm.effective["MaxSpareServers"] == 12


def test_default_root_yields_to_a_server_root_directive(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    conf = tmp_path / "httpd.conf"
    conf.write_text(f"ServerRoot {other}\n")
    assert load_model(str(conf), default_root="/etc").config.server_root == str(other)
    conf.write_text("ServerName x\n")
    assert load_model(str(conf), default_root=str(other)).config.server_root == str(other)
    forced = load_model(str(conf), server_root="/etc", default_root=str(other))
    assert forced.config.server_root == "/etc"


# --------------------------------------------------------------------------- running -V


def _trusted_dir(base: Path) -> Path:
    d = base / "bin"
    d.mkdir()
    d.chmod(0o755)
    return d


def test_a_binary_of_root_writable_by_no_one_else_may_run(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("files owned by root are made here only as root")
    tool = _trusted_dir(tmp_path) / "httpd"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    assert binary_refusal(str(tool)) is None
    tool.chmod(0o775)
    assert "writable by group or others" in binary_refusal(str(tool))
    tool.chmod(0o757)
    assert "writable by group or others" in binary_refusal(str(tool))
    tool.chmod(0o755)
    tool.parent.chmod(0o777)
    assert f"its directory {tool.parent} is writable" in binary_refusal(str(tool))


@ROOT_ONLY
def test_a_binary_or_directory_of_another_user_is_not_run(tmp_path: Path) -> None:
    nobody = 65534
    bindir = _trusted_dir(tmp_path)
    tool = bindir / "httpd"
    tool.write_text("#!/bin/sh\n")
    tool.chmod(0o755)
    os.chown(tool, nobody, nobody)
    assert binary_refusal(str(tool)) == f"its binary {tool} is owned by uid {nobody}, not root"
    os.chown(tool, 0, 0)
    os.chown(bindir, nobody, nobody)
    assert "its directory" in binary_refusal(str(tool))
    # A link is judged by what it points to: a root link to a user's file is refused.
    os.chown(bindir, 0, 0)
    os.chown(tool, nobody, nobody)
    link = tmp_path / "link"
    link.symlink_to(tool)
    assert "owned by uid" in binary_refusal(str(link))


def _copy_apache2(prefix: Path) -> Path:
    real = shutil.which("apache2") or "/usr/sbin/apache2"
    if not os.path.exists(real) or not os.path.isfile("/etc/apache2/apache2.conf"):
        pytest.skip("Debian's apache2 is not installed")
    sbin = prefix / "usr" / "sbin"
    sbin.mkdir(parents=True)
    for d in (prefix, prefix / "usr", sbin):
        d.chmod(0o755)
    copy = sbin / "apache2"
    shutil.copy2(real, copy)
    copy.chmod(0o755)
    return copy


def test_discovery_runs_a_trusted_binary_and_skips_an_untrusted_one(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("a root-owned copy of apache2 is made here only as root")
    copy = _copy_apache2(tmp_path)
    assert find_binaries(str(tmp_path)) == [str(copy)]
    found = discover(str(tmp_path))
    # Debian's binary compiles in HTTPD_ROOT /etc/apache2 and SERVER_CONFIG_FILE apache2.conf.
    assert (found.how, found.main, found.binary) == (
        "compiled",
        "/etc/apache2/apache2.conf",
        str(copy),
    )
    assert found.server_root == "/etc/apache2"
    usual = tmp_path / "etc/httpd/conf/httpd.conf"
    usual.parent.mkdir(parents=True)
    usual.write_text("ServerName x\n")
    copy.chmod(0o775)  # group-writable: anyone in its group could make it run anything
    notes: list[str] = []
    found = discover(str(tmp_path), notes)
    assert (found.how, found.main) == ("usual-path", str(usual))
    assert notes == [f"{copy} not run for -V: its binary {copy} is writable by group or others"]


# --------------------------------------------------------------------------- environment

HOLD = "import sys; sys.stdin.read()"


def _holder(*options: str) -> subprocess.Popen:
    """A process whose command line reads as httpd's: `httpd -c CODE OPTIONS`. Python runs
    CODE (wait for stdin to close) and leaves the rest to it; httpd would take `-c CODE` for
    a directive and read OPTIONS as its own."""
    proc = subprocess.Popen(
        ["httpd", "-c", HOLD, *options], executable=sys.executable, stdin=subprocess.PIPE
    )
    _exec_done(proc.pid)
    return proc


def _exec_done(pid: int) -> None:
    """Wait until the child has exec'd: until then /proc shows the forking parent's."""
    mine = Path("/proc/self/cmdline").read_bytes()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/cmdline").read_bytes() not in (b"", mine):
                return
        time.sleep(0.01)
    raise RuntimeError(f"process {pid} did not exec")


def test_environ_is_the_environment_the_process_started_with() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"],
        stdin=subprocess.PIPE,
        env={"HTTPDLINT_PROBE": "a=b c", "EMPTY": ""},
    )
    _exec_done(proc.pid)
    try:
        env = environ(proc.pid)
        assert env is not None
        assert env["HTTPDLINT_PROBE"] == "a=b c"
        assert env["EMPTY"] == ""
    finally:
        proc.communicate(b"")
    assert environ(proc.pid) is None  # gone


# Another user's python: this one may live where only root reads (/root/.pyenv).
SYSTEM_PYTHON = "/usr/bin/python3"


@ROOT_ONLY
def test_without_permission_for_environ_discovery_warns(tmp_path: Path) -> None:
    """As another user, root's httpd environment cannot be read: a note, not a failure."""
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        pytest.skip(f"{SYSTEM_PYTHON} is not installed")
    conf = tmp_path / "httpd.conf"
    conf.write_text("ServerName x\n")
    tmp_path.chmod(0o755)
    holder = _holder("-f", str(conf))
    code = (
        "import json, sys; from httpdlint.discover import running; notes = [];"
        f"f = running({holder.pid}, notes);"
        "print(json.dumps([f.main, f.env, f.notes, notes]))"
    )
    try:
        done = subprocess.run(
            [SYSTEM_PYTHON, "-c", code],
            capture_output=True,
            text=True,
            user=65534,
            group=65534,
            env={"PYTHONPATH": str(Path(__file__).parents[1] / "src"), "HOME": "/"},
            cwd="/",
            timeout=60,
        )
    finally:
        holder.communicate(b"")
    assert done.returncode == 0, done.stderr
    main, env, notes, others = json.loads(done.stdout)
    assert main == str(conf)
    assert env is None
    assert any(f"cannot read the environment of httpd {holder.pid}" in n for n in notes)


# --------------------------------------------------------------------------- usual paths


def test_usual_paths_cover_every_layout_named(tmp_path: Path) -> None:
    paths = usual_paths("/")
    for expected in (
        "/etc/apache2/apache2.conf",
        "/etc/httpd/conf/httpd.conf",
        "/opt/rh/httpd24/root/etc/httpd/conf/httpd.conf",
        "/etc/apache2/conf/httpd.conf",
        "/etc/apache2/httpd.conf",
        "/opt/bitnami/apache/conf/httpd.conf",
        "/opt/bitnami/apache2/conf/httpd.conf",
        "/usr/local/etc/apache24/httpd.conf",
        "/opt/homebrew/etc/httpd/httpd.conf",
        "/usr/local/etc/httpd/httpd.conf",
        "/usr/local/apache2/conf/httpd.conf",
    ):
        assert expected in paths
    assert usual_paths(str(tmp_path)) == [str(tmp_path / rel) for _, rel in LAYOUTS]


@pytest.mark.parametrize("layout, rel", LAYOUTS)
def test_each_layout_is_found_under_a_root(tmp_path: Path, layout: str, rel: str) -> None:
    main = tmp_path / rel
    main.parent.mkdir(parents=True)
    main.write_text("ServerName x\n")
    found = discover(str(tmp_path))
    assert (found.how, found.main) == ("usual-path", str(main)), layout


def test_the_first_layout_in_order_wins_and_none_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no httpd configuration found"):
        discover(str(tmp_path))
    for _, rel in LAYOUTS[3:5]:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("ServerName x\n")
    assert discover(str(tmp_path)).main == str(tmp_path / LAYOUTS[3][1])


# --------------------------------------------------------------------------- provenance


def test_a_given_path_says_so(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text("ServerName x\n")
    (model,) = load_models([str(conf)], None, [], [], None)
    assert model.found.how == "given"
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", "--format", "json", str(conf)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    doc = json.loads(done.stdout)
    assert doc["config"]["found"] == {"how": "given"}
    assert doc["config"]["root"] == str(conf)


def test_running_reads_a_relative_file_from_the_command_line_server_root(tmp_path: Path) -> None:
    """-C ServerRoot comes before the main file, so a relative -f is read from it."""
    (tmp_path / "conf").mkdir()
    conf = tmp_path / "conf" / "httpd.conf"
    conf.write_text("ServerName x\n")
    holder = _holder("-C", f"ServerRoot {tmp_path}", "-f", "conf/httpd.conf", "-D", "X")
    try:
        notes: list[str] = []
        found = running(holder.pid, notes)
    finally:
        holder.communicate(b"")
    assert found is not None
    assert (found.main, found.server_root) == (str(conf), str(tmp_path))
    assert found.options.defines == ["X"]
    assert found.to_json()["options"] == [
        *("-c", HOLD, "-C", f"ServerRoot {tmp_path}", "-f", "conf/httpd.conf", "-D", "X"),
    ]
