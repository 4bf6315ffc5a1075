"""httpdlint.mpm for Apache 2.2, derived from the 2.2.x source (no 2.2 binary to compare with).

Sources, in the httpd git mirror at refs/heads/2.2.x (copies in /tmp/src/22_*.c):
server/mpm/prefork/prefork.c, server/mpm/worker/worker.c, server/mpm/experimental/event/event.c
(identical to worker.c in everything below except MAX_THREAD_LIMIT), server/mpm_common.c,
server/core.c, server/config.c, server/main.c, server/mpm/*/mpm_default.h.

Two facts of 2.2 drive most cases:
- the checks are in the directive handlers (set_max_clients, set_server_limit...), so each
  value is checked against the others as read SO FAR;
- main.c reads the configuration twice at start (``httpd -t`` stops after the first); the
  second reading starts with the ServerLimit/ThreadLimit the first one ended with (static
  variables that pre_config does not reset), and pre_config sets MaxClients' default to it.

Each message states the numbers httpd prints (checked as a subsequence of ours: ours may add
the offending value where httpd leaves it out).
"""

from __future__ import annotations

import re

import pytest

from httpdlint.mpm import MPMS, Adjustment, MpmResult, Setting, canonical, evaluate_mpm


def numbers(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"-?\d+", text)]


def says(adj: Adjustment, httpd_numbers: list[int]) -> bool:
    """httpd's numbers appear in our message, in httpd's order."""
    ours = iter(numbers(adj.message))
    return all(any(n == m for m in ours) for n in httpd_numbers)


def run(mpm: str, *lines: str, nested: bool = False) -> MpmResult:
    """Evaluate directives written one per line, as lines 1.. of "httpd.conf"."""
    settings = []
    for i, text in enumerate(lines, start=1):
        name, *args = text.split()
        settings.append(Setting(name, tuple(args), "httpd.conf", i, nested))
    return evaluate_mpm(mpm, "2.2", settings)


def only(result: MpmResult) -> Adjustment:
    (adj,) = result.adjustments
    return adj


# --- defaults ----------------------------------------------------------------------------------


def test_prefork_defaults() -> None:
    # prefork.c: DEFAULT_SERVER_LIMIT 256, server_limit's static initialiser; prefork_pre_config
    # sets ap_daemons_limit = server_limit and DEFAULT_MAX_REQUESTS_PER_CHILD (10000,
    # prefork/mpm_default.h, with DEFAULT_START_DAEMON 5, MIN_FREE 5, MAX_FREE 10).
    result = run("prefork")
    assert result.effective == {
        "MaxClients": 256, "ServerLimit": 256, "StartServers": 5, "MinSpareServers": 5,
        "MaxSpareServers": 10, "MaxRequestsPerChild": 10000, "processes": 256,
        "processes_at_start": 5,
    }  # fmt: skip
    assert result.adjustments == [] and result.version == "2.2"
    assert result.max_workers == 256 and result.processes_needed() == 256


@pytest.mark.parametrize("mpm", ["worker", "event"])
def test_threaded_defaults(mpm: str) -> None:
    # worker.c / event.c worker_pre_config (2.2): DEFAULT_SERVER_LIMIT 16, DEFAULT_THREAD_LIMIT
    # 64, ap_daemons_limit = server_limit, 25 threads per child (mpm_default.h), spare threads
    # 3 x 25 and 10 x 25, MaxRequestsPerChild 10000.
    result = run(mpm)
    assert result.effective == {
        "MaxClients": 400, "ServerLimit": 16, "ThreadLimit": 64, "ThreadsPerChild": 25,
        "StartServers": 3, "MinSpareThreads": 75, "MaxSpareThreads": 250,
        "MaxRequestsPerChild": 10000, "processes": 16, "processes_at_start": 3,
    }  # fmt: skip
    assert result.adjustments == []


# --- prefork: order and the two readings -------------------------------------------------------


def test_prefork_maxclients_before_serverlimit_warns_but_is_not_lowered() -> None:
    # prefork.c set_max_clients (2.2): on the first reading ServerLimit is still 256, so
    # 300 is lowered, with "MaxClients of %d exceeds ServerLimit value of %d servers,"
    # " lowering MaxClients to %d." The second reading starts with ServerLimit 400
    # (server_limit is never reset) and keeps 300: the warning is not in effect.
    result = run("prefork", "MaxClients 300", "ServerLimit 400")
    adj = only(result)
    assert adj.code is None and not adj.fatal
    assert adj.stage == "first-read" and (adj.setting, adj.line) == ("MaxClients", 1)
    assert says(adj, [300, 256, 256])
    assert result.effective["MaxClients"] == 300
    assert result.effective["ServerLimit"] == 400


