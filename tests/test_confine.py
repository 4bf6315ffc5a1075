"""`--confine DIR`: includes outside DIR are errors, and nothing outside DIR is looked at.

The judge is the kernel: the run is traced with strace (every system call on a path), and each
path must lie in DIR, be one of DIR's parents (resolving DIR itself), belong to httpdlint's
own package data, or be something the interpreter touches anyway when it imports httpdlint
(measured by tracing that alone, in the same environment).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from stacklab import memory_cap

from httpdlint import engine

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
_PATH = re.compile(r'^\d+\s+\w+\((?:AT_FDCWD, |\d+, )?"([^"]*)"', re.M)


def strace() -> str:
    found = shutil.which("strace")
    if found is None:
        if IN_CI:
            pytest.fail("strace is required in CI (CI=true): .ci/run installs it")
        pytest.skip("strace is not installed")
    return found


def traced(tmp: Path, cwd: Path, *argv: str) -> tuple[subprocess.CompletedProcess, set[str]]:
    log = tmp / f"trace-{len(list(tmp.glob('trace-*')))}.log"
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd), "LANG": "C.UTF-8"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    done = subprocess.run(
        [strace(), "-f", "-qq", "-e", "trace=%file", "-o", str(log), *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
        preexec_fn=memory_cap,
    )
    return done, set(_PATH.findall(log.read_text(errors="replace")))


def tree(base: Path) -> Path:
    repo = base / "repo"
    (repo / "conf.d").mkdir(parents=True)
    (repo / "httpd.conf").write_text(
        f"ServerRoot {repo}\n"
        "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
        "Listen 8080\nInclude conf.d/*.conf\n"
    )
    (repo / "conf.d" / "site.conf").write_text("ServerName a.test\nDocumentRoot /srv/www\n")
    return repo


def lint(*args: str) -> list[str]:
    return [sys.executable, "-m", "httpdlint", *args]


def test_nothing_outside_dir_is_looked_at(tmp_path: Path) -> None:
    repo = tree(tmp_path)
    _, baseline = traced(tmp_path, repo, sys.executable, "-c", "import httpdlint.cli")
    # httpdlint's own files, the interpreter's (its modules are imported lazily) and the
    # system's shared libraries: none of them is named by the configuration.
    own = Path(engine.__file__).parent
    package = [str(engine.rules_dir()), str(own), sys.prefix, sys.base_prefix, "/lib", "/usr/lib"]
    ancestors = {str(p) for p in (*repo.parents, *own.parents)} | {str(repo)}
    for args in (
        ["check", "--confine", str(repo), str(repo / "httpd.conf"), "-f", "json"],
        ["dump", "--confine", str(repo), str(repo / "httpd.conf")],
        ["explain", "--confine", str(repo), "http://a.test/", str(repo / "httpd.conf")],
    ):
        done, paths = traced(tmp_path, repo, *lint(*args))
        assert done.returncode in (0, 1), done.stderr
        outside = sorted(
            p
            for p in paths - baseline - ancestors
            if not p.startswith(str(repo) + "/")
            and not any(p == d or p.startswith(d + "/") for d in package)
            and p != "/etc/localtime"
        )
        assert not outside, f"{args[0]} looked at {outside[:20]}"


def test_rules_that_need_the_machine_are_skipped(tmp_path: Path) -> None:
    repo = tree(tmp_path)
    done = subprocess.run(
        lint("check", "--confine", str(repo), str(repo / "httpd.conf"), "-f", "json"),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=memory_cap,
    )
    skipped = {s["rule"] for s in json.loads(done.stdout)["skipped"]}
    assert {"COR007", "CAP009"} <= skipped


@pytest.mark.parametrize(
    ("include", "where"),
    [
        ("Include /etc/passwd", "conf.d/bad.conf:1"),
        ("Include ../outside/*.conf", "conf.d/bad.conf:1"),
        ("IncludeOptional /etc/apache2/*.conf", "conf.d/bad.conf:1"),
    ],
)
def test_an_include_outside_dir_is_an_error_at_its_line(
    tmp_path: Path, include: str, where: str
) -> None:
    repo = tree(tmp_path)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "x.conf").write_text("ServerAdmin x@example.com\n")
    (repo / "conf.d" / "bad.conf").write_text(include + "\n")
    done = subprocess.run(
        lint("check", "--confine", str(repo), str(repo / "httpd.conf")),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=memory_cap,
    )
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert f"{repo}/{where}: " in done.stderr and "is outside --confine" in done.stderr


def test_a_link_out_of_dir_is_refused_before_it_is_followed(tmp_path: Path) -> None:
    repo = tree(tmp_path)
    (repo / "conf.d" / "evil.conf").symlink_to("/etc/passwd")
    done, paths = traced(
        tmp_path, repo, *lint("check", "--confine", str(repo), str(repo / "httpd.conf"))
    )
    assert done.returncode == 2 and "is outside --confine" in done.stderr
    assert "/etc/passwd" not in paths


@pytest.mark.parametrize(
    "extra", [[], ["--pid", "1"], ["--pre-restart"]], ids=["no-path", "pid", "pre-restart"]
)
def test_what_reaches_outside_by_nature_is_refused(tmp_path: Path, extra: list[str]) -> None:
    repo = tree(tmp_path)
    paths = [] if not extra else [str(repo / "httpd.conf")]
    done = subprocess.run(
        lint("check", "--confine", str(repo), *paths, *extra),
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=memory_cap,
    )
    assert done.returncode == 2 and "not with --confine" in done.stderr
