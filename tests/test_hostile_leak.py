"""Issue 13, hostile input: a configuration's regular expressions are matched with a bound,
and a file the configuration includes that is not configuration (a key, a shadow file, an
htpasswd) is one finding that repeats nothing of it, in every format. Each run is through
the CLI, with a hard timeout and a 2 GiB address-space cap."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from stacklab import memory_cap

from httpdlint import confregex

SRC = str(Path(__file__).resolve().parents[1] / "src")
MODULES = "/usr/lib/apache2/modules"


def cli(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        preexec_fn=memory_cap,
        env=env,
        check=False,
    )


def head(tmp_path: Path) -> str:
    return (
        f"LoadModule mpm_event_module {MODULES}/mod_mpm_event.so\n"
        f"LoadModule authz_core_module {MODULES}/mod_authz_core.so\n"
        f"LoadModule alias_module {MODULES}/mod_alias.so\n"
        f"LoadModule rewrite_module {MODULES}/mod_rewrite.so\n"
        f"ServerRoot {tmp_path}\nListen 80\nServerName x\nDocumentRoot {tmp_path}\n"
    )


def clean(res: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) <= 1, res.stderr


# -- regular expressions ------------------------------------------------------------------

LONG = "/" + "a" * 46 + "!"
EVIL = "^/(a|aa)+$"
CASES = {
    "locationmatch": f'<LocationMatch "{EVIL}">\n Require all denied\n</LocationMatch>\n',
    "rewriterule": f"RewriteEngine on\nRewriteRule {EVIL} /x [R]\n",
    "aliasmatch": f"AliasMatch {EVIL} /srv/x\n",
    "filesmatch": '<FilesMatch "^(a|aa)+$">\n Require all denied\n</FilesMatch>\n',
    "directorymatch": '<DirectoryMatch "^/(a|aa)+/$">\n Require all denied\n</DirectoryMatch>\n',
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_catastrophic_pattern_is_bounded_in_check_and_explain(tmp_path: Path, case: str) -> None:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        head(tmp_path)
        + CASES[case]
        + f"<Location {LONG}>\n Options Indexes\n Require all granted\n</Location>\n"
        + f"Alias {LONG} {tmp_path}/{'a' * 46}/\n"
    )
    res = cli("check", str(conf), timeout=20)
    clean(res)
    assert res.returncode in (0, 1), res.stderr
    res = cli("explain", LONG, str(conf), timeout=20)
    clean(res)
    assert res.returncode in (0, 1), res.stderr
    if case in ("locationmatch", "rewriterule", "aliasmatch"):
        assert "too costly to match" in res.stdout
        assert "not claimed" in res.stdout


def test_bound_follows_the_pattern_shape() -> None:
    assert confregex.matches(EVIL, LONG) is None  # nested: undecided (PCRE2: match limit)
    assert confregex.matches(r"^/(images|css)/.*\.png$", "/images/a/b.png") is True
    assert confregex.matches(r"\.ht", "/" + "x" * 5000 + "/.htaccess") is True
    assert confregex.matches("(", "x") is False
    assert confregex.expand(r"/srv/$1/\$2", ("/a/b", "a", "b")) == "/srv/a/$2"


# -- files that are not configuration -----------------------------------------------------

KEY = """-----BEGIN PRIVATE KEY-----
MIICdgIBADANBgkqhkiG9w0BAQEFAASCAmAwggJcAgEAAoGBAMv1Zb3hQx7mR0Kc
Pq8XnY2sT4w9aLm3Jd6VfE1rHu5oNb0CgZ8iKtWy7e2QsUxAj4lMnBfGh9zIpD3v
yZ1cR6tQ0wE8uI5oP2aS7dF4gH9jK3lZ6xC1vB0nM8qW2eR5tY7uI9oP3aS6dF5g
qvyhL6m8W3nR1tYc4Hs9Jd2Kf7Gp0Qz5Xa8Mb1Nc6Vd3Ee2Ff9Gg4Hh7Ii0Jj5Kk
-----END PRIVATE KEY-----
"""
SHADOW = """root:$6$rounds$Qw7eR9tYuIoP1aSdFgHjKl3ZxCvBnM5qWeRtYu7IoPaSdFgHjK:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
bob:$y$j9T$f3Kx8LmNpQ2rStUv$WxYz1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789a:19100:0:99999:7:::
"""
HTPASSWD = """alice:$apr1$Ab3dE5gH$Zk9Lm2Np4Qr6St8Uv0Wx1.
carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=
dave:$2y$05$Kx8Lm2Np4Qr6St8Uv0Wx1eAbCdEfGhIjKlMnOpQrStUvWxYz01234
"""
FORMATS = ("text", "json", "sarif", "github", "junit", "gitlab")


def _fragments(text: str) -> list[str]:
    """Every line, and every piece of 8 or more characters between separators."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("-----"):
            continue
        out.append(line)
        for sep in ":$":
            out += [p for p in line.split(sep) if len(p) >= 8 and not p.isdigit()]
    return out


