"""The directive and module table: facts the rules rely on, lookups, and regeneration."""

from __future__ import annotations

import subprocess
import sys
from importlib.resources import files
from pathlib import Path

import pytest

from httpdlint import knowledge

REPO_ROOT = Path(__file__).parents[1]
MANUAL = REPO_ROOT.parent / "shared" / "httpd-manual"
SCRIPT = REPO_ROOT / "scripts" / "gen_directives.py"


def test_table_is_package_data_and_names_its_sources() -> None:
    k = knowledge.load()
    assert set(k.generated_from) == {"2.2", "2.4"}
    assert all(len(commit) == 40 for commit in k.generated_from.values())
    assert knowledge.load() is k


def test_ssl_protocol() -> None:
    d = knowledge.directive("SSLProtocol")
    assert d is not None
    assert d["name"] == "SSLProtocol"
    assert d["module"] == "mod_ssl"
    assert d["contexts"] == ["server config", "virtual host"]
    assert d["section"] is False
    assert d["versions"] == ["2.2", "2.4"]
    assert d["modules_by_version"] == {"2.2": "mod_ssl", "2.4": "mod_ssl"}
    assert d["default"].startswith("SSLProtocol all -SSLv3")
    # 2.2's default differs, so it is kept beside the 2.4 facts.
    assert d["v22"]["default"] == "SSLProtocol all"
    assert knowledge.directive("sslprotocol") is d


def test_max_request_workers_is_24_mpm_common() -> None:
    d = knowledge.directive("MaxRequestWorkers")
    assert d is not None
    assert d["versions"] == ["2.4"]
    assert d["module"] == "mpm_common"
    assert {"prefork", "worker", "event"} <= set(d["mpms"])
    assert d["contexts"] == ["server config"]


def test_max_clients_is_22_and_an_alias_in_24() -> None:
    d = knowledge.directive("maxclients")
    assert d is not None
    assert d["name"] == "MaxClients"
    assert d["versions"] == ["2.2"]
    assert "prefork" in d["mpms"]
    aliases = knowledge.load().aliases
    assert aliases == {
        "maxclients": "MaxRequestWorkers",
        "maxrequestsperchild": "MaxConnectionsPerChild",
    }
    assert knowledge.directive("MaxConnectionsPerChild")["versions"] == ["2.4"]


def test_removed_in_24() -> None:
    for name in ("AcceptMutex", "LockFile", "RewriteLog", "MaxRequestsPerChild"):
        d = knowledge.directive(name)
        assert d is not None, name
        assert d["versions"] == ["2.2"], name
    assert knowledge.directive("Mutex")["versions"] == ["2.4"]


def test_virtualhost_is_a_core_section() -> None:
    d = knowledge.directive("<VirtualHost")
    assert d is not None
    assert d["name"] == "<VirtualHost"
    assert d["section"] is True
    assert d["module"] == "core"
    assert d["contexts"] == ["server config"]
    # The section can be named with or without its angle brackets.
    assert knowledge.directive("VirtualHost") is d
    assert knowledge.directive("<virtualhost>") is d
    assert knowledge.directive("<IfVersion")["module"] == "mod_version"


def test_name_virtual_host_in_22() -> None:
    d = knowledge.directive("NameVirtualHost")
    assert d is not None
    assert "2.2" in d["versions"]
    assert d["modules_by_version"]["2.2"] == "core"


def test_moved_directives_keep_both_modules() -> None:
    order = knowledge.directive("Order")
    assert order["modules_by_version"] == {"2.2": "mod_authz_host", "2.4": "mod_access_compat"}
    assert order["v22"]["module"] == "mod_authz_host"
    user = knowledge.directive("User")
    assert user["module"] == "mod_unixd"
    assert user["mpms"] is None
    assert user["v22"]["module"] == "mpm_common"
    assert "prefork" in user["v22"]["mpms"]


def test_since_comes_from_compatibility_notes() -> None:
    assert knowledge.directive("Protocols")["since"] == "2.4.17"
    # A note about one argument is not the directive's first release.
    assert knowledge.directive("SSLCertificateFile")["since"] is None
    assert knowledge.directive("ServerTokens")["since"] is None


