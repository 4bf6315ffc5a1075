"""The install paths the README gives, run as a new admin would on Debian 12.

- The README's apt line and first command, run as written by Debian's own /usr/bin/python3
  (PEP 668 in force) in a clean environment: a fresh HOME, a minimal PATH, a copy of the
  checkout's tracked files; then the example, whose output must be the one the README shows.
- The single file (scripts/build_single.py): `check` on the example in a clean environment
  with Debian's python3, `suggest`'s jinja2 templates from inside the archive, and `measure`
  with the distribution's python3-psutil and with no site packages at all (no psutil).
- The version check .ci/run runs (vermin, Python 3.10): passes on src/, fails on 3.11-only code.

Locally a test skips when Debian's python3, python3-venv or python3-psutil is missing; under
CI=true it fails instead (.ci/run installs them).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from stacklab import need

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"
CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
EXAMPLE = "examples/outage/conf/httpd.conf"


def clean_env(home: Path) -> dict[str, str]:
    """`env -i` with what a login shell would have: no PYTHONPATH, no virtual environment."""
    env = {"PATH": CLEAN_PATH, "HOME": str(home), "LANG": "C.UTF-8"}
    # Only how this machine reaches PyPI (a proxy, a certificate bundle), nothing Python's.
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "no_proxy"):
        if name in os.environ:
            env[name] = os.environ[name]
    return env


def readme_commands() -> list[str]:
    """The lines of the README's first sh block (comments removed)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no ```sh block"
    lines = [line.split(" #", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def readme_example_output() -> str:
    """The output the README shows under `$ httpdlint check <example> ...`."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = re.search(r"```\n\$ httpdlint check examples/outage/[^\n]*\n(.*?)```", text, re.S)
    assert shown, "README.md no longer shows the example's output"
    return shown.group(1)


def debian_python() -> None:
    need(
        os.path.exists(SYSTEM_PYTHON)
        and subprocess.run(["dpkg-query", "-S", SYSTEM_PYTHON], capture_output=True).returncode
        == 0,
        f"Debian's {SYSTEM_PYTHON}",
    )


def installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return done.stdout == "install ok installed"


def copy_checkout(dest: Path) -> Path:
    """The tracked files of this checkout (working-tree contents), as a fresh clone has."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, target = ROOT / name, dest / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return dest


def test_readme_first_command_installs_with_debians_python_under_pep_668(tmp_path: Path) -> None:
    debian_python()
    commands = readme_commands()
    apt, first = commands[0], commands[1]
    assert commands[2] == "pip install -e '.[dev]' && python3 -m pytest"

    # PEP 668 is in force for this interpreter: the marker file, and pip refuses.
    stdlib = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import sysconfig; print(sysconfig.get_path('stdlib'))"],
        capture_output=True,
        text=True,
        check=True,
        env=clean_env(tmp_path),
    ).stdout.strip()
    assert Path(stdlib, "EXTERNALLY-MANAGED").is_file()
    checkout = copy_checkout(tmp_path / "checkout")
    home = tmp_path / "home"
    home.mkdir()
    env = clean_env(home)
    pip = subprocess.run([SYSTEM_PYTHON, "-m", "pip", "--version"], capture_output=True, env=env)
    if pip.returncode == 0:  # python3-pip installed: pip itself refuses
        refused = subprocess.run(
            [SYSTEM_PYTHON, "-m", "pip", "install", "--dry-run", "--no-deps", "."],
            cwd=checkout,
            capture_output=True,
            text=True,
            env=env,
        )
        assert refused.returncode != 0
        assert "externally-managed-environment" in refused.stderr

    # The apt line: what it installs is installed (.ci/run runs apt; tests do not).
    words = shlex.split(apt)
    assert words[:3] == ["sudo", "apt", "install"], apt
    for package in words[3:]:
        need(installed(package), f"the Debian package {package} (the README's apt line)")

    # In that environment `python3` is Debian's, not pyenv's or a virtual environment's.
    assert shutil.which("python3", path=CLEAN_PATH) == SYSTEM_PYTHON
    assert first.endswith("httpdlint check " + EXAMPLE + " --ram 1G --child-size 25M"), first
    done = subprocess.run(
        ["sh", "-c", first],
        cwd=checkout,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 1, done.stderr[-3000:]  # the example has findings
    assert done.stdout.endswith(readme_example_output()), done.stdout
    # The virtual environment the line made is based on Debian's interpreter.
    config = (home / ".venv/httpdlint/pyvenv.cfg").read_text()
    assert re.search(r"^home = /usr/bin$", config, re.M), config
    assert (home / ".venv/httpdlint/bin/httpdlint").is_file()


@pytest.fixture(scope="module")
def single_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """dist/httpdlint.pyz built by scripts/build_single.py, in a temporary directory."""
    out = tmp_path_factory.mktemp("pyz") / "httpdlint.pyz"
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts/build_single.py"), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def run_single(pyz: Path, cwd: Path, *args: str, flags: tuple[str, ...] = ()):
    return subprocess.run(
        [SYSTEM_PYTHON, *flags, str(pyz), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env=clean_env(cwd),
        timeout=120,
    )


def test_single_file_checks_the_example_in_a_clean_environment(
    single_file: Path, tmp_path: Path
) -> None:
    debian_python()
    names = zipfile.ZipFile(single_file).namelist()
    assert "__main__.py" in names and "httpdlint/rules/CAP009.toml" in names
    assert "httpdlint/controls/cis.toml" in names  # the benchmark sets, for `audit`
    assert "tomli/__init__.py" in names  # resolved for Python 3.10, whatever built it
    # Pure Python only: nothing compiled, which could not load from a zip anyway.
    assert not [n for n in names if n.endswith((".so", ".pyd")) or n.startswith("psutil")]
    shutil.copytree(ROOT / "examples/outage", tmp_path / "examples/outage")

    done = run_single(single_file, tmp_path, "check", EXAMPLE, "--ram", "1G", "--child-size", "25M")
    assert done.returncode == 1, done.stderr
    assert done.stdout == readme_example_output()

    version = run_single(single_file, tmp_path, "--version")
    assert (version.returncode, version.stdout) == (0, "httpdlint 0.1.0\n"), version.stderr
    # suggest renders through jinja2's PackageLoader, reading templates inside the archive.
    args = ("suggest", EXAMPLE, "--ram", "1G", "--child-size", "25M", "--no-logs")
    snippet = run_single(single_file, tmp_path, *args, "-f", "conf")
    assert snippet.returncode == 0, snippet.stderr
    assert "    MaxClients          32\n" in snippet.stdout
    # audit reads the control data inside the archive.
    audit = run_single(single_file, tmp_path, "audit", "--benchmark", "cis", EXAMPLE)
    assert audit.returncode == 1, audit.stderr
    assert "\nfail            8.1   ServerTokens is Prod or ProductOnly\n" in audit.stdout


def meminfo_total() -> int:
    with open("/proc/meminfo") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:"))


@pytest.mark.parametrize("psutil", ["python3-psutil", "none"])
def test_single_file_measures_with_or_without_the_distributions_psutil(
    single_file: Path, tmp_path: Path, psutil: str
) -> None:
    debian_python()
    # -S drops every site directory, Debian's dist-packages (python3-psutil) included.
    flags = () if psutil == "python3-psutil" else ("-S",)
    probe = subprocess.run([SYSTEM_PYTHON, *flags, "-c", "import psutil"], capture_output=True)
    if psutil == "python3-psutil":
        need(installed("python3-psutil") and probe.returncode == 0, "python3-psutil")
    else:
        assert probe.returncode != 0
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        args = ("measure", "--pid", str(sleeper.pid), "--force-pid", "-f", "json", "--no-logs")
        done = run_single(single_file, tmp_path, *args, flags=flags)
    finally:
        os.kill(sleeper.pid, signal.SIGKILL)
        sleeper.wait()
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["physical_bytes"] == meminfo_total()
    (process,) = [p for p in report["processes"] if p["pid"] == sleeper.pid]
    assert process["name"] == "sleep" and process["exact"] is True
    assert 0 < process["private"] <= process["rss"]


def ci_vermin_command() -> list[str]:
    lines = (ROOT / ".ci/run").read_text().splitlines()
    (line,) = [line for line in lines if line.startswith("vermin ")]
    assert lines.index(line) < lines.index("python3 -m pytest"), "vermin runs before the tests"
    return shlex.split(line)


def test_ci_run_keeps_src_free_of_3_11_only_code(tmp_path: Path) -> None:
    command = ci_vermin_command()
    assert "--target=3.10-" in command and "--violations" in command
    assert command[-2:] == ["src", "scripts"]
    text = (ROOT / "pyproject.toml").read_text()
    assert 'requires-python = ">=3.10"' in text and 'target-version = "py310"' in text
    need(shutil.which("vermin") is not None, "vermin (the dev extra)")

    passed = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stdout
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "new.py").write_text(
        '"""3.11-only."""\nimport datetime\nimport tomllib\n\nprint(datetime.UTC, tomllib)\n'
    )
    failed = subprocess.run([*command[:-2], str(bad)], capture_output=True, text=True)
    assert failed.returncode != 0
    assert "'tomllib' module requires" in failed.stdout
    assert "'datetime.UTC' member requires" in failed.stdout
