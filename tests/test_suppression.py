"""Suppression as documented: comments above a directive, ignore-file, per-file-ignores from
project settings, findings inside a false <IfModule> never seen, unused suppressions reported."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MODS = "/usr/lib/apache2/modules"


def check(path: Path, *args: str, cwd: Path | None = None) -> list[dict]:
    res = subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", str(path), "-f", "json", "--exit-zero", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)["findings"]


def tree(tmp_path: Path) -> Path:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "httpd.conf").write_text(
        f"""Listen 80
LoadModule mpm_prefork_module {MODS}/mod_mpm_prefork.so
LoadModule authz_core_module {MODS}/mod_authz_core.so
LoadModule perl_module {MODS}/mod_perl.so
MaxRequestWorkers 20
ErrorLog /tmp/error.log
<IfModule ssl_module>
    SSLProtocol all
    ServerTokens Full
</IfModule>
# httpdlint: ignore=CAP002 -- the deploy script restarts httpd nightly
MaxConnectionsPerChild 0
# httpdlint: ignore=SEC003 -- stale
TraceEnable Off
Include conf.d/*.conf
"""
    )
    (tmp_path / "conf.d" / "legacy.conf").write_text("ServerTokens Full\nServerSignature On\n")
    (tmp_path / "conf.d" / "vendor.conf").write_text(
        "# httpdlint: ignore-file=SEC002\nServerSignature On\n"
    )
    return tmp_path / "httpd.conf"


def test_false_ifmodule_suppression_and_per_file_ignore(tmp_path: Path) -> None:
    main = tree(tmp_path)
    (tmp_path / ".httpdlint.toml").write_text(
        '[per-file-ignores]\n"conf.d/legacy.conf" = ["SEC001"]\n'
    )
    found = check(main, "--select", "CAP002,SEC001,SEC002,SEC003,TLS,COR099")
    where = {(f["rule"], Path(f["file"]).name, f["line"]) for f in found}
    # Inside the false <IfModule ssl_module>: never read, so no TLS finding and no SEC001 there.
    assert not [f for f in found if f["rule"].startswith("TLS")]
    assert ("SEC001", "httpd.conf", 9) not in where
    # The comment above MaxConnectionsPerChild 0 suppresses CAP002 there.
    assert not [f for f in found if f["rule"] == "CAP002"]
    # conf.d/legacy.conf's SEC001 is ignored by the project's per-file-ignores; its SEC002 is not.
    assert not [f for f in found if f["rule"] == "SEC001"]
    assert ("SEC002", "legacy.conf", 2) in where
    # ignore-file in vendor.conf silences SEC002 in that file only.
    assert not [f for f in found if Path(f["file"]).name == "vendor.conf"]
    # The SEC003 suppression matches nothing (TraceEnable Off): reported as unused.
    assert ("COR099", "httpd.conf", 13) in where


def test_without_settings_the_per_file_finding_returns(tmp_path: Path) -> None:
    main = tree(tmp_path)
    found = check(main, "--select", "SEC001", cwd=tmp_path)
    assert ("SEC001", "legacy.conf", 1) in {
        (f["rule"], Path(f["file"]).name, f["line"]) for f in found
    }


def test_select_ignore_and_severity_override(tmp_path: Path) -> None:
    main = tree(tmp_path)
    (tmp_path / ".httpdlint.toml").write_text('ignore = ["SEC002"]\n[severity]\nSEC001 = "error"\n')
    found = check(main, "--select", "SEC")
    assert not [f for f in found if f["rule"] == "SEC002"]
    sec001 = [f for f in found if f["rule"] == "SEC001"]
    assert sec001 and all(f["severity"] == "error" for f in sec001)
    found = check(main, "--select", "SEC00", "--ignore", "SEC001")
    assert {f["rule"] for f in found} <= {f"SEC00{i}" for i in range(2, 10)}
