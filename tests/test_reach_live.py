"""The reachability rules against a live httpd: what a finding names, the server serves.

Debian's apache2 (prefork, mod_cgi, 127.0.0.1 on a free port, its own session, stopped by
PID) runs twice. With the configuration the rules flag, it answers 200 for /.git/config in
the DocumentRoot, 200 for /manual/ through an Alias into a manual directory, and runs a CGI
script for an anonymous PUT both where <Limit GET POST> holds the login and where nothing
limits the methods. With the fixes the findings are gone and it answers 403 for the working
copy, 404 for the manual, 401 and 403 for the PUTs. Every rule fixture of these rules also
passes `apache2 -t`, as httpdlint reads it without an error.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from stacklab import foreground_apache, free_port

MODULES = "/usr/lib/apache2/modules"
LOADED = [
    *("mpm_prefork", "authz_core", "authz_user", "authn_core", "authn_file", "auth_basic"),
    *("alias", "dir", "mime", "cgi"),
]
CODES = ("SEC020", "SEC021", "SEC022", "SEC023", "SEC024")
FIXTURES = Path(__file__).parent / "fixtures" / "rules"

HEAD = """\
ServerRoot {root}
ServerName reach.test
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
DefaultRuntimeDir {root}
LogLevel warn
User www-data
Group www-data
{modules}
TypesConfig /etc/mime.types
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<VirtualHost *:{port}>
    DocumentRoot {root}/www
    <Directory {root}/www>
        Require all granted
    </Directory>
    ScriptAlias /app/ {root}/cgi-bin/
    ScriptAlias /cgi/ {root}/cgi-bin/
    <Directory {root}/cgi-bin>
        Require all granted
    </Directory>
    <Location /app>
        AuthType Basic
        AuthName "app"
        AuthUserFile {root}/app.passwd
{app}
    </Location>
{rest}
</VirtualHost>
"""

BAD = {
    "app": "        <Limit GET POST>\n            Require valid-user\n        </Limit>",
    "rest": (
        "    Alias /manual {root}/manual/\n"
        "    <Directory {root}/manual>\n        Require all granted\n    </Directory>"
    ),
}
FIXED = {
    "app": "        Require valid-user",
    "rest": (
        '    <DirectoryMatch "/\\.(git|svn|hg|bzr)/">\n        Require all denied\n'
        "    </DirectoryMatch>\n"
        "    <Location /cgi>\n        <LimitExcept GET POST OPTIONS>\n"
        "            Require all denied\n        </LimitExcept>\n    </Location>"
    ),
}
SCRIPT = '#!/bin/sh\nprintf "Content-Type: text/plain\\n\\n%s ran\\n" "$REQUEST_METHOD"\n'


def write_tree(root: Path, port: int, parts: dict[str, str]) -> Path:
    files = {
        "www/index.html": "site",
        "www/.git/config": "[core]\n\trepositoryformatversion = 0\n",
        "manual/index.html": "the manual",
        "cgi-bin/echo.sh": SCRIPT,
        "app.passwd": "",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for d in [root, *root.rglob("*")]:
        d.chmod(0o755 if d.is_dir() or d.name.endswith(".sh") else 0o644)
    modules = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in LOADED)
    filled = {k: v.format(root=root) for k, v in parts.items()}
    conf = root / "httpd.conf"
    conf.write_text(HEAD.format(root=root, port=port, modules=modules, **filled))
    return conf


def findings(conf: Path) -> dict[str, list[dict]]:
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", str(conf), "-f", "json"]
        + ["--select", ",".join(CODES), "--no-filesystem"],
        capture_output=True,
        text=True,
    )
    assert res.returncode in (0, 1), res.stderr
    out: dict[str, list[dict]] = {}
    for f in json.loads(res.stdout)["findings"]:
        out.setdefault(f["rule"], []).append(f)
    return out


def send(port: int, method: str, url: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, url, body=b"x" if method == "PUT" else None, headers={"Host": "a"})
    resp = conn.getresponse()
    body = resp.read().decode(errors="replace")
    conn.close()
    return resp.status, body


@pytest.fixture
def root():
    if not Path(MODULES, "mod_cgi.so").exists():
        pytest.skip("mod_cgi is not installed")
    path = Path(tempfile.mkdtemp(prefix="httpdlint-reach-"))
    try:
        yield path
    finally:
        subprocess.run(["rm", "-rf", str(path)], check=False)


def test_flagged_content_is_served_and_the_fix_refuses_it(apache2_bin, root):
    port = free_port()
    conf = write_tree(root, port, BAD)
    found = findings(conf)
    assert set(found) == {"SEC020", "SEC021", "SEC023", "SEC024"}, found
    assert "/.git/config" in found["SEC020"][0]["message"]
    assert "/manual/" in found["SEC021"][0]["message"]
    assert "<Limit GET POST>" in found["SEC023"][0]["message"]
    assert any("PUT" in f["message"] and "/cgi/" in f["message"] for f in found["SEC024"])
    with foreground_apache(apache2_bin, conf, port):
        assert send(port, "GET", "/.git/config")[0] == 200
        assert send(port, "GET", "/manual/") == (200, "the manual")
        assert send(port, "GET", "/app/echo.sh")[0] == 401  # the listed method: a login
        assert send(port, "PUT", "/app/echo.sh") == (200, "PUT ran\n")  # the others: none
        assert send(port, "PUT", "/cgi/echo.sh") == (200, "PUT ran\n")
        assert send(port, "DELETE", "/cgi/echo.sh") == (200, "DELETE ran\n")

    conf = write_tree(root, port, FIXED)
    found = findings(conf)
    assert set(found) <= {"SEC024"}, found
    # Only the DocumentRoot and /app/ are left to the policy rule: static files and a
    # login; /cgi/ is fixed.
    assert not any("/cgi/" in f["message"] for f in found.get("SEC024", []))
    with foreground_apache(apache2_bin, conf, port):
        assert send(port, "GET", "/.git/config")[0] == 403
        assert send(port, "GET", "/manual/")[0] == 404
        assert send(port, "PUT", "/app/echo.sh")[0] == 401
        assert send(port, "PUT", "/cgi/echo.sh")[0] == 403
        assert send(port, "GET", "/cgi/echo.sh") == (200, "GET ran\n")


def _cases() -> list:
    out = []
    for code in (*CODES, "SEC025"):  # SEC025 reads no URL: its fixtures only
        for case in sorted((FIXTURES / code).iterdir()):
            if case.suffix == ".conf" or (case / "httpd.conf").exists():
                out.append(pytest.param(case, id=f"{code}-{case.name}"))
    return out


@pytest.mark.parametrize("case", _cases())
def test_fixture_passes_httpd_syntax_check(apache2_bin, case: Path):
    """`apache2 -t` accepts each fixture of these rules, and httpdlint reads it without
    an error: the two verdicts agree."""
    conf = case / "httpd.conf" if case.is_dir() else case
    res = subprocess.run(
        [apache2_bin, "-d", str(conf.parent), "-f", str(conf), "-t"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0 and "Syntax OK" in res.stderr, res.stderr
    ours = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", str(conf), "-f", "json"],
        capture_output=True,
        text=True,
    )
    assert ours.returncode in (0, 1), ours.stderr
    assert json.loads(ours.stdout)["errors"] == []
