"""Certificates and private keys as the TLS hosts use them (run on the serving machine only:
they read the files SSLCertificateFile names, `--filesystem`).

Which certificate a host serves follows mod_ssl's merge of SSLCertificateFile and
SSLCertificateKeyFile (modssl_ctx_cfg_merge_certkeys_array): a virtual host's own lines
replace the server level's one for one, by position, and the server level's remaining ones
follow. The first certificate of a file is the server's, the rest its chain (with a
SSLCertificateChainFile, mod_ssl reads only the first and sends that file as the chain).

Only the CERTIFICATE blocks of a file are kept and parsed; a private key that sits in the
same file is skipped line by line, and a key file is never opened (its mode comes from
`os.stat`). The `cryptography` package is imported only when a certificate rule runs: it is
an optional dependency (`httpdlint[certs]`), and without it those rules are reported as
skipped. A certificate that cannot be read makes its rules skipped for it, said so.
"""

from __future__ import annotations

import datetime
import functools
import os
import stat
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from ..engine import record_skip
from ..findings import Finding
from ..registry import check
from ..scopes import direct
from ..syntax import Directive
from .tls import TlsHost, _where, effective, tls_hosts

#: Groups that may read a private key: root and Debian's ssl-cert (made for exactly this).
KEY_GROUPS = ("root", "ssl-cert")


@dataclass
class CertUse:
    """One SSLCertificateFile a TLS host serves, with its key file and chain file."""

    host: TlsHost
    cert: Directive
    path: str
    key: Directive | None  # SSLCertificateKeyFile paired with it, None: the key is inside
    key_path: str
    chain: Directive | None  # the effective SSLCertificateChainFile


def _path(model, node: Directive) -> str | None:
    """The file a directive names, relative to ServerRoot; None for what is not a file
    (a PKCS#11 URI, an unexpanded variable)."""
    if not node.args:
        return None
    value = node.args[0]
    if "${" in value or (":" in value and not value.startswith("/")):
        return None
    return os.path.normpath(os.path.join(model.config.server_root, value))


def _merged(own: list[Directive], base: list[Directive]) -> list[Directive]:
    """modssl_ctx_cfg_merge_certkeys_array: the host's own, then the base's beyond them."""
    return own + base[len(own) :]


def cert_uses(model) -> list[CertUse]:
    """Every certificate each TLS host serves (computed once per model)."""
    found = model.cache.get("certs.uses")
    if found is None:
        found = model.cache["certs.uses"] = list(_cert_uses(model))
    return found


def _cert_uses(model) -> Iterator[CertUse]:
    certs = direct(model, "SSLCertificateFile")
    keys = direct(model, "SSLCertificateKeyFile")
    for host in tls_hosts(model):
        node = host.vhost.node if host.vhost is not None else None
        own_certs = certs.get(node, []) if node is not None else []
        own_keys = keys.get(node, []) if node is not None else []
        cert_lines = _merged(own_certs, certs.get(None, []))
        key_lines = _merged(own_keys, keys.get(None, []))
        chain = effective(model, "SSLCertificateChainFile", host.vhost)
        for i, cert in enumerate(cert_lines):
            path = _path(model, cert)
            if path is None:
                continue
            key = key_lines[i] if i < len(key_lines) else None
            key_path = _path(model, key) if key is not None else path
            if key_path is None:
                continue
            yield CertUse(host, cert, path, key, key_path, chain)


# ---------------------------------------------------------------------------------------
# Reading certificates (CERTIFICATE blocks only)

_BEGIN, _END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"


def pem_certificates(path: str) -> list[bytes]:
    """The PEM CERTIFICATE blocks of a file, in order. Every other line (a private key's
    included) is dropped as it is read, never kept. OSError when the file cannot be read."""
    blocks: list[bytes] = []
    current: list[bytes] | None = None
    with open(path, "rb") as fh:
        for line in fh:
            text = line.strip()
            if current is None:
                if text == _BEGIN:
                    current = [text]
            else:
                current.append(text)
                if text == _END:
                    blocks.append(b"\n".join(current) + b"\n")
                    current = None
    return blocks


@dataclass
class Loaded:
    certs: list  # cryptography.x509.Certificate, leaf first
    error: str | None = None


