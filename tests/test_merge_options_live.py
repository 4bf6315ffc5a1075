"""Options as httpd merges them, judged by a live server: hypothesis writes the Options lines.

Each generated case is a directory and a subdirectory, each with its own <Directory> and
zero to two Options lines (all words with + or -, or none: httpd refuses a mix), both
without an index file. httpd lists a directory (200) exactly when Indexes survives the
merge and answers 403 otherwise; `explain` must say the same for every directory.
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
WORDS = ["Indexes", "FollowSymLinks", "MultiViews", "ExecCGI", "All", "None", "Includes"]

relative = st.lists(
    st.tuples(st.sampled_from("+-"), st.sampled_from(WORDS[:4])).map(lambda t: t[0] + t[1]),
    min_size=1,
    max_size=3,
)
# httpd takes All and None only as the first word, and never with + or -.
absolute = st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).filter(
    lambda words: not {"All", "None"} & set(words[1:])
)
section = st.lists(st.one_of(relative, absolute).map(" ".join), max_size=2)
cases = st.lists(st.tuples(section, section), min_size=8, max_size=8)


def _conf(root: Path, port: int, generated) -> str:
    out = [
        f"ServerRoot {root}",
        "ServerName options.test",
        f"Listen 127.0.0.1:{port}",
        f"PidFile {root}/httpd.pid",
        f"ErrorLog {root}/error.log",
        f"DefaultRuntimeDir {root}",
        "User www-data",
        "Group www-data",
        *(
            f"LoadModule {m}_module {MODULES}/mod_{m}.so"
            for m in ("mpm_event", "authz_core", "autoindex", "dir")
        ),
        f"DocumentRoot {root}/htdocs",
        f"<Directory {root}/htdocs>",
        "    Require all granted",
        "</Directory>",
    ]
    for i, (outer, inner) in enumerate(generated):
        for path, lines in ((f"c{i}", outer), (f"c{i}/sub", inner)):
            out.append(f"<Directory {root}/htdocs/{path}>")
            out += [f"    Options {line}" for line in lines]
            out.append("</Directory>")
    return "\n".join(out) + "\n"


def _status(port: int, url: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", url)
    status = conn.getresponse().status
    conn.close()
    return status


@pytest.mark.apache
@settings(max_examples=10, deadline=None)
@given(generated=cases)
def test_listing_follows_the_options_merge(apache2_bin, generated):
    root = Path(tempfile.mkdtemp(prefix="httpdlint-options-"))
    try:
        for i in range(len(generated)):
            (root / "htdocs" / f"c{i}" / "sub").mkdir(parents=True)
            (root / "htdocs" / f"c{i}" / "sub" / "file.txt").write_text("x")
        for d in [root, *root.rglob("*")]:
            d.chmod(0o755 if d.is_dir() else 0o644)
        port = free_port()
        conf = root / "httpd.conf"
        conf.write_text(_conf(root, port, generated))
        model = load_model(str(conf))
        with foreground_apache(apache2_bin, conf, port):
            for i in range(len(generated)):
                for url in (f"/c{i}/", f"/c{i}/sub/"):
                    found = explain(model, parse_url(url, "GET", "127.0.0.1"), "127.0.0.1")
                    assert found.outcome.status == _status(port, url), (url, generated[i])
    finally:
        subprocess.run(["rm", "-rf", str(root)], check=False)
