"""The capacity arithmetic: worked examples and the properties that make it trustworthy.

Properties: more RAM never yields fewer workers, a larger child never yields more; every
recommendation passes httpd's own startup checks (the MPM model) without one adjustment; a
child larger than the budget is an error, never zero workers. Memory constraints (cgroup
limits): adding one never yields more workers, one with a budget above the host's changes
nothing, and a recommendation fits every constraint over httpd.
"""

from __future__ import annotations

import contextlib
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from httpdlint import capacity
from httpdlint.capacity import (
    CapacityError,
    Constraint,
    Sizing,
    Term,
    budget,
    concurrency_notes,
    constraint_notes,
    max_processes,
    per_process_cost,
    predicted,
    recommend,
    within,
    worst_case,
)
from httpdlint.mpm import Setting, evaluate_mpm

MIB = 1024**2
GIB = 1024**3

mpms = st.sampled_from(capacity.MPMS)
versions = st.sampled_from(capacity.VERSIONS)
rams = st.integers(min_value=1 * MIB, max_value=4 * 1024 * GIB)
children = st.integers(min_value=64 * 1024, max_value=8 * GIB)
small = st.integers(min_value=0, max_value=64 * GIB)
margins = st.floats(min_value=0.0, max_value=2.0, allow_nan=False)
tpcs = st.integers(min_value=1, max_value=20000)
terms = st.lists(
    st.builds(
        Term,
        kind=st.sampled_from(["daemon", "pool"]),
        name=st.sampled_from(["php-fpm www", "wsgi:app", "piped loggers"]),
        count=st.integers(min_value=0, max_value=200),
        each=st.integers(min_value=0, max_value=512 * MIB),
        base=st.integers(min_value=0, max_value=256 * MIB),
        threads=st.integers(min_value=1, max_value=32),
    ),
    max_size=3,
)


constraints = st.builds(
    Constraint,
    name=st.sampled_from(["/system.slice/apache2.service memory.max", "/ memory.high"]),
    limit=st.integers(min_value=1 * MIB, max_value=4 * 1024 * GIB),
    httpd=st.booleans(),
    terms=st.lists(st.sampled_from(["php-fpm www", "wsgi:app", "piped loggers"])).map(tuple),
    others=small,
)


def memory_at(s: Sizing, processes: int) -> int:
    return worst_case(s, processes).total


@st.composite
def sizings(draw) -> Sizing:
    mpm = draw(mpms)
    return Sizing(
        ram=draw(rams),
        reserve=draw(small),
        shared=draw(small),
        child=draw(children),
        margin=draw(margins),
        mpm=mpm,
        version=draw(versions),
        threads_per_child=draw(tpcs) if mpm != "prefork" else capacity.DEFAULT_THREADS_PER_CHILD,
        process_overhead=draw(st.integers(min_value=0, max_value=4 * MIB)),
        thread_overhead=draw(st.integers(min_value=0, max_value=1 * MIB)),
        thread_user=draw(st.integers(min_value=0, max_value=64 * MIB)) if mpm != "prefork" else 0,
        terms=tuple(draw(terms)),
        recycle=draw(st.booleans()),
    )


def workers_or_none(s: Sizing) -> int | None:
    """The recommended worker count, None where no child fits (an error, not zero)."""
    try:
        return recommend(s).workers
    except CapacityError:
        return None


def adjustments(rec: capacity.Recommendation) -> list:
    s = rec.sizing
    settings = [Setting(name, (str(value),)) for name, value in rec.settings.items()]
    return evaluate_mpm(s.mpm, s.version, settings).adjustments


# --------------------------------------------------------------------------- worked examples