def test_prefork_serverlimit_before_maxclients() -> None:
    # prefork.c set_server_limit then set_max_clients (2.2): 300 <= 400, nothing to say.
    result = run("prefork", "ServerLimit 400", "MaxClients 300")
    assert result.adjustments == []
    assert result.max_workers == 300


def test_prefork_serverlimit_alone_raises_maxclients() -> None:
    # prefork_pre_config (2.2): ap_daemons_limit = server_limit, and on the second reading
    # server_limit is already 400, so MaxClients' default becomes 400 (2.4 keeps 256).
    assert run("prefork", "ServerLimit 400").max_workers == 400
    assert evaluate_mpm("prefork", "2.4", [Setting("ServerLimit", ("400",))]).max_workers == 256


def test_prefork_small_serverlimit_alone_lowers_maxclients_silently() -> None:
    # prefork.c (2.2): with no MaxClients directive nothing compares the default with
    # ServerLimit; the second reading's default is simply 100. 2.4 warns (AH00180).
    result = run("prefork", "ServerLimit 100")
    assert result.adjustments == [] and result.max_workers == 100
    assert [a.code for a in evaluate_mpm("prefork", "2.4", [Setting("ServerLimit", ("100",))])
            .adjustments] == ["AH00180"]  # fmt: skip


def test_prefork_serverlimit_after_maxclients_lowers_on_second_reading() -> None:
    # prefork.c set_max_clients (2.2): first reading 300 > 256 -> 256; second reading starts
    # with ServerLimit 200, so 300 > 200 -> 200. Two different warnings, one per reading.
    result = run("prefork", "MaxClients 300", "ServerLimit 200")
    first, second = result.adjustments
    assert first.stage == "first-read" and says(first, [300, 256, 256])
    assert second.stage == "second-read" and says(second, [300, 200, 200])
    assert result.max_workers == 200


def test_prefork_maxclients_zero() -> None:
    # prefork.c set_max_clients (2.2): "WARNING: Require MaxClients > 0, setting to 1", on
    # both readings.
    result = run("prefork", "MaxClients 0")
    adj = only(result)
    assert adj.stage == "read" and says(adj, [0, 1])
    assert result.max_workers == 1


@pytest.mark.parametrize(
    ("value", "printed", "effective"),
    [("300000", [300000, 200000, 200000], 200000), ("-5", [0, 1], 1), ("0", [0, 1], 1)],
)
def test_prefork_serverlimit_bounds(value: str, printed: list[int], effective: int) -> None:
    # prefork.c set_server_limit (2.2): MAX_SERVER_LIMIT 200000 ("exceeds compile time limit
    # of %d servers, lowering ServerLimit to %d") and "Require ServerLimit > 0, setting to 1".
    result = run("prefork", f"ServerLimit {value}")
    adj = only(result)
    assert adj.setting == "ServerLimit" and adj.stage == "read" and says(adj, printed)
    assert result.effective["ServerLimit"] == effective


def test_prefork_min_spare_and_silent_max_spare() -> None:
    # prefork.c set_min_free_servers (2.2): <= 0 -> 1 ("Resetting to 1 ..."); ap_mpm_run:
    # "if (ap_daemons_max_free < ap_daemons_min_free + 1) ap_daemons_max_free = min + 1",
    # not logged.
    result = run("prefork", "MinSpareServers 0", "MaxSpareServers 1")
    warn, silent = result.adjustments
    assert warn.setting == "MinSpareServers" and says(warn, [1])
    assert silent.code is None and silent.stage == "run" and silent.setting == "MaxSpareServers"
    assert result.effective["MinSpareServers"] == 1
    assert result.effective["MaxSpareServers"] == 2


def test_prefork_startservers_is_not_checked() -> None:
    # prefork.c set_daemons_to_start (2.2): plain atoi, no check anywhere (2.4 has AH00184);
    # ap_mpm_run starts min(StartServers, MaxClients) children, i.e. none.
    result = run("prefork", "StartServers 0")
    assert result.adjustments == []
    assert result.effective["StartServers"] == 0
    assert result.effective["processes_at_start"] == 0


def test_startservers_capped_by_maxclients_at_start() -> None:
    # prefork.c ap_mpm_run (2.2): remaining_children_to_start capped by ap_daemons_limit.
    assert run("prefork", "MaxClients 3", "StartServers 10").effective["processes_at_start"] == 3


def test_atoi_parsing() -> None:
    # All 2.2 handlers use atoi: "12abc" is 12, "abc" is 0 (then MaxClients 0 -> 1).
    assert run("prefork", "MaxClients 12abc").max_workers == 12
    assert run("prefork", "MaxClients abc").max_workers == 1


