"""`suggest --apply`: only the MPM lines change, backups, refusals, restore, a kill, restarts.

The trees are copies of Debian's stock /etc/apache2 (symbolic links kept) checked by the real
apache2, and small trees of our own where a fake validator stands in for httpd.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from httpd_real import apache_env, run_apache

from httpdlint import apply as ap
from httpdlint.errors import ConfigError
from httpdlint.fpm import read_fpm_config
from httpdlint.output import PAUSE_ENV
from httpdlint.pathmatch import include_reads

SIZES = ["--ram", "2G", "--child-size", "30M", "--shared", "50M", "--reserve", "200M"]
TMP_GLOB = ".*.httpdlint-tmp.*"


def httpdlint(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        timeout=120,
        **kw,
    )


def apply_args(tree: Path, *extra: str) -> list[str]:
    return ["suggest", str(tree), *SIZES, "--no-logs", "--apply", *extra]


def copy_debian(debian_conf: Path, where: Path) -> Path:
    tree = where / "apache2"
    shutil.copytree(debian_conf.parent, tree, symlinks=True)
    return tree


def snapshot(tree: Path) -> dict[str, tuple]:
    """Every entry under `tree` (backups aside): a link's target, a file's bytes and mode."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames[:] = [d for d in dirnames if d != ap.SIBLING_BACKUPS]
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, tree)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", st.st_mode)
            else:
                out[rel] = ("file", Path(path).read_bytes(), st.st_mode, st.st_uid, st.st_gid)
    return out


def mpm_file(tree: Path) -> Path:
    """The file holding the loaded MPM's settings (a link in mods-enabled on Debian)."""
    for conf in sorted((tree / "mods-enabled").glob("mpm_*.conf")):
        return conf
    raise AssertionError("no MPM configuration enabled")


def validator(where: Path, message: str, status: int) -> str:
    script = where / "fake-httpd"
    script.write_text(f"#!/bin/sh\necho '{message}' >&2\nexit {status}\n")
    script.chmod(0o755)
    return str(script)


def wait_for(pattern: str, proc: subprocess.Popen, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = glob.glob(pattern)
        if found:
            return found[0]
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}: {proc.communicate()}")
        time.sleep(0.05)
    raise AssertionError(f"no {pattern} within {timeout}s")


# --------------------------------------------------------------------------- Debian's tree


@pytest.mark.apache
def test_apply_on_debian_changes_only_the_mpm_lines_and_apache2_accepts_it(
    apache2_bin: str, debian_conf: Path, tmp_path: Path
) -> None:
    tree = copy_debian(debian_conf, tmp_path)
    before = snapshot(tree)
    link = mpm_file(tree)
    target = link.resolve()
    res = httpdlint(*apply_args(tree, "--yes", "--httpd", apache2_bin))
    assert res.returncode == 0, res.stderr
    assert f"--- {link}" in res.stdout and "Syntax OK" in res.stdout
    after = snapshot(tree)
    rel = os.path.relpath(target, tree)
    assert after.keys() == before.keys()
    assert [k for k in before if before[k] != after[k]] == [rel]
    for key, entry in before.items():  # links stay links, to the same place
        if entry[0] == "link":
            assert after[key] == entry and os.path.islink(tree / key)
    old, new = before[rel], after[rel]
    assert old[2:] == new[2:]  # mode and owner kept
    old_lines, new_lines = old[1].decode().splitlines(), new[1].decode().splitlines()
    removed = [ln for ln in old_lines if ln not in new_lines]
    added = [ln for ln in new_lines if ln not in old_lines]
    settings = json.loads(httpdlint("suggest", str(tree), *SIZES, "--no-logs", "-f", "json").stdout)
    names = {k.lower() for k in settings["recommended"]}
    assert added and all(ln.split()[0].lower() in names for ln in added + removed)
    for ln in added:
        word, value = ln.split()
        assert int(value) == next(v for k, v in settings["recommended"].items() if k == word)
    # Every line kept is still there, in order.
    kept = [ln for ln in new_lines if ln not in added]
    assert kept == [ln for ln in old_lines if ln not in removed]
    backups = list((target.parent / ap.SIBLING_BACKUPS).iterdir())
    assert len(backups) == 1 and backups[0].read_bytes() == old[1]
    assert backups[0].stat().st_mode == old[2]
    assert str(backups[0]) in res.stdout
    checked = run_apache(
        apache2_bin, tree / "apache2.conf", tree, "-t", env=apache_env(tree / "envvars")
    )
    assert checked.returncode == 0 and "Syntax OK" in checked.stderr + checked.stdout


