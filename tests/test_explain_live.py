"""`explain` against a live httpd: each request's status and virtual host, predicted, then sent.

The server (Debian's apache2, 127.0.0.1 only, stopped by PID) holds every merge case the
issue lists: a <Directory> reset by a later one for the same path, UserDir switched off for
everyone and Debian's `UserDir disabled root`, `Order allow,deny` + `Allow from all` in
<Location /> beside `Require all denied` (and `Require all granted` there instead), WebDAV
behind `<RequireAny> Require method ... / Require user admin`, a catch-all `_default_` host
read after the real sites. Every virtual host names itself in a response header, so the
host that answered is known. Where `explain` claims a status, httpd must give it; where it
claims none (mod_rewrite, Redirect, an undecided <If>), it must say so.
"""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from stacklab import foreground_apache, free_port

from httpdlint.explain import explain, parse_url
from httpdlint.model import load_model

MODULES = "/usr/lib/apache2/modules"
LOADED = [
    *("mpm_event", "authz_core", "authz_host", "authz_user", "access_compat", "authn_core"),
    *("authn_file", "auth_basic", "autoindex", "dir", "alias", "userdir", "dav", "dav_fs"),
    *("mime", "rewrite", "allowmethods", "headers"),
]

CONF = """\
ServerRoot {root}
ServerName main.test
Listen 127.0.0.1:{port}
Listen 127.0.0.1:{port2}
Listen 127.0.0.1:{port3}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
DefaultRuntimeDir {root}
LogLevel warn
User www-data
Group www-data
{modules}
TypesConfig /etc/mime.types
DocumentRoot {root}/main
DAVLockDB {root}/davlock
Header always set X-Vhost main
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory {root}/main>
    Require all granted
</Directory>
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>

<VirtualHost *:{port}>
    ServerName a.test
    ServerAlias www.a.test *.wild.test
    Header always set X-Vhost a
    DocumentRoot {root}/a
    <Directory {root}/a>
        Options Indexes FollowSymLinks
        Require all granted
    </Directory>
    <Directory {root}/a>
        Options None
    </Directory>
    <Directory {root}/a/listed>
        Options +Indexes
    </Directory>
    <Directory {root}/a/listed/not>
        Options -Indexes
    </Directory>
    <Directory {root}/a/nested>
        <Files "*.secret">
            Require all denied
        </Files>
    </Directory>
    <LocationMatch "^/regex/">
        Require all denied
    </LocationMatch>
    <Location /any>
        Order deny,allow
        Deny from all
        Satisfy Any
    </Location>
    <Location />
        Order allow,deny
        Allow from all
    </Location>
    UserDir public_html
    UserDir disabled
    Alias /data {root}/data
    Redirect /old http://elsewhere.test/
    RewriteEngine On
    RewriteRule ^/rw/ /index.html [PT]
</VirtualHost>

<VirtualHost *:{port}>
    ServerName b.test
    Header always set X-Vhost b
    DocumentRoot {root}/b
    <Directory {root}/b>
        Require all granted
    </Directory>
    <Location />
        Require all granted
    </Location>
    UserDir {root}/users
    UserDir disabled root
    <Directory {root}/users>
        Options Indexes
        Require all granted
    </Directory>
    <Location /dav>
        Dav On
        AuthType Basic
        AuthName "DAV"
        AuthUserFile {root}/dav.passwd
        <RequireAny>
            Require method GET POST OPTIONS
            Require user admin
        </RequireAny>
    </Location>
    <Location /ip-only>
        Require ip 10.0.0.0/8
    </Location>
    <Location /local>
        Require local
    </Location>
    <Location /limited>
        <LimitExcept GET>
            Require all denied
        </LimitExcept>
    </Location>
    <Location /ro>
        AllowMethods GET
    </Location>
    <Location /method-if>
        <If "%{{REQUEST_METHOD}} == 'HEAD'">
            Require all denied
        </If>
    </Location>
    <Location /cond>
        <If "%{{HTTP:X-Let-In}} == 'yes'">
            Require all denied
        </If>
    </Location>
    <Location /both>
        AuthMerging And
        Require ip 10.0.0.0/8
    </Location>
    <Location /either>
        AuthMerging Or
        Require ip 10.0.0.0/8
    </Location>
    <Directory {root}/b/nested>
        <Files "*.secret">
            Require all denied
        </Files>
    </Directory>
</VirtualHost>

# Meant to catch every unknown Host, but read after the sites: never the default server.
<VirtualHost _default_:{port}>
    ServerName catchall.test
    Header always set X-Vhost catchall
    DocumentRoot {root}/catchall
    <Directory {root}/catchall>
        Require all granted
    </Directory>
</VirtualHost>

<VirtualHost 127.0.0.1:{port2}>
    ServerName ip.test
    Header always set X-Vhost ip
    DocumentRoot {root}/ip
    <Directory {root}/ip>
        Require all granted
    </Directory>
</VirtualHost>
"""

