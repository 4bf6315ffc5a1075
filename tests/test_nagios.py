"""The Nagios plugin output: ranges and states as the Monitoring Plugins guidelines define them.

Two consumers outside this code judge it: nagiosplugin (a plugin library that implements the
guidelines' ranges) decides what each range alerts on, and Icinga 2's own performance-data
parser (`icinga2 console`, installed by .ci/run) reads every performance datum we print.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httpdlint import nagios
from httpdlint.nagios import Range, Reading

nagiosplugin = pytest.importorskip("nagiosplugin")

#: The guidelines' output: `SERVICE STATUS: text | perfdata`, a datum being
#: 'label'=value[UOM];[warn];[crit];[min];[max] with UOM one of s ms us % B KB MB TB c.
LINE = re.compile(r"^(?P<service>[A-Z]+) (?P<state>OK|WARNING|CRITICAL|UNKNOWN): (?P<text>[^|\n]*)"
                  r"(?: \| (?P<perf>[^|\n]*))?$")  # fmt: skip
DATUM = re.compile(
    r"^(?P<label>'[^'=]+'|[^'= ]+)=(?P<value>-?[0-9.]+)(?P<uom>s|ms|us|%|B|KB|MB|TB|c)?"
    r"(?:;(?P<warn>[^;]*)(?:;(?P<crit>[^;]*)(?:;(?P<min>-?[0-9.]*)(?:;(?P<max>-?[0-9.]*))?)?)?)?$"
)
GUIDELINE_RANGE = re.compile(r"^@?(?:(?:~|-?[0-9.]+)?:)?(?:-?[0-9.]+)?$")


def parse(line: str) -> tuple[str, str, list[dict]]:
    """(state, text, performance data) of a plugin line, or AssertionError."""
    match = LINE.match(line)
    assert match, f"not a plugin line: {line!r}"
    data = []
    for item in re.findall(r"'[^']*'=\S+|\S+", match.group("perf") or ""):
        datum = DATUM.match(item)
        assert datum, f"not a performance datum: {item!r}"
        for key in ("warn", "crit"):
            text = datum.group(key)
            if text:
                assert GUIDELINE_RANGE.match(text), f"not a range: {text!r}"
                nagiosplugin.Range(text)  # its parser refuses what it cannot read
        data.append(datum.groupdict())
    return match.group("state"), match.group("text"), data


def icinga_parse(datum: str) -> dict:
    """Icinga 2's reading of one performance datum."""
    out = subprocess.run(
        ["icinga2", "console", "-e", f"parse_performance_data({json.dumps(datum)})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return json.loads(out.stdout)


needs_icinga = pytest.mark.skipif(
    shutil.which("icinga2") is None and os.environ.get("CI") != "true",
    reason="icinga2-bin is not installed (.ci/run installs it)",
)

TEXTS = ["90", "80:", "~:90", "10:20", "@90:", "@10:20", "0", "100", "~:", "@0:100", "2.5:7.5"]


@pytest.mark.parametrize("text", TEXTS)
def test_ranges_mean_what_the_guidelines_say(text):
    ours, theirs = Range.parse(text), nagiosplugin.Range(text)
    for value in (-5, 0, 2.5, 7.5, 10, 15, 20, 80, 89.9, 90, 95, 100, 100.1, 1e9):
        assert ours.alerts(value) == (not theirs.match(value)), (text, value)
    assert Range.parse(str(ours)) == ours


@given(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(0, 1e6, allow_nan=False),
    st.booleans(),
    st.booleans(),
    st.floats(-2e6, 2e6, allow_nan=False),
)
@settings(max_examples=300)
def test_any_range_round_trips_and_agrees(start, width, inside, open_end, value):
    start = round(start, 2)
    end = math.inf if open_end else round(start + width, 2)
    ours = Range(start, end, inside)
    text = str(ours)
    assert GUIDELINE_RANGE.match(text), text
    again = Range.parse(text)
    assert again == ours
    assert again.alerts(value) == (not nagiosplugin.Range(text).match(value))


@pytest.mark.parametrize("text", ["", "@", "abc", "10:5", "1:2:3", "90%", "~10"])
def test_bad_ranges_are_refused(text):
    with pytest.raises(ValueError, match="threshold range"):
        Range.parse(text)


def _readings(busy: float, worst: float) -> list[Reading]:
    return [
        Reading("busy_workers", busy, 150, "", f"busy peak {busy:g} of MaxRequestWorkers 150"),
        Reading("worst_case", worst, 1024**3, "B", "worst case of 1 GiB (host)"),
    ]


W, C = Range.parse(nagios.DEFAULT_WARNING), Range.parse(nagios.DEFAULT_CRITICAL)


@pytest.mark.parametrize(
    ("busy", "worst", "messages", "state"),
    [
        (10, 0.5 * 1024**3, 0, "OK"),
        (135, 0.5 * 1024**3, 0, "WARNING"),  # busy at 90 %: "at least 90 %" warns
        (134, 0.5 * 1024**3, 0, "OK"),
        (10, 0.95 * 1024**3, 0, "WARNING"),
        (10, 1.01 * 1024**3, 0, "CRITICAL"),
        (10, 0.5 * 1024**3, 3, "CRITICAL"),
    ],
)
def test_states(busy, worst, messages, state):
    code, line = nagios.evaluate(_readings(busy, worst), messages, warning=W, critical=C)
    parsed_state, text, data = parse(line)
    assert parsed_state == state == nagios.STATES[code]
    by_label = {d["label"]: d for d in data}
    assert float(by_label["busy_workers"]["value"]) == busy
    assert by_label["busy_workers"]["warn"] == "@135:"  # 90 % of 150, in workers
    assert by_label["worst_case"]["uom"] == "B"
    assert by_label["limit_messages"]["value"] == str(messages)
    # The state follows from the data by the ranges alone, as a consumer would judge it.
    judged = "OK"
    for d in data:
        value = float(d["value"])
        if d["crit"] and not nagiosplugin.Range(d["crit"]).match(value):
            judged = "CRITICAL"
        elif d["warn"] and not nagiosplugin.Range(d["warn"]).match(value) and judged == "OK":
            judged = "WARNING"
    assert judged == state


def test_text_cannot_break_the_line():
    _, line = nagios.evaluate(
        [Reading("x y", 1, 10, "", "a | b\nc")], 0, warning=W, critical=C, notes=("d|e",)
    )
    state, text, data = parse(line)
    assert "|" not in text and "\n" not in line
    assert data[0]["label"] == "'x y'"
    assert parse(nagios.unknown("no | server\nhere"))[0] == "UNKNOWN"


@needs_icinga
def test_icinga_reads_every_datum():
    _, line = nagios.evaluate(_readings(140, 0.95 * 1024**3), 2, warning=W, critical=C)
    _, _, data = parse(line)
    for item in re.findall(r"'[^']*'=\S+|\S+", line.split(" | ", 1)[1]):
        read = icinga_parse(item)
        label = item.split("=", 1)[0].strip("'")
        assert read["label"] == label
        datum = next(d for d in data if d["label"].strip("'") == label)
        assert read["value"] == pytest.approx(float(datum["value"]))
        if datum["max"]:
            assert read["max"] == pytest.approx(float(datum["max"]))
