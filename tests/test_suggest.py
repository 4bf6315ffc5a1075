"""suggest.py and the `suggest` command: inputs and where they came from, formats, errors."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path

import pytest
import typer
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from httpdlint import suggest as sg
from httpdlint.cli_capacity import register
from httpdlint.cli_options import parse_margin
from httpdlint.errors import ConfigError
from httpdlint.inputs import SizingOptions
from httpdlint.measure import HttpdTree, Measurement, Notice, Observation
from httpdlint.model import load_model
from httpdlint.mpm import Setting, evaluate_mpm
from httpdlint.output import atomic_write
from httpdlint.procfs import ProcessInfo

MIB = 1024**2
GIB = 1024**3

README_ARGS = ["suggest", "--ram", "1G", "--child-size", "25M", "--reserve", "200M"]


def given_all(**overrides) -> SizingOptions:
    """Everything given, nothing measured: a pure run."""
    base = dict(ram=GIB, child=25 * MIB, shared=0, reserve=200 * MIB, live=False)
    base.update(overrides)
    return SizingOptions(**base)


def suggest(opts: SizingOptions, model=None, measured=None) -> sg.Suggestion:
    return sg.suggest(model, opts, measured=measured, logs=False)


def proc(pid: int, ppid: int, role: str, *, rss: int, uss: int, pss: int, busy=1, cpu=30.0):
    return ProcessInfo(
        pid, ppid, "apache2", rss, uss, pss, 0, 1, 33, 600.0, True, role,
        private=uss, anon=rss // 2 if role == "parent" else 0, pte=100 * 1024, cpu=cpu,
        busy=busy,
    )  # fmt: skip


def measurement(*, libraries=("mod_mpm_prefork.so", "libphp8.2.so"), busy=1) -> Measurement:
    parent = proc(100, 1, "parent", rss=80 * MIB, uss=2 * MIB, pss=20 * MIB, busy=0)
    kids = [
        proc(101 + i, 100, "child", rss=100 * MIB, uss=(18 + i) * MIB, pss=30 * MIB, busy=busy)
        for i in range(4)
    ]
    tree = HttpdTree(parent, kids, libraries=list(libraries))
    tree.observations = [Observation(k.pid, k.busy, k.private) for k in kids]
    mysqld = ProcessInfo(200, 1, "mysqld", 400 * MIB, 390 * MIB, 395 * MIB, 0, 30, 0, 9e3)
    return Measurement(
        ram_bytes=2 * GIB,
        physical_bytes=8 * GIB,
        cgroup_limit_bytes=2 * GIB,
        trees=[tree],
        others=[mysqld],
        others_pss_bytes=450 * MIB,
        warnings=[
            Notice("no-httpd", "irrelevant here"),
            Notice("young-children", "2 of 4 children ..."),
            Notice("no-permission-others", "cannot read others"),
        ],
    )


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


# --------------------------------------------------------------------------- given numbers


def test_the_readme_example() -> None:
    result = suggest(given_all())
    assert result.recommendation.workers == 29
    assert {k: v.source for k, v in result.inputs.items()} == {
        "ram": "given",
        "child": "given",
        "shared": "given",
        "reserve": "given",
        "margin": "default",
        "mpm": "assumed",
        "version": "assumed",
        "threads_per_child": "default",
        "thread_user": "default",
        "thread_overhead": "default",
        "process_overhead": "default",
        "recycle": "default",
        "terms": "default",
    }
    text = sg.render(result, "text")
    assert "    MaxRequestWorkers      29\n" in text
    assert "  RAM                  1024 MiB  given\n" in text
    assert "MaxRequestWorkers = floor(824 MiB / 27.62 MiB) = floor(29.83) = 29" in text
    # httpd's default, compared: 256 children of 27.62 MiB on 1 GiB.
    assert (
        "now MaxRequestWorkers 256 by default: worst case 256 children x 25 MiB = 6400 MiB + "
        "0 MiB shared + 32 MiB kernel + 200 MiB reserve + 640 MiB margin (10 %) = 7272 MiB on "
        "1024 MiB RAM (7.1x RAM); recommended 29"
    ) in text


def test_cli_readme_example_without_httpd(cli: typer.Typer) -> None:
    # Whatever runs on this machine (its configuration names the MPM), the given numbers decide.
    args = [*README_ARGS, "--shared", "0", "--mpm", "prefork", "--apache-version", "2.4"]
    result = CliRunner().invoke(cli, [*args, "--no-logs"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Recommended for prefork on Apache 2.4:\n")
    assert re.search(r"\n    MaxRequestWorkers +29\n", result.stdout)


def test_json_shape() -> None:
    data = suggest(given_all()).to_json()
    assert data["schema"] == 1
    assert data["mpm"] == "prefork" and data["apache_version"] == "2.4"
    assert data["ram_bytes"] == GIB and data["reserved_bytes"] == 200 * MIB
    assert data["shared_bytes"] == 0 and data["child_bytes"] == 25 * MIB
    assert data["margin"] == 0.1 and data["source"] == "given" and data["sizing"] == "given-ram"
    assert data["recommended"]["MaxRequestWorkers"] == 29
    assert data["recommended"]["ServerLimit"] == 29
    assert data["current"]["MaxRequestWorkers"] == 256 and data["current_source"] == "default"
    assert isinstance(data["explanation"], list) and all(
        isinstance(x, str) for x in data["explanation"]
    )
    assert any("given" in line for line in data["explanation"])
    json.dumps(data)


def test_apache_22_uses_maxclients() -> None:
    result = suggest(given_all(apache_version="2.2", mpm="prefork"))
    data = result.to_json()
    assert "MaxClients" in data["recommended"] and "MaxRequestWorkers" not in data["recommended"]
    conf = sg.render(result, "conf")
    assert "<IfModule prefork.c>" in conf and "MaxClients" in conf


@pytest.mark.parametrize(
    ("mpm", "version", "module"),
    [
        ("prefork", "2.4", "mpm_prefork_module"),
        ("worker", "2.4", "mpm_worker_module"),
        ("event", "2.4", "mpm_event_module"),
        ("prefork", "2.2", "prefork.c"),
        ("worker", "2.2", "worker.c"),
        ("event", "2.2", "event.c"),
    ],
)
def test_conf_snippet_is_accepted_as_is(mpm: str, version: str, module: str) -> None:
    result = suggest(given_all(mpm=mpm, apache_version=version, ram=8 * GIB))
    conf = sg.render(result, "conf")
    lines = conf.splitlines()
    assert f"<IfModule {module}>" in lines and lines[-1] == "</IfModule>"
    # Read the snippet back the way httpd would, and run the MPM model on it.
    settings = []
    for line in lines:
        match = re.fullmatch(r"\s+(\w+)\s+(\d+)", line)
        if match:
            settings.append(Setting(match.group(1), (match.group(2),)))
    assert len(settings) == len(result.recommendation.settings)
    assert evaluate_mpm(mpm, version, settings).adjustments == []


def test_html_is_self_contained_with_chart() -> None:
    html = sg.render(suggest(given_all()), "html")
    assert html.startswith("<!DOCTYPE html>") and "</html>" in html
    assert "<svg" in html and "<polyline" in html
    assert "RAM 1024 MiB" in html
    assert "recommended 29 workers" in html and "now 256 workers" in html
    assert not re.search(r"""(src|href)=["']?https?:""", html)


