"""prefork + mod_php 8.2 with opcache, measured with every child busy (Debian's packages).

The PHP page builds about 12 MiB of request data (a string and an array, as a page with a
result set does), then sleeps `hold` seconds: every child holds it at once. mod_php frees most
of it when the request ends, so a look between requests sees a far smaller child: that look is
declined, never turned into a recommendation.
"""

from __future__ import annotations

import threading
import urllib.request
from pathlib import Path

import pytest
from stackrun import (
    MODULES,
    Stack,
    base_config,
    children_of,
    httpdlint,
    judge,
    need,
    run_point,
    suggest_args,
)

pytestmark = pytest.mark.apache

PAGE = """<?php
$data = str_repeat("x", 8 * 1024 * 1024);
$rows = [];
for ($i = 0; $i < 30000; $i++) { $rows[] = ["id" => $i, "name" => "row $i " . md5((string)$i)]; }
usleep((int)(floatval($_GET["hold"] ?? "0") * 1000000));
echo getmypid(), " ", strlen($data), " ", count($rows), "\\n";
"""


def write(root: Path, port: int, size: int, *, recycle: int = 0) -> Path:
    (root / "page.php").write_text(PAGE)
    conf = root / "httpd.conf"
    conf.write_text(
        base_config(root, port, "prefork")
        + f"""\
LoadModule php_module {MODULES}/libphp8.2.so
<FilesMatch "\\.php$">
    SetHandler application/x-httpd-php
</FilesMatch>
StartServers {size}
MinSpareServers {size}
MaxSpareServers {size}
ServerLimit {size}
MaxRequestWorkers {size}
MaxConnectionsPerChild {recycle}
"""
    )
    return conf


STACK = Stack("prefork + mod_php 8.2 + opcache", write, lambda n: n, "/page.php?hold={hold}")


def test_prefork_mod_php_busy_children(apache2_bin: str) -> None:
    need(MODULES / "libphp8.2.so", "libapache2-mod-php")
    small = run_point(STACK, apache2_bin, 5)
    large = run_point(STACK, apache2_bin, 10)
    judge(STACK, small, large)
    # The opcache's shared memory is counted once, not in the child that compiled the code.
    assert large.suggestion["sources"]["child"] == "measured"
    # The most one request may take: memory_limit of the SAPI's php.ini.
    assert large.suggestion["request_ceilings"]["mod_php"].startswith("128M (")


def _load(url: str, stop: threading.Event) -> None:
    """Requests one after another until stopped: 3 such loops keep children busy."""
    while not stop.is_set():
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()
        except OSError:
            pass


def test_mod_php_recycled_children_and_an_idle_look(apache2_bin: str) -> None:
    """Sampled under load, sampled after children were recycled: the same answer within 10 %;
    a look between requests is declined with the command to run instead."""
    need(MODULES / "libphp8.2.so", "libapache2-mod-php")
    stack = Stack(
        "mod_php, children recycled every 20 requests",
        lambda root, port, size: write(root, port, size, recycle=20),
        lambda n: n,
        "/page.php?hold={hold}",
    )

    def after_recycling(conf: Path, pid: int, url: str) -> dict:
        # A steady load recycles every child (20 requests each) and keeps the new ones busy
        # while suggest samples them.
        before = children_of(pid)
        stop = threading.Event()
        fast = url.split("?")[0] + "?hold=0.2"
        loaders = [threading.Thread(target=_load, args=(fast, stop)) for _ in range(8)]
        for t in loaders:
            t.start()
        try:
            args = suggest_args(conf, pid, stack)
            args[args.index("--duration") + 1] = "6s"
            recycled = httpdlint(*args)
        finally:
            stop.set()
            for t in loaders:
                t.join(60)
        kept = before & children_of(pid)
        assert len(kept) < len(before) / 2, f"children not recycled: {kept}"
        idle = httpdlint("suggest", str(conf), "--pid", str(pid), "--ram", "1G", "--reserve",
                         "200M", "--format", "json", "--no-logs")  # fmt: skip
        return {"recycled": recycled, "idle": idle}

    point = run_point(stack, apache2_bin, 6)
    under_load = point.recommended_processes
    point = run_point(stack, apache2_bin, 6, after=after_recycling)
    recycled = point.extra["recycled"]
    idle = point.extra["idle"]
    print(
        f"\nmod_php recommended under load {under_load}, after recycling "
        f"{recycled['processes']}, idle look: {idle['processes']} ({idle['declined']})"
    )
    assert recycled["processes"] is not None
    assert abs(recycled["processes"] - under_load) <= 0.10 * under_load
    if idle["processes"] is not None:
        assert abs(idle["processes"] - under_load) <= 0.10 * under_load
    else:
        assert idle["recommended"] is None and "--duration" in idle["declined"]
