"""worker + threaded mod_perl (Perl built with ithreads), measured with every thread busy.

Each child runs THREADS threads over a pool of Perl interpreters: PerlInterpStart of them are
cloned in the parent before it forks, more are cloned in the child as its threads become busy,
up to PerlInterpMax (= THREADS here: every busy thread holds an interpreter of its own).
PerlInterpMaxSpare is THREADS too, so that no interpreter is destroyed when it goes idle. (With
mod_perl's default of 3, every burst destroys the idle interpreters above 3 and clones them
again; their memory stays in the child's malloc arenas and fragments, and the child creeps up
by steps of about 5 MiB from burst to burst: no single look can know that, and it is not what
is tested here.)

A clone copies the parent interpreter's data, so the block that startup.pl preloads
(SHARED_MIB) is shared only by the interpreters cloned in the parent: every interpreter a child
clones holds its own copy. The handler makes the interpreter that serves it hold HELD_MIB in a
package variable (every clone has its own) and sleeps `hold` seconds.

Besides the stack requirements: a look at the same server with only SOME threads busy never
recommends more than the look with every thread busy, and neither does a server that has only
ever served one request at a time (its children are estimated at PerlInterpMax interpreters).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from stacklab import hold_all
from stackrun import (
    MIB,
    MODULES,
    Stack,
    base_config,
    httpdlint,
    judge,
    need,
    run_point,
    suggest_args,
)

pytestmark = pytest.mark.apache

THREADS = 10
SHARED_MIB = 2
HELD_MIB = 2
INTERP_START = 2
SOME = 3

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
    unless (defined $held) {{
        $held = "";
        $held .= "g" x 65536 for 1 .. {HELD_MIB} * 16;
    }}
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
        base_config(root, port, "worker")
        + f"""\
LoadModule perl_module {MODULES}/mod_perl.so
<IfModule mpm_worker_module>
    StartServers {size}
    ServerLimit {size}
    ThreadLimit {THREADS}
    ThreadsPerChild {THREADS}
    MaxRequestWorkers {THREADS * size}
    MinSpareThreads 1
    MaxSpareThreads {THREADS * size + THREADS}
    MaxConnectionsPerChild 0
</IfModule>
PerlInterpStart {INTERP_START}
PerlInterpMax {THREADS}
PerlInterpMinSpare 1
PerlInterpMaxSpare {THREADS}
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


STACK = Stack("worker + threaded mod_perl", write, lambda n: THREADS * n, "/grow?hold={hold}")


def some_busy(conf: Path, pid: int, url: str) -> dict:
    """The same server, looked at again with only SOME requests in flight."""
    with hold_all(url.format(hold=STACK.hold), SOME, STACK.hold, settle=1.0):
        return {"some": httpdlint(*suggest_args(conf, pid, STACK))}


def all_busy(size: int) -> Callable[[Path, int, str], dict]:
    """After the point's own look: every thread of the `size` children made busy, then
    looked at again (the same server)."""

    def after(conf: Path, pid: int, url: str) -> dict:
        n = STACK.busy(size)
        for _ in range(2):
            with hold_all(url.format(hold=0.5), n, 0.5, settle=0.3):
                pass
        with hold_all(url.format(hold=STACK.hold), n, STACK.hold, settle=1.0):
            return {"all": httpdlint(*suggest_args(conf, pid, STACK))}

    return after


def describe(s: dict) -> str:
    thread = s["thread_bytes"] or 0
    return (
        f"child {s['child_bytes'] / MIB:.1f} MiB ({s['sources']['child']}) + {THREADS} x "
        f"{thread / MIB:.2f} MiB per busy thread ({s['sources']['thread_user']}): "
        f"{s['processes']} processes"
    )


def test_worker_threaded_mod_perl_busy_threads(apache2_bin: str) -> None:
    need(MODULES / "mod_perl.so", "libapache2-mod-perl2")
    small = run_point(STACK, apache2_bin, 1, after=some_busy)
    large = run_point(STACK, apache2_bin, 2, after=some_busy)
    judge(STACK, small, large)
    for point in (small, large):
        s, some = point.suggestion, point.extra["some"]
        print(
            f"  size {point.size}, every thread busy: {describe(s)}; "
            f"then {SOME} threads busy: {describe(some)}"
        )
        # Seen with every thread busy: the peak child is the worst case, nothing estimated.
        assert s["running"]["busy_seen"] is True
        assert s["sources"]["thread_user"] != "estimated", s["explanation"]
        # Every busy thread's interpreter holds HELD_MIB in the child; the parent's block is
        # counted once.
        assert s["child_bytes"] >= THREADS * HELD_MIB * MIB
        assert s["shared_bytes"] >= SHARED_MIB * MIB
        # A recommendation for the worker MPM, in processes of THREADS threads.
        assert s["mpm"] == "worker" and s["threads_per_child"] == THREADS
        rec = s["recommended"]
        assert rec["ThreadsPerChild"] == THREADS and rec["ServerLimit"] == s["processes"]
        assert rec["MaxRequestWorkers"] == THREADS * s["processes"]
        assert rec["MaxConnectionsPerChild"] > 0  # mod_perl: recycle children
        # Fewer busy threads never make the same server look roomier.
        assert some["running"]["busy_seen"] is True
        assert some["processes"] <= s["processes"], some["explanation"]


def test_worker_threaded_mod_perl_quiet_server(apache2_bin: str) -> None:
    """A server that has served one request at a time, looked at, then made busy: the quiet
    look must not recommend more than the busy one."""
    need(MODULES / "mod_perl.so", "libapache2-mod-perl2")
    stack = Stack(f"{STACK.name}, one request at a time", write, lambda n: 1, STACK.path)
    point = run_point(stack, apache2_bin, 2, after=all_busy(2))
    s, full = point.suggestion, point.extra["all"]
    print(
        f"\n{stack.name} (2 processes): {describe(s)}; truth {point.truth['total'] / MIB:.1f} "
        f"MiB; then every thread busy: {describe(full)}"
    )
    assert s["processes"] <= full["processes"], s["explanation"]