def test_failed_validation_restores_every_file(debian_conf: Path, tmp_path: Path) -> None:
    tree = copy_debian(debian_conf, tmp_path)
    target = mpm_file(tree).resolve()
    target.chmod(0o640)
    before = snapshot(tree)
    fake = validator(tmp_path, "fake-httpd: Invalid command Bogus, the validator says no", 1)
    res = httpdlint(*apply_args(tree, "--yes", "--httpd", fake))
    assert res.returncode == 2
    assert "Invalid command Bogus, the validator says no" in res.stderr
    assert "restored" in res.stderr and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert snapshot(tree) == before
    assert not glob.glob(str(target.parent / TMP_GLOB))


def test_symlink_leaving_the_tree_is_refused(debian_conf: Path, tmp_path: Path) -> None:
    tree = copy_debian(debian_conf, tmp_path)
    link = mpm_file(tree)
    outside = tmp_path / "elsewhere" / link.name
    outside.parent.mkdir()
    outside.write_bytes(link.read_bytes())
    link.unlink()
    link.symlink_to(outside)
    before, content = snapshot(tree), outside.read_bytes()
    res = httpdlint(*apply_args(tree, "--yes", "--httpd", validator(tmp_path, "ok", 0)))
    assert res.returncode == 2
    assert "outside the configuration tree" in res.stderr and str(link) in res.stderr
    assert snapshot(tree) == before and outside.read_bytes() == content
    assert not (outside.parent / ap.SIBLING_BACKUPS).exists()


