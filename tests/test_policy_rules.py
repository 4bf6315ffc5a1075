"""Issue 15's HTTP-twin, unread-configuration, 2.2 and policy rules against the real httpd.

Every fixture of these rules is a configuration Debian's apache2 accepts (`apache2 -t` says
Syntax OK), and httpdlint reads each one and claims no startup failure either: the findings are
about configurations that run. The HTTP twin is checked live: a server with a plain-HTTP and an
HTTPS virtual host for one name (mod_ssl, a self-signed certificate made here) serves the page
over HTTP while the finding stands, and answers 301 to https once certbot's rewrite is in
place, when the finding is gone.
"""

from __future__ import annotations

import http.client
import json
import shlex
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from stacklab import foreground_apache, free_port

RULES = Path(__file__).parent / "fixtures" / "rules"
CODES = [f"SEC0{n}" for n in range(30, 42)] + ["LOG010", "COR030", "COR031", "UPG020"]
MODULES = Path("/usr/lib/apache2/modules")
# Apache 2.2 builds its MPM into the binary; 2.4 loads it, so a 2.2 fixture gets one here.
PRE_22 = f"LoadModule mpm_prefork_module {MODULES}/mod_mpm_prefork.so"


def _cases() -> list:
    out = []
    for code in CODES:
        for case in sorted((RULES / code).iterdir()):
            if case.suffix == ".conf" or (case / "httpd.conf").is_file():
                out.append(pytest.param(code, case, id=f"{code}-{case.name}"))
    return out


def _main(case: Path) -> Path:
    return case / "httpd.conf" if case.is_dir() else case


def _args(main: Path) -> list[str]:
    first = main.read_text(encoding="utf-8").splitlines()[0]
    return shlex.split(first[len("# args:") :]) if first.startswith("# args:") else []


def _check(*args: str) -> tuple[int, dict]:
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", *args, "-f", "json"],
        capture_output=True,
        text=True,
    )
    assert res.returncode in (0, 1), res.stderr
    return res.returncode, json.loads(res.stdout)


def test_every_rule_has_fixtures() -> None:
    cases = {p.values[0] for p in _cases()}
    assert cases == set(CODES)


