"""Hostile input, names and numbers: compared as httpd compares them, judged by apache2 -t.

Look-alike directive names (a no-break space from copy-paste, U+0085, U+3000, \\x1c-\\x1f, a
Kelvin sign, `LoadModule>>`, a quoted name with spaces) are other names to httpd: "Invalid
command". A section without its `>` or its argument is refused. `<IfDirective ServerName>>`
asks for `ServerName>`. A `<Macro>` body is not run while reading. Numbers that atoi reads
otherwise than written are a warning. A --pid that is no httpd is refused. Each run through
the CLI is bounded in time and memory, exits as described, and prints no traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from httpd_real import run_apache
from stacklab import memory_cap

MODULES = "/usr/lib/apache2/modules"
HEAD = (
    f"LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\n"
    "Listen 127.0.0.1:8080\nErrorLog /dev/null\n"
)


def lint(*args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        errors="replace",
        timeout=60,
        preexec_fn=memory_cap,
    )
    assert "Traceback" not in done.stderr, done.stderr
    return done


def write(tmp_path: Path, body: str) -> Path:
    conf = tmp_path / "httpd.conf"
    conf.write_bytes((HEAD + body).encode("utf-8", "surrogateescape"))
    return conf


def findings(conf: Path, *select: str) -> list[dict]:
    args = ["check", str(conf), "-f", "json"]
    for code in select:
        args += ["--select", code]
    done = lint(*args)
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)["findings"]


LOOKALIKES = [
    "ServerAdmin\u00a0 a@example.com",
    "ServerAdmin\u0085 a@example.com",
    "ServerAdmin\u3000 a@example.com",
    *(f"ServerAdmin{c} a@example.com" for c in "\x1c\x1d\x1e\x1f"),
    "\u212aeepAlive On",
    "LoadModule>> x y",
    '"  ServerAdmin " a@example.com',
]


@pytest.mark.parametrize("line", LOOKALIKES, ids=lambda s: s.encode("unicode_escape").decode())
def test_a_lookalike_name_is_invalid_as_httpd_says(
    line: str, tmp_path: Path, apache2_bin: str
) -> None:
    conf = write(tmp_path, line + "\n")
    httpd = run_apache(apache2_bin, conf, tmp_path, "-t")
    assert httpd.returncode != 0 and "Invalid command" in httpd.stderr
    found = findings(conf, "COR001")
    assert [(f["line"], f["severity"]) for f in found] == [(4, "error")]
    assert "Invalid command" in found[0]["message"]


def test_ifdirective_with_a_second_bracket_is_false_as_in_httpd(
    tmp_path: Path, apache2_bin: str
) -> None:
    conf = write(tmp_path, "<IfDirective ServerName>>\nTimeout 5\n</IfDirective>\n")
    assert run_apache(apache2_bin, conf, tmp_path, "-t").returncode == 0
    dumped = lint("dump", str(conf), "-f", "json")
    assert dumped.returncode == 0
    names = [d["name"] for d in json.loads(dumped.stdout)["directives"]]
    assert "Timeout" not in names


@pytest.mark.parametrize(
    "body", ["<Directory /srv\n</Directory>\n", "<VirtualHost *:80\n</VirtualHost>\n"]
)
def test_a_section_without_its_bracket_stops_reading_with_httpds_words(
    body: str, tmp_path: Path, apache2_bin: str
) -> None:
    conf = write(tmp_path, body)
    httpd = run_apache(apache2_bin, conf, tmp_path, "-t")
    name = body.split()[0]
    message = f"{name}> directive missing closing '>'"
    assert httpd.returncode != 0 and message in httpd.stderr
    for command in ("check", "dump"):
        done = lint(command, str(conf))
        assert done.returncode == 2
        assert done.stderr.strip() == f"{conf}:4: {message}"


def test_a_section_without_its_argument_is_refused_with_httpds_words(
    tmp_path: Path, apache2_bin: str
) -> None:
    conf = write(tmp_path, "<Directory>\n</Directory>\n")
    message = "<Directory> directive requires additional arguments"
    httpd = run_apache(apache2_bin, conf, tmp_path, "-t")
    assert httpd.returncode != 0 and message in httpd.stderr
    found = findings(conf, "COR019")
    assert [(f["line"], f["severity"]) for f in found] == [(4, "error")]
    assert message in found[0]["message"]


@pytest.mark.parametrize(
    "line", ["Include /nonexistent/x.conf", "Define X", "UnDefine Y", "IncludeOptional /no/*"]
)
def test_a_macro_body_is_not_run_while_reading(line: str, tmp_path: Path, apache2_bin: str) -> None:
    body = (
        f"LoadModule macro_module {MODULES}/mod_macro.so\n"
        f"<Macro M $a>\n{line}\nTimeout $a\n</Macro>\n<IfDefine X>\nTimeout 7\n</IfDefine>\n"
    )
    conf = write(tmp_path, body)
    assert run_apache(apache2_bin, conf, tmp_path, "-t").returncode == 0
    dumped = lint("dump", str(conf), "-f", "json")
    assert dumped.returncode == 0, dumped.stderr
    assert "Timeout" not in [d["name"] for d in json.loads(dumped.stdout)["directives"]]


@pytest.mark.parametrize(("word", "value"), [("1e3", 1), ("4294967297", 1), ("150x", 150)])
def test_a_number_atoi_reads_otherwise_is_a_warning(tmp_path: Path, word: str, value: int):
    conf = write(tmp_path, f"MaxRequestWorkers {word}\n")
    found = [f for f in findings(conf, "CAP010") if "not the number" in f["message"]]
    assert [(f["line"], f["severity"]) for f in found] == [(4, "warning")]
    assert f"so the value is {value} " in found[0]["message"]
    assert not [f for f in findings(write(tmp_path, "MaxRequestWorkers 150\n"), "CAP010")]


@pytest.mark.parametrize("command", [["measure"], ["suggest", "--ram", "1G"], ["check"]])
def test_a_pid_that_is_no_httpd_is_refused_unless_forced(command: list[str]) -> None:
    done = lint(*command, "--pid", "1")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()]
    assert "--pid 1 is" in done.stderr and "--force-pid" in done.stderr


def test_force_pid_measures_the_process_it_names() -> None:
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        done = lint("measure", "--pid", str(sleeper.pid), "--force-pid", "-f", "json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["schema"] == 1
    finally:
        sleeper.kill()
        sleeper.wait()


def test_kernel_log_programs_are_not_taken_from_path(tmp_path: Path, monkeypatch) -> None:
    """A `journalctl` or `dmesg` earlier in $PATH is never run (httpdlint runs as root)."""
    from httpdlint import history

    marker = tmp_path / "ran"
    for name in ("journalctl", "dmesg"):
        fake = tmp_path / name
        fake.write_text(f"#!/bin/sh\necho {name} >> {marker}\n")
        fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:{os.environ.get('PATH', '/usr/bin:/bin')}")
    history._kernel_log_text()
    assert not marker.exists()


def test_text_after_a_sections_bracket_is_ignored_as_httpd_does(
    tmp_path: Path, apache2_bin: str
) -> None:
    """Found by the fuzzer: `<VirtualHost *:8080>#` is accepted (the last `>` ends it)."""
    conf = write(tmp_path, "<VirtualHost *:8080>#\nServerName a.test\n</VirtualHost>\n")
    assert run_apache(apache2_bin, conf, tmp_path, "-t").returncode == 0
    dumped = lint("dump", str(conf), "-f", "json")
    assert dumped.returncode == 0, dumped.stderr
    assert "ServerName" in [d["name"] for d in json.loads(dumped.stdout)["directives"]]