def test_the_outage_story_1g_ram_25m_children() -> None:
    # 1 GiB, 200 MiB for the OS and the database, 25 MiB children, 10 % margin:
    # (1024 - 200) / (25 x 1.1 + 0.125) = 824 / 27.625 = 29.83 -> 29, not httpd's default 256.
    rec = recommend(Sizing(ram=GIB, reserve=200 * MIB, shared=0, child=25 * MIB))
    assert rec.workers == 29
    assert rec.settings == {
        "ServerLimit": 29,
        "StartServers": 5,
        "MinSpareServers": 5,
        "MaxSpareServers": 10,
        "MaxRequestWorkers": 29,
    }
    assert rec.steps[0] == "budget = RAM - reserve - shared = 1024 MiB - 200 MiB - 0 MiB = 824 MiB"
    assert "floor(824 MiB / 27.62 MiB) = floor(29.83) = 29" in rec.steps[2]
    # Without the reserve and margin, 1 GiB / 25 MiB children is the "around 32" of the story.
    bare = Sizing(ram=GIB, reserve=0, shared=0, child=25 * MIB, margin=0, process_overhead=0)
    assert recommend(bare).workers == 40  # 1024 / 25 = 40.96
    assert memory_at(bare, 256) == 6400 * MIB  # httpd's default: 6400 MiB on 1024 MiB


def test_margin_multiplies_the_child_only() -> None:
    s = Sizing(ram=GIB, reserve=0, shared=100 * MIB, child=10 * MIB, margin=0.5, process_overhead=0)
    assert per_process_cost(s) == 15 * MIB
    assert recommend(s).workers == (GIB - 100 * MIB) // (15 * MIB)


def test_threaded_sizes_server_limit_by_process_cost() -> None:
    s = Sizing(
        ram=4 * GIB,
        reserve=1 * GIB,
        shared=64 * MIB,
        child=30 * MIB,
        mpm="event",
        threads_per_child=25,
        thread_overhead=64 * 1024,
        process_overhead=256 * 1024,
    )
    cost = round(30 * MIB * 1.1) + 256 * 1024 + 26 * 64 * 1024
    assert per_process_cost(s) == cost
    rec = recommend(s)
    assert rec.processes == (3 * GIB - 64 * MIB) // cost
    assert rec.settings["ServerLimit"] == rec.processes
    assert rec.settings["MaxRequestWorkers"] == rec.processes * 25
    assert rec.settings["ThreadsPerChild"] == 25
    assert adjustments(rec) == []


def test_apache_22_names() -> None:
    rec = recommend(
        Sizing(ram=GIB, reserve=0, shared=0, child=20 * MIB, version="2.2", recycle=True)
    )
    assert "MaxClients" in rec.settings and "MaxRequestWorkers" not in rec.settings
    assert rec.settings["MaxRequestsPerChild"] == capacity.RECYCLE_PREFORK
    assert adjustments(rec) == []


def test_recycle_only_when_asked() -> None:
    base = Sizing(ram=GIB, reserve=0, shared=0, child=20 * MIB)
    assert "MaxConnectionsPerChild" not in recommend(base).settings
    rec = recommend(Sizing(**{**base.__dict__, "recycle": True}))
    assert rec.settings["MaxConnectionsPerChild"] > 0


def test_compile_time_limit_caps() -> None:
    rec = recommend(Sizing(ram=2**50, reserve=0, shared=0, child=64 * 1024, process_overhead=0))
    assert rec.workers == capacity.MAX_SERVER_LIMIT["prefork"]
    assert "compile-time limit" in rec.steps[2]
    assert adjustments(rec) == []


def test_child_larger_than_budget_is_an_error() -> None:
    with pytest.raises(CapacityError, match="does not fit"):
        recommend(Sizing(ram=GIB, reserve=200 * MIB, shared=0, child=900 * MIB))
    with pytest.raises(CapacityError, match="does not fit"):
        recommend(Sizing(ram=GIB, reserve=2 * GIB, shared=0, child=MIB))


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("ram", 0, "RAM"),
        ("child", 0, "child"),
        ("reserve", -1, "reserve"),
        ("margin", -0.1, "margin"),
        ("margin", float("nan"), "margin"),
        ("mpm", "winnt", "MPM"),
        ("version", "2.0", "version"),
    ],
)
def test_invalid_inputs(field: str, value: object, message: str) -> None:
    s = Sizing(**{**Sizing(ram=GIB, reserve=0, shared=0, child=MIB).__dict__, field: value})
    with pytest.raises(CapacityError, match=message):
        recommend(s)


