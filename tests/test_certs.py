"""Certificate and cipher rules (TLS020-TLS029) against the real things.

- The rule fixtures' own verdict from `apache2 -t`: every TLS020-TLS029 fixture is one httpd
  accepts, and httpdlint reports none of them as refused.
- TLS025 on a key file at mode 0644: flagged, and the key file is never opened (the run is
  watched by an audit hook installed in the httpdlint process, and by strace); a key inside
  the certificate file is skipped line by line (only its CERTIFICATE blocks are parsed).
- Without the cryptography package the certificate rules are reported skipped, saying what
  they need; a certificate file that cannot be read makes them skipped for it.
- The kRSA and CBC verdicts held against OpenSSL's own expansion (`openssl ciphers -v`, with
  mod_ssl's `:!aNULL:!eNULL:!EXP` appended) for a corpus of real-world cipher strings.
- Live: Debian's apache2 with mod_ssl on 127.0.0.1 serves each test certificate, and Python's
  ssl (OpenSSL) verifying against the test root fails exactly where the rule says (expired,
  name mismatch, incomplete chain) and succeeds on the good chain.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import IN_CI
from stacklab import foreground_apache, free_port

from httpdlint.checks.certs import name_matches
from httpdlint.checks.ciphers import cbc_ciphers, krsa_ciphers

RULES = Path(__file__).parent / "fixtures" / "rules"
CODES = [f"TLS0{n}" for n in range(20, 30)]
FIXTURES = sorted(p for code in CODES for p in (RULES / code).glob("*.conf"))
MODULES = "/usr/lib/apache2/modules"
SRC = str(Path(__file__).resolve().parents[1] / "src")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def httpdlint(*args: str, pre: str = "") -> subprocess.CompletedProcess:
    """httpdlint in a subprocess, after `pre` (Python run first in that process)."""
    code = f"{pre}\nimport sys\nfrom httpdlint.cli import main\nsys.argv[0] = 'httpdlint'\nmain()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )


# -- apache2 -t on every fixture --------------------------------------------------------


@pytest.mark.apache
@pytest.mark.parametrize("case", FIXTURES, ids=lambda p: f"{p.parent.name}-{p.name}")
def test_fixture_verdict_matches_apache2_t(case: Path, apache2_bin: str, tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()  # the server root's default ErrorLog logs/error_log
    res = subprocess.run(
        [apache2_bin, "-d", str(tmp_path), "-f", str(case), "-t"],
        capture_output=True,
        text=True,
        env={**_env(), "APACHE_RUN_DIR": str(tmp_path)},
        timeout=60,
    )
    assert res.returncode == 0 and "Syntax OK" in res.stderr, res.stderr
    ours = httpdlint("check", str(case), "-f", "json", "--exit-zero")
    assert ours.returncode == 0, ours.stderr
    refused = [f for f in json.loads(ours.stdout)["findings"] if f["httpd_code"] == "AH00526"]
    assert not refused, refused


# -- the key file is never opened -------------------------------------------------------

# Every path the process opens, written as it happens (httpdlint leaves by os._exit, so
# nothing at exit would run); os.write raises no audit event of its own.
WATCH = """
import os, sys
_fd = os.open({log!r}, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
def _hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        path = args[0] if isinstance(args[0], bytes) else args[0].encode()
        os.write(_fd, path + b"\\n")
sys.addaudithook(_hook)
"""


def _key_case(tmp_path: Path, certs: Path) -> Path:
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"LoadModule ssl_module {MODULES}/mod_ssl.so\n"
        "<VirtualHost *:443>\n    ServerName www.example.com\n    SSLEngine on\n"
        f"    SSLCertificateFile {certs}/fullchain.pem\n"
        f"    SSLCertificateKeyFile {certs}/keys/open.key\n</VirtualHost>\n"
        "<VirtualHost 127.0.0.2:443>\n    ServerName www.example.com\n    SSLEngine on\n"
        f"    SSLCertificateFile {certs}/combined.pem\n</VirtualHost>\n"
    )
    return conf


def test_key_mode_flagged_and_key_never_opened(tmp_path: Path, test_certificates: Path) -> None:
    conf = _key_case(tmp_path, test_certificates)
    log = tmp_path / "opened.txt"
    res = httpdlint(
        "check",
        str(conf),
        "--filesystem",
        "-f",
        "json",
        "--exit-zero",
        pre=WATCH.format(log=str(log)),
    )
    assert res.returncode == 0, res.stderr
    found = json.loads(res.stdout)["findings"]
    key = str(test_certificates / "keys" / "open.key")
    combined = str(test_certificates / "combined.pem")
    messages = [f["message"] for f in found if f["rule"] == "TLS025"]
    assert any(m.startswith(f"{key} ") and "0644" in m for m in messages), messages
    assert any(m.startswith(f"{combined} (the private key sits") for m in messages), messages
    # the certificate rules did run on the certificates (the chain is complete, names match)
    assert {f["rule"] for f in found} & {"TLS020", "TLS021", "TLS022", "TLS024"} == set()
    opened = log.read_text().splitlines()
    assert str(test_certificates / "fullchain.pem") in opened  # the watch sees opens
    assert key not in opened


@pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")
def test_key_never_opened_strace(tmp_path: Path, test_certificates: Path) -> None:
    conf = _key_case(tmp_path, test_certificates)
    trace = tmp_path / "trace"
    res = subprocess.run(
        ["strace", "-f", "-e", "trace=open,openat,openat2", "-o", str(trace)]
        + [sys.executable, "-m", "httpdlint", "check", str(conf), "--filesystem", "--exit-zero"],
        capture_output=True,
        text=True,
        env=_env(),
        timeout=120,
    )
    if res.returncode != 0 and "ptrace" in res.stderr:
        if IN_CI:
            pytest.fail(f"strace cannot trace here: {res.stderr}")
        pytest.skip(f"strace cannot trace here: {res.stderr.strip()}")
    assert res.returncode == 0, res.stderr
    text = trace.read_text()
    assert "fullchain.pem" in text
    assert "open.key" not in text
    assert "TLS025" in res.stdout


# -- skipped: no cryptography, or an unreadable certificate -------------------------------

HIDE = "import sys\nsys.modules['cryptography'] = None\n"


def test_without_cryptography_certificate_rules_skipped(
    tmp_path: Path, test_certificates: Path
) -> None:
    conf = _key_case(tmp_path, test_certificates)
    res = httpdlint("check", str(conf), "--filesystem", "-f", "json", "--exit-zero", pre=HIDE)
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    skipped = {s["rule"]: s["needs"] for s in doc["skipped"]}
    for code in ("TLS020", "TLS021", "TLS022", "TLS023", "TLS024"):
        assert "cryptography" in skipped.get(code, ""), skipped
    assert "TLS025" not in skipped  # stat needs no library
    assert "TLS025" in {f["rule"] for f in doc["findings"]}
    text = httpdlint("check", str(conf), "--filesystem", "--exit-zero", pre=HIDE)
    assert "TLS020 skipped: needs the Python package cryptography" in text.stdout


def test_unreadable_certificate_skipped_for_it(tmp_path: Path) -> None:
    bad = tmp_path / "garbage.pem"
    bad.write_text("not a certificate\n")
    key = tmp_path / "k.key"
    key.write_text("x")
    key.chmod(0o600)
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        f"LoadModule ssl_module {MODULES}/mod_ssl.so\nServerName www.example.com\n"
        f"SSLEngine on\nSSLCertificateFile {bad}\nSSLCertificateKeyFile {key}\n"
    )
    res = httpdlint("check", str(conf), "--filesystem", "-f", "json", "--exit-zero")
    doc = json.loads(res.stdout)
    skipped = {s["rule"]: s["needs"] for s in doc["skipped"]}
    for code in ("TLS020", "TLS021", "TLS022", "TLS023", "TLS024"):
        assert f"{bad} holds no PEM certificate" in skipped.get(code, ""), skipped
    assert not [f for f in doc["findings"] if f["rule"] in CODES[:5]]


def test_expiring_is_a_warning_with_days_left(test_certificates: Path) -> None:
    res = httpdlint(
        "check", str(RULES / "TLS020" / "bad.conf"), "--select", "TLS020", "-f", "json",
        "--filesystem", "--exit-zero",
    )  # fmt: skip
    found = json.loads(res.stdout)["findings"]
    by_sev = {f["severity"]: f["message"] for f in found}
    assert "expired on" in by_sev["error"]
    assert re.search(r"expires on .*, in [45] days \(under 14\)", by_sev["warning"])


# -- names (RFC 6125) -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "name", "want"),
    [
        ("*.example.com", "www.example.com", True),
        ("*.example.com", "WWW.EXAMPLE.COM.", True),
        ("*.example.com", "example.com", False),
        ("*.example.com", "a.b.example.com", False),
        ("*.com", "example.com", False),
        ("w*.example.com", "www.example.com", False),
        ("www.*.com", "www.example.com", False),
        ("Example.com", "example.COM", True),
    ],
)
def test_rfc6125_names(pattern: str, name: str, want: bool) -> None:
    assert name_matches(pattern, name) is want


# -- cipher strings against OpenSSL ------------------------------------------------------

SPECS = [
    "HIGH:!aNULL",  # Debian's ssl.conf
    "HIGH:!aNULL:!kRSA",
    "HIGH:MEDIUM:!aNULL:!MD5",
    "DEFAULT",
    "ALL:!EXP:!NULL:!LOW:!SSLv2:!MD5:!RC4:!aNULL:!3DES:!IDEA",  # the STIG's example
    "EECDH:EDH:!NULL:!SSLv2:!RC4:!aNULL:!3DES:!IDEA",  # CIS's forward-secrecy example
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL",
    "EECDH+AESGCM:EDH+AESGCM",
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305",
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-SHA384",
    "ECDHE+AESGCM:AES128-SHA",
    "RSA+AESGCM:ECDHE+AESGCM",
    "AES256+EECDH:AES256+EDH",
    "HIGH:!aNULL:!MD5:!RSA",
    "HIGH:!aNULL:-kRSA",
    "HIGH:!aRSA",
    "AESGCM:!aNULL",
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!SHA1:!SHA256:!SHA384",
    "ECDH+AESGCM:DH+AESGCM:ECDH+AES256:DH+AES256:ECDH+AES128:DH+AES:RSA+AESGCM:RSA+AES:!aNULL:!MD5:!DSS",
    "EECDH+AESGCM:EDH+AESGCM:AES256+EECDH:AES256+EDH",
    "ECDHE:!CBC",
]


def openssl_suites(spec: str) -> list[tuple[str, str, str]] | None:
    """(name, Kx, Mac) of each TLS 1.2-and-older suite OpenSSL enables for the string as
    mod_ssl hands it over; None when OpenSSL refuses the string."""
    res = subprocess.run(
        ["openssl", "ciphers", "-v", spec + ":!aNULL:!eNULL:!EXP"], capture_output=True, text=True
    )
    if res.returncode != 0:
        return None
    out = []
    for line in res.stdout.splitlines():
        fields = line.split()
        if len(fields) < 6 or fields[1] == "TLSv1.3":
            continue
        kv = dict(f.split("=", 1) for f in fields[2:] if "=" in f)
        out.append((fields[0], kv["Kx"], kv["Mac"]))
    return out


@pytest.fixture(scope="module")
def openssl() -> str:
    path = shutil.which("openssl")
    if path is None:
        if IN_CI:
            pytest.fail("openssl is required in CI")
        pytest.skip("openssl not installed")
    return path


@pytest.mark.parametrize("spec", SPECS)
def test_krsa_and_cbc_agree_with_openssl(spec: str, openssl: str) -> None:
    suites = openssl_suites(spec)
    if suites is None:
        pytest.skip(f"this OpenSSL refuses {spec!r}")
    krsa = [name for name, kx, _ in suites if kx == "RSA"]
    found = krsa_ciphers(spec, "2.4")
    ours = found is not None and found[0] == "explicit"
    assert ours == bool(krsa), f"{spec}: httpdlint says kRSA {ours}, OpenSSL lists {krsa}"
    cbc = [name for name, _, mac in suites if mac != "AEAD"]
    ours_cbc = any(v[0] == "explicit" for v in cbc_ciphers(spec, "2.4").values())
    assert ours_cbc == bool(cbc), f"{spec}: httpdlint says CBC {ours_cbc}, OpenSSL lists {cbc}"


# -- live: what a TLS client sees from httpd serving each certificate ----------------------

LIVE = """\
ServerRoot {root}
Listen 127.0.0.1:{port}
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
DefaultRuntimeDir {root}
LogLevel warn
ServerName www.example.com
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule socache_shmcb_module {mods}/mod_socache_shmcb.so
LoadModule ssl_module {mods}/mod_ssl.so
SSLSessionCache shmcb:{root}/ssl_scache(51200)
DocumentRoot {root}
<VirtualHost 127.0.0.1:{port}>
    ServerName {name}
    SSLEngine on
    SSLCertificateFile {certs}/{cert}
    SSLCertificateKeyFile {certs}/server.key
</VirtualHost>
"""

LIVE_CASES = [
    # (certificate, ServerName, the rule expected to fire or None, what the client says)
    ("fullchain.pem", "www.example.com", None, None),
    ("expired.pem", "www.example.com", "TLS020", "certificate has expired"),
    ("wildcard.pem", "example.com", "TLS024", "Hostname mismatch"),
    ("incomplete.pem", "www.example.com", "TLS022", "unable to get local issuer certificate"),
]


@pytest.mark.apache
@pytest.mark.parametrize(
    ("cert", "name", "rule", "client"), LIVE_CASES, ids=[c[0] for c in LIVE_CASES]
)
def test_live_client_agrees(
    cert: str, name: str, rule: str | None, client: str | None,
    apache2_bin: str, tmp_path: Path, test_certificates: Path,
) -> None:  # fmt: skip
    port = free_port()
    conf = tmp_path / "httpd.conf"
    conf.write_text(
        LIVE.format(
            root=tmp_path, port=port, mods=MODULES, name=name, certs=test_certificates, cert=cert
        )
    )
    lint = httpdlint("check", str(conf), "--filesystem", "-f", "json", "--exit-zero")
    fired = {f["rule"] for f in json.loads(lint.stdout)["findings"]} & {
        "TLS020", "TLS021", "TLS022", "TLS023", "TLS024",
    }  # fmt: skip
    assert fired == ({rule} if rule else set()), lint.stdout
    context = ssl.create_default_context(cafile=str(test_certificates / "root.pem"))
    import socket

    with foreground_apache(apache2_bin, conf, port):
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                context.wrap_socket(raw, server_hostname=name) as tls,
            ):
                tls.do_handshake()
            error = None
        except ssl.SSLCertVerificationError as exc:
            error = exc.verify_message or str(exc)
    if client is None:
        assert error is None
    else:
        assert error is not None and client in error, error
