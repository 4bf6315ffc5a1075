"""event + mod_proxy_fcgi + PHP-FPM 8.2 with opcache, measured with every worker busy.

httpd (event, 1 or 2 processes of 10 threads) hands `*.php` to two PHP-FPM pools that live
outside its process tree: `static` (pm = static, 6 workers, memory_limit 64M of its own) and
`dynamic` (pm = dynamic, at most 4 workers, memory_limit from the FPM SAPI's php.ini). php-fpm
(Debian's php-fpm8.2, opcache on as its php.ini has it) runs in httpd's memory cgroup, so the
truth counts it, and is stopped by PID.

A site routes by path: `/static/*.php` and `/dynamic/*.php` go to their pool with
`SetHandler "proxy:unix:SOCK|fcgi://..."`. The procedure holds n requests on one path, so
`/both/` spreads them over the two pools with a balancer weighted by their sizes (6 : 4,
round robin by request): 10 requests fill both pools exactly, 20 fill them and queue 10 more
in php-fpm's backlog, each held by an httpd worker that waits for its backend. Every httpd
worker and every pool worker holds a request at the same moment. The page builds about 12 MiB
of request data (as test_stack_modphp.py's does) and sleeps `hold` seconds.

The two sizes are one server resized, as a site resizes httpd: php-fpm starts once and keeps
running while httpd is started at 1 process, measured, stopped, and started at 2. One event
process adds 1.7 MiB to a stack of 232 MiB, while two fresh starts of php-fpm differ by up to
0.2 MiB (its ten workers' heaps). With php-fpm started afresh at each size (stackrun's
run_point) the slope between the sizes scattered by 4 % (sd) and the true maximum with it:
the recommendation landed at 84 % to 97 % of it (1 of 15 runs below 85 %, 3 more within half a
point), and at 94 % to 107 % without warming php-fpm first (2 of 5 above 100 %). The same
php-fpm reads the same within 0.03 MiB at both sizes, which leaves httpd's own growth: 90 % to
94 % over 15 runs.

Besides the stack requirements: each pool is counted once (pm.max_children x its largest
worker) however many directives name it, the php-fpm processes are not also in the reserve,
each pool's memory_limit is given as the ceiling of one request, and thousands of recommended
httpd workers in front of 10 backend slots draw the "concurrency" warning.
"""

from __future__ import annotations

import os
import re
import socket
import struct
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from stackrun import (
    MIB,
    MODULES,
    Stack,
    base_config,
    children_of,
    httpdlint,
    judge,
    need,
    run_resized,
    wait_for,
)

pytestmark = pytest.mark.apache

PHP_FPM = Path("/usr/sbin/php-fpm8.2")
THREADS = 10
#: pool -> (pm, pm.max_children, the pool's own lines)
POOLS = {
    "static": ("static", 6, "php_admin_value[memory_limit] = 64M\n"),
    "dynamic": (
        "dynamic",
        4,
        "pm.start_servers = 2\npm.min_spare_servers = 1\npm.max_spare_servers = 4\n",
    ),
}
SLOTS = sum(size for _, size, _ in POOLS.values())

PAGE = """<?php
$data = str_repeat("x", 8 * 1024 * 1024);
$rows = [];
for ($i = 0; $i < 30000; $i++) { $rows[] = ["id" => $i, "name" => "row $i " . md5((string)$i)]; }
usleep((int)(floatval($_GET["hold"] ?? "0") * 1000000));
echo getenv("POOL"), " ", getmypid(), " ", strlen($data), " ", count($rows), "\\n";
"""


def fpm_conf(root: Path) -> str:
    text = f"""\
[global]
pid = {root}/php-fpm.pid
error_log = {root}/php-fpm.log
daemonize = no
"""
    for name, (pm, size, extra) in POOLS.items():
        text += f"""
[{name}]
user = www-data
group = www-data
listen = {root}/{name}.sock
listen.owner = www-data
listen.group = www-data
listen.mode = 0660
pm = {pm}
pm.max_children = {size}
env[POOL] = $pool
{extra}"""
    return text