def test_threads_per_child_beyond_thread_limit_max() -> None:
    with pytest.raises(CapacityError, match="ThreadsPerChild"):
        recommend(
            Sizing(ram=GIB, reserve=0, shared=0, child=MIB, mpm="worker", threads_per_child=20001)
        )


def test_worst_case_begins_with_the_children_and_adds_up() -> None:
    s = Sizing(ram=GIB, reserve=128 * MIB, shared=0, child=25 * MIB, process_overhead=256 * 1024)
    worst = worst_case(s, 256)
    assert worst.parts[0] == "256 children x 25 MiB = 6400 MiB"
    assert worst.parts[1:] == (
        "0 MiB shared",
        "64 MiB kernel",
        "128 MiB reserve",
        "640 MiB margin (10 %)",
    )
    assert worst.total == (6400 + 64 + 128 + 640) * MIB and not worst.fits
    assert worst.text.endswith("= 7232 MiB")


def test_threaded_child_grows_with_busy_threads() -> None:
    s = Sizing(
        ram=4 * GIB,
        reserve=0,
        shared=0,
        child=40 * MIB,
        margin=0,
        mpm="worker",
        threads_per_child=10,
        thread_user=8 * MIB,
        process_overhead=0,
        thread_overhead=0,
    )
    assert per_process_cost(s) == 120 * MIB
    assert worst_case(s, 2).parts[0] == "2 processes x (40 MiB + 10 threads x 8 MiB) = 240 MiB"
    assert recommend(s).processes == 4096 // 120


def test_daemons_and_pools_are_fixed_costs_before_the_workers() -> None:
    pool = Term("pool", "php-fpm www", 8, 20 * MIB, 10 * MIB, 1, "pm.max_children")
    wsgi = Term("daemon", "wsgi:app", 4, 45 * MIB, 0, 5, "processes=")
    s = Sizing(
        ram=GIB,
        reserve=200 * MIB,
        shared=20 * MIB,
        child=5 * MIB,
        margin=0,
        mpm="event",
        threads_per_child=25,
        process_overhead=100 * 1024,
        thread_overhead=0,
        terms=(pool, wsgi),
    )
    fixed = 10 * MIB + 8 * (20 * MIB + 100 * 1024) + 4 * (45 * MIB + 100 * 1024)
    assert budget(s) == GIB - 200 * MIB - 20 * MIB - fixed
    rec = recommend(s)
    assert rec.processes == budget(s) // (5 * MIB + 100 * 1024)
    assert rec.pools == {"php-fpm www": {"pm.max_children": 8}}
    assert (
        "php-fpm www = pm.max_children 8 x (20 MiB x 1 + 0.1 MiB kernel) + 10 MiB shared"
        in (rec.steps[0])
    )
    # The prediction: no margin and no reserve, the same terms.
    assert predicted(s, 3) == 20 * MIB + fixed + 3 * (5 * MIB + 100 * 1024)


def test_a_pool_that_leaves_no_room_is_lowered() -> None:
    pool = Term("pool", "php-fpm www", 50, 20 * MIB, 0, 1, "pm.max_children")
    s = Sizing(
        ram=GIB,
        reserve=200 * MIB,
        shared=0,
        child=20 * MIB,
        margin=0,
        process_overhead=0,
        terms=(pool,),
    )
    rec = recommend(s)
    lowered = rec.pools["php-fpm www"]["pm.max_children"]
    assert lowered < 50 and rec.processes >= 1
    assert memory_at(rec.sizing, rec.processes) <= GIB


def test_concurrency_mismatch_in_both_directions() -> None:
    pool = Term("pool", "php-fpm www", 8, 20 * MIB, 0, 1, "pm.max_children")
    s = Sizing(ram=GIB, reserve=0, shared=0, child=MIB, mpm="event", terms=(pool,))
    (above,) = concurrency_notes(s, 4450, "recommended")
    assert "MaxRequestWorkers 4450 (recommended) sits in front of 8 backend slots" in above
    assert concurrency_notes(s, 32, "recommended") == []
    (below,) = concurrency_notes(s, 5, "now")
    assert "below the 8 backend slots" in below
    assert concurrency_notes(Sizing(ram=GIB, reserve=0, shared=0, child=MIB), 400, "x") == []


