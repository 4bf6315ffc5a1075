"""`check` (CAP009) and `suggest` size from the same inputs with the same formula.

For any MPM, version, configured limits and sizes: CAP009 fires exactly when the configured
MaxRequestWorkers (MaxClients) exceeds what `suggest` recommends for the same inputs, and both
print the same worst case. And --ram names the machine being sized: this machine's other
processes never enter that budget.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from httpdlint import engine
from httpdlint.errors import ConfigError
from httpdlint.inputs import SizingOptions, gather
from httpdlint.model import load_model
from httpdlint.suggest import suggest

MIB = 1024**2
GIB = 1024**3
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "outage" / "conf" / "httpd.conf"


def _config(mpm: str, version: str, workers: int, tpc: int, limit: int) -> str:
    key = "MaxClients" if version == "2.2" else "MaxRequestWorkers"
    lines = []
    if version == "2.4":
        lines.append(f"LoadModule mpm_{mpm}_module /usr/lib/apache2/modules/mod_mpm_{mpm}.so")
        lines.append("Require all granted")  # a 2.4 word: the version is detected as 2.4
    else:
        lines.append("Order allow,deny")  # a 2.2 word
    lines.append(f"ServerLimit {limit}")
    if mpm != "prefork":
        lines.append(f"ThreadsPerChild {tpc}")
    lines.append(f"{key} {workers}")
    return "\n".join(lines) + "\n"


def _worst(text: str) -> str:
    match = re.search(r"worst case (.*? = [\d.]+ MiB)", text)
    assert match, text
    return match.group(1)


@settings(max_examples=150)
@given(
    mpm=st.sampled_from(["prefork", "worker", "event"]),
    version=st.sampled_from(["2.2", "2.4"]),
    workers=st.integers(min_value=1, max_value=2000),
    tpc=st.integers(min_value=1, max_value=64),
    limit=st.integers(min_value=1, max_value=2000),
    ram=st.integers(min_value=64 * MIB, max_value=64 * GIB),
    child=st.integers(min_value=1 * MIB, max_value=512 * MIB),
    shared=st.integers(min_value=0, max_value=2 * GIB),
    reserve=st.integers(min_value=0, max_value=4 * GIB),
    margin=st.floats(min_value=0.0, max_value=1.0),
)
def test_cap009_fires_exactly_when_suggest_recommends_fewer(
    mpm, version, workers, tpc, limit, ram, child, shared, reserve, margin
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "httpd.conf"
        conf.write_text(_config(mpm, version, workers, tpc, limit))
        model = load_model(str(conf), apache_version=version)
    if model.mpm is None or model.mpm.fatal:
        event("httpd would not start")
        return
    opts = SizingOptions(
        ram=ram, child=child, shared=shared, reserve=reserve, margin=margin, live=False
    )
    gathered = gather(model, opts)
    settings_ = engine.Settings(select=["CAP009"], sizing=gathered.sizing)
    findings = engine.run(model, settings_)
    try:
        result = suggest(model, opts, logs=False)
    except ConfigError as exc:
        assert "does not fit" in str(exc)
        recommended = 0
        shown = None
    else:
        recommended = result.recommendation.workers
        shown = next(line for line in result.current_lines() if line.startswith("now "))
    configured = model.mpm.max_workers
    event(f"CAP009 {'fires' if findings else 'silent'}")
    assert bool(findings) == (configured > recommended), (configured, recommended, findings)
    if findings and shown is not None:
        (finding,) = findings
        assert _worst(finding.message) == _worst(shown)


def _suggest_json(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "httpdlint", "suggest", *args, "--format", "json", "--no-logs"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_given_ram_is_the_same_beside_other_processes() -> None:
    args = [str(EXAMPLE), "--ram", "1G", "--child-size", "25M"]
    quiet = _suggest_json(*args)
    # 300 MiB of other processes on this machine change nothing about another machine.
    hog = subprocess.Popen(
        [sys.executable, "-c", "import sys; b = b'x' * (300 << 20); print(1, flush=True); "
         "sys.stdin.read()"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert hog.stdout.readline().strip() == "1"
        busy = _suggest_json(*args)
    finally:
        hog.stdin.close()
        hog.wait(10)
    assert quiet["sizing"] == busy["sizing"] == "given-ram"
    assert quiet["recommended"] == busy["recommended"] and quiet["recommended"]["MaxClients"] == 32
    assert quiet["reserved_bytes"] == busy["reserved_bytes"] == 128 * MIB
    assert busy["sources"]["reserve"] == "default" and busy["sources"]["shared"] == "assumed"