FILES = {
    "main/index.html": "main",
    "a/index.html": "a",
    "a/file.txt": "a",
    "a/.htpasswd": "secret",
    "a/listed/one.txt": "1",
    "a/noindex/one.txt": "1",
    "data/x.txt": "x",
    "b/index.html": "b",
    "b/.htpasswd": "secret",
    "b/dav/index.html": "dav",
    "b/ip-only/x.txt": "x",
    "b/local/x.txt": "x",
    "b/limited/x.txt": "x",
    "b/ro/x.txt": "x",
    "b/method-if/x.txt": "x",
    "b/cond/x.txt": "x",
    "b/both/x.txt": "x",
    "a/listed/not/one.txt": "1",
    "a/nested/x.secret": "x",
    "a/nested/x.txt": "x",
    "a/regex/x.txt": "x",
    "a/any/x.txt": "x",
    "b/either/x.txt": "x",
    "b/nested/x.secret": "x",
    "users/alice/one.txt": "1",
    "users/root/one.txt": "1",
    "catchall/index.html": "catchall",
    "ip/index.html": "ip",
}

# (method, Host header, port key, URL)
REQUESTS = [
    ("GET", "a.test", "port", "/"),
    ("GET", "a.test", "port", "/file.txt"),
    ("HEAD", "a.test", "port", "/file.txt"),
    ("GET", "a.test", "port", "/noindex/"),
    ("GET", "a.test", "port", "/listed/"),
    ("GET", "a.test", "port", "/listed"),
    ("GET", "a.test", "port", "/.htpasswd"),
    ("GET", "a.test", "port", "/missing.html"),
    ("GET", "a.test", "port", "/~alice/"),
    ("GET", "a.test", "port", "/data/x.txt"),
    ("GET", "a.test", "port", "/old/x"),
    ("GET", "a.test", "port", "/rw/x"),
    ("PUT", "a.test", "port", "/file.txt"),
    ("DELETE", "a.test", "port", "/file.txt"),
    ("OPTIONS", "a.test", "port", "/file.txt"),
    ("POST", "a.test", "port", "/file.txt"),
    ("POST", "a.test", "port", "/"),
    ("GET", "www.a.test", "port", "/file.txt"),
    ("GET", "x.wild.test", "port", "/file.txt"),
    ("GET", "unknown.test", "port", "/file.txt"),
    ("GET", "catchall.test", "port", "/"),
    ("GET", "b.test", "port", "/"),
    ("GET", "b.test", "port", "/.htpasswd"),
    ("GET", "b.test", "port", "/~alice/"),
    ("GET", "b.test", "port", "/~root/"),
    ("GET", "b.test", "port", "/dav/"),
    ("PUT", "b.test", "port", "/dav/new.txt"),
    ("DELETE", "b.test", "port", "/dav/index.html"),
    ("PROPFIND", "b.test", "port", "/dav/"),
    ("GET", "b.test", "port", "/ip-only/x.txt"),
    ("GET", "b.test", "port", "/local/x.txt"),
    ("GET", "b.test", "port", "/limited/x.txt"),
    ("OPTIONS", "b.test", "port", "/limited/x.txt"),
    ("DELETE", "b.test", "port", "/limited/x.txt"),
    ("GET", "b.test", "port", "/ro/x.txt"),
    ("PUT", "b.test", "port", "/ro/x.txt"),
    ("GET", "b.test", "port", "/method-if/x.txt"),
    ("HEAD", "b.test", "port", "/method-if/x.txt"),
    ("GET", "b.test", "port", "/cond/x.txt"),
    ("GET", "b.test", "port", "/both/x.txt"),
    ("GET", "a.test", "port", "/listed/not/"),
    ("GET", "a.test", "port", "/nested/x.secret"),
    ("GET", "a.test", "port", "/nested/x.txt"),
    ("GET", "a.test", "port", "/regex/x.txt"),
    ("GET", "a.test", "port", "/any/x.txt"),
    ("GET", "b.test", "port", "/either/x.txt"),
    ("GET", "b.test", "port", "/nested/x.secret"),
    ("GET", "anything.test", "port2", "/"),
    ("GET", "b.test", "port2", "/"),
    ("GET", "b.test", "port3", "/"),
    ("GET", "b.test", "port3", "/index.html"),
]