# --- worker / event: ThreadsPerChild before MaxClients ----------------------------------------


@pytest.mark.parametrize("mpm", ["worker", "event"])
def test_threaded_maxclients_first_inside_a_section(mpm: str) -> None:
    # worker.c set_max_clients (2.2) divides by ap_threads_per_child as read so far (25) and
    # keeps only ap_daemons_limit = 150 / 25 = 6; ThreadsPerChild 50 then makes 6 x 50 = 300.
    # worker_pre_config's swap looks at top-level directives only, not inside <IfModule>.
    result = run(mpm, "MaxClients 150", "ThreadsPerChild 50", nested=True)
    assert result.adjustments == []
    assert result.max_workers == 300 and result.effective["processes"] == 6


@pytest.mark.parametrize("mpm", ["worker", "event"])
def test_threaded_maxclients_first_at_top_level_is_swapped(mpm: str) -> None:
    # worker_pre_config (2.2): "make sure that ThreadsPerChild gets set before MaxClients":
    # the first top-level MaxClients and the first later ThreadsPerChild swap places.
    result = run(mpm, "MaxClients 150", "ThreadsPerChild 50")
    assert result.adjustments == []
    assert result.max_workers == 150 and result.effective["processes"] == 3


def test_threaded_swap_moves_only_the_first_maxclients() -> None:
    # worker_pre_config (2.2) swaps the FIRST MaxClients with ThreadsPerChild: the order
    # becomes ThreadsPerChild 50, MaxClients 150, MaxClients 100; the last one wins.
    result = run("worker", "MaxClients 100", "MaxClients 150", "ThreadsPerChild 50")
    assert result.max_workers == 100


def test_threaded_swap_ignores_nested_threadsperchild() -> None:
    # worker_pre_config (2.2) walks ap_conftree's top level only.
    settings = [
        Setting("MaxClients", ("150",), "httpd.conf", 1),
        Setting("ThreadsPerChild", ("50",), "httpd.conf", 3, nested=True),
    ]
    assert evaluate_mpm("worker", "2.2", settings).max_workers == 300


@pytest.mark.parametrize(
    ("value", "printed", "effective"),
    [
        # "MaxClients (%d) must be at least as large as ThreadsPerChild (%d).
        #  Automatically increasing MaxClients to %d."
        ("10", [10, 25, 25], 25),
        # "MaxClients (%d) is not an integer multiple of ThreadsPerChild (%d), lowering
        #  MaxClients to %d for a maximum of %d child processes,"
        ("110", [110, 25, 100, 4], 100),
        # "MaxClients of %d would require %d servers, and would exceed the ServerLimit value
        #  of %d. Automatically lowering MaxClients to %d."
        ("1000", [1000, 40, 16, 400], 400),
    ],
)
def test_threaded_maxclients_checks(value: str, printed: list[int], effective: int) -> None:
    # worker.c set_max_clients (2.2)
    result = run("worker", f"MaxClients {value}")
    adj = only(result)
    assert adj.code is None and adj.setting == "MaxClients" and adj.stage == "read"
    assert says(adj, printed)
    assert result.max_workers == effective


def test_threaded_not_multiple_and_above_serverlimit_give_two_warnings() -> None:
    # worker.c set_max_clients (2.2): the multiple check runs first and lowers 1010 to 1000,
    # then 40 children exceed ServerLimit 16.
    first, second = run("worker", "MaxClients 1010").adjustments
    assert says(first, [1010, 25, 1000, 40])
    assert says(second, [1000, 40, 16, 400])


def test_threaded_serverlimit_after_maxclients_second_reading() -> None:
    # worker.c set_max_clients (2.2): first reading 400 / 25 = 16 <= 16 (default), fine;
    # the second reading starts with ServerLimit 8 and lowers MaxClients to 8 x 25 = 200,
    # a warning only the error log shows (httpd -t does not).
    result = run("worker", "MaxClients 400", "ServerLimit 8")
    adj = only(result)
    assert adj.stage == "second-read" and says(adj, [400, 16, 8, 200])
    assert result.max_workers == 200 and result.processes_needed() == 8


def test_threaded_threadsperchild_before_threadlimit() -> None:
    # worker.c set_threads_per_child (2.2): first reading compares with ThreadLimit 64 and
    # lowers ("ThreadsPerChild of %d exceeds ThreadLimit value of %d threads, lowering
    # ThreadsPerChild to %d"); the second starts with ThreadLimit 200 (thread_limit is never
    # reset) and keeps 100. No MaxClients: 16 children (default ServerLimit) x 100 threads.
    result = run("worker", "ThreadsPerChild 100", "ThreadLimit 200")
    adj = only(result)
    assert adj.stage == "first-read" and says(adj, [100, 64, 64])
    assert result.effective["ThreadsPerChild"] == 100
    assert result.effective["ThreadLimit"] == 200
    assert result.max_workers == 1600


