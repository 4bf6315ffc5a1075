"""Certificates made at test time (none committed): a root CA, an intermediate, and server
certificates with each defect the certificate rules report, written with their keys into a
directory whose path the rule fixtures read as ${HTTPDLINT_TEST_CERTS}.

Files (every leaf signed by the intermediate and followed by it and the root unless said
otherwise, the root standing in for a system root; keys under keys/):
  root.pem, inter.pem             the CA and its intermediate; chain.pem: both
  fullchain.pem / server.key      www.example.com, example.com: leaf + intermediate + root
  expired.pem, expiring.pem       notAfter 10 days ago / in 5 days (+ chain)
  rsa1024.pem / rsa1024.key       a 1024-bit RSA key (+ chain)
  wildcard.pem                    SAN *.example.com only (+ chain)
  cn-only.pem                     no subjectAltName, CN www.example.com (+ chain)
  incomplete.pem                  the leaf alone: its intermediate is missing
  disordered.pem                  leaf, root, intermediate
  keys/open.key (0644), keys/private.key (0600), keys/ssl-cert.key (0640 group ssl-cert
  when that group exists), keys/staff.key (0640, a group that is neither root nor ssl-cert)
"""

from __future__ import annotations

import datetime
import grp
import os
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

ENV = "HTTPDLINT_TEST_CERTS"
NOW = datetime.datetime.now(datetime.timezone.utc)
DAY = datetime.timedelta(days=1)


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_cert(
    cn: str,
    key,
    issuer_key,
    issuer_name: x509.Name | None = None,
    *,
    sans: list[str] | None = None,
    ca: bool = False,
    not_before: datetime.datetime | None = None,
    not_after: datetime.datetime | None = None,
) -> x509.Certificate:
    """A certificate for `key`, signed by `issuer_key` (itself when issuer_name is None)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer_name or _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or NOW - DAY)
        .not_valid_after(not_after or NOW + 365 * DAY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(s) for s in sans]), critical=False
        )
    return builder.sign(issuer_key, hashes.SHA256())


def pem(*certs: x509.Certificate) -> bytes:
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def key_pem(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, mode: int = 0o644, gid: int | None = None) -> None:
    path.write_bytes(data)
    if gid is not None and os.geteuid() == 0:
        os.chown(path, -1, gid)
    os.chmod(path, mode)


def group_id(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None


def other_group() -> int | None:
    """A group that is neither root nor ssl-cert (for the group-readable case)."""
    for name in ("staff", "users", "nogroup", "daemon"):
        gid = group_id(name)
        if gid is not None:
            return gid
    return None


def build(out: Path) -> Path:
    """Make the whole set under `out` (created); returns it."""
    out.mkdir(parents=True, exist_ok=True)
    keys = out / "keys"
    keys.mkdir(exist_ok=True)
    root_key = ec.generate_private_key(ec.SECP256R1())
    root = make_cert("httpdlint test root", root_key, root_key, ca=True)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = make_cert("httpdlint test intermediate", inter_key, root_key, root.subject, ca=True)
    leaf_key = ec.generate_private_key(ec.SECP256R1())

    def leaf(cn: str, sans: list[str] | None, key=leaf_key, **kw) -> x509.Certificate:
        return make_cert(cn, key, inter_key, inter.subject, sans=sans, **kw)

    names = ["www.example.com", "example.com"]
    good = leaf("www.example.com", names)
    _write(out / "root.pem", pem(root))
    _write(out / "inter.pem", pem(inter))
    _write(out / "chain.pem", pem(inter, root))
    _write(out / "fullchain.pem", pem(good, inter, root))
    _write(out / "leaf.pem", pem(good))
    _write(
        out / "expired.pem",
        pem(leaf("www.example.com", names, not_before=NOW - 40 * DAY, not_after=NOW - 10 * DAY))
        + pem(inter, root),
    )
    _write(
        out / "expiring.pem",
        pem(leaf("www.example.com", names, not_after=NOW + 5 * DAY), inter, root),
    )
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    _write(out / "rsa1024.pem", pem(leaf("www.example.com", names, key=weak), inter, root))
    _write(out / "wildcard.pem", pem(leaf("*.example.com", ["*.example.com"]), inter, root))
    _write(out / "cn-only.pem", pem(leaf("www.example.com", None), inter, root))
    _write(out / "incomplete.pem", pem(good))
    _write(out / "disordered.pem", pem(good, root, inter))
    _write(out / "server.key", key_pem(leaf_key), 0o600)
    _write(out / "rsa1024.key", key_pem(weak), 0o600)
    _write(keys / "open.key", key_pem(leaf_key), 0o644)
    _write(keys / "private.key", key_pem(leaf_key), 0o600)
    ssl_cert = group_id("ssl-cert")
    _write(keys / "ssl-cert.key", key_pem(leaf_key), 0o640, ssl_cert)
    _write(keys / "staff.key", key_pem(leaf_key), 0o640, other_group())
    _write(out / "combined.pem", pem(good, inter, root) + key_pem(leaf_key), 0o644)
    return out