def load(path: str, chain_path: str | None = None) -> Loaded:
    """The certificates a host sends from this file (and chain file): cached per process
    for the same file contents (mtime and size)."""
    try:
        key = (path, _stamp(path), chain_path, _stamp(chain_path) if chain_path else None)
    except OSError as exc:
        return Loaded([], f"cannot read {path}: {exc.strerror}")
    return _load(*key)


def _stamp(path: str) -> tuple[int, int]:
    st = os.stat(path)
    return st.st_mtime_ns, st.st_size


@functools.lru_cache(maxsize=256)
def _load(path: str, _s1, chain_path: str | None, _s2) -> Loaded:
    from cryptography import x509

    out = []
    for file, only_first in ((path, chain_path is not None), (chain_path, False)):
        if file is None:
            continue
        try:
            blocks = pem_certificates(file)
        except OSError as exc:
            return Loaded([], f"cannot read {file}: {exc.strerror}")
        if not blocks:
            return Loaded([], f"{file} holds no PEM certificate")
        for n, block in enumerate(blocks[:1] if only_first else blocks, 1):
            try:
                out.append(x509.load_pem_x509_certificate(block))
            except ValueError as exc:
                return Loaded([], f"certificate {n} of {file} cannot be parsed: {exc}")
    return Loaded(out)


def _loaded(model, rule, use: CertUse) -> list | None:
    """The host's certificates, or None after recording this rule skipped for the file."""
    chain_path = _path(model, use.chain) if use.chain is not None else None
    loaded = load(use.path, chain_path)
    if loaded.error:
        record_skip(model, rule, f"a readable certificate ({loaded.error})")
        return None
    return loaded.certs


def _uses_once(model) -> Iterator[CertUse]:
    """One use per certificate line and chain file (rules about the file, not the host)."""
    seen = set()
    for use in cert_uses(model):
        key = (use.cert, use.chain)
        if key not in seen:
            seen.add(key)
            yield use


def _not_after(cert) -> datetime.datetime:
    when = getattr(cert, "not_valid_after_utc", None)
    if when is None:  # cryptography before 42: naive UTC
        when = cert.not_valid_after.replace(tzinfo=datetime.timezone.utc)
    return when


def _subject(cert) -> str:
    return cert.subject.rfc4514_string() or "(empty subject)"


# ---------------------------------------------------------------------------------------
# Rules


@check("TLS020")
def certificate_expiry(model, rule, settings) -> Iterator[Finding]:
    days = int(rule.param("days", settings))
    now = datetime.datetime.now(datetime.timezone.utc)
    for use in _uses_once(model):
        certs = _loaded(model, rule, use)
        if not certs:
            continue
        for n, cert in enumerate(certs):
            what = "its certificate" if n == 0 else f"chain certificate {n} ({_subject(cert)})"
            end = _not_after(cert)
            stamp = end.strftime("%Y-%m-%d %H:%M UTC")
            if end <= now:
                yield rule.finding(
                    f"{use.path} ({use.cert.name} {_where(use.cert)}): {what} expired on "
                    f"{stamp}: clients refuse the connection; renew it",
                    use.cert,
                )
            elif end - now <= datetime.timedelta(days=days):
                left = (end - now).days
                yield rule.finding(
                    f"{use.path} ({use.cert.name} {_where(use.cert)}): {what} expires on "
                    f"{stamp}, in {left} day{'s' if left != 1 else ''} (under {days}): "
                    "renew it now (and check that automatic renewal works)",
                    use.cert,
                    severity="warning",
                )


def key_strength(cert) -> tuple[str, int] | None:
    """("RSA", bits), ("EC", curve bits) or ("DSA", bits) of a certificate's public key."""
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, rsa

    key = cert.public_key()
    if isinstance(key, rsa.RSAPublicKey):
        return "RSA", key.key_size
    if isinstance(key, ec.EllipticCurvePublicKey):
        return "EC", key.curve.key_size
    if isinstance(key, dsa.DSAPublicKey):
        return "DSA", key.key_size
    return None  # Ed25519, Ed448: strong


@check("TLS021")
def certificate_weak_key(model, rule, settings) -> Iterator[Finding]:
    least = {
        "RSA": int(rule.param("rsa_bits", settings)),
        "DSA": int(rule.param("rsa_bits", settings)),
        "EC": int(rule.param("ec_bits", settings)),
    }
    for use in _uses_once(model):
        certs = _loaded(model, rule, use)
        if not certs:
            continue
        found = key_strength(certs[0])
        if found is None or found[1] >= least[found[0]]:
            continue
        kind, bits = found
        yield rule.finding(
            f"{use.path} ({use.cert.name} {_where(use.cert)}): a {bits}-bit {kind} key, under "
            f"{least[kind]} bits: within reach of factoring or discrete-log attacks and refused "
            "by current browsers and OpenSSL's default security level; issue a new "
            "certificate for an RSA 2048+ or ECDSA P-256 key",
            use.cert,
        )


