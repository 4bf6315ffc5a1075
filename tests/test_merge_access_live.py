"""Access as httpd merges it, judged by a live server: hypothesis writes the sections.

Each generated case is a <Directory>, a subdirectory's <Directory> and a <Location> for it,
each with up to three blocks of access control drawn from mod_authz_core (Require lines,
<RequireAll>/<RequireAny>, <Limit>/<LimitExcept>, AuthMerging) and mod_access_compat
(Order, Allow, Deny, Satisfy). GET, PUT and OPTIONS from 127.0.0.1 get what `explain`
predicts: 200, 401 (AuthType Basic is set), 403, 405 or 500.
"""

from __future__ import annotations

import http.client
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stacklab import foreground_apache, free_port

from httpdlint.explain import explain, parse_url
from httpdlint.model import load_model

MODULES = "/usr/lib/apache2/modules"
LOADED = ("mpm_event", "authz_core", "authz_host", "authz_user", "authn_core", "authn_file")
LOADED += ("auth_basic", "access_compat", "dir")
BLOCKS = [
    "Require all granted",
    "Require all denied",
    "Require ip 127.0.0.1",
    "Require ip 10.0.0.0/8",
    "Require local",
    "Require valid-user",
    "Require method GET",
    "<RequireAll>\nRequire all granted\nRequire not ip 127.0.0.0/8\n</RequireAll>",
    "<RequireAll>\nRequire valid-user\nRequire ip 127.0.0.1\n</RequireAll>",
    "<RequireAny>\nRequire method GET OPTIONS\nRequire valid-user\n</RequireAny>",
    "<RequireAll>\nRequire valid-user\n<RequireNone>\nRequire ip 10.0.0.0/8\n</RequireNone>\n"
    "</RequireAll>",
    "<Limit PUT>\nRequire all denied\n</Limit>",
    "<LimitExcept GET>\nRequire valid-user\n</LimitExcept>",
    "Order allow,deny\nAllow from all",
    "Order deny,allow\nDeny from all",
    "Order allow,deny\nAllow from 127.0.0.1",
    "Satisfy Any",
    "AuthMerging And",
    "AuthMerging Or",
]
section = st.lists(st.sampled_from(BLOCKS), max_size=3)
cases = st.lists(st.tuples(section, section, section), min_size=6, max_size=6)


def _conf(root: Path, port: int, generated) -> str:
    out = [
        f"ServerRoot {root}",
        "ServerName access.test",
        f"Listen 127.0.0.1:{port}",
        f"PidFile {root}/httpd.pid",
        f"ErrorLog {root}/error.log",
        f"DefaultRuntimeDir {root}",
        "User www-data",
        "Group www-data",
        *(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in LOADED),
        f"DocumentRoot {root}/htdocs",
    ]
    for i, (outer, inner, location) in enumerate(generated):
        for head, blocks in (
            (f"<Directory {root}/htdocs/c{i}>", outer),
            (f"<Directory {root}/htdocs/c{i}/sub>", inner),
            (f"<Location /c{i}/sub>", location),
        ):
            out.append(head)
            if head.startswith(f"<Directory {root}/htdocs/c{i}>"):
                out += ["AuthType Basic", "AuthName test", f"AuthUserFile {root}/users"]
            out += blocks
            out.append("</" + head[1:].split()[0] + ">")
    return "\n".join(out) + "\n"


def _status(port: int, method: str, url: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, url, body=b"x" if method == "PUT" else None)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status


@pytest.mark.apache
@settings(max_examples=10, deadline=None)
@given(generated=cases)
def test_access_follows_the_merge(apache2_bin, generated):
    root = Path(tempfile.mkdtemp(prefix="httpdlint-access-"))
    try:
        for i in range(len(generated)):
            (root / "htdocs" / f"c{i}" / "sub").mkdir(parents=True)
            (root / "htdocs" / f"c{i}" / "sub" / "f.txt").write_text("x")
        (root / "users").write_text("")
        for d in [root, *root.rglob("*")]:
            d.chmod(0o755 if d.is_dir() else 0o644)
        port = free_port()
        conf = root / "httpd.conf"
        conf.write_text(_conf(root, port, generated))
        model = load_model(str(conf))
        with foreground_apache(apache2_bin, conf, port):
            for i in range(len(generated)):
                for method in ("GET", "PUT", "OPTIONS"):
                    url = f"/c{i}/sub/f.txt"
                    request = parse_url(url, method, "127.0.0.1")
                    found = explain(model, request, "127.0.0.1")
                    got = _status(port, method, url)
                    assert found.outcome.status == got, (method, generated[i], found.outcome.why)
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)
