"""A tree that loads no module cannot tell which modules httpd has: its <IfModule> conditions
on modules the binary does not build in are undecidable, both branches are analysed, and
findings inside say so. Naming modules with --module, or any LoadModule, decides them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from httpdlint.model import load_model

FRAGMENT = """\
<VirtualHost *:443>
    ServerName shop.example.com
    <IfModule mod_ssl.c>
        SSLEngine on
        SSLProtocol all +SSLv3
    </IfModule>
    <IfModule !ssl_module>
        Redirect / https://shop.example.com/
    </IfModule>
    <IfModule mod_log_config.c>
        CustomLog /var/log/shop.log combined
    </IfModule>
    <IfModule !mod_log_config.c>
        TransferLog /var/log/never.log
    </IfModule>
</VirtualHost>
"""


def names(path: Path, **kw) -> list[str]:
    return [d.name for d in load_model(str(path), **kw).all()]


def test_both_branches_of_an_undecidable_condition_are_read(tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_text(FRAGMENT)
    model = load_model(str(conf))
    got = [d.name for d in model.all()]
    assert "SSLProtocol" in got and "Redirect" in got
    # mod_log_config is built into the binary: that condition is decided, as httpd would.
    assert "CustomLog" in got and "TransferLog" not in got
    assert model.has_module("ssl_module") and "ssl_module" not in model.config.modules
    undecided = {line for (_, line) in model.config.undecided}
    assert {4, 5, 8} <= undecided and 11 not in undecided


def test_named_or_loaded_modules_decide(tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_text(FRAGMENT)
    got = names(conf, modules=["ssl_module"])
    assert "SSLProtocol" in got and "Redirect" not in got
    conf.write_text("LoadModule alias_module modules/mod_alias.so\n" + FRAGMENT)
    got = names(conf)
    assert "SSLProtocol" not in got and "Redirect" in got


def test_findings_inside_say_the_branch_may_not_apply(tmp_path: Path) -> None:
    conf = tmp_path / "site.conf"
    conf.write_text(FRAGMENT)
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", str(conf), "-f", "json", "--select", "TLS001"],
        capture_output=True,
        text=True,
    )
    (finding,) = json.loads(res.stdout)["findings"]
    assert finding["line"] == 5
    assert "cannot be decided" in finding["message"] and "mod_ssl.c" in finding["message"]