@pytest.mark.parametrize(
    "name,content", [("key.pem", KEY), ("shadow", SHADOW), ("htpasswd", HTPASSWD)]
)
def test_included_secret_is_one_finding_quoting_nothing(
    tmp_path: Path, name: str, content: str
) -> None:
    secret = tmp_path / name
    secret.write_text(content)
    conf = tmp_path / "httpd.conf"
    conf.write_text(head(tmp_path) + f"Include {secret}\n")
    include_line = len(head(tmp_path).splitlines()) + 1
    outputs = {}
    for fmt in FORMATS:
        res = cli("check", str(conf), "-f", fmt, timeout=30)
        clean(res)
        assert res.returncode == 1, res.stderr
        outputs[fmt] = res.stdout + res.stderr
    for fmt in ("text", "json"):
        res = cli("dump", str(conf), "-f", fmt, timeout=30)
        clean(res)
        outputs[f"dump-{fmt}"] = res.stdout + res.stderr
    for where, out in outputs.items():
        for piece in _fragments(content):
            assert piece not in out, (where, piece)
    report = json.loads(cli("check", str(conf), "-f", "json").stdout)
    found = [f for f in report["findings"] if "not a configuration file" in f["message"]]
    assert len(found) == 1
    assert found[0]["line"] == include_line and str(secret) in found[0]["message"]
    assert f"{conf}:{include_line}: error COR019" in outputs["text"]


def test_configuration_with_a_typo_is_still_configuration(tmp_path: Path) -> None:
    part = tmp_path / "part.conf"
    long_name = "X" * 300
    part.write_text(f"ServerAdmin a@b\nTimeout 30\n{long_name} on\n")
    conf = tmp_path / "httpd.conf"
    conf.write_text(head(tmp_path) + f"Include {part}\n")
    res = cli("check", str(conf), timeout=30)
    clean(res)
    assert "Invalid command 'XXXX" in res.stdout
    assert long_name not in res.stdout  # the quoted word is bounded


def test_pidfile_content_is_not_echoed(tmp_path: Path) -> None:
    secret = tmp_path / "shadow"
    secret.write_text(SHADOW)
    conf = tmp_path / "httpd.conf"
    conf.write_text(head(tmp_path) + f"PidFile {secret}\n")
    res = cli("measure", str(conf), timeout=30)
    clean(res)
    assert res.returncode == 2
    for piece in _fragments(SHADOW):
        assert piece not in res.stdout + res.stderr


def test_relayed_httpd_message_hides_words_of_a_secret_file(tmp_path: Path) -> None:
    from httpdlint.redact import relayed

    secret = tmp_path / "shadow"
    secret.write_text(SHADOW)
    first = SHADOW.split()[0]
    said = f"Invalid command '{first}', perhaps misspelled or defined by a module"
    out = relayed(said, str(secret))
    assert not any(p in out for p in _fragments(SHADOW))
    conf = tmp_path / "a.conf"
    conf.write_text("ServerName x\n" + "Y" * 200 + "\n")
    assert len(relayed("Invalid command '" + "Y" * 200 + "', perhaps", str(conf))) < 120
