"""Issue 14, Must show 2: the test server in a memory cgroup, sized against that cgroup's limit.

apache2 (prefork, three children) runs in a fresh memory cgroup (v1 here, v2 where delegated)
beside a helper process that holds 40 MiB, as another service of the same unit would. With a
limit below the host's budget, `suggest` names the cgroup as binding and sizes within it,
against the helper only: the machine's other processes (this pytest among them) are the host's
reserve, not the cgroup's. With a limit above the host's budget, the host binds.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from stacklab import free_port, memcg_or_skip, start_apache, stop_pid
from stackrun import base_config

MIB = 1024**2
HELD = 40 * MIB


def _httpdlint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", *args], capture_output=True, text=True, timeout=120
    )


def _json(*args: str) -> dict:
    done = _httpdlint(*args, "--format", "json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _pss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no Pss line for {pid}")


def _mem_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


@pytest.fixture
def server(apache2_bin: str):
    """(cgroup, conf, httpd PID, helper PID): apache2 and the helper in one memory cgroup."""
    tmp_path = Path(tempfile.mkdtemp(prefix="httpdlint-limits-"))
    tmp_path.chmod(0o755)  # the children run as www-data
    port = free_port()
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        base_config(tmp_path, port, "prefork")
        + "StartServers 3\nMinSpareServers 3\nMaxSpareServers 4\nMaxRequestWorkers 10\n"
    )
    (tmp_path / "index.html").write_text("ok\n")
    with memcg_or_skip() as cg:
        # Pages touched one by one: 40 MiB resident, not a reservation.
        hold = (
            f"import time; b = bytearray({HELD}); b[::4096] = b'x' * len(b[::4096]); "
            "print('ready', flush=True); time.sleep(600)"
        )
        helper = cg.spawn(
            [sys.executable, "-c", hold], stdout=subprocess.PIPE, text=True, start_new_session=True
        )
        assert helper.stdout.readline().strip() == "ready"
        pid = start_apache(apache2_bin, conf, cg)
        try:
            # Each child serves a few requests: a child that served nothing is not sized.
            for _ in range(30):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=5) as r:
                    assert r.read() == b"ok\n"
            deadline = time.monotonic() + 20
            while len(cg.pids()) < 5:  # helper, parent, three children
                assert time.monotonic() < deadline, cg.pids()
                time.sleep(0.1)
            yield cg, conf, pid, helper.pid
        finally:
            stop_pid(pid)
            stop_pid(helper.pid)
            helper.wait(timeout=15)
            shutil.rmtree(tmp_path, ignore_errors=True)


def test_a_cgroup_limit_below_the_host_budget_binds_and_only_its_processes_count(server) -> None:
    cg, conf, pid, helper = server
    setting = "memory.max" if cg.version == 2 else "memory.limit_in_bytes"
    name = f"{cg.cgroup_path()} {setting}"
    limit = 300 * MIB
    cg.set_limit(limit, swap=400 * MIB if cg.version == 1 else None)

    data = _json("suggest", str(conf), "--pid", str(pid), "--no-logs")
    print(json.dumps({k: data[k] for k in ("binding", "constraints", "reserved_bytes")}, indent=1))
    assert data["binding"] == {"name": name, "limit_bytes": limit}
    unit = next(c for c in data["constraints"] if c["name"] == name)
    assert unit["httpd"] is True and unit["terms"] == []
    # The unit's reserve is the helper inside it (its PSS at the look), nothing else.
    assert HELD <= unit["others_bytes"] <= _pss(helper) + 4 * MIB
    # The machine's other processes (this pytest among them) are the host's reserve only.
    assert data["reserved_bytes"] >= unit["others_bytes"] + _pss(os.getpid())
    shared, per = data["shared_bytes"], data["per_process_bytes"]
    assert unit["budget_bytes"] == limit - unit["others_bytes"] - shared
    assert data["processes"] == unit["processes"] == unit["budget_bytes"] // per
    assert data["processes"] * per + shared + unit["others_bytes"] <= limit
    assert data["recommended"]["MaxRequestWorkers"] == data["processes"]
    assert data["budget_bytes"] == unit["budget_bytes"]
    # The host alone would allow more: the cgroup is what binds.
    host = data["ram_bytes"] - data["reserved_bytes"] - shared
    assert host // per > data["processes"]
    if cg.version == 1:
        # memory + swap at 400 MiB bounds memory too, less tightly than the memory limit.
        memsw = next(c for c in data["constraints"] if c["name"].endswith("memsw.limit_in_bytes"))
        assert memsw["limit_bytes"] == 400 * MIB and memsw["processes"] > data["processes"]
    text = _httpdlint("suggest", str(conf), "--pid", str(pid), "--no-logs")
    assert text.returncode == 0, text.stderr
    assert f"Binding: the cgroup limit {name}, 300 MiB" in text.stdout
    assert f"{name}: budget = limit - others inside - shared" in text.stdout

    measured = _json("measure", str(conf), "--pid", str(pid), "--no-logs")
    entry = next(lim for lim in measured["limits"] if lim["name"] == name)
    assert entry["limit_bytes"] == limit and {pid, helper} <= set(entry["pids"])
    assert measured["cgroup_limit_bytes"] == limit


def test_a_cgroup_limit_above_the_host_budget_leaves_the_host_binding(server) -> None:
    cg, conf, pid, _ = server
    setting = "memory.max" if cg.version == 2 else "memory.limit_in_bytes"
    name = f"{cg.cgroup_path()} {setting}"
    above = 4 * _mem_total()  # v1 and v2 take a limit larger than the machine
    cg.set_limit(above)
    data = _json("suggest", str(conf), "--pid", str(pid), "--no-logs")
    assert data["binding"] == {"name": "host", "limit_bytes": data["ram_bytes"]}
    unit = next(c for c in data["constraints"] if c["name"] == name)
    assert unit["limit_bytes"] == above and unit["processes"] >= data["processes"]
    shared, per = data["shared_bytes"], data["per_process_bytes"]
    host_budget = data["ram_bytes"] - data["reserved_bytes"] - shared
    assert data["budget_bytes"] == host_budget
    assert data["processes"] == min(host_budget // per, data["processes"])
