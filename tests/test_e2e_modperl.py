"""End to end on a real Apache prefork + mod_perl server: measure, then suggest.

The test writes its own server: a parent that preloads a shared block of SHARED_MIB (touched
before the children fork), and a Perl response handler that on its first request makes its
child hold HELD_MIB of written private memory. Six children, each served (concurrent requests
while every first request holds its child busy), then:

* `measure --pid PARENT --format json`: the largest child's USS is within 10 % of what the
  handler holds, and the model's prediction for the running children (parent RSS + N x child
  USS) is within 5 % of what they really cost (the sum of their PSS and the parent's);
* `suggest PATH --pid PARENT --ram 1G --format json`: the measured numbers flow through, and
  the recommendation httpd itself (`apache2 -t`) accepts without a warning.

The server is stopped by its PID whatever happens.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.apache

MIB = 1024**2
SHARED_MIB = 30
HELD_MIB = 20
CHILDREN = 6

STARTUP_PL = f"""\
use strict;
use warnings;
package Shared;
# Shared by every child: built in the parent, every page written, before the children fork.
our $BLOCK = "s" x ({SHARED_MIB} * 1024 * 1024);
substr($BLOCK, $_ * 4096, 1, "t") for 0 .. (length($BLOCK) / 4096) - 1;
1;
"""

GROW_PM = f"""\
package Grow;
use strict;
use warnings;
use Apache2::RequestRec ();
use Apache2::RequestIO ();
use Apache2::Const -compile => qw(OK);
use Time::HiRes ();

our $held;

