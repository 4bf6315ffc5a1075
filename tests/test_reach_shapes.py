"""The reachability rules ask once per shape of server (`merge.shape`): that is sound.

Two claims, on every rule fixture and on a generated tree of varied virtual hosts (shared
and separate DocumentRoots, Define'd values, denials by <DirectoryMatch>, <Files>,
<Location>, RedirectMatch, RewriteRule, <LimitExcept>, AllowMethods, nested sections, the
same blocks in a different order, placeholder index pages): every server's own answer to
each probe equals the answer of the first server of its shape, lines taken position for
position; and the findings of SEC020, SEC022 and SEC024 are the same when every server is
made a shape of its own (each asked for itself, as before the memo).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from httpdlint import engine, merge
from httpdlint.checks import reach
from httpdlint.errors import ConfigError
from httpdlint.model import load_model
from httpdlint.registry import CHECKS

FIXTURES = Path(__file__).parent / "fixtures" / "rules"
MODULES = "/usr/lib/apache2/modules"
PROBES = [
    ("/.git/config", "GET"),
    ("/.svn/wc.db", "GET"),
    ("/static/.git/config", "GET"),
    ("/", "GET"),
    ("/", "PUT"),
    ("/", "DELETE"),
    ("/private/x", "GET"),
    ("/manual/", "GET"),
    ("/cgi-bin/printenv", "POST"),
]
CODES = ("SEC020", "SEC022", "SEC024")

# Blocks a generated virtual host is made of ({d}: the tree's directory).
BLOCKS = [
    'DocumentRoot "{d}/a"',
    'DocumentRoot "{d}/b"',
    'DocumentRoot "{d}/${{SITE}}"',
    '<Directory "{d}/a">\n Require all granted\n</Directory>',
    '<Directory "{d}/b">\n Require all granted\n <Files "config">\n'
    "  Require all denied\n </Files>\n</Directory>",
    '<Directory "{d}/b">\n Require all granted\n</Directory>\n<Files "config">\n'
    " Require all denied\n</Files>",
    '<DirectoryMatch "/\\.(git|svn)/">\n Require all denied\n</DirectoryMatch>',
    '<Location "/private">\n Require all denied\n</Location>',
    '<LocationMatch "/\\.git">\n Require ${{RULE}}\n</LocationMatch>',
    'RedirectMatch 404 "/\\.git"',
    'RewriteEngine On\nRewriteRule "^/old/(.*)$" "/new/$1" [R=301,L]',
    'RewriteEngine On\nRewriteRule "\\.git" "-" [F]',
    'Alias /static/ "{d}/a/"',
    'Alias /static/ "{d}/b/"',
    '<Directory "{d}/a">\n <LimitExcept GET POST>\n  Require all denied\n'
    " </LimitExcept>\n</Directory>",
    '<Location "/">\n AllowMethods GET POST\n</Location>',
    'ScriptAlias /cgi-bin/ "{d}/cgi/"',
    'Header always set X-Site "s"',
    "DirectoryIndex index.html",
]
HEAD = """\
ServerRoot "{d}"
ServerName shapes.test
Listen 127.0.0.1:8080
Listen 127.0.0.1:8081
LoadModule mpm_event_module {m}/mod_mpm_event.so
LoadModule authz_core_module {m}/mod_authz_core.so
LoadModule alias_module {m}/mod_alias.so
LoadModule dir_module {m}/mod_dir.so
LoadModule rewrite_module {m}/mod_rewrite.so
LoadModule headers_module {m}/mod_headers.so
LoadModule allowmethods_module {m}/mod_allowmethods.so
DocumentRoot "{d}/a"
<Directory "{d}">
    Require all granted
</Directory>
"""


def generated(tmp: Path, hosts: int = 120, seed: int = 15) -> Path:
    """A tree of HOSTS virtual hosts drawn from a few dozen combinations of BLOCKS, each
    drawn several times (other names, other lines), some in another order."""
    rng = random.Random(seed)
    for name in ("a", "b", "x", "y", "cgi"):
        (tmp / name).mkdir()
    (tmp / "a" / "index.html").write_text("<html><h1>It works!</h1></html>\n")
    (tmp / "x" / "index.html").write_text("<title>Apache2 Debian Default Page</title>\n")
    combos = [rng.sample(range(len(BLOCKS)), rng.randint(0, 6)) for _ in range(30)]
    out = [HEAD.format(d=tmp, m=MODULES)]
    for i in range(hosts):
        picked = list(rng.choice(combos))
        if rng.random() < 0.2:
            rng.shuffle(picked)
        site, rule = rng.choice(["x", "y"]), rng.choice(["all granted", "all denied"])
        out.append(f"Define SITE {site}\nDefine RULE {rule}\n")
        port = rng.choice([8080, 8081])
        body = "\n".join(BLOCKS[b].format(d=tmp) for b in picked)
        out.append(
            f"<VirtualHost 127.0.0.1:{port}>\nServerName s{i}.test\n"
            f'ErrorLog "{tmp}/e{i}.log"\n{body}\n</VirtualHost>\n'
        )
    main = tmp / "httpd.conf"
    main.write_text("".join(out))
    return main


def fixture_mains() -> list:
    found = sorted(FIXTURES.glob("*/*.conf")) + sorted(FIXTURES.glob("*/*/httpd.conf"))
    return [pytest.param(p, id=str(p.relative_to(FIXTURES))) for p in found]


def _positions(server, lines) -> dict[int, int]:
    """Each node of a server's own lines (sections whole), numbered depth first."""
    out: dict[int, int] = {}
    for line in lines:
        for node in line.walk():
            out[id(node)] = len(out)
    return out