def write(root: Path, port: int, size: int) -> Path:
    """httpd.conf at `size`; php-fpm.conf and the pages once (a resize leaves them alone)."""
    if not (root / "php-fpm.conf").exists():
        (root / "php-fpm.conf").write_text(fpm_conf(root))
    for name in (*POOLS, "both"):
        page = root / name / "page.php"
        if not page.exists():
            page.parent.mkdir(exist_ok=True)
            page.write_text(PAGE)
            # A deployed script, not one written a moment ago: opcache does not cache a file
            # younger than opcache.file_update_protection (2 s).
            os.utime(page, (time.time() - 3600, time.time() - 3600))
    routes = members = ""
    for name, (_, weight, _) in POOLS.items():
        target = f"unix:{root}/{name}.sock|fcgi://{name}"
        members += f'    BalancerMember "{target}" loadfactor={weight}\n'
        routes += f"""\
<Directory {root}/{name}>
    <FilesMatch "\\.php$">
        SetHandler "proxy:{target}"
    </FilesMatch>
</Directory>
"""
    conf = root / "httpd.conf"
    conf.write_text(
        base_config(root, port, "event")
        + f"""\
LoadModule proxy_module {MODULES}/mod_proxy.so
LoadModule proxy_fcgi_module {MODULES}/mod_proxy_fcgi.so
LoadModule proxy_balancer_module {MODULES}/mod_proxy_balancer.so
LoadModule slotmem_shm_module {MODULES}/mod_slotmem_shm.so
LoadModule lbmethod_byrequests_module {MODULES}/mod_lbmethod_byrequests.so
StartServers {size}
ServerLimit {size}
ThreadsPerChild {THREADS}
ThreadLimit {THREADS}
MinSpareThreads 1
MaxSpareThreads {THREADS * size}
MaxRequestWorkers {THREADS * size}
MaxConnectionsPerChild 0
{routes}<Proxy "balancer://pools">
{members}    ProxySet lbmethod=byrequests
</Proxy>
<Directory {root}/both>
    <FilesMatch "\\.php$">
        SetHandler "proxy:balancer://pools"
    </FilesMatch>
</Directory>
"""
    )
    return conf


def fastcgi_get(sock: Path, script: Path, query: str) -> bytes:
    """One GET straight to a PHP-FPM socket (FastCGI, responder role): the page's output."""

    def record(kind: int, body: bytes) -> bytes:
        return struct.pack(">BBHHBx", 1, kind, 1, len(body), 0) + body

    params = b""
    for name, value in (
        ("SCRIPT_FILENAME", str(script)),
        ("SCRIPT_NAME", "/" + script.name),
        ("REQUEST_METHOD", "GET"),
        ("QUERY_STRING", query),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
    ):
        params += bytes([len(name), len(value)]) + name.encode() + value.encode()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(60)
        s.connect(str(sock))
        begin = record(1, struct.pack(">HB5x", 1, 0))  # responder; close when done
        s.sendall(begin + record(4, params) + record(4, b"") + record(5, b""))
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    out = b""
    while len(data) >= 8:
        _, kind, _, length, padding = struct.unpack(">BBHHB", data[:7])
        if kind == 6:  # stdout
            out += data[8 : 8 + length]
        data = data[8 + length + padding :]
    return out


def fill_pools(root: Path, hold: float) -> None:
    """Every worker of every pool serves one request, all at once."""
    threads = [
        threading.Thread(
            target=fastcgi_get,
            args=(root / f"{name}.sock", root / name / "page.php", f"hold={hold}"),
        )
        for name, (_, size, _) in POOLS.items()
        for _ in range(size)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)


