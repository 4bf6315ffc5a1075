"""Issue 13, output: `--output` targets (devices and FIFOs written into, never replaced; full
devices, full disks and closed pipes one line and exit 2), output that never fails to encode
(bytes that are not UTF-8 and control characters shown as `\\xNN` in every format), and
configurations that once crashed the checks (an empty-string argument to every directive).

Everything runs the CLI in a subprocess with a hard timeout and a memory cap.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest
import xmlschema
from stacklab import memory_cap

from httpdlint import knowledge
from httpdlint.output import TEMP_MARK, sanitize

FIXTURES = Path(__file__).parent / "fixtures"
SARIF_SCHEMA = FIXTURES / "sarif" / "sarif-schema-2.1.0.json"
JUNIT_SCHEMAS = [FIXTURES / "junit" / "junit-10.xsd", FIXTURES / "junit" / "JUnit.xsd"]
FORMATS = ("text", "json", "sarif", "github", "junit", "gitlab")
MEMORY = 2 << 30
STRICT = {"LC_ALL": "C.UTF-8", "PYTHONIOENCODING": "utf-8:strict"}
ASCII = {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}


def cli(*args: str, env: dict | None = None, timeout: float = 120, **kwargs):
    """httpdlint in a subprocess, bounded in time and memory; output as bytes."""
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        capture_output="stdout" not in kwargs,
        stderr=subprocess.PIPE if "stdout" in kwargs else None,
        timeout=timeout,
        preexec_fn=memory_cap,
        check=False,
        **kwargs,
    )


def no_traceback(done) -> None:
    err = done.stderr.decode("utf-8")  # stderr is valid UTF-8 too
    assert "Traceback" not in err and "Error:" not in err.replace("error:", ""), err


def one_line_error(done, *words: str) -> str:
    """Exit 2 with exactly one line on stderr (naming each of `words`), no traceback."""
    no_traceback(done)
    err = done.stderr.decode("utf-8")
    assert done.returncode == 2, (done.returncode, err)
    assert err.count("\n") == 1 and err.endswith("\n"), err
    for word in words:
        assert word in err, err
    return err


def tree(tmp_path: Path, *lines: bytes, files: dict[bytes, bytes] | None = None) -> Path:
    root = tmp_path / "conf"
    root.mkdir()
    head = [b"ServerRoot " + str(root).encode(), b"Listen 80"]
    main = root / "httpd.conf"
    main.write_bytes(b"\n".join(head + list(lines)) + b"\n")
    for name, body in (files or {}).items():
        (root / os.fsdecode(name)).write_bytes(body)
    return main


@pytest.fixture
def simple(tmp_path: Path) -> Path:
    return tree(tmp_path, b"ServerName www.example.com")


# -- output targets ---------------------------------------------------------------------------


def test_output_onto_a_character_device_writes_into_it(tmp_path: Path, simple: Path) -> None:
    where = tmp_path / "dev"
    where.mkdir()
    node = where / "null"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except PermissionError:
        pytest.skip("mknod needs CAP_MKNOD")
    done = cli("check", str(simple), "--exit-zero", "-o", str(node))
    no_traceback(done)
    assert done.returncode == 0
    assert stat.S_ISCHR(os.lstat(node).st_mode)
    assert os.lstat(node).st_rdev == os.makedev(1, 3)
    assert os.listdir(where) == ["null"]  # no temporary file, nothing renamed
    for command in (["dump", str(simple)], ["dump", "-f", "json", str(simple)]):
        assert cli(*command, "-o", str(node)).returncode == 0
        assert stat.S_ISCHR(os.lstat(node).st_mode) and os.listdir(where) == ["null"]


def test_output_onto_a_fifo_writes_into_it(tmp_path: Path, simple: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    done = cli("dump", "-f", "json", str(simple), "-o", str(fifo), timeout=60)
    thread.join(30)
    no_traceback(done)
    assert done.returncode == 0
    assert json.loads(got[0])["schema"] == 1
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert sorted(os.listdir(tmp_path)) == ["conf", "pipe"]


def test_output_onto_dev_full_is_one_line(simple: Path) -> None:
    if not stat.S_ISCHR(os.stat("/dev/full").st_mode):
        pytest.skip("no /dev/full")
    one_line_error(cli("check", str(simple), "-o", "/dev/full"), "/dev/full", "No space")
    one_line_error(cli("dump", str(simple), "-o", "/dev/full"), "/dev/full", "No space")
    assert stat.S_ISCHR(os.stat("/dev/full").st_mode)


def test_stdout_on_a_full_device_is_one_line(simple: Path) -> None:
    with open("/dev/full", "wb") as full:
        for args in (["check", str(simple)], ["dump", str(simple)], ["rules"]):
            one_line_error(cli(*args, stdout=full), "standard output", "No space")


def test_stdout_into_a_closed_pipe_is_one_line(simple: Path) -> None:
    read, write = os.pipe()
    os.close(read)
    try:
        for args in (["check", str(simple), "-f", "json"], ["dump", str(simple)]):
            one_line_error(cli(*args, stdout=write), "standard output", "Broken pipe")
    finally:
        os.close(write)


def test_output_through_dev_stdout_reaches_stdout(simple: Path, tmp_path: Path) -> None:
    link = tmp_path / "stdout"
    link.symlink_to("/proc/self/fd/1")
    for target in ("/dev/stdout", str(link)):
        done = cli("dump", "-f", "json", str(simple), "-o", target)
        no_traceback(done)
        assert done.returncode == 0
        assert json.loads(done.stdout)["schema"] == 1
    assert link.is_symlink()
    # Standard output redirected to a file: written there, not renamed over it.
    out = tmp_path / "out.json"
    with open(out, "wb") as fh:
        done = cli("dump", "-f", "json", str(simple), "-o", "/dev/stdout", stdout=fh)
    assert done.returncode == 0 and json.loads(out.read_bytes())["schema"] == 1
    # Appended to (`>>`): appended, not truncated.
    with open(out, "ab") as fh:
        done = cli("dump", "-f", "json", str(simple), "-o", "/dev/stdout", stdout=fh)
    assert done.returncode == 0
    first, second = out.read_bytes().split(b"}\n{")
    assert json.loads(first + b"}")["schema"] == json.loads(b"{" + second)["schema"] == 1


def test_output_through_a_symlink_writes_its_target(simple: Path, tmp_path: Path) -> None:
    target = tmp_path / "real.json"
    target.write_text("old")
    link = tmp_path / "link.json"
    link.symlink_to(target)
    done = cli("dump", "-f", "json", str(simple), "-o", str(link))
    assert done.returncode == 0, done.stderr
    assert link.is_symlink() and json.loads(target.read_text())["schema"] == 1


def test_output_refuses_a_directory(simple: Path, tmp_path: Path) -> None:
    one_line_error(cli("dump", str(simple), "-o", str(tmp_path)), str(tmp_path))


def test_output_removes_stale_temporaries_of_its_own_name(simple: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    stale = tmp_path / f".report.json{TEMP_MARK}k1ll3d00"
    stale.write_text("half")
    other = tmp_path / f".other.json{TEMP_MARK}k1ll3d00"
    other.write_text("someone else's")
    alive = tmp_path / f".report.json{TEMP_MARK}l1v1ng00"
    alive.write_text("being written")
    with open(alive, "rb") as held:
        fcntl.flock(held, fcntl.LOCK_EX)  # as a running atomic_write holds its own
        done = cli("check", str(simple), "-f", "json", "--exit-zero", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert json.loads(out.read_text())["schema"] == 1
    assert not stale.exists()
    assert other.exists() and alive.exists()


def test_a_killed_write_leaves_a_file_the_next_run_removes(simple: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    proc = subprocess.Popen(
        [sys.executable, "-m", "httpdlint", "dump", str(simple), "-o", str(out)],
        env={**os.environ, "HTTPDLINT_PAUSE_BEFORE_RENAME": "60"},
        preexec_fn=memory_cap,
    )
    left: list[Path] = []
    try:
        deadline = time.monotonic() + 60
        while not left and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            left = [p for p in tmp_path.iterdir() if TEMP_MARK in p.name]
    finally:
        proc.kill()
        proc.wait(30)
    assert left and not out.exists()
    assert cli("dump", str(simple), "-o", str(out)).returncode == 0
    assert [p.name for p in tmp_path.iterdir() if TEMP_MARK in p.name] == []
    assert out.read_text().strip()


# -- encoding -----------------------------------------------------------------------------------

LATIN1_NAME = b"caf\xe9.conf"


@pytest.fixture
def latin1(tmp_path: Path) -> Path:
    """A legacy latin-1 tree: a byte that is not UTF-8 in a directive's name, in an argument
    and in a file name."""
    return tree(
        tmp_path,
        b"ServerName www.example.com",
        b"ServerAdmin caf\xe9@example.com",
        b"ServerN\xe9me x",
        b"Include caf*.conf",
        files={LATIN1_NAME: b"Bogus\xe9Directive on\n"},
    )


def _check_document(fmt: str, data: bytes) -> None:
    text = data.decode("utf-8")  # strict: valid UTF-8
    assert "\\xe9" in text, text
    assert "\x1b" not in text and "\udce9" not in text
    if fmt in ("json", "gitlab"):
        json.loads(text)
    elif fmt == "sarif":
        doc = json.loads(text)
        schema = json.loads(SARIF_SCHEMA.read_text())
        jsonschema.validators.validator_for(schema)(
            schema, format_checker=jsonschema.FormatChecker()
        ).validate(doc)
        messages = [r["message"]["text"] for r in doc["runs"][0]["results"]]
        assert any("ServerN\\xe9me" in m for m in messages), messages
    elif fmt == "junit":
        ET.fromstring(data)
        for xsd in JUNIT_SCHEMAS:
            xmlschema.XMLSchema(str(xsd)).validate(text)
    elif fmt == "github":
        assert all(line.startswith("::") for line in text.splitlines())


@pytest.mark.parametrize("env", [STRICT, ASCII], ids=["strict-utf8", "ascii-locale"])
@pytest.mark.parametrize("fmt", FORMATS)
def test_bytes_that_are_not_utf8_in_every_format(
    latin1: Path, tmp_path: Path, fmt: str, env: dict
) -> None:
    done = cli("check", str(latin1), "-f", fmt, env=env)
    no_traceback(done)
    assert done.returncode == 1  # COR001 on the two unknown names
    _check_document(fmt, done.stdout)
    out = tmp_path / f"out.{fmt}"
    done = cli("check", str(latin1), "-f", fmt, "-o", str(out), env=env)
    no_traceback(done)
    assert done.returncode == 1 and done.stdout == b""
    _check_document(fmt, out.read_bytes())
    if fmt == "text":
        assert "caf\\xe9.conf" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "args",
    [
        ["dump"],
        ["dump", "-f", "json"],
        ["dump", "--vhosts"],
        ["dump", "--vhosts", "-f", "json"],
        ["explain", "http://www.example.com/"],
        ["explain", "-f", "json", "http://www.example.com/"],
        ["suggest", "--ram", "4G", "--child-size", "50M"],
        ["suggest", "-f", "json", "--ram", "4G", "--child-size", "50M"],
    ],
    ids=" ".join,
)
def test_other_commands_echo_such_bytes_safely(latin1: Path, tmp_path: Path, args) -> None:
    main = latin1.parent / "main.conf"  # without the unknown names, which stop httpd
    main.write_bytes(
        latin1.read_bytes().replace(b"ServerN\xe9me x\n", b"")
        + b'LogFormat "%h caf\xe9" combined\nDocumentRoot /srv/caf\xe9\n'
    )
    (latin1.parent / os.fsdecode(LATIN1_NAME)).write_bytes(b"ServerSignature Off\n")
    args = [*args, str(main)] if args[0] == "explain" else [args[0], str(main), *args[1:]]
    for target in (None, tmp_path / "out"):
        done = cli(*args, *(["-o", str(target)] if target else []), env=STRICT)
        no_traceback(done)
        assert done.returncode == 0, done.stderr
        data = target.read_bytes() if target else done.stdout
        text = data.decode("utf-8")
        if "json" in args:
            json.loads(text)
        if args[0] == "dump" and "--vhosts" not in args:
            assert "\\xe9" in text


def test_control_characters_in_names_never_reach_the_terminal(tmp_path: Path) -> None:
    evil = b"esc\x1b]0;owned\x07\x1b[2J\x9b31m\x7f.conf"
    main = tree(tmp_path, b"Include esc*.conf", b"X\x1b[2JY on", files={evil: b"Bogus on\n"})
    for fmt in FORMATS:
        done = cli("check", str(main), "-f", fmt, env={**STRICT, "FORCE_COLOR": "1"})
        no_traceback(done)
        assert done.returncode == 1
        out = done.stdout.decode("utf-8")
        for raw in ("\x1b]", "\x1b[2J", "\x07", "\x9b", "\x7f"):
            assert raw not in out, (fmt, out)
        shown = out.replace("\\\\", "\\")  # JSON doubles the backslash
        assert "X\\x1b[2JY" in shown, (fmt, out)  # the directive's name, in every format
        if fmt != "sarif":  # (SARIF names the file by a percent-encoded URI)
            assert "\\x1b]0;owned\\x07" in shown, (fmt, out)
    done = cli("dump", str(main), env=STRICT)
    assert "\x1b" not in done.stdout.decode("utf-8")
    # The one line on stderr names the file safely too.
    done = cli("check", str(tmp_path / "conf" / os.fsdecode(evil)) + "-missing", env=STRICT)
    err = one_line_error(done)
    assert "\x1b" not in err and "\\x1b" in err


def test_a_newline_in_a_file_name_injects_no_workflow_command(tmp_path: Path) -> None:
    evil = b"bad\n::error file=injected.conf::forged\r\n::warning ::x,y.conf"
    main = tree(tmp_path, b"Include bad*", files={evil: b"Bogus on\n"})
    done = cli("check", str(main), "-f", "github", env=STRICT)
    no_traceback(done)
    assert done.returncode == 1
    lines = done.stdout.decode("utf-8").splitlines()
    assert all(line.startswith(("::error ", "::warning ", "::notice ")) for line in lines)
    assert not any("injected" in line.split("::")[1] for line in lines if "forged" not in line)
    forged = [line for line in lines if "injected" in line]
    assert len(forged) == 1 and "%0A%3A%3Aerror file=injected.conf%3A%3Aforged%0D%0A" in forged[0]
    # and in text, the file name stays on its finding's line
    done = cli("check", str(main), env=STRICT)
    text = done.stdout.decode("utf-8")
    assert not any(line.startswith("::") for line in text.splitlines())


def test_sanitize() -> None:
    assert sanitize("caf\udce9 \x1b[1m\t\n\x85\x7f é\ufffe") == (
        "caf\\xe9 \\x1b[1m\t\n\\x85\\x7f é\\ufffe"
    )
    assert sanitize("a\nb", keep="") == "a\\x0ab"
    assert sanitize("\x1b[31mred\x1b[0m\x1b[2J", colour=True) == "\x1b[31mred\x1b[0m\\x1b[2J"


# -- configurations that crashed the checks -------------------------------------------------------

SKIP = {"include", "includeoptional", "loadmodule", "loadfile", "serverroot", "define"}
SKIP |= {"undefine", "use", "undefmacro"}  # read-time errors that would stop the tree early
CONTEXTS = [("", ""), ("<Directory /x>", "</Directory>"), ("<VirtualHost *:80>", "</VirtualHost>")]
CONTEXTS += [("<Location /x>", "</Location>")]


def every_directive(tmp_path: Path, value: str) -> Path:
    """Every directive the knowledge table knows, given `value`, in each context, with every
    module loaded so that every rule looks at them."""
    table = knowledge.load()
    modules = [
        f"LoadModule {m['identifier']} modules/{name}.so"
        for name, m in sorted(table.modules.items())
        if m.get("identifier") and m.get("status") not in ("MPM", "Core")
    ]
    names = sorted(e["name"] for e in table.directives.values() if not e.get("section"))
    lines = ["LoadModule mpm_event_module modules/mod_mpm_event.so", *modules]
    for start, end in CONTEXTS:
        lines += [start, *(f"{n} {value}" for n in names if n.lower() not in SKIP), end]
    return tree(tmp_path, *(line.encode() for line in lines))


@pytest.mark.parametrize("value", ['""', 'x ""', '"" ""', '+ ""'])
def test_an_empty_argument_to_every_directive_does_not_crash(tmp_path: Path, value: str) -> None:
    main = every_directive(tmp_path, value)
    for fmt in FORMATS:
        done = cli("check", str(main), "-f", fmt, "--no-filesystem", timeout=240)
        no_traceback(done)
        assert done.returncode == 1, (fmt, done.stderr)  # findings, not an error
        assert done.stdout


@pytest.mark.parametrize(
    "line, rule",
    [('Options Indexes ""', "COR019"), ('SSLProtocol all ""', None), ('Options ""', "COR019")],
)
def test_empty_words_that_raised_index_error(tmp_path: Path, line: str, rule: str | None) -> None:
    main = tree(
        tmp_path,
        b"LoadModule ssl_module modules/mod_ssl.so",
        b"<Directory /x>",
        line.encode(),
        b"</Directory>",
        b"SSLProtocol -all +TLSv1.2" if "Options" in line else line.encode(),
    )
    done = cli("check", str(main), "-f", "json", "--no-filesystem")
    no_traceback(done)
    assert done.returncode in (0, 1), done.stderr
    rules = {f["rule"] for f in json.loads(done.stdout)["findings"]}
    assert rule is None or rule in rules, rules