def issued_by(cert, issuer) -> bool:
    """Whether `issuer` signed `cert` (names match and the signature verifies)."""
    if cert.issuer != issuer.subject:
        return False
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, an algorithm the library does not support
        return False
    return True


@functools.cache
def system_roots() -> dict:
    """The system's trusted certificates by subject (OpenSSL's default CA file and
    directory: /etc/ssl/certs on Debian), read on first need."""
    import ssl

    paths = ssl.get_default_verify_paths()
    files = []
    if paths.cafile and os.path.isfile(paths.cafile):
        files.append(paths.cafile)
    elif paths.capath and os.path.isdir(paths.capath):
        for name in sorted(os.listdir(paths.capath)):
            full = os.path.join(paths.capath, name)
            if os.path.isfile(full) and name.endswith((".pem", ".crt", ".0")):
                files.append(full)
    roots: dict = {}
    with warnings.catch_warnings():  # a CA bundle's oddities are not the tree's problem
        warnings.simplefilter("ignore")
        _read_roots(files, roots)
    return roots


def _read_roots(files: list[str], roots: dict) -> None:
    from cryptography import x509

    for file in files:
        try:
            blocks = pem_certificates(file)
        except OSError:
            continue
        for block in blocks:
            try:
                cert = x509.load_pem_x509_certificate(block)
            except ValueError:
                continue
            roots.setdefault(cert.subject, []).append(cert)


def _self_signed(cert) -> bool:
    return cert.issuer == cert.subject and issued_by(cert, cert)


def chain_problems(certs: list) -> tuple[str | None, bool]:
    """(the issuer missing from the chain or None, whether the file's order is wrong)."""
    out_of_order = any(not issued_by(certs[i], certs[i + 1]) for i in range(len(certs) - 1))
    current, used = certs[0], {0}
    while not _self_signed(current):
        nxt = next(
            (i for i, c in enumerate(certs) if i not in used and issued_by(current, c)), None
        )
        if nxt is None:
            roots = system_roots().get(current.issuer, [])
            if any(issued_by(current, root) for root in roots):
                return None, out_of_order
            return current.issuer.rfc4514_string() or "(empty name)", out_of_order
        used.add(nxt)
        current = certs[nxt]
    return None, out_of_order


def _chains(model, rule) -> Iterator[tuple[CertUse, str | None, bool]]:
    for use in _uses_once(model):
        certs = _loaded(model, rule, use)
        if certs:
            yield use, *chain_problems(certs)


@check("TLS022")
def certificate_chain_incomplete(model, rule, settings) -> Iterator[Finding]:
    for use, missing, _ in _chains(model, rule):
        if missing is None:
            continue
        yield rule.finding(
            f"{use.path} ({use.cert.name} {_where(use.cert)}): the chain stops at a "
            f"certificate issued by {missing}, which is neither in the file"
            f"{' nor in SSLCertificateChainFile' if use.chain is not None else ''} nor among "
            "the system's trusted roots: clients that do not already hold that intermediate "
            "(most non-browser clients, fresh browsers) fail to verify; append the "
            "intermediate certificates (the CA's full chain) to the file",
            use.cert,
        )


@check("TLS023")
def certificate_chain_order(model, rule, settings) -> Iterator[Finding]:
    for use, _, out_of_order in _chains(model, rule):
        if not out_of_order:
            continue
        yield rule.finding(
            f"{use.path} ({use.cert.name} {_where(use.cert)}): the certificates are out of "
            "order: each must be followed by the one that issued it (server certificate "
            "first, then its intermediate, and so on); httpd sends them as they stand and "
            "strict clients reject the chain; reorder the file",
            use.cert,
        )


# ---------------------------------------------------------------------------------------
# Names (RFC 6125)