def pool_workers(master: int) -> dict[str, int]:
    """How many workers each pool of `master` runs now (from their process titles)."""
    out: dict[str, int] = {}
    for pid in children_of(master):
        try:
            title = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode()
        except OSError:
            continue
        found = re.match(r"php-fpm: pool (\S+)", title)
        if found:
            out[found.group(1)] = out.get(found.group(1), 0) + 1
    return out


def start_fpm(cg, root: Path) -> list[int]:
    """php-fpm in the foreground in httpd's cgroup (its PID is the master's). Returns once
    every pool runs pm.max_children workers that have each served a few requests: the
    dynamic pool grows one worker a second while requests wait for it."""
    log = open(root / "php-fpm.out", "wb")  # noqa: SIM115 - php-fpm writes to it until stopped
    master = cg.spawn(
        [str(PHP_FPM), "-F", "-y", str(root / "php-fpm.conf")], stdout=log, stderr=log
    )
    log.close()
    full = {name: size for name, (_, size, _) in POOLS.items()}

    def listening() -> bool:
        if master.poll() is not None:
            out = (root / "php-fpm.out").read_text(errors="replace")
            raise RuntimeError(f"php-fpm exited {master.returncode}: {out}")
        return all((root / f"{name}.sock").exists() for name in POOLS)

    wait_for(listening, 20, f"php-fpm {master.pid} never listened")
    deadline = time.monotonic() + 20
    while pool_workers(master.pid) != full:
        if time.monotonic() > deadline:
            raise TimeoutError(f"php-fpm runs {pool_workers(master.pid)}, not {full}")
        fill_pools(root, 0.3)
    for _ in range(3):
        fill_pools(root, 0.1)
    return [master.pid]


def family(pids: list[int]) -> set[int]:
    """These processes and their children, now."""
    return set(pids).union(*(children_of(p) for p in pids))


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read().decode()


def reserve_check(conf: Path, pid: int) -> dict:
    """This machine sized (no --ram): the reserve is every other process's PSS, and php-fpm's
    processes, counted as pools, must not be in it again. Other processes come and go (other
    servers on a shared machine), so the reserve is bracketed by two looks at them."""
    looks = [httpdlint("measure", "--pid", str(pid), "--format", "json", "--no-logs")]
    machine = httpdlint("suggest", str(conf), "--pid", str(pid), "--format", "json", "--no-logs")
    looks.append(httpdlint("measure", "--pid", str(pid), "--format", "json", "--no-logs"))
    ours = family([int((conf.parent / "php-fpm.pid").read_text())])
    roles = {p["pid"]: p["role"] for p in looks[0]["processes"] if p["pid"] in ours}
    pss = sum(p["pss"] for p in looks[0]["processes"] if p["pid"] in ours)

    def elsewhere(look: dict) -> int:  # other php-fpm processes, which the reserve does count
        pool = ("pool-master", "pool-worker")
        return sum(
            p["pss"] for p in look["processes"] if p["role"] in pool and p["pid"] not in ours
        )

    others = [look["others_pss_bytes"] + elsewhere(look) for look in looks]
    return {"roles": roles, "pss": pss, "others": others, "reserve": machine["reserved_bytes"]}


def after(conf: Path, pid: int, url: str) -> dict:
    """Once the busy window is over: where each path goes, each pool's size, the reserve."""
    base = url.split("/both/")[0]
    master = int((conf.parent / "php-fpm.pid").read_text())
    return {
        "paths": {name: fetch(f"{base}/{name}/page.php").split()[0] for name in POOLS},
        "workers": pool_workers(master),
        "reserve": reserve_check(conf, pid),
    }


STACK = Stack(
    "event + proxy_fcgi + PHP-FPM 8.2 + opcache",
    write,
    lambda size: THREADS * size,
    "/both/page.php?hold={hold}",
    backends=start_fpm,
)