NOT_CLAIMED = {"/old/x", "/rw/x", "/cond/x.txt"}


@pytest.fixture(scope="module")
def server(apache2_bin):
    if not Path(MODULES, "mod_dav.so").exists():
        pytest.skip("mod_dav is not installed")
    root = Path(tempfile.mkdtemp(prefix="httpdlint-explain-"))
    root.chmod(0o755)
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "dav.passwd").write_text("")
    for d in [root, *root.rglob("*")]:
        d.chmod(0o777 if d.is_dir() else 0o644)
    ports = {"port": free_port(), "port2": free_port(), "port3": free_port()}
    modules = "\n".join(f"LoadModule {m}_module {MODULES}/mod_{m}.so" for m in LOADED)
    conf = root / "httpd.conf"
    conf.write_text(CONF.format(root=root, modules=modules, **ports))
    try:
        with foreground_apache(apache2_bin, conf, ports["port3"]):
            yield root, conf, ports
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)


def send(port: int, method: str, host: str, url: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, url, body=b"x" if method == "PUT" else None, headers={"Host": host})
    resp = conn.getresponse()
    resp.read()
    conn.close()
    return resp.status, resp.getheader("X-Vhost", "")


def served_by(found) -> str:
    if found.server is None:
        return "main"
    for d in found.server.children or []:
        if d.lname == "header" and d.args[-2:-1] == ["X-Vhost"]:
            return d.args[-1]
    return "?"


def test_live_statuses_match_explain(server):
    root, conf, ports = server
    model = load_model(str(conf))
    claimed = 0
    wrong = []
    for method, host, key, url in REQUESTS:
        request = parse_url(f"http://{host}:{ports[key]}{url}", method, "127.0.0.1")
        found = explain(model, request, "127.0.0.1")
        status, vhost = send(ports[key], method, host, url)
        if vhost != served_by(found):
            wrong.append(f"{method} {host}{url}: {vhost} answered, explain says {served_by(found)}")
        predicted = found.outcome.status
        if url in NOT_CLAIMED:
            if predicted is not None:
                wrong.append(f"{method} {host}{url}: claimed {predicted}, cannot be known")
            continue
        if predicted is None:
            wrong.append(f"{method} {host}{url}: no claim ({found.outcome.why}), httpd {status}")
            continue
        claimed += 1
        if predicted != status:
            wrong.append(
                f"{method} {host}{url}: httpd {status}, explain {predicted} ({found.outcome.why})"
            )
    assert not wrong, "\n".join(wrong)
    print(f"{claimed} statuses claimed and matched, {len(REQUESTS)} requests")
    assert claimed >= 30


def test_cli_explain_json_matches_live(server):
    """The command line gives the same answer, as a JSON document."""
    root, conf, ports = server
    url = f"http://b.test:{ports['port']}/.htpasswd"
    out = subprocess.run(
        [sys.executable, "-m", "httpdlint", "explain", url, str(conf), "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "NO_COLOR": "1"},
    ).stdout
    doc = json.loads(out)
    status, vhost = send(ports["port"], "GET", "b.test", "/.htpasswd")
    assert doc["status"] == status == 200
    assert doc["server"]["virtual_host"]["args"] == [f"*:{ports['port']}"]
    assert [s["kind"] for s in doc["applies"]][-1] == "location"