def test_threaded_threadsperchild_zero() -> None:
    # worker.c set_threads_per_child (2.2): "Require ThreadsPerChild > 0, setting to 1".
    result = run("worker", "ThreadsPerChild 0")
    adj = only(result)
    assert adj.stage == "read" and says(adj, [0, 1])
    assert result.effective["ThreadsPerChild"] == 1


@pytest.mark.parametrize(("mpm", "hard"), [("worker", 20000), ("event", 100000)])
def test_threadlimit_compile_time_maximum(mpm: str, hard: int) -> None:
    # worker.c / experimental/event/event.c set_thread_limit (2.2): MAX_THREAD_LIMIT is 20000
    # in worker, 100000 in event ("ThreadLimit of %d exceeds compile time limit of %d
    # servers, lowering ThreadLimit to %d.").
    result = run(mpm, "ThreadLimit 150000")
    adj = only(result)
    assert says(adj, [150000, hard, hard])
    assert result.effective["ThreadLimit"] == hard
    between = run(mpm, "ThreadLimit 30000")
    if mpm == "event":
        assert between.adjustments == []
    else:
        assert says(only(between), [30000, 20000, 20000])


def test_threaded_serverlimit_maximum() -> None:
    # worker.c set_server_limit (2.2): MAX_SERVER_LIMIT 20000.
    result = run("worker", "ServerLimit 25000")
    assert says(only(result), [25000, 20000, 20000])
    assert result.effective["ServerLimit"] == 20000


def test_threaded_min_spare_and_silent_max_spare() -> None:
    # worker.c set_min_spare_threads (2.2): <= 0 -> 1; ap_mpm_run: max_spare_threads raised
    # to min_spare_threads + ap_threads_per_child, silently.
    result = run("worker", "MaxSpareThreads 10")
    silent = only(result)
    assert silent.code is None and silent.stage == "run"
    assert result.effective["MaxSpareThreads"] == 75 + 25
    result = run("event", "MinSpareThreads -4")
    assert says(only(result), [1]) and result.effective["MinSpareThreads"] == 1


# --- names and syntax --------------------------------------------------------------------------


@pytest.mark.parametrize("mpm", MPMS)
def test_new_names_are_invalid_commands(mpm: str) -> None:
    # config.c (2.2) reports a directive no module defines as "Invalid command": MaxRequestWorkers
    # and MaxConnectionsPerChild only exist from 2.3.13 on. httpd stops at the first error.
    for name in ("MaxRequestWorkers", "MaxConnectionsPerChild"):
        result = run(mpm, "MaxClients 7", f"{name} 100", "ServerLimit 0")
        adj = result.adjustments[-1]
        assert result.fatal and adj.fatal and adj.code is None and adj.line == 2
        with pytest.raises(KeyError):
            canonical(name, "2.2")


def test_event_22_has_no_async_request_worker_factor() -> None:
    # experimental/event/event.c (2.2) event_cmds: no AsyncRequestWorkerFactor.
    assert run("event", "AsyncRequestWorkerFactor 2").fatal


def test_directive_of_another_mpm_is_an_invalid_command() -> None:
    # prefork.c prefork_cmds (2.2) has no ThreadsPerChild.
    assert run("prefork", "ThreadsPerChild 25").fatal
    assert run("worker", "MaxSpareServers 25").fatal


def test_take1_arity() -> None:
    # config.c invoke_cmd (2.2), case TAKE1: "%s takes one argument".
    result = run("worker", "MaxClients 150 300")
    assert result.fatal and only(result).line == 1
    empty = evaluate_mpm("prefork", "2.2", [Setting("ServerLimit", ("",))])
    assert empty.fatal


def test_max_requests_per_child() -> None:
    # mpm_common.c ap_mpm_set_max_requests (2.2): atoi, no check, no deprecation note.
    assert run("prefork", "MaxRequestsPerChild 0").effective["MaxRequestsPerChild"] == 0
    result = run("worker", "maxrequestsperchild 500")
    assert result.adjustments == [] and result.effective["MaxRequestsPerChild"] == 500
    assert result.explicit == {"MaxRequestsPerChild"}


def test_canonical_22_names() -> None:
    assert canonical("maxclients", "2.2") == "MaxClients"
    assert canonical("MaxRequestsPerChild", "2.2") == "MaxRequestsPerChild"
    assert canonical("MinSpareThreads", "2.2") == "MinSpareThreads"
