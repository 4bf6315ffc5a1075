"""httpdlint.mpm against the real apache2 (2.4): same AH codes, same numbers, same failures.

Each example writes a minimal configuration that loads one MPM, runs ``apache2 -t -e info``
(``-t`` only reads and checks, nothing binds; ``-e info`` makes the deprecation notes of
MaxClients / MaxRequestsPerChild visible) and compares, in order, the AH codes httpd prints
with the codes of the adjustments httpdlint reports, and the numbers in each message.
The file also holds the pure unit tests of mpm.py's 2.4 side.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from httpdlint.mpm import (
    MPM_SETTINGS,
    MPMS,
    SPELLING,
    Adjustment,
    MpmResult,
    Setting,
    c_atoi,
    canonical,
    compiled_defaults,
    evaluate_mpm,
    settings_for,
)

MIB = 1024 * 1024
GIB = 1024 * MIB
AH_LINE = re.compile(r"\b(AH\d{5}): (.*)")
SYNTAX_LINE = re.compile(r"on line (\d+) of ")
NUMBER = re.compile(r"-?\d+")
INT_MAX = 2**31 - 1


def numbers(text: str) -> list[int]:
    return [int(n) for n in NUMBER.findall(text)]


# --- running apache2 ---------------------------------------------------------------------------


def render_arg(arg: str) -> str:
    """Quote an argument the way ap_getword_conf reads it back as one word."""
    return f'"{arg}"' if arg == "" or any(c in arg for c in " \t") else arg


class Apache:
    """Writes one configuration per call into a fixed directory and runs apache2 -t on it."""

    def __init__(self, binary: str, modules: Path, root: Path, mpm: str):
        self.binary, self.root, self.mpm = binary, root, mpm
        self.conf = root / "httpd.conf"
        self.header = [
            "ServerName localhost",
            f'ErrorLog "{root}/error.log"',
            f'PidFile "{root}/httpd.pid"',
            "Listen 127.0.0.1:8",
            f'LoadModule mpm_{mpm}_module "{modules}/mod_mpm_{mpm}.so"',
        ]

    def settings(self, directives: list[tuple[str, tuple[str, ...]]]) -> list[Setting]:
        first = len(self.header) + 1
        return [
            Setting(name, args, str(self.conf), first + i)
            for i, (name, args) in enumerate(directives)
        ]

    def run(self, directives: list[tuple[str, tuple[str, ...]]]) -> tuple[int, str]:
        body = [" ".join([name, *map(render_arg, args)]) for name, args in directives]
        self.conf.write_text("\n".join(self.header + body) + "\n")
        proc = subprocess.run(
            [self.binary, "-t", "-e", "info", "-f", str(self.conf), "-d", str(self.root)],
            capture_output=True,
            text=True,
            timeout=30,
            env={"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"},
        )
        return proc.returncode, proc.stderr + proc.stdout


def httpd_messages(output: str) -> list[tuple[str, str]]:
    """(AH code, message) in printed order; AH00526 keeps its syntax-error line number."""
    return [(m.group(1), m.group(2)) for m in map(AH_LINE.search, output.splitlines()) if m]


def assert_same_as_httpd(result: MpmResult, rc: int, output: str) -> None:
    printed = httpd_messages(output)
    ours: list[Adjustment] = [a for a in result.adjustments if a.code is not None]
    detail = f"\nhttpd printed:\n{output}\nhttpdlint:\n" + "\n".join(
        f"{a.code} {a.message}" for a in ours
    )
    assert [code for code, _ in printed] == [a.code for a in ours], detail
    for (code, text), adj in zip(printed, ours, strict=True):
        if code == "AH00526":
            # The path may hold digits: compare the line number only.
            m = SYNTAX_LINE.search(text)
            assert m and int(m.group(1)) == adj.line and adj.fatal, detail
        else:
            assert numbers(text) == numbers(adj.message), detail
    assert (rc != 0) == result.fatal, detail
    if rc == 0:
        assert "Syntax OK" in output, detail


def assert_invariants(result: MpmResult) -> None:
    """What httpd guarantees after check_config, whatever the input."""
    if result.fatal:
        return
    eff = result.effective
    assert eff["ServerLimit"] >= 1
    assert eff["StartServers"] >= 1
    if result.name == "prefork":
        assert 1 <= eff["MaxRequestWorkers"] <= eff["ServerLimit"]
        assert eff["MinSpareServers"] >= 1
        if eff["MinSpareServers"] + 1 <= INT_MAX:  # else the C sum overflows: no raise
            assert eff["MaxSpareServers"] >= eff["MinSpareServers"] + 1
    else:
        assert 1 <= eff["ThreadsPerChild"] <= eff["ThreadLimit"]
        assert eff["MaxRequestWorkers"] % eff["ThreadsPerChild"] == 0
        assert eff["processes"] == result.processes_needed() <= eff["ServerLimit"]
        floor = eff["MinSpareThreads"] + eff["ThreadsPerChild"] + 1
        if floor <= INT_MAX:
            assert eff["MaxSpareThreads"] >= floor


# --- strategies --------------------------------------------------------------------------------

INT_WORDS = [
    "0", "1", "-1", "2", "999999", "2147483647", "2147483648", "4294967297", "99999999999",
    "99999999999999999999", "-99999999999999999999", "+5", "-0", " 7", "\t-3x", "12abc",
    "abc", "0x10", "", "3 ", "- 4", "+-2",
]  # fmt: skip
FLOAT_WORDS = [
    "2", "0.5", "1.5", "0", "-1", "abc", "1e3", "0x1p3", "inf", "nan", "1e", ".", " 2",
    "2 ", "1e999", "1e-999", "0x", "+3.25", "-0", "0.01", "4294967296", "1e30", "",
]  # fmt: skip
# Around the compile-time limits (20000, 100000, 200000).
LIMITS = ["1", "19999", "20000", "20001", "99999", "100000", "100001", "200000", "200001", "300000"]
# Only characters ap_getword_conf passes through unchanged inside double quotes.
WORD_CHARS = "0123456789+-abex. \t"

int_word = st.one_of(
    st.sampled_from(INT_WORDS),
    st.integers(-5, 70).map(str),
    st.integers(0, 300000).map(str),
    st.integers(-(2**40), 2**40).map(str),
    st.sampled_from(LIMITS),
    st.text(WORD_CHARS, min_size=1, max_size=6),
)
float_word = st.one_of(
    st.sampled_from(FLOAT_WORDS),
    st.floats(min_value=-4, max_value=1e6, allow_nan=False).map(str),
    st.floats(min_value=0.01, max_value=64).map(str),
    st.text(WORD_CHARS, min_size=1, max_size=6),
)
# A directive of another MPM, an invalid command here.
FOREIGN = {
    "prefork": ["ThreadsPerChild", "MaxSpareThreads", "AsyncRequestWorkerFactor"],
    "worker": ["MinSpareServers", "AsyncRequestWorkerFactor"],
    "event": ["MaxSpareServers"],
}
SPELLED = SPELLING  # as httpd's command tables spell the names


@st.composite
def directive(draw: st.DrawFn, mpm: str) -> tuple[str, tuple[str, ...]]:
    # Kept rare so that most examples reach check_config: each of these stops httpd.
    names = sorted(SPELLED[n] for n in settings_for(mpm, "2.4"))
    if draw(st.integers(0, 59)) == 0:
        name = draw(st.sampled_from(FOREIGN[mpm]))
    else:
        name = draw(st.sampled_from(names))
    name = draw(st.sampled_from([name, name, name.lower(), name.upper()]))
    word = float_word if name.lower() == "asyncrequestworkerfactor" else int_word
    shape = draw(st.integers(0, 59))
    if shape == 0:
        return name, ()
    if shape == 1:
        return name, (draw(word), draw(word))
    return name, (draw(word),)


def directives(mpm: str) -> st.SearchStrategy[list[tuple[str, tuple[str, ...]]]]:
    return st.lists(directive(mpm), max_size=8)


# --- the differential tests --------------------------------------------------------------------

# At least 200 examples per MPM; more when the profile asks (--hypothesis-profile thorough).
EXAMPLES = max(200, hsettings.default.max_examples)


@pytest.fixture(scope="module")
def apaches(apache2_bin: str, apache2_modules_dir: Path, tmp_path_factory) -> dict[str, Apache]:
    return {
        mpm: Apache(apache2_bin, apache2_modules_dir, tmp_path_factory.mktemp(mpm), mpm)
        for mpm in MPMS
    }


def check(apache: Apache, given_directives: list[tuple[str, tuple[str, ...]]]) -> None:
    rc, output = apache.run(given_directives)
    result = evaluate_mpm(apache.mpm, "2.4", apache.settings(given_directives))
    assert_same_as_httpd(result, rc, output)
    assert_invariants(result)


@pytest.mark.apache
@hsettings(max_examples=EXAMPLES)
@given(given_directives=directives("prefork"))
@example([("MaxClients", ("300",)), ("ServerLimit", ("0",)), ("MinSpareServers", ("-2",))])
@example([("ServerLimit", ("100",))])
@example([("MaxRequestWorkers", ("1",)), ("StartServers", ("0",)), ("MaxSpareServers", ("0",))])
@example([("MaxRequestsPerChild", ("12x",)), ("MaxRequestWorkers", ("1", "2"))])
@example([("ServerLimit", ("99999999999",)), ("MaxRequestWorkers", ("-99999999999999999999",))])
@example([("MinSpareServers", ("2147483647",)), ("MaxSpareServers", ("10",))])
def test_prefork_matches_apache2(apaches, given_directives) -> None:
    check(apaches["prefork"], given_directives)


@pytest.mark.apache
@hsettings(max_examples=EXAMPLES)
@given(given_directives=directives("worker"))
@example([("MaxClients", ("7",)), ("ThreadsPerChild", ("0",)), ("ServerLimit", ("-3",))])
@example([("MaxRequestWorkers", ("1000",))])
@example([("ThreadsPerChild", ("30",)), ("MaxRequestWorkers", ("100",))])
@example([("ThreadLimit", ("99999",)), ("ThreadsPerChild", ("99999",)), ("ServerLimit", ("1",))])
@example([("MinSpareThreads", ("300",)), ("MaxSpareThreads", ("10",))])
def test_worker_matches_apache2(apaches, given_directives) -> None:
    check(apaches["worker"], given_directives)


@pytest.mark.apache
@hsettings(max_examples=EXAMPLES)
@given(given_directives=directives("event"))
@example([("AsyncRequestWorkerFactor", ("2x",))])
@example([("AsyncRequestWorkerFactor", ("0",)), ("MaxClients", ("1",))])
@example([("AsyncRequestWorkerFactor", ("",))])
@example([("AsyncRequestWorkerFactor", ("nan",)), ("AsyncRequestWorkerFactor", ("-0",))])
@example([("ThreadLimit", ("999999",)), ("ThreadsPerChild", ("100000",))])
@example([("MaxRequestWorkers", ("2147483647",)), ("ServerLimit", ("20000",))])
def test_event_matches_apache2(apaches, given_directives) -> None:
    check(apaches["event"], given_directives)


# --- compiled defaults -------------------------------------------------------------------------

# From the 2.4.x source: <mpm>.c DEFAULT_*_LIMIT, <mpm>/mpm_default.h, mpm_common.c.
DEFAULTS_24 = {
    "prefork": {
        "MaxRequestWorkers": 256, "ServerLimit": 256, "StartServers": 5,
        "MinSpareServers": 5, "MaxSpareServers": 10, "MaxConnectionsPerChild": 0,
        "processes": 256, "processes_at_start": 5,
    },
    "worker": {
        "MaxRequestWorkers": 400, "ServerLimit": 16, "ThreadLimit": 64, "ThreadsPerChild": 25,
        "StartServers": 3, "MinSpareThreads": 75, "MaxSpareThreads": 250,
        "MaxConnectionsPerChild": 0, "processes": 16, "processes_at_start": 3,
    },
}  # fmt: skip
DEFAULTS_24["event"] = {**DEFAULTS_24["worker"], "AsyncRequestWorkerFactor": 2.0}
HARD_LIMITS_24 = {"prefork": (200000, None), "worker": (20000, 20000), "event": (20000, 100000)}


def test_compiled_defaults_24() -> None:
    for mpm in MPMS:
        result = evaluate_mpm(mpm, "2.4", [])
        assert result.effective == DEFAULTS_24[mpm]
        assert compiled_defaults(mpm, "2.4.71") == DEFAULTS_24[mpm]
        assert result.adjustments == [] and result.explicit == set()


def probe(apache: Apache, directives: list[tuple[str, tuple[str, ...]]], code: str) -> list[int]:
    """The numbers httpd prints for `code` when given `directives` (and check the model)."""
    rc, output = apache.run(directives)
    assert rc == 0, output
    assert_same_as_httpd(evaluate_mpm(apache.mpm, "2.4", apache.settings(directives)), rc, output)
    found = [text for c, text in httpd_messages(output) if c == code]
    assert found, output
    return numbers(found[0])


@pytest.mark.apache
@pytest.mark.parametrize("mpm", MPMS)
def test_defaults_and_limits_as_apache2_prints_them(apaches, mpm: str) -> None:
    """httpd only prints a default or a limit when a value collides with it: provoke that.

    StartServers, the spare settings, MaxConnectionsPerChild and AsyncRequestWorkerFactor
    never show up this way; those defaults rest on the source alone.
    """
    apache, d = apaches[mpm], DEFAULTS_24[mpm]
    max_sl, max_tl = HARD_LIMITS_24[mpm]
    codes = {
        "prefork": ("AH00175", "AH00180"),
        "worker": ("AH00300", "AH00318"),
        "event": ("AH00497", "AH00515"),
    }[mpm]
    # ServerLimit above the compile-time maximum: httpd prints the maximum.
    assert probe(apache, [("ServerLimit", ("999999999",))], codes[0]) == [
        999999999, max_sl, max_sl
    ]  # fmt: skip
    if mpm == "prefork":
        # ServerLimit 1: the default MaxRequestWorkers (256) collides with it.
        assert probe(apache, [("ServerLimit", ("1",))], "AH00180") == [d["MaxRequestWorkers"], 1, 1]
        # A huge MaxRequestWorkers collides with the default ServerLimit.
        assert probe(apache, [("MaxRequestWorkers", ("999999",))], "AH00180") == [
            999999, d["ServerLimit"], d["ServerLimit"]
        ]  # fmt: skip
        return
    tl_codes = {"worker": ("AH00305", "AH00310"), "event": ("AH00502", "AH00507")}[mpm]
    tpc, sl = d["ThreadsPerChild"], d["ServerLimit"]
    # ServerLimit 1: default MaxRequestWorkers 400 = 16 x 25 collides with it.
    assert probe(apache, [("ServerLimit", ("1",))], codes[1]) == [
        d["MaxRequestWorkers"], d["MaxRequestWorkers"] // tpc, 1, tpc
    ]  # fmt: skip
    # A huge multiple of 25 collides with the default ServerLimit.
    assert probe(apache, [("MaxRequestWorkers", ("1000000",))], codes[1]) == [
        1000000, 1000000 // tpc, sl, sl * tpc
    ]  # fmt: skip
    assert probe(apache, [("ThreadLimit", ("999999999",))], tl_codes[0]) == [
        999999999, max_tl, max_tl
    ]  # fmt: skip
    assert probe(apache, [("ThreadsPerChild", ("999999",))], tl_codes[1]) == [
        999999, d["ThreadLimit"], d["ThreadLimit"]
    ]  # fmt: skip


# --- unit tests of the 2.4 model ---------------------------------------------------------------


def test_c_atoi_follows_glibc() -> None:
    cases = {
        "12": 12, "12abc": 12, "abc": 0, "": 0, " \t\n\x0b\x0c\r7": 7, "+5": 5, "-5": -5,
        "-0": 0, "+-2": 0, "- 4": 0, "0x10": 0, "2147483647": 2147483647,
        "2147483648": -2147483648, "99999999999": 1215752191, "4294967297": 1,
        "99999999999999999999": -1, "-99999999999999999999": 0, "\u0661\u0662": 0,
    }  # fmt: skip
    for text, value in cases.items():
        assert c_atoi(text) == value, text


def test_canonical_names() -> None:
    assert canonical("maxclients", "2.4") == "MaxRequestWorkers"
    assert canonical("MaxRequestsPerChild", "2.4") == "MaxConnectionsPerChild"
    assert canonical("MAXCLIENTS", "2.2") == "MaxClients"
    assert canonical("threadlimit", "2.2.34") == "ThreadLimit"
    with pytest.raises(KeyError, match="MaxClients"):
        canonical("MaxRequestWorkers", "2.2")
    with pytest.raises(KeyError):
        canonical("AsyncRequestWorkerFactor", "2.2")
    with pytest.raises(KeyError):
        canonical("ServerName", "2.4")
    with pytest.raises(ValueError):
        canonical("ServerLimit", "2.0")
    assert "maxclients" in MPM_SETTINGS["prefork"]
    assert "maxrequestworkers" in MPM_SETTINGS["worker"]
    assert "asyncrequestworkerfactor" in MPM_SETTINGS["event"]
    assert "threadsperchild" not in MPM_SETTINGS["prefork"]


def test_old_and_new_names_share_one_setting_last_wins() -> None:
    result = evaluate_mpm(
        "prefork",
        "2.4",
        [Setting("MaxRequestWorkers", ("100",)), Setting("MaxClients", ("150",), "a.conf", 9)],
    )
    assert result.max_workers == 150
    assert result.explicit == {"MaxRequestWorkers"}
    (note,) = result.adjustments
    assert (note.code, note.level, note.line) == ("AH00188", "info", 9)


def test_prefork_default_ignores_server_limit_in_24() -> None:
    # prefork.c prefork_pre_config: ap_daemons_limit = server_limit *before* reading, so
    # ServerLimit alone leaves MaxRequestWorkers at 256.
    result = evaluate_mpm("prefork", "2.4", [Setting("ServerLimit", ("1000",))])
    assert result.max_workers == 256 and result.effective["ServerLimit"] == 1000


def test_threaded_cap_by_server_limit_reports_capacity() -> None:
    result = evaluate_mpm("event", "2.4", [Setting("MaxRequestWorkers", ("1000",), "e.conf", 3)])
    (adj,) = result.adjustments
    assert (adj.code, adj.restart_code, adj.line) == ("AH00515", "AH00516", 3)
    assert numbers(adj.message) == [1000, 40, 16, 400]
    assert result.max_workers == 400 and result.processes_needed() == 16


def test_silent_run_time_raise_of_max_spare() -> None:
    result = evaluate_mpm(
        "worker", "2.4", [Setting("MinSpareThreads", ("300",)), Setting("MaxSpareThreads", ("10",))]
    )
    (adj,) = result.adjustments
    assert adj.code is None and adj.stage == "run"
    assert result.effective["MaxSpareThreads"] == 300 + 25 + 1
    prefork = evaluate_mpm("prefork", "2.4", [Setting("MaxSpareServers", ("0",))])
    assert prefork.effective["MaxSpareServers"] == 6


def test_listen_buckets_raise_values_at_run() -> None:
    result = evaluate_mpm("worker", "2.4", [Setting("StartServers", ("1",))], listen_buckets=4)
    assert result.effective["StartServers"] == 4
    assert result.effective["MinSpareThreads"] == 25 * 3 + 4


def test_async_request_worker_factor() -> None:
    def factor(word: str) -> float | None:
        result = evaluate_mpm("event", "2.4", [Setting("AsyncRequestWorkerFactor", (word,))])
        return None if result.fatal else result.effective["AsyncRequestWorkerFactor"]

    assert factor("3") == 3.0
    assert factor("0.5") == 1.0  # event.c set_worker_factor: raised to 1 (16/16)
    assert factor("1.03") == 1.0  # stored in sixteenths, truncated
    assert factor("0x1.8p1") == 3.0
    assert factor(" 2") == 2.0
    assert factor("2 ") is None and factor("abc") is None and factor("1e") is None
    assert factor("0") is None and factor("-1") is None
    assert factor("nan") == 1.0  # undefined in C; x86-64 gcc gives 0, then 16/16


def test_unknown_directive_for_the_mpm_is_fatal() -> None:
    result = evaluate_mpm(
        "prefork",
        "2.4",
        [Setting("ServerName", ("x",)), Setting("ThreadsPerChild", ("5",), "m.conf", 4)],
    )
    (adj,) = result.adjustments
    assert adj.fatal and adj.code == "AH00526" and adj.line == 4