def _norm(node, server, positions):
    if node is None:
        return None
    if node is server:
        return "server"
    return positions.get(id(node), node)  # else a line every server shares


def _answer(model, server, lines, url, method):
    """What the rules see of one request, with the server's own lines by position."""
    pos = _positions(server, lines)
    result, answer = reach.ask(model, server, url, method, files=True)
    seen = (
        result.filename,
        _norm(result.mapped_by, server, pos),
        tuple(_norm(n, server, pos) for _, n in result.undecided),
    )
    if answer is None:
        return (*seen, None)
    return (*seen, answer.access, answer.status, _norm(answer.deciding, server, pos))


def _same_answers(model) -> tuple[int, int, set]:
    """Assert that every server answers as the first of its shape; (servers, shapes,
    the (access, status) pairs met)."""
    first: dict[int, tuple] = {}
    kinds = set()
    shapes = reach._shapes(model)
    for server in reach.servers(model):
        number, lines = shapes[server]
        mine = [_answer(model, server, lines, url, method) for url, method in PROBES]
        kinds.update(a[3:5] for a in mine)
        other = first.setdefault(number, (server, mine))
        assert mine == other[1], (server, other[0])
    return len(shapes) - (None not in reach.servers(model)), len(first), kinds


def _findings(main: Path) -> list[tuple]:
    model = load_model(str(main))
    catalog = engine.catalog()
    settings = engine.Settings(profile="cis")
    out = []
    for code in CODES:
        for f in CHECKS[code](model, catalog[code], settings):
            out.append((code, f.message, f.file, f.line))
    return out


def _apart(monkeypatch) -> None:
    """Every server a shape of its own: the rules ask each one for itself."""
    real = merge.shape
    monkeypatch.setattr(merge, "shape", lambda v: ((id(v),), real(v)[1]))


@pytest.mark.parametrize("main", fixture_mains())
def test_fixture_servers_answer_as_their_shape(main: Path) -> None:
    try:
        model = load_model(str(main))
    except ConfigError:
        pytest.skip("the fixture is an input error")
    _same_answers(model)


def test_generated_servers_answer_as_their_shape(tmp_path: Path) -> None:
    model = load_model(str(generated(tmp_path)))
    servers, shapes, kinds = _same_answers(model)
    # The test means something only when hosts share shapes and the answers vary.
    assert 1 < shapes < servers / 2
    assert {("allowed", 200), ("allowed", 404), ("allowed", 405), ("denied", 403)} <= kinds
    assert (None,) in kinds  # and some that the configuration cannot decide


def test_generated_findings_equal_unmemoized(tmp_path: Path, monkeypatch) -> None:
    main = generated(tmp_path)
    shared = _findings(main)
    _apart(monkeypatch)
    alone = _findings(main)
    assert shared == alone
    assert {code for code, *_ in shared} == set(CODES)  # each rule fires somewhere


def test_many_hosts_one_shape(tmp_path: Path, monkeypatch) -> None:
    """The benchmark's pattern (names and logs differ): one shape, one SEC020 finding for
    the tree, none for the main server (every Listen address has its hosts: no SEC022 for
    this machine's /var/www/html), the same with every host asked for itself."""
    import sys

    sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
    from gen_tree import generate

    main = generate(40, "single", tmp_path / "tree")
    model = load_model(str(main))
    assert len({n for n, _ in reach._shapes(model).values()}) == 2  # main server, hosts
    shared = _findings(main)
    assert [code for code, *_ in shared if code != "SEC024"] == ["SEC020"]
    _apart(monkeypatch)
    assert _findings(main) == shared


def test_shape_tells_apart_what_resolve_reads(tmp_path: Path) -> None:
    """A Define'd value, a nesting, a Header: the first two change the key, Header not."""
    main = tmp_path / "httpd.conf"
    hosts = [
        "Define V granted\n<VirtualHost *:80>\nServerName a\n"
        "<Directory /srv>\nRequire all ${V}\n</Directory>\n</VirtualHost>",
        "Define V denied\n<VirtualHost *:80>\nServerName b\n"
        "<Directory /srv>\nRequire all ${V}\n</Directory>\n</VirtualHost>",
        "<VirtualHost *:80>\nServerName c\n<Directory /srv>\n<Files x>\nRequire all denied\n"
        "</Files>\n</Directory>\n</VirtualHost>",
        "<VirtualHost *:80>\nServerName d\n<Directory /srv>\n</Directory>\n<Files x>\n"
        "Require all denied\n</Files>\n</VirtualHost>",
        "<VirtualHost *:80>\nServerName e\nHeader set X a\n"
        "<Directory /srv>\nRequire all denied\n</Directory>\n</VirtualHost>",
        "<VirtualHost *:80>\nServerName f\nHeader set X b\n"
        "<Directory /srv>\nRequire all denied\n</Directory>\n</VirtualHost>",
    ]
    main.write_text("Listen 80\n" + "\n".join(hosts) + "\n")
    model = load_model(str(main))
    keys = [merge.shape(v.node)[0] for v in model.virtual_hosts()]
    assert keys[0] != keys[1] and keys[2] != keys[3]
    assert keys[4] == keys[5] == keys[1]