# --------------------------------------------------------------------------- properties


@given(sizings(), st.integers(min_value=0, max_value=64 * GIB))
def test_more_ram_never_means_fewer_workers(s: Sizing, extra: int) -> None:
    bigger = Sizing(**{**s.__dict__, "ram": s.ram + extra})
    before, after = workers_or_none(s), workers_or_none(bigger)
    if before is not None:
        assert after is not None and after >= before


@given(sizings(), st.integers(min_value=0, max_value=4 * GIB))
def test_larger_child_never_means_more_workers(s: Sizing, extra: int) -> None:
    bigger = Sizing(**{**s.__dict__, "child": s.child + extra})
    before, after = workers_or_none(s), workers_or_none(bigger)
    if after is not None:
        assert before is not None and after <= before


@given(sizings(), st.floats(min_value=0.0, max_value=1.0, allow_nan=False))
def test_larger_margin_never_means_more_workers(s: Sizing, extra: float) -> None:
    bigger = Sizing(**{**s.__dict__, "margin": min(s.margin + extra, 10.0)})
    before, after = workers_or_none(s), workers_or_none(bigger)
    if after is not None:
        assert before is not None and after <= before


@given(sizings())
def test_recommendation_fits_and_is_at_least_one(s: Sizing) -> None:
    try:
        rec = recommend(s)
    except CapacityError as exc:
        # Only when not even one child fits, and never as zero workers.
        assert budget(rec_sizing(s)) < per_process_cost(s)
        assert "does not fit" in str(exc)
        return
    assert rec.processes >= 1
    assert memory_at(rec.sizing, rec.processes) <= s.ram
    if rec.sizing.terms != s.terms:
        # Pools too large for the machine were lowered to leave room for one process.
        assert rec.processes == 1
    elif rec.processes < capacity.MAX_SERVER_LIMIT[s.mpm]:
        # The next child would not fit (unless httpd's compile-time limit stopped us first).
        assert memory_at(rec.sizing, rec.processes + 1) > s.ram


def rec_sizing(s: Sizing) -> Sizing:
    """The sizing after pools are lowered to leave room for one httpd process."""
    from httpdlint.capacity import _fit_pools

    return _fit_pools(s)


@given(sizings())
def test_recommendation_passes_the_mpm_model_without_adjustment(s: Sizing) -> None:
    try:
        rec = recommend(s)
    except CapacityError:
        return
    result = evaluate_mpm(
        s.mpm, s.version, [Setting(k, (str(v),)) for k, v in rec.settings.items()]
    )
    assert result.adjustments == [], [a.message for a in result.adjustments]
    assert result.max_workers == rec.workers
    assert result.processes_needed() == rec.processes
    for name, value in rec.settings.items():
        assert result.effective[name] == value


@given(sizings())
def test_max_processes_never_zero(s: Sizing) -> None:
    with contextlib.suppress(CapacityError):
        assert max_processes(s) >= 1


@given(st.integers(min_value=1, max_value=100000), st.integers(min_value=1, max_value=100000))
def test_child_larger_than_budget_always_raises(budget_mib: int, extra: int) -> None:
    s = Sizing(ram=budget_mib * MIB, reserve=0, shared=0, child=budget_mib * MIB + extra, margin=0)
    assume(per_process_cost(s) > s.ram)
    with pytest.raises(CapacityError):
        recommend(s)


# --------------------------------------------------------------------------- constraints

UNIT = "/system.slice/apache2.service memory.max"


