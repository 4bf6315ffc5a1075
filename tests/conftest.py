"""Shared fixtures: the real apache2 binary (skip locally when missing, fail in CI)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

FIXTURES = Path(__file__).parent / "fixtures"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "thorough", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile("ci" if IN_CI else "dev")


def find_apache2() -> str | None:
    for name in ("apache2", "httpd"):
        path = shutil.which(name) or (
            f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None
        )
        if path:
            return path
    return None


@pytest.fixture(scope="session")
def apache2_bin() -> str:
    """Path of the real apache2 binary; skips locally when absent, fails under CI=true."""
    path = find_apache2()
    if path is None:
        if IN_CI:
            pytest.fail("apache2 is required in CI (CI=true) but was not found")
        pytest.skip("apache2 binary not installed")
    return path


@pytest.fixture(scope="session")
def apache2_modules_dir() -> Path:
    for d in ("/usr/lib/apache2/modules", "/usr/lib64/httpd/modules", "/usr/libexec/apache2"):
        if Path(d).is_dir():
            return Path(d)
    if IN_CI:
        pytest.fail("apache2 module directory not found")
    pytest.skip("apache2 modules not installed")


@pytest.fixture(scope="session")
def debian_conf() -> Path:
    """Debian's installed stock configuration (the apache2 package), read in place."""
    path = Path("/etc/apache2/apache2.conf")
    if not path.exists():
        if IN_CI:
            pytest.fail("Debian's apache2 configuration is required in CI but is missing")
        pytest.skip("Debian's apache2 package is not installed")
    return path


@pytest.fixture(scope="session", autouse=True)
def test_certificates(tmp_path_factory) -> Path:
    """Certificates and keys made for this run (tests/certlab.py), named to the TLS rule
    fixtures by ${HTTPDLINT_TEST_CERTS}: none is committed, and the expiring one stays
    expiring."""
    from certlab import ENV, build

    out = build(tmp_path_factory.mktemp("certs"))
    os.environ[ENV] = str(out)
    return out
