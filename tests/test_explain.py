"""`httpdlint explain` as a command: what it prints, and how it refuses bad input.

What it predicts is judged against a live httpd in test_explain_live.py; these tests hold
the command's interface: each applied directive with its file:line in merge order, the JSON
document's fields, an undecided <If> shown as such, and one-line errors with exit code 2.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from httpdlint.conditions import decide_expr
from httpdlint.merge import Request

CONF = """\
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule dir_module /usr/lib/apache2/modules/mod_dir.so
DocumentRoot {root}/htdocs
<Directory />
    Require all denied
</Directory>
<Directory {root}/htdocs>
    Options Indexes
    Require all granted
</Directory>
<Location /admin>
    <If "%{{HTTP:X-Admin}} == 'yes'">
        Require all granted
    </If>
    Require local
</Location>
"""


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", "explain", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    (tmp_path / "htdocs").mkdir()
    (tmp_path / "htdocs" / "index.html").write_text("hi")
    path = tmp_path / "httpd.conf"
    path.write_text(CONF.format(root=tmp_path))
    return path


def test_text_lists_each_directive_with_its_place_in_merge_order(conf: Path):
    out = run("http://example.test/", str(conf))
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert f"{conf}:5  Require all denied" in text
    assert f"{conf}:9  Require all granted" in text
    assert text.index(":5  Require all denied") < text.index(":9  Require all granted")
    assert "options:  Indexes" in text
    assert "status:   200" in text


def test_json_names_the_deciding_line_and_an_undecided_if(conf: Path):
    out = run("/admin/x", str(conf), "--format", "json", "--client", "192.0.2.1")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert doc["schema"] == 1
    assert doc["request"]["client"] == "192.0.2.1"
    kinds = [step["kind"] for step in doc["applies"]]
    assert kinds[-2:] == ["location", "conditional"]
    assert doc["status"] is None  # the <If> may grant what Require local refuses
    assert doc["access"] == "depends"


def test_method_and_client_change_the_answer(conf: Path):
    local = json.loads(run("/admin/", str(conf), "-f", "json", "--client", "127.0.0.1").stdout)
    assert local["access"] == "allowed"
    put = json.loads(run("/", str(conf), "-f", "json", "-X", "PUT").stdout)
    assert put["status"] == 405


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ftp://example.test/"], "is not an http:// or https:// URL"),
        (["/", "--client", "nobody"], "is not an IP address"),
        (["/", "--format", "xml"], "unknown format"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(conf: Path, args: list[str], message: str):
    url, *rest = args
    out = run(url, str(conf), *rest)
    assert out.returncode == 2
    assert message in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    assert "Traceback" not in out.stderr


def test_a_broken_configuration_names_file_and_line(tmp_path: Path):
    conf = tmp_path / "httpd.conf"
    conf.write_text("<Directory /srv>\n")
    out = run("/", str(conf))
    assert out.returncode == 2
    assert f"{conf}" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("expr", "request_", "expected"),
    [
        ("%{REQUEST_METHOD} == 'POST'", Request(method="POST"), True),
        ("%{REQUEST_METHOD} in {'GET', 'HEAD'}", Request(method="PUT"), False),
        ("%{HTTP_HOST} =~ /^www\\./", Request(host="www.example.test"), True),
        ("-R '10.0.0.0/8'", Request(client="10.1.2.3"), None),  # not modelled: undecided
        ("%{REMOTE_ADDR} -ipmatch '10.0.0.0/8'", Request(client="10.1.2.3"), True),
        ("%{REMOTE_ADDR} -ipmatch '10.0.0.0/8'", Request(client=None), None),
        ("%{HTTP:X-Admin} == 'yes'", Request(), None),
        ("true && %{REQUEST_URI} =~ m#^/admin#", Request(url="/admin/x"), True),
        ("false || !(%{HTTPS} == 'on')", Request(scheme="http"), True),
        ("%{ENV:X} == 'y' && false", Request(), False),  # false decides whatever X is
    ],
)
def test_if_expressions_the_request_decides(expr: str, request_: Request, expected):
    assert decide_expr(f'"{expr}"', request_) is expected


def test_https_shows_the_tls_lines_in_force(tmp_path: Path):
    """mod_ssl keeps the last SSLProtocol of a virtual host, else the server's last one."""
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        "LoadModule ssl_module /usr/lib/apache2/modules/mod_ssl.so\n"
        "SSLProtocol all -SSLv3\n"
        "<VirtualHost *:443>\n"
        "    ServerName secure.test\n"
        "    SSLEngine on\n"
        "</VirtualHost>\n"
        "SSLProtocol -all +TLSv1.2 +TLSv1.3\n"
    )
    doc = json.loads(run("https://secure.test/", str(conf), "-f", "json").stdout)
    tls = {d["name"]: (d["args"], d["line"]) for d in doc["tls"]}
    assert tls["SSLProtocol"] == (["-all", "+TLSv1.2", "+TLSv1.3"], 7)
    assert tls["SSLEngine"] == (["on"], 5)
    assert doc["request"]["port"] == 443