def test_unknown_directive() -> None:
    assert knowledge.directive("NoSuchDirective") is None
    assert knowledge.directive("<NoSuchSection>") is None


def test_modules() -> None:
    ssl = knowledge.module_by_sourcefile("mod_ssl.c")
    assert ssl is not None
    assert ssl["name"] == "mod_ssl"
    assert ssl["identifier"] == "ssl_module"
    assert ssl["versions"] == ["2.2", "2.4"]
    prefork = knowledge.module_by_sourcefile("prefork.c")
    assert prefork is not None
    assert prefork["identifier"] == "mpm_prefork_module"
    assert prefork["status"] == "MPM"
    assert knowledge.module_by_identifier("ssl_module") is ssl
    assert knowledge.module_by_identifier("core_module")["sourcefile"] == "core.c"
    assert knowledge.module_by_identifier("http2_module")["versions"] == ["2.4"]
    assert knowledge.module_by_identifier("mem_cache_module")["versions"] == ["2.2"]
    assert knowledge.module_by_identifier("SSL_MODULE") is None
    assert knowledge.module_by_sourcefile("mod_nonexistent.c") is None


def test_known_module_names() -> None:
    names = knowledge.known_module_names()
    for name in (
        "ssl_module",
        "mod_ssl.c",
        "core.c",
        "http_core.c",
        "prefork.c",
        "mpm_event_module",
        "authz_default_module",  # 2.2 only
        "access_compat_module",  # 2.4 only
    ):
        assert name in names, name
    assert "mod_ssl" not in names
    assert None not in names


def test_suggest() -> None:
    assert knowledge.suggest("ServerTokns") == "ServerTokens"
    assert knowledge.suggest("servertokens") == "ServerTokens"
    assert knowledge.suggest("<VirtualHst") == "<VirtualHost"
    assert knowledge.suggest("MaxClient", "2.2") == "MaxClients"
    assert knowledge.suggest("MaxClient", "2.4") == "MaxRequestWorkers"
    assert knowledge.suggest("RewriteLogLevl", "2.2") == "RewriteLogLevel"
    assert knowledge.suggest("Qwertyuiop") is None
    assert knowledge.suggest("") is None
    with pytest.raises(ValueError):
        knowledge.suggest("ServerTokens", "2.0")


DIRECTIVE_FIELDS = {
    "name", "module", "section", "contexts", "override", "default", "syntax", "since",
    "mpms", "status", "versions", "modules_by_version", "v22", "also_in",
}  # fmt: skip
MODULE_FIELDS = {"name", "identifier", "sourcefile", "status", "versions", "since", "v22"}


def test_table_holds_facts_only() -> None:
    k = knowledge.load()
    for key, entry in k.directives.items():
        assert set(entry) <= DIRECTIVE_FIELDS, key
        assert key == entry["name"].lower()
        assert entry["section"] == key.startswith("<")
        assert entry["versions"] in (["2.2"], ["2.4"], ["2.2", "2.4"])
        # Defaults and syntax lines are one short line each, never usage prose.
        for field in ("default", "syntax"):
            assert entry[field] is None or len(entry[field]) < 200, (key, field)
    for name, entry in k.modules.items():
        assert set(entry) <= MODULE_FIELDS, name
    text = (files("httpdlint") / "data" / "directives.json").read_text(encoding="utf-8")
    # One line per directive and module keeps regenerations readable as diffs.
    assert text.count("\n") >= len(k.directives) + len(k.modules)


@pytest.mark.skipif(not MANUAL.is_dir(), reason=f"manual sources not present at {MANUAL}")
def test_regeneration_is_byte_identical(tmp_path: Path) -> None:
    out = tmp_path / "directives.json"
    subprocess.run(
        [sys.executable, str(SCRIPT), str(MANUAL), "--output", str(out)],
        check=True,
        capture_output=True,
    )
    committed = (files("httpdlint") / "data" / "directives.json").read_bytes()
    assert out.read_bytes() == committed
