"""Cipher-suite choices beyond weak ciphers: key exchange without forward secrecy (kRSA, a
defect), and the benchmarks' preferences (CBC suites, HSTS max-age, SSLHonorCipherOrder).

A cipher string is read with the list algebra of checks/tls.py (`evaluate_ciphers`: `!` kills,
`-` deletes, `+` reorders, `A+B` intersects); this module brings the families it asks about:
which OpenSSL aliases and suite names hold RSA key exchange, and which hold CBC suites, as
`openssl ciphers -v` lists them (tests/test_certs.py holds each verdict against OpenSSL's own
expansion). Anything not in these tables (`PROFILE=SYSTEM`, a typo) adds nothing: no finding
rather than a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from ..findings import Finding
from ..registry import check
from ..syntax import Directive
from .tls import (
    EXPLICIT,
    VARIES,
    _cipher_directives,
    _where,
    effective,
    evaluate_ciphers,
    sets_hsts,
    tls_hosts,
)

__all__ = ["krsa_ciphers", "cbc_ciphers"]

# ---------------------------------------------------------------------------------------
# RSA key exchange (kRSA): the premaster secret travels encrypted to the certificate's key

KRSA = "kRSA"
# Aliases that hold kRSA suites in every OpenSSL build mod_ssl runs with.
_KRSA_ALWAYS = {
    "ALL", "DEFAULT", "HIGH", "RSA", "kRSA", "aRSA", "AES", "AES128", "AES256", "AESGCM",
    "AESCCM", "AESCCM8", "CAMELLIA", "CAMELLIA128", "CAMELLIA256", "ARIA", "ARIA128",
    "ARIA256", "ARIAGCM", "SHA", "SHA1", "SHA256", "TLSv1.2", "SSLv3", "CBC",
    "COMPLEMENTOFALL",
}  # fmt: skip
# Aliases whose kRSA suites only some builds have (3DES, RC4, SEED, IDEA, single DES).
_KRSA_SOME = {"MEDIUM", "LOW", "3DES", "RC4", "DES", "SEED", "IDEA", "TLSv1", "TLSv1.0"}
# Aliases known to hold no kRSA suite: intersecting with one of them adds none.
_KRSA_NONE = {
    "ECDHE", "EECDH", "kEECDH", "kECDHE", "DHE", "EDH", "kEDH", "kDHE", "ECDSA", "aECDSA",
    "DSS", "aDSS", "CHACHA20", "PSK", "kPSK", "kECDHEPSK", "kDHEPSK", "kRSAPSK", "aPSK",
    "SRP", "kSRP", "aNULL", "eNULL", "NULL", "ADH", "AECDH", "SHA384", "SUITEB128",
    "SUITEB128ONLY", "SUITEB192", "kGOST", "aGOST", "GOST94", "GOST89MAC",
}  # fmt: skip
# The words that remove every kRSA suite.
_KRSA_KILL = {w: {KRSA} for w in ("kRSA", "RSA", "aRSA", "ALL", "COMPLEMENTOFALL")}
# First part of an OpenSSL suite name with RSA key exchange (no key-exchange prefix).
_KRSA_FIRST = {
    "AES128", "AES256", "AES", "CAMELLIA128", "CAMELLIA256", "ARIA128", "ARIA256", "DES",
    "RC4", "SEED", "IDEA", "NULL",
}  # fmt: skip


def _krsa_word(word: str) -> str | None:
    """How sure a word adds kRSA suites: EXPLICIT, VARIES, "" for none, None: unknown."""
    if word in _KRSA_ALWAYS:
        return EXPLICIT
    if word in _KRSA_SOME:
        return VARIES
    if word in _KRSA_NONE:
        return ""
    if word.startswith(("TLS_", "SSL_")):
        return None  # IANA names: OpenSSL's TLS 1.2 cipher lists do not take them
    if "-" in word:
        first = word.split("-", 1)[0].upper()
        if first in _KRSA_FIRST or first.startswith("DES"):
            return EXPLICIT
        return ""  # ECDHE-, DHE-, PSK-, RSA-PSK-, ...: another key exchange
    return None


def _krsa_token(body: str, version: str) -> dict[str, str]:
    """An `A+B` token adds kRSA suites when every part does (nothing when a part is
    unknown: no guess)."""
    hows = [_krsa_word(part) for part in body.split("+") if part]
    if not hows or any(h is None for h in hows) or "" in hows:
        return {}
    return {KRSA: VARIES if VARIES in hows else EXPLICIT}


def krsa_ciphers(spec: str, version: str) -> tuple[str, list[str]] | None:
    """(how sure, the tokens adding them) when a cipher list leaves kRSA suites enabled."""
    return evaluate_ciphers(spec, version, _krsa_token, _KRSA_KILL).get(KRSA)


@check("TLS026")
def rsa_key_exchange(model, rule, settings) -> Iterator[Finding]:
    seen: dict[str, tuple[str, list[str]] | None] = {}
    for node, spec in _cipher_directives(model):
        if spec not in seen:
            seen[spec] = krsa_ciphers(spec, model.version)
        found = seen[spec]
        if found is None:
            continue
        how, tokens = found
        what = "connections to backends" if node.lname == "sslproxyciphersuite" else "clients"
        head = (
            f"{node.name} {_where(node)} (for {what}) enables cipher suites with RSA key "
            f"exchange (kRSA) through {', '.join(tokens)}"
        )
        if how == EXPLICIT:
            yield rule.finding(
                f"{head}: they have no forward secrecy, so whoever obtains the private key "
                "later can decrypt every recorded session; add :!kRSA (ECDHE and DHE suites "
                "remain)",
                node,
            )
        else:
            yield rule.finding(
                f"{head} whenever the OpenSSL build has those suites (3DES, RC4, SEED or IDEA "
                "with RSA key exchange): no forward secrecy; add :!kRSA so the list does not "
                "depend on the build",
                node,
                severity="info",
            )
    for host in tls_hosts(model):
        if effective(model, "SSLCipherSuite", host.vhost) is None:
            yield rule.finding(
                f"{host.label} has no SSLCipherSuite, here or at server level, so OpenSSL's "
                "DEFAULT list applies, and it holds suites with RSA key exchange (no forward "
                "secrecy: a stolen key decrypts recorded sessions); set e.g. "
                "`SSLCipherSuite HIGH:!aNULL:!kRSA`",
                host.anchor,
            )


# ---------------------------------------------------------------------------------------
# CBC suites (TLS 1.2 and older), by the MAC that goes with them

_CBC = ("CBC-SHA1", "CBC-SHA256", "CBC-SHA384")
_ALL_CBC = dict.fromkeys(_CBC, EXPLICIT)
_CBC_WORDS: dict[str, dict[str, str]] = {
    **{
        w: _ALL_CBC
        for w in (
            "ALL", "DEFAULT", "HIGH", "AES", "AES128", "AES256", "CAMELLIA", "CAMELLIA128",
            "CAMELLIA256", "ECDHE", "EECDH", "kEECDH", "kECDHE", "DHE", "EDH", "kEDH", "kDHE",
            "ECDSA", "aECDSA", "aRSA", "TLSv1.2", "CBC", "PSK", "kPSK", "aPSK",
            "COMPLEMENTOFALL",
        )
    },
    **{w: {"CBC-SHA1": EXPLICIT, "CBC-SHA256": EXPLICIT} for w in ("RSA", "kRSA", "DSS", "aDSS")},
    **{w: {"CBC-SHA1": EXPLICIT} for w in ("SHA", "SHA1", "SSLv3", "TLSv1", "TLSv1.0")},
    "SHA256": {"CBC-SHA256": EXPLICIT},
    "SHA384": {"CBC-SHA384": EXPLICIT},
    **{w: {"CBC-SHA1": VARIES} for w in ("MEDIUM", "LOW", "3DES", "DES", "SEED", "IDEA")},
    **{
        w: {}
        for w in ("AESGCM", "AESCCM", "AESCCM8", "CHACHA20", "ARIAGCM", "aNULL", "eNULL", "NULL")
    },
}  # fmt: skip
_CBC_KILL = {
    **{w: set(_CBC) for w in ("CBC", "ALL", "COMPLEMENTOFALL")},
    "SHA1": {"CBC-SHA1"},
    "SHA": {"CBC-SHA1"},
    "SHA256": {"CBC-SHA256"},
    "SHA384": {"CBC-SHA384"},
}
_AEAD = re.compile(r"GCM|CHACHA20|CCM|POLY1305", re.IGNORECASE)


def _cbc_word(word: str) -> dict[str, str] | None:
    if word in _CBC_WORDS:
        return _CBC_WORDS[word]
    if word.startswith(("TLS_", "SSL_")):
        return None  # IANA names: OpenSSL's TLS 1.2 cipher lists do not take them
    if "-" in word:
        if _AEAD.search(word) or "NULL" in word.upper():
            return {}
        upper = word.upper()
        if upper.endswith(("SHA384",)):
            return {"CBC-SHA384": EXPLICIT}
        if upper.endswith("SHA256"):
            return {"CBC-SHA256": EXPLICIT}
        if upper.endswith(("SHA", "SHA1")):
            return {"CBC-SHA1": EXPLICIT}
        return {}
    return None


def _cbc_token(body: str, version: str) -> dict[str, str]:
    parts = [_cbc_word(part) for part in body.split("+") if part]
    if not parts or any(p is None for p in parts):
        return {}
    fams = set.intersection(*(set(p) for p in parts if p is not None))
    return {f: VARIES if any(p[f] == VARIES for p in parts if p) else EXPLICIT for f in fams}


def cbc_ciphers(spec: str, version: str) -> dict[str, tuple[str, list[str]]]:
    """The CBC families (by MAC) a cipher list leaves enabled."""
    return evaluate_ciphers(spec, version, _cbc_token, _CBC_KILL)


@check("TLS027")
def cbc_suites(model, rule, settings) -> Iterator[Finding]:
    for node, spec in _cipher_directives(model):
        if node.lname != "sslciphersuite":
            continue
        found = {f: v for f, v in cbc_ciphers(spec, model.version).items() if v[0] == EXPLICIT}
        if not found:
            continue
        tokens = list(dict.fromkeys(t for _, ts in found.values() for t in ts))
        yield rule.finding(
            f"SSLCipherSuite {_where(node)} enables CBC suites through {', '.join(tokens)}: "
            "Mozilla's intermediate configuration offers only AEAD suites (AES-GCM, "
            "ChaCha20-Poly1305) with ECDHE or DHE; CBC with TLS's MAC-then-encrypt has a "
            "history of padding-oracle attacks (Lucky Thirteen); remove them, e.g. "
            "`SSLCipherSuite ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL`",
            node,
        )


# ---------------------------------------------------------------------------------------
# Strict-Transport-Security max-age

_MAX_AGE = re.compile(r"max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def hsts_value(node: Directive) -> str | None:
    """The header value of a `Header ... set Strict-Transport-Security VALUE` line."""
    args = node.args
    i = 1 if args and args[0].lower() in ("always", "onsuccess") else 0
    return args[i + 2] if len(args) > i + 2 else None


@check("TLS028")
def hsts_max_age_short(model, rule, settings) -> Iterator[Finding]:
    least = int(rule.param("min_age", settings))
    for node in model.find("Header"):
        if not sets_hsts(node):
            continue
        value = hsts_value(node)
        m = _MAX_AGE.search(value or "")
        if m is None:
            yield rule.finding(
                f"Strict-Transport-Security {_where(node)} has no max-age ({value!r}): "
                "browsers ignore a header without it (RFC 6797 6.1.1); "
                f'set "max-age={least}"',
                node,
            )
            continue
        age = int(m.group(1))
        if age < least:
            yield rule.finding(
                f"Strict-Transport-Security {_where(node)} has max-age={age} "
                f"({age / 86400:g} days), under the {least} s ({least / 86400:g} days) "
                f'the benchmark asks for; set "max-age={least}"',
                node,
            )


# ---------------------------------------------------------------------------------------
# SSLHonorCipherOrder: dev-sec wants the server's order, Mozilla the client's


@check("TLS029")
def honor_cipher_order(model, rule, settings) -> Iterator[Finding]:
    want = str(rule.param("want", settings)).lower()
    why = {
        "on": "the server's order then decides (dev-sec), so a client cannot steer towards "
        "a weaker suite it lists first",
        "off": "with only strong suites enabled the client's order is best: it knows "
        "whether it has AES hardware or should prefer ChaCha20 (Mozilla's guidelines)",
    }[want]
    for host in tls_hosts(model):
        node = effective(model, "SSLHonorCipherOrder", host.vhost)
        have = node.args[0].lower() if node is not None and node.args else "off"
        if have == want:
            continue
        where = (
            f"SSLHonorCipherOrder {have} {_where(node)}"
            if node is not None
            else f"{host.label} leaves SSLHonorCipherOrder at its default, off"
        )
        yield rule.finding(f"{where}: set SSLHonorCipherOrder {want}; {why}", node or host.anchor)