def _as_nobody(args: list[str], warm_up: list[str]) -> tuple[int, str]:
    """Run httpdlint as nobody: setpriv when nobody can run this interpreter, else a forked
    child that drops to nobody as setpriv does (the interpreter lives where nobody cannot
    read, e.g. under /root): `warm_up`, the same command on another copy run here first,
    imports every module the child will need."""
    user = pwd.getpwnam("nobody")
    setpriv = shutil.which("setpriv")
    drop = [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"] if setpriv else []
    probe = subprocess.run(
        [*drop, sys.executable, "-c", "import httpdlint.cli"], capture_output=True, env=os.environ
    ) if setpriv else None  # fmt: skip
    if probe is not None and probe.returncode == 0:
        done = subprocess.run(
            [*drop, sys.executable, "-m", "httpdlint", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        return done.returncode, done.stderr
    from typer.testing import CliRunner

    import httpdlint.cli

    warmed = CliRunner().invoke(httpdlint.cli.app, warm_up)
    assert warmed.exit_code == 0, warmed.output
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code, err = 70, ""
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            res = CliRunner().invoke(httpdlint.cli.app, args)
            code, err = res.exit_code, res.stderr
        finally:
            os.write(write, json.dumps([code, err]).encode())
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as f:
        data = f.read()
    os.waitpid(pid, 0)
    code, err = json.loads(data)
    return code, err


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a command as nobody")
def test_a_file_the_user_cannot_write_is_refused(debian_conf: Path) -> None:
    top = Path(tempfile.mkdtemp(prefix="httpdlint-nobody-", dir="/tmp"))
    try:
        top.chmod(0o755)
        tree = copy_debian(debian_conf, top)
        spare = copy_debian(debian_conf, top / "spare")
        before = snapshot(tree)
        code, err = _as_nobody(
            apply_args(tree, "--yes", "--httpd", "/bin/true"),
            apply_args(spare, "--yes", "--httpd", "/bin/true"),
        )
        assert code == 2, err
        assert "nobody" in err and "cannot write" in err and "not written" in err
        assert snapshot(tree) == before
        assert not list(tree.rglob(ap.SIBLING_BACKUPS))
    finally:
        shutil.rmtree(top)


def test_a_target_changed_since_it_was_read_is_refused(debian_conf: Path, tmp_path: Path) -> None:
    tree = copy_debian(debian_conf, tmp_path)
    target = mpm_file(tree).resolve()
    cmd = [sys.executable, "-m", "httpdlint", *apply_args(tree, "--yes", "--httpd", "/bin/true")]
    proc = subprocess.Popen(
        cmd,
        env={**os.environ, PAUSE_ENV: "4"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for(str(target.parent / TMP_GLOB), proc)
        with target.open("a") as f:
            f.write("# an admin's edit meanwhile\n")
        edited = target.read_bytes()
        out, err = proc.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
    assert proc.returncode == 2
    assert "changed since it was read" in err and str(mpm_file(tree)) in err
    assert target.read_bytes() == edited
    assert not glob.glob(str(target.parent / TMP_GLOB))


def test_a_kill_before_the_rename_leaves_the_original_and_a_later_run_cleans_up(
    debian_conf: Path, tmp_path: Path
) -> None:
    tree = copy_debian(debian_conf, tmp_path)
    target = mpm_file(tree).resolve()
    original = target.read_bytes()
    args = apply_args(tree, "--yes", "--httpd", validator(tmp_path, "Syntax OK", 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "httpdlint", *args],
        env={**os.environ, PAUSE_ENV: "600"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
    )
    try:
        temp = wait_for(str(target.parent / TMP_GLOB), proc)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert target.read_bytes() == original and os.path.exists(temp)
    assert os.path.islink(mpm_file(tree))
    res = httpdlint(*args)
    assert res.returncode == 0, res.stderr
    assert f"removed {temp}, left by an interrupted run" in res.stdout
    assert not glob.glob(str(target.parent / TMP_GLOB))
    assert target.read_bytes() != original


def test_without_yes_and_without_a_terminal_nothing_is_written(
    debian_conf: Path, tmp_path: Path
) -> None:
    tree = copy_debian(debian_conf, tmp_path)
    before = snapshot(tree)
    res = httpdlint(*apply_args(tree))
    assert res.returncode == 2
    assert res.stderr == "not applied: standard input is not a terminal; give --yes to write\n"
    assert res.stdout.startswith("--- ")  # the diff is shown first
    assert snapshot(tree) == before


# --------------------------------------------------------------------------- small trees


def small_tree(where: Path, body: str, mpm: str = "prefork") -> Path:
    conf = where / "httpd.conf"
    conf.write_text(
        f'ServerRoot "{where}"\n'
        f"LoadModule mpm_{mpm}_module /usr/lib/apache2/modules/mod_mpm_{mpm}.so\n" + body
    )
    return conf


def recommended(conf: Path, *extra: str) -> dict[str, int]:
    res = httpdlint("suggest", str(conf), *SIZES, "--no-logs", "-f", "json", *extra)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["recommended"]


def test_full_restart_notice_when_serverlimit_changes(tmp_path: Path) -> None:
    conf = small_tree(
        tmp_path, "<IfModule mpm_prefork_module>\n    MaxRequestWorkers 150\n</IfModule>\n"
    )
    res = httpdlint(*apply_args(conf, "--yes", "--httpd", validator(tmp_path, "Syntax OK", 0)))
    assert res.returncode == 0, res.stderr
    limit = recommended(conf)["ServerLimit"]
    assert f"ServerLimit 256 -> {limit} needs a full restart" in res.stdout
    assert "AH00179" in res.stdout and "not allowed during restart" in res.stdout
    assert "graceful restart (apachectl graceful) puts it into effect" not in res.stdout


def test_no_full_restart_notice_when_the_limits_stay(tmp_path: Path) -> None:
    conf = small_tree(tmp_path, "")
    limit = recommended(conf)["ServerLimit"]
    body = (
        "<IfModule mpm_prefork_module>\n"
        f"\tServerLimit\t{limit}\n"
        "\tMaxRequestWorkers\t150\n"
        "</IfModule>\n"
    )
    conf = small_tree(tmp_path, body)
    res = httpdlint(*apply_args(conf, "--yes", "--httpd", validator(tmp_path, "Syntax OK", 0)))
    assert res.returncode == 0, res.stderr
    assert "full restart" not in res.stdout and "AH00" not in res.stdout
    assert "a graceful restart (apachectl graceful) puts it into effect" in res.stdout
    text = conf.read_text()
    assert f"\tServerLimit\t{limit}\n" in text
    assert f"\tMaxRequestWorkers\t{limit}\n" in text  # value replaced, tabs kept


def test_full_restart_notice_names_threadlimit_for_event(tmp_path: Path) -> None:
    conf = small_tree(
        tmp_path,
        "<IfModule mpm_event_module>\n    ThreadsPerChild 25\n</IfModule>\n",
        mpm="event",
    )
    args = apply_args(conf, "--yes", "--httpd", validator(tmp_path, "Syntax OK", 0))
    res = httpdlint(*args, "--threads-per-child", "100")
    assert res.returncode == 0, res.stderr
    assert "ThreadLimit 64 -> 100 needs a full restart" in res.stdout
    assert "AH00506" in res.stdout and "AH00501" in res.stdout  # ServerLimit changes too
    words = [ln.split()[0] for ln in conf.read_text().splitlines()[3:-1]]
    # The limits go before the first MPM line (2.2 checks the others against them as it
    # reads), the others after the last.
    assert words[:3] == ["ServerLimit", "ThreadLimit", "ThreadsPerChild"]
    assert words[-1] == "MaxRequestWorkers"


def test_no_mpm_directive_anywhere_adds_a_block_to_the_loadmodule_file(tmp_path: Path) -> None:
    load = tmp_path / "mpm.load"
    load.write_text("LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_prefork.so")
    conf = tmp_path / "httpd.conf"
    conf.write_text(f'ServerRoot "{tmp_path}"\r\nInclude mpm.load\r\nListen 80\r\n')
    before = conf.read_bytes()
    res = httpdlint(*apply_args(conf, "--yes", "--httpd", validator(tmp_path, "Syntax OK", 0)))
    assert res.returncode == 0, res.stderr
    assert conf.read_bytes() == before
    text = load.read_text()
    assert text.startswith("LoadModule mpm_prefork_module /usr/lib/apache2/modules/mod_mpm_")
    assert "so\n\n<IfModule mpm_prefork_module>\n    ServerLimit " in text
    assert text.endswith("</IfModule>\n")


def test_backup_goes_elsewhere_when_an_include_reads_the_sibling_directory(
    tmp_path: Path,
) -> None:
    conf = small_tree(tmp_path, "Include conf.d\n")
    (tmp_path / "conf.d").mkdir()
    mpm = tmp_path / "conf.d" / "mpm.conf"
    mpm.write_text("<IfModule mpm_prefork_module>\n    MaxRequestWorkers 150\n</IfModule>\n")
    args = apply_args(conf, "--yes", "--httpd", validator(tmp_path, "Syntax OK", 0))
    res = httpdlint(*args, "--backup-dir", str(tmp_path / "conf.d" / "old"))
    assert res.returncode == 2
    assert f"Include {tmp_path}/conf.d would read a backup" in res.stderr
    backups = tmp_path / "backups"
    res = httpdlint(*args, "--backup-dir", str(backups))
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "conf.d" / ap.SIBLING_BACKUPS).exists()
    assert [p.name.rsplit(".", 1)[0] for p in backups.iterdir()] == [
        str(mpm).strip("/").replace("/", "%")
    ]


def test_include_reads_follows_apr_matching() -> None:
    assert include_reads("/etc/apache2/mods-enabled/*.conf", "/etc/apache2/mods-enabled/a.conf")
    assert not include_reads(
        "/etc/apache2/mods-enabled/*.conf", "/etc/apache2/mods-enabled/.httpdlint-backup/a.conf"
    )
    assert not include_reads("/etc/httpd/conf.d/*", "/etc/httpd/conf.d/.httpdlint-backup/x")
    assert include_reads("/etc/httpd/conf.d/*", "/etc/httpd/conf.d/sub/x")  # a directory
    assert include_reads("/etc/httpd/conf.d", "/etc/httpd/conf.d/.httpdlint-backup/x")
    assert not include_reads("/etc/httpd/conf.d", "/etc/httpd/conf.dx")
    assert include_reads("/etc/httpd/conf.modules.d/*.conf", "/etc/httpd/conf.modules.d/0.conf")
    assert not include_reads("/etc/httpd/conf.modules.d/*.conf", "/var/backups/httpdlint/x")


# --------------------------------------------------------------------------- PHP-FPM


def fpm_tree(where: Path) -> Path:
    (where / "pool.d").mkdir()
    conf = where / "php-fpm.conf"
    conf.write_text(
        f"[global]\npid = {where}/fpm.pid\nerror_log = {where}/fpm.log\n"
        f"include = {where}/pool.d/*.conf\n"
    )
    (where / "pool.d" / "www.conf").write_text(
        f"[www]\nuser = nobody\nlisten = {where}/www.sock\npm = dynamic\n"
        "pm.max_children = 50 ; the pool's size\n"
        "pm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 8\n"
    )
    return conf


def fpm_plan(conf: Path, children: int) -> ap.Plan:
    pool = read_fpm_config(str(conf)).pools[0]
    suggestion = SimpleNamespace(
        recommendation=SimpleNamespace(pools={"php-fpm www": {"pm.max_children": children}}),
        gathered=SimpleNamespace(pool_files={"php-fpm www": (str(conf), pool)}),
    )
    files = ap._Files()
    notes: list[str] = []
    ap._plan_pools(suggestion, files, notes)
    return ap.Plan(list(files.by_real.values()), [], notes)


def ok_check():
    return SimpleNamespace(ok=True, command=["httpd", "-t"], message="")


def test_pool_max_children_is_written_and_checked_by_php_fpm(tmp_path: Path) -> None:
    if ap._php_fpm("/etc/php/8.2/fpm/php-fpm.conf") is None:
        pytest.skip("php-fpm is not installed")
    conf = fpm_tree(tmp_path)
    pool = tmp_path / "pool.d" / "www.conf"
    before = pool.read_text()
    said = ap.apply(fpm_plan(conf, 12), includes=[], httpd_check=ok_check)
    assert pool.read_text() == before.replace("= 50 ;", "= 12 ;")
    assert any("php-fpm" in line and "test is successful" in line for line in said)
    # Below pm.max_spare_servers php-fpm refuses: the pool file comes back as it was.
    with pytest.raises(ConfigError, match="cannot be greater than pm.max_children.*restored"):
        ap.apply(fpm_plan(conf, 4), includes=[], httpd_check=ok_check)
    assert pool.read_text() == before.replace("= 50 ;", "= 12 ;")


def test_on_a_terminal_it_asks_and_a_no_writes_nothing(tmp_path: Path) -> None:
    import io

    from httpdlint import suggest as sg
    from httpdlint.inputs import SizingOptions
    from httpdlint.model import load_model

    conf = small_tree(
        tmp_path, "<IfModule mpm_prefork_module>\n    MaxRequestWorkers 150\n</IfModule>\n"
    )
    before = conf.read_bytes()
    model = load_model(str(conf))
    opts = SizingOptions(ram=2 << 30, child=30 << 20, shared=50 << 20, reserve=200 << 20)
    result = sg.suggest(model, SizingOptions(**{**opts.__dict__, "live": False}), logs=False)
    asked: list[str] = []

    def answer(reply: bool):
        def ask(prompt: str) -> bool:
            asked.append(prompt)
            return reply

        return ask

    out = io.StringIO()
    with pytest.raises(ConfigError, match="not applied"):
        ap.run(model, result, out=out, yes=False, interactive=True, ask=answer(False),
               httpd_check=ok_check)  # fmt: skip
    assert asked == ["Write these changes?"] and conf.read_bytes() == before
    assert out.getvalue().startswith(f"--- {conf}\n+++ {conf}\n")
    ap.run(model, result, out=out, yes=False, interactive=True, ask=answer(True),
           httpd_check=ok_check)  # fmt: skip
    assert b"MaxRequestWorkers 54" in conf.read_bytes() and len(asked) == 2
