"""The virtual-host map against the real `apache2 -S`, which host answers a request, and COR022.

`httpdlint dump --vhosts` must print the "VirtualHost configuration:" section of `apache2 -S`
line for line, and its JSON must hold the same addresses, default servers, names, places and
aliases, on the fixtures under tests/fixtures/vhosts/ (IP-based, port-only, `_default_`,
name-based with wildcard aliases, mixed, no ServerName) and on Debian's tree. Each fixture is
copied to a temporary server root first, so both readers see the same paths.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest
from httpd_real import apache_env, run_apache
from typer.testing import CliRunner

from httpdlint.cli import app
from httpdlint.model import load_model
from httpdlint.vhosts import vhost_map

FIXTURES = Path(__file__).parent / "fixtures"
VHOSTS = FIXTURES / "vhosts"
COR022 = FIXTURES / "rules" / "COR022"
DEBIAN = Path("/etc/apache2")
CASES = sorted(p.name for p in VHOSTS.glob("*.conf"))


# -- what httpd says -----------------------------------------------------------------------


def httpd_section(binary: str, conf: Path, root: Path, env: dict | None = None) -> str:
    """The "VirtualHost configuration:" section of `apache2 -S`."""
    res = run_apache(binary, conf, root, "-S", env=env or apache_env())
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    start = lines.index("VirtualHost configuration:")
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("ServerRoot:"))
    return "\n".join(lines[start:end]) + "\n"


_PLACE = r"(?P<name>.*?) \((?P<file>.*):(?P<line>\d+)\)$"


def parse_section(text: str) -> list[dict]:
    """-S's section as render_json's `addresses` (for IP-based sets, the one host)."""
    out: list[dict] = []
    for line in text.splitlines()[1:]:
        if m := re.match(r"^(\S+) +is a NameVirtualHost$", line):
            out.append({"address": m[1], "name_based": True, "default": None, "hosts": []})
        elif m := re.match(r"^ {9}default server " + _PLACE, line):
            out[-1]["default"] = (m["name"], m["file"], int(m["line"]))
        elif m := re.match(r"^ {9}port (?P<port>\S+) namevhost " + _PLACE, line):
            port = 0 if m["port"] == "*" else int(m["port"])
            host = {"name": m["name"], "aliases": [], "file": m["file"], "line": int(m["line"])}
            out[-1]["hosts"].append({**host, "port": port})
        elif m := re.match(r"^ {17}(?:wild )?alias (.*)$", line):
            out[-1]["hosts"][-1]["aliases"].append(m[1])
        elif m := re.match(r"^(?P<address>\S+) +" + _PLACE, line):
            port_text = m["address"].rsplit(":", 1)[1]
            host = {"name": m["name"], "aliases": [], "file": m["file"], "line": int(m["line"])}
            host["port"] = 0 if port_text == "*" else int(port_text)
            default = (host["name"], host["file"], host["line"])
            out.append({"address": m["address"], "name_based": False, "default": default})
            out[-1]["hosts"] = [host]
        else:
            raise AssertionError(f"unexpected -S line: {line!r}")
    return out


# -- what httpdlint says -------------------------------------------------------------------


def ours(conf: Path, root: Path, *extra: str) -> str:
    args = ["dump", "--vhosts", str(conf), "--server-root", str(root), *extra]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return res.stdout


def compare(binary: str, conf: Path, root: Path, env: dict | None = None) -> str:
    theirs = httpd_section(binary, conf, root, env)
    assert ours(conf, root) == theirs
    doc = json.loads(ours(conf, root, "--format", "json"))
    assert doc["schema"] == 1
    mine = doc["addresses"]
    for entry in mine:
        d = entry["default"]
        assert d == entry["hosts"][0]
        entry["default"] = (d["name"], d["file"], d["line"])
        if not entry["name_based"]:
            entry["hosts"][0]["aliases"] = []  # -S prints no aliases for an IP-based host
    assert mine == parse_section(theirs)
    return theirs


def copy_fixture(path: Path, tmp_path: Path) -> tuple[Path, Path]:
    root = tmp_path / "root"
    if path.is_dir():
        shutil.copytree(path, root)
        conf = root / "httpd.conf"
    else:
        root.mkdir()
        conf = root / path.name
        shutil.copy(path, conf)
    for d in ("run", "logs"):
        (root / d).mkdir(exist_ok=True)
    return conf, root


# -- the map equals -S ---------------------------------------------------------------------


@pytest.mark.apache
@pytest.mark.parametrize("name", CASES)
def test_dump_vhosts_equals_httpd_S(name: str, apache2_bin: str, tmp_path: Path) -> None:
    conf, root = copy_fixture(VHOSTS / name, tmp_path)
    compare(apache2_bin, conf, root)


def test_every_kind_of_fixture_is_there() -> None:
    assert {"ip_based.conf", "port_only.conf", "default.conf", "names.conf"} <= set(CASES)
    assert {"mixed.conf", "noname.conf"} <= set(CASES)


@pytest.mark.apache
def test_default_and_star_are_one_set(apache2_bin: str, tmp_path: Path) -> None:
    """In 2.4 `_default_:P`, `0.0.0.0:P` and `*:P` are one name-based set on `*:P`; -S says
    so, and the first host read is its default server."""
    conf, root = copy_fixture(VHOSTS / "default.conf", tmp_path)
    section = compare(apache2_bin, conf, root)
    entries = parse_section(section)
    assert [e["address"] for e in entries] == ["*:18201", "*:18200", "*:*"]
    entry = entries[1]
    assert [h["name"] for h in entry["hosts"]] == [
        "first.example.org",
        "catchall.invalid",
        "zeros.example.org",
    ]
    assert entry["default"][0] == "first.example.org"


@pytest.mark.apache
def test_debian_stock(apache2_bin: str, debian_conf: Path) -> None:
    env = apache_env(DEBIAN / "envvars")
    compare(apache2_bin, debian_conf, DEBIAN, env)


def _debian_hosting(debian_conf: Path, tmp_path: Path) -> Path:
    """Debian's tree copied, with sites enabled beside 000-default.conf and a `_default_`
    catch-all in a file that sorts after them."""
    root = tmp_path / "apache2"
    shutil.copytree(debian_conf.parent, root, symlinks=True)
    for link in root.rglob("*"):
        if link.is_symlink():
            target = os.readlink(link)
            if target.startswith(str(DEBIAN) + "/"):
                link.unlink()
                link.symlink_to(root / target[len(str(DEBIAN)) + 1 :])
    sites = {
        "example.com.conf": "ServerName www.example.com\n    ServerAlias example.com",
        "shop.conf": "ServerName shop.example.com\n    ServerAlias *.shop.example.com",
        "zz-catchall.conf": "ServerName catchall.invalid",
    }
    for name, body in sites.items():
        address = "_default_:80" if name.startswith("zz") else "*:80"
        text = f"<VirtualHost {address}>\n    {body}\n</VirtualHost>\n"
        (root / "sites-available" / name).write_text(text, encoding="utf-8")
        (root / "sites-enabled" / name).symlink_to(root / "sites-available" / name)
    return root


@pytest.mark.apache
def test_debian_hosting_layout(apache2_bin: str, debian_conf: Path, tmp_path: Path) -> None:
    root = _debian_hosting(debian_conf, tmp_path)
    section = compare(apache2_bin, root / "apache2.conf", root, apache_env(root / "envvars"))
    (entry,) = parse_section(section)
    assert entry["default"][1].endswith("/sites-enabled/000-default.conf")
    found = check_findings(root / "apache2.conf", root)
    assert [(Path(f["file"]).name, f["line"]) for f in found] == [("zz-catchall.conf", 1)]
    assert "000-default.conf:1" in found[0]["message"]


# -- which host answers --------------------------------------------------------------------


def _map(name: str):
    return vhost_map(load_model(str(VHOSTS / name), server_root=str(VHOSTS)))


def _name(vhost) -> str | None:
    if vhost is None:
        return None
    own = vhost.own("ServerName")
    return own.args[0] if own is not None else "(inherited)"


@pytest.mark.parametrize(
    ("host", "answer", "why"),
    [
        ("www.example.com", "www.example.com", "ServerName www.example.com at names.conf:9"),
        ("EXAMPLE.com", "www.example.com", "ServerAlias example.com at names.conf:11"),
        ("foo.example.com:8080", "www.example.com", "ServerAlias *.example.com at names.conf:11"),
        ("www.example.com.", "www.example.com", "ServerName www.example.com"),
        ("www7.example.net", "www.example.com", "ServerAlias www?.example.net at names.conf:12"),
        ("www77.example.net", "later.example.com", "ServerAlias * at names.conf:24"),
        # www's wildcard alias, checked before the next host's names, takes Shop's names.
        ("shop.example.com", "www.example.com", "ServerAlias *.example.com"),
        ("main.example.org", "(inherited)", "ServerName Main.Example.org at names.conf:18"),
        ("shadowed.example.org", "later.example.com", "ServerAlias *"),
        (None, "www.example.com", "first virtual host on *:18210 (no Host header)"),
        ("", "www.example.com", "(no Host header)"),
        ("bad..host", "www.example.com", "400 Bad Request"),
        ("1234", "www.example.com", "400 Bad Request"),
    ],
)
def test_select_by_name(host: str | None, answer: str, why: str) -> None:
    vhost, reason = _map("names.conf").select("127.0.0.1", 18210, host)
    assert _name(vhost) == answer
    assert why in reason


def test_select_first_host_when_no_name_matches() -> None:
    vmap = _map("names.conf")
    vhost, reason = vmap.select("127.0.0.1", 18211, "unknown.example.org")
    assert _name(vhost) == "ip-a.example.org"
    assert reason == "first virtual host on 127.0.0.1:18211 (no name matched unknown.example.org)"
    vhost, reason = vmap.select("127.0.0.1", 18211, "x.ip.example.org")
    assert _name(vhost) == "ip-b.example.org"
    # The address of the <VirtualHost> line is a last resort, taken from the first host.
    vhost, reason = vmap.select("127.0.0.1", 18211, "127.0.0.1")
    assert _name(vhost) == "ip-a.example.org" and "address of the <VirtualHost>" in reason


def test_select_by_address_and_port() -> None:
    vmap = _map("port_only.conf")
    cases = [
        # An exact ip:port wins over the wildcard set, whatever the Host header says.
        (("127.0.0.1", 18190, "c.example.org"), "noport.example.org"),
        (("127.0.0.1", 18195, "x"), "ipanyport.example.org"),
        (("10.1.1.1", 18195, "x"), "anyport.example.org"),
        (("10.1.1.1", 18190, "c.example.org"), "c.example.org"),
        (("10.1.1.1", 18190, "nothing.example"), "a.example.org"),
        (("::ffff:10.1.1.1", 18191, None), "b.example.org"),
    ]
    for (ip, port, host), answer in cases:
        vhost, _ = vmap.select(ip, port, host)
        assert _name(vhost) == answer, (ip, port, host)
    # 127.0.0.1:* is an exact address on any port: it wins over *:18191.
    vhost, reason = vmap.select("127.0.0.1", 18191, "b.example.org")
    assert _name(vhost) == "ipanyport.example.org"
    _, reason = vmap.select("10.1.1.1", 18191, "b.example.org")
    assert reason.startswith("the only virtual host on *:18191 (port_only.conf:15)")


def test_select_main_server() -> None:
    vhost, reason = _map("ip_based.conf").select("127.0.0.1", 9999, "one.example.org")
    assert vhost is None
    assert reason == "no <VirtualHost> matches 127.0.0.1:9999: the main server answers"


def test_map_is_computed_once() -> None:
    model = load_model(str(VHOSTS / "names.conf"), server_root=str(VHOSTS))
    assert vhost_map(model) is vhost_map(model) is model.cache["vhosts.map"]
    entry = vhost_map(model).entries[-1]
    assert entry.address == "*:18210" and entry.name_based and entry.ip == "*"
    assert entry.default is entry.hosts[0] and entry.default.vhost is not None
    assert entry.hosts[0].aliases == ["example.com", "*.example.com", "www?.example.net"]


# -- bad input -----------------------------------------------------------------------------


def test_bad_address_is_one_line_and_exit_2(tmp_path: Path) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text("Listen 80\n<VirtualHost *:0>\n</VirtualHost>\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["dump", "--vhosts", str(conf)])
    assert res.exit_code == 2
    assert res.stderr == f"{conf}:2: The address or port is invalid\n"


# -- COR022 against -S ---------------------------------------------------------------------


def check_findings(conf: Path, root: Path) -> list[dict]:
    args = ["check", str(conf), "--server-root", str(root), "--select", "COR022", "-f", "json"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code in (0, 1), res.output
    return json.loads(res.stdout)["findings"]


@pytest.mark.apache
@pytest.mark.parametrize("case", ["bad.conf", "bad_sites"])
def test_cor022_fires_where_httpd_S_shows_another_default(
    case: str, apache2_bin: str, tmp_path: Path
) -> None:
    conf, root = copy_fixture(COR022 / case, tmp_path)
    entries = parse_section(compare(apache2_bin, conf, root))
    found = check_findings(conf, root)
    assert found
    for f in found:
        # httpd -S lists the catch-all in a name-based set whose default server is another.
        place = (f["file"], f["line"])
        (entry,) = [e for e in entries if place in [(h["file"], h["line"]) for h in e["hosts"]]]
        name, file, line = entry["default"]
        assert (file, line) != place
        assert f"{name} at {Path(file).name}:{line}" in f["message"]


@pytest.mark.apache
def test_cor022_quiet_where_httpd_S_shows_the_catch_all_first(
    apache2_bin: str, tmp_path: Path
) -> None:
    conf, root = copy_fixture(COR022 / "good.conf", tmp_path)
    entries = parse_section(compare(apache2_bin, conf, root))
    defaults = {e["address"]: e["default"][0] for e in entries}
    assert defaults["*:18280"] == "catchall.invalid" and defaults["*:18281"] == "any.invalid"
    assert check_findings(conf, root) == []
