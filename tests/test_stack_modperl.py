"""prefork + mod_perl, the outage's own stack, measured with every child busy.

The parent preloads a shared block of SHARED_MIB (every page written before the children
fork); the handler makes its child hold HELD_MIB of written private memory and keeps it (Perl
does not give memory back), then sleeps `hold` seconds. Besides the stack requirements, the
recommended snippet is checked with httpd itself: `apache2 -t` accepts it without a warning.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from stackrun import MIB, MODULES, Stack, base_config, httpdlint, judge, need, run_point

pytestmark = pytest.mark.apache

SHARED_MIB = 30
HELD_MIB = 20

STARTUP_PL = f"""\
use strict;
use warnings;
package Shared;
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
    $held //= "g" x ({HELD_MIB} * 1024 * 1024);
    my ($hold) = ($r->args // "") =~ /hold=([\\d.]+)/;
    Time::HiRes::sleep($hold || 0);
    $r->content_type('text/plain');
    $r->print("pid $$ holds " . length($held) . "\\n");
    return Apache2::Const::OK;
}}
1;
"""


def write(root: Path, port: int, size: int) -> Path:
    (root / "startup.pl").write_text(STARTUP_PL)
    (root / "Grow.pm").write_text(GROW_PM)
    conf = root / "httpd.conf"
    conf.write_text(
        base_config(root, port, "prefork")
        + f"""\
LoadModule perl_module {MODULES}/mod_perl.so
<IfModule mpm_prefork_module>
    StartServers {size}
    MinSpareServers {size}
    MaxSpareServers {size}
    ServerLimit {size}
    MaxRequestWorkers {size}
    MaxConnectionsPerChild 0
</IfModule>
PerlSwitches -I{root}
PerlRequire {root}/startup.pl
PerlModule Grow
<Location /grow>
    SetHandler perl-script
    PerlResponseHandler Grow
</Location>
"""
    )
    return conf


def beside(conf: Path, pid: int, url: str) -> dict:
    """`suggest --ram 1G` with the server's configuration, and with none (discovery)."""
    common = ["--ram", "1G", "--format", "json", "--no-logs"]
    return {"path": httpdlint("suggest", str(conf), *common), "none": httpdlint("suggest", *common)}


STACK = Stack("prefork + mod_perl", write, lambda n: n, "/grow?hold={hold}")


def test_prefork_mod_perl_busy_children(apache2_bin: str, tmp_path: Path) -> None:
    need(MODULES / "mod_perl.so", "libapache2-mod-perl2")
    small = run_point(STACK, apache2_bin, 5)
    large = run_point(STACK, apache2_bin, 10, after=beside)
    judge(STACK, small, large)
    s = large.suggestion
    # The handler's memory is the child's; the preloaded block is shared, counted once.
    assert abs(s["child_bytes"] - HELD_MIB * MIB) <= 0.15 * HELD_MIB * MIB
    assert s["shared_bytes"] >= SHARED_MIB * MIB
    assert s["running"]["busy_seen"] is True and s["sizing"] == "given-ram"
    assert s["recommended"]["MaxConnectionsPerChild"] > 0  # mod_perl: recycle children
    assert s["current"]["MaxRequestWorkers"] == 10 and s["current_source"] == "config"
    # With --ram alone, beside the running server: sized from that server's measured
    # children (found by its PidFile with PATH, by discovery without), for the RAM given.
    for found in large.extra.values():
        assert found["sizing"] == "given-ram" and found["sources"]["child"] == "measured"
        # Between requests, but Perl keeps what it took: a recommendation, not a refusal.
        assert found["recommended"] is not None, found["declined"]
        assert found["running"]["busy_seen"] is False
        assert found["running"]["parent"] == s["running"]["parent"]
        assert abs(found["child_bytes"] - HELD_MIB * MIB) <= 0.15 * HELD_MIB * MIB

    # httpd itself accepts the recommendation as written, without adjusting anything.
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", "suggest", "--ram", "1G", "--child-size",
         str(s["child_bytes"]), "--shared", str(s["shared_bytes"]), "--reserve", "200M",
         "--mpm", "prefork", "--format", "conf", "--no-logs"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    conf = tmp_path / "check.conf"
    conf.write_text(base_config(tmp_path, 1, "prefork") + done.stdout)
    tested = subprocess.run(
        [apache2_bin, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=60
    )
    assert tested.returncode == 0, tested.stderr
    assert "AH00" not in tested.stderr.replace("AH00558", ""), tested.stderr