def test_html_escapes() -> None:
    result = suggest(given_all())
    result.warnings.append(Notice("x", "<script>alert(1)</script>"))
    html = sg.render(result, "html")
    assert "<script>" not in html and "&lt;script&gt;" in html


def test_threaded_uses_threads_per_child_and_thread_overhead() -> None:
    result = suggest(
        given_all(mpm="event", ram=4 * GIB, threads_per_child=50, thread_overhead=128 * 1024)
    )
    r = result.recommendation
    assert r.settings["ThreadsPerChild"] == 50
    assert r.settings["MaxRequestWorkers"] == 50 * r.settings["ServerLimit"]
    assert r.per_process_cost == round(25 * MIB * 1.1) + 128 * 1024 + 51 * 128 * 1024
    assert result.inputs["threads_per_child"].source == "given"


def test_child_larger_than_budget_is_one_line_error(cli: typer.Typer) -> None:
    with pytest.raises(ConfigError, match="does not fit"):
        suggest(given_all(child=2 * GIB))
    result = CliRunner().invoke(
        cli,
        [
            *README_ARGS[:-4],
            "--child-size",
            "2G",
            "--shared",
            "0",
            "--reserve",
            "200M",
            "--no-logs",
        ],
    )
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1 and "does not fit" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ram", "lots"], "--ram: invalid size 'lots'"),
        (["--child-size", "-5M"], "--child-size: invalid size '-5M'"),
        (["--margin", "ten"], "--margin: invalid margin 'ten'"),
        (["--mpm", "winnt"], "--mpm: unknown MPM 'winnt'"),
        (["--apache-version", "2.0"], "--apache-version: '2.0'"),
        (["--format", "yaml"], "unknown format 'yaml'"),
        (["--pid", "999999999"], "no process with PID 999999999 is running"),
        (["/no/such/httpd.conf"], "No such file or directory"),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(cli: typer.Typer, args: list[str], message: str) -> None:
    result = CliRunner().invoke(cli, ["suggest", "--no-logs", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


def test_no_httpd_and_no_child_size() -> None:
    empty = Measurement(GIB, GIB, None, [], [], 0)
    with pytest.raises(ConfigError, match="give --child-size"):
        suggest(given_all(child=None), measured=empty)


@pytest.mark.parametrize(
    ("text", "value"), [("10%", 0.10), ("10", 0.10), ("0.1", 0.1), ("25 %", 0.25), ("0", 0.0)]
)
def test_parse_margin(text: str, value: float) -> None:
    assert parse_margin(text) == pytest.approx(value)


# --------------------------------------------------------------------------- measured numbers


def test_measured_inputs_flow_through() -> None:
    result = suggest(SizingOptions(live=False), measured=measurement())
    s = result.sizing
    assert s.ram == 2 * GIB  # the cgroup limit, below physical memory
    assert s.child == 21 * MIB  # the largest child's private memory
    assert s.shared == 40 * MIB  # the parent's anonymous memory, once
    assert s.reserve == 450 * MIB  # every other process's PSS
    assert s.mpm == "prefork" and s.recycle
    assert s.process_overhead == 64 * 1024 + 100 * 1024  # calibrated + measured page tables
    sources = {k: v.source for k, v in result.inputs.items()}
    assert sources["ram"] == sources["child"] == sources["shared"] == "measured"
    assert sources["reserve"] == sources["mpm"] == sources["recycle"] == "measured"
    assert "cgroup limit 2048 MiB" in result.inputs["ram"].note
    assert "PID 104" in result.inputs["child"].note
    assert result.recommendation.settings["MaxConnectionsPerChild"] > 0
    data = result.to_json()
    assert data["source"] == "measured" and data["sizing"] == "this-machine"
    kernel = 64 * 1024 + 100 * 1024
    assert data["running"]["predicted_bytes"] == 40 * MIB + 4 * (21 * MIB + kernel)
    assert data["running"]["pss_total_bytes"] == 20 * MIB + 4 * 30 * MIB
    text = sg.render(result, "text")
    assert "running now: 4 children: predicted" in text
    # Only the warnings that concern numbers in use.
    assert [w.code for w in result.warnings] == ["young-children", "no-permission-others"]


def test_children_between_requests_are_declined_with_the_command_to_run() -> None:
    result = suggest(SizingOptions(live=False), measured=measurement(busy=0))
    assert result.recommendation is None
    data = result.to_json()
    assert data["recommended"] is None and "--duration" in data["declined"]
    assert data["child_bytes"] == 21 * MIB  # the measured inputs are still shown
    text = sg.render(result, "text")
    assert text.startswith("No recommendation for prefork") and "--duration" in text
    with pytest.raises(ConfigError, match="no recommendation"):
        sg.render(result, "conf")
    # Without an interpreter in the children a look between requests is their size.
    static = suggest(
        SizingOptions(live=False), measured=measurement(libraries=("mod_mpm_prefork.so",), busy=0)
    )
    assert static.recommendation is not None


def test_given_reserve_drops_the_others_permission_warning() -> None:
    result = suggest(SizingOptions(reserve=100 * MIB, live=False), measured=measurement())
    assert [w.code for w in result.warnings] == ["young-children"]
    assert result.inputs["reserve"].source == "given"


def test_given_ram_leaves_this_machines_processes_out() -> None:
    # --ram names the machine being sized: the reserve is the documented default, not the
    # 450 MiB other processes hold here; the children are still measured here.
    result = suggest(SizingOptions(ram=GIB, live=False), measured=measurement())
    assert result.gathered.mode == "given-ram"
    assert result.sizing.reserve == 128 * MIB and result.inputs["reserve"].source == "default"
    assert result.sizing.child == 21 * MIB and result.inputs["child"].source == "measured"


def test_measured_event_mpm() -> None:
    result = suggest(
        SizingOptions(live=False),
        measured=measurement(libraries=("mod_mpm_event.so",)),
    )
    assert result.sizing.mpm == "event" and not result.sizing.recycle
    assert "ThreadsPerChild" in result.recommendation.settings


# --------------------------------------------------------------------------- configuration


def test_configuration_supplies_mpm_current_settings_and_modules(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"ServerRoot {tmp_path}\n"
        "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so\n"
        "LoadModule perl_module /usr/lib/apache2/modules/mod_perl.so\n"
        "<IfModule mpm_event_module>\n"
        "    ThreadsPerChild 32\n"
        "    ServerLimit 25\n"
        "    MaxRequestWorkers 800\n"
        "</IfModule>\n"
    )
    result = suggest(
        given_all(ram=4 * GIB, shared=50 * MIB, reserve=500 * MIB), model=load_model(str(conf))
    )
    assert result.sizing.mpm == "event" and result.inputs["mpm"].source == "config"
    assert result.sizing.threads_per_child == 32
    assert result.inputs["threads_per_child"].source == "config"
    assert result.sizing.recycle and "perl_module" in result.inputs["recycle"].note
    assert result.current["MaxRequestWorkers"] == 800
    assert result.gathered.current_source == "config"
    assert result.current_processes == 25
    assert "now MaxRequestWorkers 800 (25 processes) in the config" in sg.render(result, "text")


# --------------------------------------------------------------------------- writing


def test_write_atomic_replaces_whole_file_with_readable_mode(tmp_path: Path) -> None:
    out = tmp_path / "mpm.conf"
    out.write_text("old")
    old_umask = os.umask(0o022)
    try:
        atomic_write(str(out), "new\n")
    finally:
        os.umask(old_umask)
    assert out.read_text() == "new\n"
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["mpm.conf"]


def test_write_atomic_failure_leaves_old_file_and_no_temp(tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "mpm.conf"
    out.write_text("old")

    def broken(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(ConfigError, match="No space left on device"):
        atomic_write(str(out), "new")
    assert out.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["mpm.conf"]


def test_cli_output_file(cli: typer.Typer, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    result = CliRunner().invoke(
        cli, [*README_ARGS, "--shared", "0", "--no-logs", "--format", "html", "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "" and "<svg" in out.read_text()


# --------------------------------------------------------------------------- properties

sizes = st.integers(min_value=0, max_value=64 * GIB)


@given(
    ram=st.integers(min_value=1, max_value=1024 * GIB),
    child=st.integers(min_value=1, max_value=16 * GIB),
    shared=sizes,
    reserve=sizes,
    margin=st.floats(min_value=0, max_value=3),
    mpm=st.sampled_from(["prefork", "worker", "event"]),
    version=st.sampled_from(["2.2", "2.4"]),
    tpc=st.integers(min_value=1, max_value=500),
)
def test_suggest_recommends_or_refuses_never_zero(
    ram, child, shared, reserve, margin, mpm, version, tpc
) -> None:
    opts = given_all(
        ram=ram,
        child=child,
        shared=shared,
        reserve=reserve,
        margin=margin,
        mpm=mpm,
        apache_version=version,
        threads_per_child=tpc,
    )
    try:
        result = suggest(opts)
    except ConfigError as exc:
        assert "does not fit" in str(exc)
        return
    assert result.recommendation.workers >= 1
    assert not [w for w in result.warnings if w.code == "httpd-adjusts"]
    data = result.to_json()
    key = "MaxClients" if version == "2.2" else "MaxRequestWorkers"
    assert data["recommended"][key] == result.recommendation.workers


def test_suggest_on_the_outage_example_says_the_limit_is_a_default() -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "examples" / "outage" / "conf" / "httpd.conf"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "httpdlint",
            "suggest",
            str(example),
            "--ram",
            "1G",
            "--child-size",
            "25M",
            "--reserve",
            "200M",
            "--shared",
            "0",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    assert "MaxClients 256 by default" in res.stdout
    assert "MaxRequestsPerChild" in res.stdout  # mod_perl is loaded: children are recycled
    assert "MaxClients = floor(824 MiB / 27.62 MiB) = floor(29.83) = 29" in res.stdout


# --------------------------------------------------------------------------- threads, pools


def threaded(observations: list[tuple[int, int]], tpc: int = 10) -> HttpdTree:
    parent = proc(100, 1, "parent", rss=80 * MIB, uss=2 * MIB, pss=20 * MIB, busy=0)
    kids = [
        proc(101 + i, 100, "child", rss=100 * MIB, uss=p, pss=30 * MIB, busy=b)
        for i, (b, p) in enumerate(observations)
    ]
    tree = HttpdTree(parent, kids, libraries=["mod_mpm_worker.so", "mod_perl.so"])
    tree.observations = [Observation(k.pid, k.busy, k.private) for k in kids]
    return tree


def test_per_busy_thread_memory_is_fitted_from_the_observations() -> None:
    from httpdlint.inputs import fit_threads

    # 40 MiB with no thread busy, 8 MiB more for each busy one (an interpreter per thread).
    tree = threaded([(b, 40 * MIB + b * 8 * MIB) for b in (1, 3, 3, 6)])
    base, per_thread, how = fit_threads(tree, 10)
    assert base == 40 * MIB and per_thread == 8 * MIB and "0 to 6 of 10 threads" in how
    # No spread in the busy counts, or memory that does not grow with them: no fit.
    assert fit_threads(threaded([(4, 70 * MIB), (4, 72 * MIB)]), 10) is None
    assert fit_threads(threaded([(1, 90 * MIB), (5, 70 * MIB)]), 10) is None


def test_a_threaded_child_seen_half_busy_is_sized_with_every_thread_busy() -> None:
    tree = threaded([(b, 40 * MIB + b * 8 * MIB) for b in (1, 3, 5)])
    m = measurement(libraries=("mod_mpm_worker.so", "mod_perl.so"))
    m.trees = [tree]
    result = suggest(SizingOptions(live=False, threads_per_child=10), measured=m)
    s = result.sizing
    assert s.child == 40 * MIB and s.thread_user == 8 * MIB
    assert result.recommendation.per_process_cost >= round(120 * MIB * 1.1)
    assert result.inputs["thread_user"].source == "measured"


def test_pools_get_their_own_block_in_the_conf_snippet() -> None:
    result = suggest(
        given_all(mpm="event", ram=4 * GIB, pool_children=12, pool_worker_size=40 * MIB)
    )
    conf = sg.render(result, "conf")
    httpd_part, pool_part = conf.split("; ---- backend pool:", 1)
    assert "<IfModule mpm_event_module>" in httpd_part and "pm.max_children" not in httpd_part
    assert "[pool]" in pool_part and "pm.max_children = 12" in pool_part
    data = result.to_json()
    assert data["pools"][0]["count"] == 12 and data["pools"][0]["each_bytes"] == 40 * MIB
    # 400 workers in front of 12 PHP workers: said, with the factor.
    assert any(w.code == "concurrency" for w in result.warnings)