sub handler {{
    my $r = shift;
    unless (defined $held) {{
        # Private memory of a known size, every page written; then stay busy a moment so
        # that concurrent requests reach the other children.
        $held = "g" x ({HELD_MIB} * 1024 * 1024);
        Time::HiRes::sleep(1.5);
    }}
    $r->content_type('text/plain');
    $r->print("pid $$ holds " . length($held) . "\\n");
    return Apache2::Const::OK;
}}
1;
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _config(root: Path, port: int, modules: Path) -> str:
    return f"""\
ServerRoot {root}
ServerName localhost
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
DefaultRuntimeDir {root}
LogLevel warn
# As root httpd refuses to run children as root: they run as www-data.
User www-data
Group www-data
LoadModule mpm_prefork_module {modules}/mod_mpm_prefork.so
LoadModule authz_core_module {modules}/mod_authz_core.so
LoadModule perl_module {modules}/mod_perl.so
<IfModule mpm_prefork_module>
    StartServers {CHILDREN}
    MinSpareServers {CHILDREN}
    MaxSpareServers {CHILDREN}
    ServerLimit {CHILDREN}
    MaxRequestWorkers {CHILDREN}
    MaxConnectionsPerChild 0
</IfModule>
KeepAlive Off
DocumentRoot {root}
PerlSwitches -I{root}
PerlRequire {root}/startup.pl
PerlModule Grow
<Location /grow>
    SetHandler perl-script
    PerlResponseHandler Grow
</Location>
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[1][0] != "Z"
    except OSError:
        return False


def _stop(pid: int | None, children: list[int]) -> None:
    """SIGTERM to the parent, wait, then SIGKILL to whatever of the server is left."""
    if pid is not None and _alive(pid):
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
    for victim in ([pid] if pid else []) + children:
        if _alive(victim):
            with contextlib.suppress(ProcessLookupError):
                os.kill(victim, signal.SIGKILL)


def _httpdlint(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"httpdlint {' '.join(args)}: {done.stderr}"
    return json.loads(done.stdout)


def _serve_every_child(port: int) -> set[int]:
    """Concurrent rounds of requests until every child has served (bounded: 5 rounds)."""
    url = f"http://127.0.0.1:{port}/grow"

    def get(_: int) -> int:
        with urllib.request.urlopen(url, timeout=60) as response:
            text = response.read().decode()
        assert text.endswith(f"holds {HELD_MIB * MIB}\n"), text
        return int(text.split()[1])

    served: set[int] = set()
    for _ in range(5):
        with concurrent.futures.ThreadPoolExecutor(CHILDREN) as pool:
            served |= set(pool.map(get, range(CHILDREN)))
        if len(served) >= CHILDREN:
            break
    return served


def test_measure_and_suggest_on_a_real_prefork_mod_perl_server(
    apache2_bin: str, apache2_modules_dir: Path
) -> None:
    in_ci = os.environ.get("CI", "").lower() in ("1", "true", "yes")
    if not (apache2_modules_dir / "mod_perl.so").exists():
        if in_ci:
            pytest.fail("mod_perl (libapache2-mod-perl2) is required in CI but not installed")
        pytest.skip("mod_perl is not installed")
    try:
        pwd.getpwnam("www-data")
    except KeyError:
        if in_ci:
            pytest.fail("no www-data user to run the children as")
        pytest.skip("no www-data user to run the children as")
    # Not pytest's tmp_path: its parents are private to root, and the children run as www-data.
    root = Path(tempfile.mkdtemp(prefix="httpdlint-e2e-"))
    os.chmod(root, 0o755)
    port = _free_port()
    (root / "startup.pl").write_text(STARTUP_PL)
    (root / "Grow.pm").write_text(GROW_PM)
    conf = root / "httpd.conf"
    conf.write_text(_config(root, port, apache2_modules_dir))
    pid: int | None = None
    children: list[int] = []
    try:
        started = subprocess.run(
            [apache2_bin, "-f", str(conf), "-k", "start"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert started.returncode == 0, started.stderr
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            text = (root / "httpd.pid").read_text().strip() if (root / "httpd.pid").exists() else ""
            if text.isdigit():
                pid = int(text)
                break
            time.sleep(0.1)
        log = (root / "error.log").read_text() if (root / "error.log").exists() else ""
        assert pid is not None, f"httpd did not write its PidFile: {log}"

        served = _serve_every_child(port)
        assert len(served) == CHILDREN, f"only {len(served)} children served"

        measured = _httpdlint("measure", "--pid", str(pid), "--format", "json")
        (tree,) = measured["httpd"]
        children = [p["pid"] for p in measured["processes"] if p["role"] == "child"]
        assert tree["parent"] == pid and tree["children"] == CHILDREN
        assert set(children) == served
        assert tree["mpm"] == "prefork" and "mod_perl.so" in tree["libraries"]
        httpd = [p for p in measured["processes"] if p["role"] in ("parent", "child")]
        assert all(p["exact"] for p in httpd)
        parent = next(p for p in httpd if p["role"] == "parent")
        kids = [p for p in httpd if p["role"] == "child"]

        # The child's private memory is what the handler holds (plus the child's own bits).
        held = HELD_MIB * MIB
        child_uss = tree["largest_child"]["uss"]
        assert abs(child_uss - held) <= 0.10 * held, (child_uss, held)
        for kid in kids:
            assert abs(kid["uss"] - held) <= 0.10 * held, kid
        # The shared block lives in the parent's resident memory, counted once.
        assert parent["rss"] >= SHARED_MIB * MIB

        # The model: parent RSS + N x child USS against what the tree really costs (PSS).
        predicted = parent["rss"] + len(kids) * child_uss
        pss_sum = parent["pss"] + sum(k["pss"] for k in kids)
        assert predicted == tree["predicted_bytes"] and pss_sum == tree["pss_total"]
        assert abs(predicted - pss_sum) <= 0.05 * pss_sum, (predicted, pss_sum)
        # The sum of RSS, what naive calculators add up, overstates it badly.
        rss_sum = parent["rss"] + sum(k["rss"] for k in kids)
        assert rss_sum > 1.5 * pss_sum
        print(
            f"\nchild USS {child_uss / MIB:.2f} MiB for {HELD_MIB} MiB held "
            f"({(child_uss - held) / held:+.1%}); predicted {predicted / MIB:.2f} MiB vs "
            f"PSS sum {pss_sum / MIB:.2f} MiB ({(predicted - pss_sum) / pss_sum:+.2%}); "
            f"RSS sum {rss_sum / MIB:.2f} MiB"
        )

        suggested = _httpdlint(
            "suggest",
            str(conf),
            "--pid",
            str(pid),
            "--ram",
            "1G",
            "--reserve",
            "100M",
            "--format",
            "json",
        )
        assert suggested["schema"] == 1 and suggested["mpm"] == "prefork"
        assert suggested["source"] == "measured"
        assert (
            suggested["sources"]["ram"] == "given" and suggested["sources"]["child"] == "measured"
        )
        assert suggested["sources"]["shared"] == "measured"
        assert suggested["ram_bytes"] == 1024 * MIB and suggested["reserved_bytes"] == 100 * MIB
        assert abs(suggested["child_bytes"] - child_uss) <= 0.02 * child_uss
        assert abs(suggested["shared_bytes"] - parent["rss"]) <= 0.02 * parent["rss"]
        cost = round(suggested["child_bytes"] * 1.1) + 256 * 1024
        budget = 1024 * MIB - 100 * MIB - suggested["shared_bytes"]
        recommended = suggested["recommended"]
        assert recommended["MaxRequestWorkers"] == budget // cost
        assert recommended["ServerLimit"] == recommended["MaxRequestWorkers"]
        # mod_perl is loaded: children are recycled.
        assert recommended["MaxConnectionsPerChild"] > 0
        assert suggested["current"]["MaxRequestWorkers"] == CHILDREN
        assert suggested["current_source"] == "config"
        running = suggested["running"]
        assert running["children"] == CHILDREN
        assert (
            abs(running["predicted_bytes"] - running["pss_total_bytes"])
            <= 0.05 * running["pss_total_bytes"]
        )
        assert not [w for w in suggested["warnings"] if w["code"] == "httpd-adjusts"]

        # httpd itself accepts the recommended snippet without adjusting anything.
        snippet = subprocess.run(
            [
                sys.executable,
                "-m",
                "httpdlint",
                "suggest",
                str(conf),
                "--pid",
                str(pid),
                "--ram",
                "1G",
                "--reserve",
                "100M",
                "--format",
                "conf",
                "--no-logs",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert snippet.returncode == 0, snippet.stderr
        assert "<IfModule mpm_prefork_module>" in snippet.stdout
        check = root / "check.conf"
        base = _config(root, port, apache2_modules_dir)
        start = base.index("<IfModule mpm_prefork_module>")
        end = base.index("</IfModule>") + len("</IfModule>\n")
        check.write_text(base[:start] + snippet.stdout + base[end:])
        tested = subprocess.run(
            [apache2_bin, "-t", "-f", str(check)], capture_output=True, text=True, timeout=60
        )
        assert tested.returncode == 0, tested.stderr
        assert "WARNING" not in tested.stderr and "AH00" not in tested.stderr.replace(
            "AH00558", ""
        ), tested.stderr
    finally:
        _stop(pid, children)
        shutil.rmtree(root, ignore_errors=True)