@pytest.mark.parametrize(("code", "case"), _cases())
def test_fixture_verdict_matches_apache2_t(
    code: str, case: Path, apache2_bin: str, tmp_path: Path
) -> None:
    main = _main(case)
    # Both judge a copy with the logs/ directory httpd's default ErrorLog needs (relative
    # Includes read the copy as they read the fixture).
    root = tmp_path / "root"
    if case.is_dir():
        shutil.copytree(case, root)
    else:
        root.mkdir()
        shutil.copy(case, root / main.name)
    (root / "logs").mkdir()
    _, doc = _check(str(root / main.name), *_args(main))
    pre = ["-C", PRE_22] if doc["config"]["apache_version"] == "2.2" else []
    res = subprocess.run(
        [apache2_bin, "-d", str(root), *pre, "-f", str(root / main.name), "-t"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0 and "Syntax OK" in res.stderr, res.stderr
    # httpd starts with it, so httpdlint must claim no failure to start (errors) either.
    errors = [f for f in doc["findings"] if f["severity"] == "error"]
    assert not errors, errors


# -- live: the HTTP twin -----------------------------------------------------------------

LOADED = ("mpm_event", "authz_core", "alias", "rewrite", "ssl", "socache_shmcb", "dir", "mime")

CONF = """\
ServerRoot {root}
ServerName main.test
Listen 127.0.0.1:{http}
Listen 127.0.0.1:{https} https
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
DefaultRuntimeDir {root}
LogLevel warn
{modules}
TypesConfig /etc/mime.types
DocumentRoot {root}/htdocs
<Directory {root}/htdocs>
    Require all granted
</Directory>
<VirtualHost *:{http}>
    ServerName twin.test
    DocumentRoot {root}/htdocs
{redirect}
</VirtualHost>
<VirtualHost *:{https}>
    ServerName twin.test
    DocumentRoot {root}/htdocs
    SSLEngine on
    SSLCertificateFile {root}/cert.pem
    SSLCertificateKeyFile {root}/key.pem
</VirtualHost>
"""

CERTBOT = """\
    RewriteEngine on
    RewriteCond %{SERVER_NAME} =twin.test
    RewriteRule ^ https://%{SERVER_NAME}%{REQUEST_URI} [END,NE,R=permanent]"""


def _get(port: int, *, tls: bool = False) -> tuple[int, str, str]:
    if tls:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # the certificate made above: self-signed
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)
    else:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", "/", headers={"Host": "twin.test"})
        resp = conn.getresponse()
        return resp.status, resp.getheader("Location") or "", resp.read().decode()
    finally:
        conn.close()


def test_http_twin_live(apache2_bin: str, tmp_path: Path) -> None:
    missing = [m for m in LOADED if not (MODULES / f"mod_{m}.so").exists()]
    if missing or shutil.which("openssl") is None:
        pytest.skip(f"needs mod_ssl and openssl (missing: {missing or 'openssl'})")
    (tmp_path / "htdocs").mkdir()
    (tmp_path / "htdocs" / "index.html").write_text("twin content\n")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-subj", "/CN=twin.test", "-keyout", str(tmp_path / "key.pem")]
        + ["-out", str(tmp_path / "cert.pem")],
        check=True,
        capture_output=True,
    )
    http_port, https_port = free_port(), free_port()
    modules = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in LOADED)
    conf = tmp_path / "httpd.conf"

    def write(redirect: str) -> None:
        conf.write_text(
            CONF.format(
                root=tmp_path,
                http=http_port,
                https=https_port,
                modules=modules,
                redirect=redirect,
            )  # fmt: skip
        )

    write("")
    _, doc = _check(str(conf), "--select", "SEC030")
    found = [(f["file"], f["line"]) for f in doc["findings"]]
    line = conf.read_text().splitlines().index(f"<VirtualHost *:{http_port}>") + 1
    assert found == [(str(conf), line)]
    with foreground_apache(apache2_bin, conf, http_port):
        assert _get(http_port) == (200, "", "twin content\n")  # what the finding names
        assert _get(https_port, tls=True)[0] == 200

    write(CERTBOT)
    _, doc = _check(str(conf), "--select", "SEC030")
    assert doc["findings"] == []
    with foreground_apache(apache2_bin, conf, http_port):
        status, location, _ = _get(http_port)
        assert (status, location) == (301, "https://twin.test/")
        assert _get(https_port, tls=True)[0] == 200


def test_framing_live(apache2_bin: str, apache2_modules_dir: Path, tmp_path: Path) -> None:
    """SEC041 flags exactly the host real httpd answers without X-Frame-Options: the one
    that unsets the header the server level sets."""
    port = free_port()
    (tmp_path / "www").mkdir()
    (tmp_path / "www/index.html").write_text("hi\n")
    m = apache2_modules_dir
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"""ServerRoot {tmp_path}
ServerName localhost
Listen 127.0.0.1:{port}
LoadModule mpm_prefork_module {m}/mod_mpm_prefork.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule headers_module {m}/mod_headers.so
PidFile {tmp_path}/httpd.pid
ErrorLog {tmp_path}/error.log
DocumentRoot {tmp_path}/www
<Directory {tmp_path}/www>
    Require all granted
</Directory>
Header always set X-Frame-Options SAMEORIGIN
<VirtualHost 127.0.0.1:{port}>
    ServerName unset.example.com
    Header always unset X-Frame-Options
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName keep.example.com
</VirtualHost>
"""
    )
    code, doc = _check(str(conf), "--profile", "cis", "--select", "SEC041")
    flagged = {f["line"] for f in doc["findings"] if f["rule"] == "SEC041"}
    lines = conf.read_text().splitlines()
    unset_line = next(i for i, t in enumerate(lines, 1) if "unset.example.com" in t) - 1
    assert flagged == {unset_line}, doc["findings"]
    with foreground_apache(apache2_bin, conf, port):
        for host, expected in (("unset.example.com", None), ("keep.example.com", "SAMEORIGIN")):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            c.request("GET", "/", headers={"Host": host})
            r = c.getresponse()
            r.read()
            # `always`: error pages carry it too (the children may not read pytest's tmp).
            assert r.getheader("X-Frame-Options") == expected, (host, r.status)
            c.close()