def fpm_ini(name: str) -> str:
    """A setting as the FPM SAPI has it from its php.ini and conf.d (php-fpm8.2 -i)."""
    done = subprocess.run([str(PHP_FPM), "-i"], capture_output=True, text=True, timeout=60)
    found = re.search(rf"^{re.escape(name)} => (.*?) => ", done.stdout, re.M)
    assert found, f"php-fpm8.2 -i does not show {name}"
    return found.group(1)


def test_event_proxy_fcgi_php_fpm_busy_workers(apache2_bin: str) -> None:
    need(PHP_FPM, "php8.2-fpm")
    need(MODULES / "mod_proxy_fcgi.so", "apache2 (mod_proxy_fcgi)")
    assert fpm_ini("opcache.enable") == "On"
    small, large = run_resized(STACK, apache2_bin, (1, 2), after=after)
    judge(STACK, small, large)
    s = large.suggestion
    pools = {p["name"]: p for p in s["pools"]}
    for p in (small, large):
        r = p.extra["reserve"]
        print(
            f"  size {p.size}: pools "
            + ", ".join(f"{q['name']} {q['count']} x {q['each_bytes'] / MIB:.2f} MiB + "
                        f"{q['shared_bytes'] / MIB:.2f} MiB" for q in p.suggestion["pools"])
            + f"; this machine's reserve {r['reserve'] / MIB:.1f} MiB, other processes "
            f"{min(r['others']) / MIB:.1f} to {max(r['others']) / MIB:.1f} MiB, "
            f"php-fpm {r['pss'] / MIB:.1f} MiB"
        )  # fmt: skip
    print(f"  {[w['message'] for w in s['warnings'] if w['code'] == 'concurrency']}")

    for p in (small, large):
        # Every pool ran all its workers, and each path reached its own pool.
        assert p.extra["workers"] == {name: size for name, (_, size, _) in POOLS.items()}
        assert p.extra["paths"] == {name: name for name in POOLS}
        # php-fpm's processes are pools, not other processes, and not in the reserve.
        r = p.extra["reserve"]
        assert set(r["roles"].values()) == {"pool-master", "pool-worker"}, r["roles"]
        assert min(r["others"]) - r["pss"] / 2 <= r["reserve"] <= max(r["others"]) + r["pss"] / 2

    # Each pool once, though SetHandler and BalancerMember both name its socket.
    assert sorted(pools) == ["php-fpm dynamic", "php-fpm static"]
    for name, (_, size, _) in POOLS.items():
        pool = pools[f"php-fpm {name}"]
        assert pool["count"] == size and pool["setting"] == "pm.max_children"
        assert pool["each_bytes"] >= 12 * MIB  # the request data a worker holds
        assert s["sources"][f"pool php-fpm {name}"] == "measured"
        assert any(
            line.startswith(f"pool php-fpm {name} ") and f"{size} running" in line
            for line in s["explanation"]
        ), s["explanation"]
    static, dynamic = (pools[f"php-fpm {name}"]["each_bytes"] for name in POOLS)
    assert abs(static - dynamic) <= 0.05 * static  # the same page in both pools
    assert s["recommended_pools"] == {
        f"php-fpm {name}": {"pm.max_children": size} for name, (_, size, _) in POOLS.items()
    }
    assert s["request_ceilings"] == {
        "php-fpm static": "64M",
        "php-fpm dynamic": fpm_ini("memory_limit"),
    }
    # Thousands of recommended workers in front of 10 backend slots.
    workers = s["recommended"]["MaxRequestWorkers"]
    assert workers > 4 * SLOTS
    notes = [w["message"] for w in s["warnings"] if w["code"] == "concurrency"]
    assert len(notes) == 1 and f"MaxRequestWorkers {workers} (recommended)" in notes[0], notes
    assert f"{SLOTS} backend slots" in notes[0], notes
    assert s["current"]["MaxRequestWorkers"] == 2 * THREADS and s["running"]["busy_seen"] is True