def test_a_unit_limit_binds_against_its_own_processes_only() -> None:
    pool = Term("pool", "php-fpm www", 10, 40 * MIB, 20 * MIB, 1, "pm.max_children")
    host = Sizing(
        ram=64 * GIB, reserve=40 * GIB, shared=50 * MIB, child=20 * MIB, margin=0.0,
        process_overhead=0, terms=(pool,),
    )  # fmt: skip
    # httpd's unit holds httpd and a 100 MiB helper; the pool runs in its own unit.
    unit = Constraint(UNIT, 1 * GIB, True, (), 100 * MIB)
    rec = recommend(replace(host, constraints=(unit,)))
    # The machine's 40 GiB of other processes are not the unit's: 1024 - 100 - 50 = 874 MiB.
    assert rec.budget == 1 * GIB - 100 * MIB - 50 * MIB
    assert rec.processes == (1 * GIB - 150 * MIB) // (20 * MIB) == 43
    assert rec.binding == (UNIT, 1 * GIB)
    assert any(
        line.startswith(f"{UNIT}: budget = limit - others inside - shared") for line in rec.steps
    )
    assert any(line.startswith(f"binding: {UNIT}") for line in rec.steps)
    # Where only the whole machine was the limit, subtracting the machine left no room at all.
    with pytest.raises(CapacityError):
        recommend(replace(host, ram=1 * GIB))
    # A unit larger than the host's budget leaves the host binding.
    wide = recommend(replace(host, constraints=(replace(unit, limit=48 * GIB),)))
    assert wide.binding == ("host", 64 * GIB) and wide.processes == recommend(host).processes


def test_a_pool_unit_too_small_for_its_pool_is_said() -> None:
    pool = Term("pool", "php-fpm www", 10, 40 * MIB, 20 * MIB, 1, "pm.max_children")
    s = Sizing(
        ram=8 * GIB, reserve=GIB, shared=0, child=20 * MIB, margin=0.0, process_overhead=0,
        terms=(pool,),
        constraints=(Constraint("/system.slice/php8.2-fpm.service memory.max", 300 * MIB,
                                False, ("php-fpm www",), 0),),
    )  # fmt: skip
    rec = recommend(s)
    assert rec.binding[0] == "host"  # httpd is not inside it: it sizes no httpd worker
    [note] = constraint_notes(s)
    assert "php8.2-fpm.service memory.max 300 MiB" in note and "fits 7 processes" in note
    ok = replace(s, constraints=(replace(s.constraints[0], limit=420 * MIB),))
    assert constraint_notes(ok) == []


def test_a_unit_where_no_child_fits_names_itself() -> None:
    s = Sizing(
        ram=8 * GIB, reserve=GIB, shared=0, child=20 * MIB,
        constraints=(Constraint(UNIT, 64 * MIB, True, (), 60 * MIB),),
    )  # fmt: skip
    with pytest.raises(CapacityError, match="apache2.service memory.max"):
        recommend(s)


@given(sizings(), constraints)
def test_adding_a_constraint_never_means_more_workers(s: Sizing, c: Constraint) -> None:
    before = workers_or_none(s)
    after = workers_or_none(replace(s, constraints=(*s.constraints, c)))
    if after is not None:
        assert before is not None and after <= before


@given(sizings(), constraints)
def test_a_constraint_above_the_host_budget_changes_nothing(s: Sizing, c: Constraint) -> None:
    # As wide as the host, or wider: everything httpd needs counts, and more room is left.
    c = replace(c, httpd=True, terms=tuple(t.name for t in s.terms), others=0)
    c = replace(c, limit=max(c.limit, s.ram - s.reserve))
    assert budget(within(s, c)) >= budget(s)
    before = workers_or_none(s)
    constrained = replace(s, constraints=(c,))
    assert workers_or_none(constrained) == before
    if before is not None:
        assert recommend(constrained).binding == ("host", s.ram)


@given(sizings(), constraints)
def test_the_recommendation_fits_every_constraint_over_httpd(s: Sizing, c: Constraint) -> None:
    try:
        rec = recommend(replace(s, constraints=(c,)))
    except CapacityError:
        return
    if c.httpd and rec.sizing.terms == s.terms:
        assert memory_at(within(rec.sizing, c), rec.processes) <= c.limit
        name, limit = rec.binding
        if name == c.name:
            assert limit == c.limit and rec.processes < capacity.MAX_SERVER_LIMIT[s.mpm]
            assert memory_at(within(rec.sizing, c), rec.processes + 1) > c.limit