def host_names(model, host: TlsHost) -> list[tuple[str, Directive]]:
    """The names a host answers to: ServerName (its own, else the server's) and the plain
    ServerAlias names; host part only."""
    out: list[tuple[str, Directive]] = []
    name = effective(model, "ServerName", host.vhost)
    if name is not None and name.args:
        value = name.args[0]
        if "://" in value:
            value = value.split("://", 1)[1]
        if value.startswith("["):
            value = value[1 : value.find("]")] if "]" in value else value
        else:
            value = value.rsplit(":", 1)[0] if value.count(":") == 1 else value
        out.append((value, name))
    if host.vhost is not None:
        for alias in host.vhost.find("ServerAlias"):
            if alias.parent is not host.vhost.node:
                continue
            out.extend((a, alias) for a in alias.args if not any(c in a for c in "*?["))
    return out


def name_matches(pattern: str, name: str) -> bool:
    """RFC 6125 6.4: case-insensitive; a `*` only as the whole leftmost label, matching
    exactly one label, and not directly under a single label (`*.com`)."""
    pattern, name = pattern.lower().rstrip("."), name.lower().rstrip(".")
    if pattern == name:
        return True
    if not pattern.startswith("*.") or "*" in pattern[2:]:
        return False
    rest = pattern[2:]
    if "." not in rest:
        return False
    head, _, tail = name.partition(".")
    return bool(head) and tail == rest


def cert_names(cert) -> tuple[list[str], list[str]]:
    """(DNS names, IP addresses) a certificate is for: its subjectAltName, else (RFC 6125)
    its subject's common names."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        cns = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
        return [str(c) for c in cns], []
    dns = san.get_values_for_type(x509.DNSName)
    ips = [str(ip) for ip in san.get_values_for_type(x509.IPAddress)]
    return dns, ips


def _is_ip(name: str) -> bool:
    import ipaddress

    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


@check("TLS024")
def certificate_name_mismatch(model, rule, settings) -> Iterator[Finding]:
    for use in cert_uses(model):
        names = host_names(model, use.host)
        if not names:
            continue  # httpd makes the name up: nothing to hold the certificate to
        certs = _loaded(model, rule, use)
        if not certs:
            continue
        dns, ips = cert_names(certs[0])
        for name, node in names:
            if _is_ip(name):
                if name in ips:
                    continue
            elif any(name_matches(p, name) for p in dns):
                continue
            listed = ", ".join(dns + ips) or "none"
            yield rule.finding(
                f"{use.host.label} answers to {name} ({node.name} {_where(node)}), but its "
                f"certificate {use.path} is not for that name (it names: {listed}): "
                "browsers refuse the connection; issue a certificate whose subjectAltName "
                "holds the name, or drop the name",
                node,
            )


# ---------------------------------------------------------------------------------------
# Private key file mode (os.stat only: the key is never opened)


def _group_name(gid: int) -> str:
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


@check("TLS025")
def private_key_readable(model, rule, settings) -> Iterator[Finding]:
    seen: set[str] = set()
    for use in cert_uses(model):
        if use.key_path in seen:
            continue
        seen.add(use.key_path)
        at = use.key or use.cert
        if use.key is None and not _holds_key(use.key_path):
            continue  # the key is not in the certificate file after all: httpd says so
        try:
            st = os.stat(use.key_path)
        except OSError as exc:
            record_skip(model, rule, f"the key file's mode ({use.key_path}: {exc.strerror})")
            continue
        mode = stat.S_IMODE(st.st_mode)
        where = f"{at.name} {_where(at)}"
        inside = "" if use.key is not None else " (the private key sits in the certificate file)"
        if mode & stat.S_IROTH:
            yield rule.finding(
                f"{use.key_path}{inside} ({where}) has mode {mode:04o}: every local user can "
                "read the private key and impersonate the server; chmod 600 (or 640 with "
                "group ssl-cert)",
                at,
            )
        elif mode & stat.S_IRGRP and _group_name(st.st_gid) not in KEY_GROUPS:
            group = _group_name(st.st_gid)
            yield rule.finding(
                f"{use.key_path}{inside} ({where}) has mode {mode:04o} and group {group}: "
                f"every member of {group} can read the private key; chmod 600, or give it "
                "to group root or ssl-cert",
                at,
            )


def _holds_key(path: str) -> bool:
    """Whether a certificate file also holds a private key: its BEGIN line only."""
    try:
        with open(path, "rb") as fh:
            return any(b"PRIVATE KEY-----" in line and b"-BEGIN" in line for line in fh)
    except OSError:
        return False
