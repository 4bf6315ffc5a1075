"""The pre-commit hook, run by pre-commit itself, and `check --changed` beneath it.

`pre-commit try-repo` installs this checkout (uncommitted changes included) as a hook
repository in a fresh environment and runs the hook on a fixture repository's own files, with
apache2 and httpd off PATH: it must fail on a finding and pass once the line is fixed. The
mapping from changed files to the trees that read them is tested directly as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from httpdlint.hook import group

REPO = Path(__file__).resolve().parents[1]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

MAIN = """\
ServerRoot /etc/apache2
Listen 80
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule reqtimeout_module /usr/lib/apache2/modules/mod_reqtimeout.so
LoadModule log_config_module /usr/lib/apache2/modules/mod_log_config.so
ErrorLog /var/log/apache2/error.log
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
CustomLog /var/log/apache2/access.log common
<Directory />
    Require all denied
</Directory>
ServerTokens Prod
ServerSignature Off
TraceEnable Off
FileETag MTime Size
Timeout 30
<IfModule mpm_event_module>
    ServerLimit 4
    ThreadsPerChild 25
    MaxRequestWorkers 100
</IfModule>
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>
IncludeOptional sites-enabled/*.conf
"""

SITE = """\
<VirtualHost *:80>
    ServerName www.example.org
    DocumentRoot /srv/www
    {keepalive}
</VirtualHost>
"""


def _tree(root: Path, keepalive: str) -> None:
    (root / "etc" / "apache2" / "sites-enabled").mkdir(parents=True, exist_ok=True)
    (root / "etc" / "apache2" / "apache2.conf").write_text(MAIN)
    (root / "etc" / "apache2" / "sites-enabled" / "www.conf").write_text(
        SITE.format(keepalive=keepalive)
    )


def _check(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "httpdlint", "check", "--changed", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_changed_files_are_linted_in_the_tree_that_reads_them(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    _tree(tmp_path, "KeepAliveTimeout 60")
    (tmp_path / "snippets").mkdir()
    (tmp_path / "snippets" / "tls.conf").write_text("ServerTokens Full\n")
    site = tmp_path / "etc" / "apache2" / "sites-enabled" / "www.conf"
    main = tmp_path / "etc" / "apache2" / "apache2.conf"
    snippet = tmp_path / "snippets" / "tls.conf"
    mains, fragments = group([str(site), str(main), str(snippet)], str(tmp_path))
    assert mains == {str(main): [str(site), str(main)]}
    assert fragments == [str(snippet)]
    # The ServerRoot line names the server's home; the checkout's tree is read, not /etc.
    done = _check(str(site), "-f", "json", cwd=tmp_path)
    doc = json.loads(done.stdout)
    assert done.returncode == 0, done.stderr  # an info finding does not fail the run
    assert str(site) in doc["config"]["files"]
    rules = {(f["rule"], Path(f["file"]).name) for f in doc["findings"]}
    assert ("CAP004", "www.conf") in rules  # KeepAliveTimeout 60 on event: info, still a finding
    # A fragment: its directives are linted, what the whole tree lacks is skipped, and said so.
    done = _check(str(snippet), "-f", "json", cwd=tmp_path)
    doc = json.loads(done.stdout)
    assert all(Path(f["file"]) == snippet for f in doc["findings"])
    assert any("linted alone" in s["needs"] for s in doc["skipped"]), doc["skipped"]


def test_pre_commit_try_repo_fails_on_a_finding_and_passes_once_fixed(tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit") or shutil.which(
        "pre-commit", path=str(Path(sys.executable).parent)
    )
    if pre_commit is None:
        if IN_CI:
            pytest.fail("pre-commit (the dev extra) is required in CI but not installed")
        pytest.skip("pre-commit is not installed")
    repo = tmp_path / "site"
    repo.mkdir()
    # PATH without the sbin directories where apache2 and httpd live: python, git and the
    # tools git's scripts call, no httpd anywhere on it.
    env = {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "PRE_COMMIT_HOME": str(tmp_path / "cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "LANG": "C.UTF-8",
    }
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS", "PIP_CONFIG_FILE"):
        if name in os.environ:
            env[name] = os.environ[name]
    assert shutil.which("apache2", path=env["PATH"]) is None
    assert shutil.which("httpd", path=env["PATH"]) is None

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=600)

    _tree(repo, "KeepAliveTimeout 5\n    ServerTokens Full")
    assert run("git", "init", "-q").returncode == 0
    assert run("git", "add", "-A").returncode == 0
    bad = run(pre_commit, "try-repo", str(REPO), "httpdlint", "--all-files")
    output = bad.stdout + bad.stderr
    assert bad.returncode == 1, output
    assert "SEC001" in output and "www.conf" in output, output

    _tree(repo, "KeepAliveTimeout 5")
    assert run("git", "add", "-A").returncode == 0
    good = run(pre_commit, "try-repo", str(REPO), "httpdlint", "--all-files")
    assert good.returncode == 0, good.stdout + good.stderr
