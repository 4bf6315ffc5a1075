"""Generate src/httpdlint/data/arguments.json: every directive's argument kind, from the sources.

Usage: python scripts/gen_arguments.py SOURCES... [-o OUTPUT]

Each SOURCES directory holds source checkouts named ``owner+name`` (as the fetch tool lays them
out): either a git directory (``owner+name/repo`` or ``owner+name`` itself), read at the
revision named below with ``git show``, or a plain tree whose ``COMMIT`` file names the upstream
commit it was copied from. The first directory that has a source wins. php-src is too large to
fetch whole: ``php+php-src/sapi/apache2handler/apache_config.c`` is that one file, copied at the
commit its ``COMMIT`` names. For example: ``gen_arguments.py /work/.mirror /work/sources``.

From every ``command_rec`` table of httpd 2.4 (and of 2.2, for 2.2 trees), mod_perl 2,
mod_wsgi, PHP's apache2handler, ModSecurity 2 and mod_fcgid it extracts each ``AP_INIT_*``
declaration (expanding the modules' own wrapper macros such as mod_ssl's ``SSL_CMD_SRV``):
name, kind (the cmd_how include/http_config.h stores for the macro: AP_INIT_NO_ARGS stores
RAW_ARGS), help text (httpd appends it to its messages), req_override bits, the ``#if``
around it, the module that owns the table and the file. It adds the read-time value rules
below, each checked against the handler source it quotes, so a rule cannot outlive its code.
The output is a function of the sources' bytes only: regenerating gives a byte-identical file.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUTPUT = REPO_ROOT / "src" / "httpdlint" / "data" / "arguments.json"

# The kinds of include/http_config.h's enum cmd_how, with the word counts server/config.c's
# invoke_cmd() enforces (None: no upper bound) and the words of its refusal (checked against
# config.c at generation). RAW_ARGS and TAKE_ARGV hand the words to the handler, which counts
# them itself.
KINDS: dict[str, dict[str, Any]] = {
    "RAW_ARGS": {"min": 0, "max": None, "message": None},
    "TAKE_ARGV": {"min": 0, "max": None, "message": None},
    "NO_ARGS": {"min": 0, "max": 0, "message": "takes no arguments"},
    "TAKE1": {"min": 1, "max": 1, "message": "takes one argument"},
    "TAKE2": {"min": 2, "max": 2, "message": "takes two arguments"},
    "TAKE12": {"min": 1, "max": 2, "message": "takes 1-2 arguments"},
    "TAKE3": {"min": 3, "max": 3, "message": "takes three arguments"},
    "TAKE23": {"min": 2, "max": 3, "message": "takes two or three arguments"},
    "TAKE123": {"min": 1, "max": 3, "message": "takes one, two or three arguments"},
    "TAKE13": {"min": 1, "max": 3, "message": "takes one or three arguments"},
    "ITERATE": {"min": 1, "max": None, "message": "requires at least one argument"},
    "ITERATE2": {"min": 2, "max": None, "message": "requires at least two arguments"},
    "FLAG": {"min": 1, "max": 1, "message": "must be On or Off"},
}


@dataclass(frozen=True)
class Source:
    """One upstream source: where it lives, which revision, which files declare commands."""

    key: str
    repo: str
    ref: str
    paths: tuple[str, ...]
    version: Callable[[Callable[[str], str]], str]
    # The module that owns command tables whose module struct is not in the files read.
    module: str | None = None
    applies_to: tuple[str, ...] = ("2.2", "2.4")
    note: str | None = None


def _define(text: str, name: str) -> str:
    m = re.search(rf"#\s*define\s+{name}\s+(.+)", text)
    if m is None:
        raise SystemExit(f"no #define {name}")
    return m.group(1).strip().strip('"')


def _httpd_version(read: Callable[[str], str]) -> str:
    text = read("include/ap_release.h")
    numbers = [
        _define(text, f"AP_SERVER_{part}_NUMBER")
        for part in ("MAJORVERSION", "MINORVERSION", "PATCHLEVEL")
    ]
    dev = _define(text, "AP_SERVER_DEVBUILD_BOOLEAN") == "1"
    return ".".join(numbers) + ("-dev" if dev else "")


def _mod_perl_version(read: Callable[[str], str]) -> str:
    m = re.search(r'\$VERSION = "(\d+)\.(\d{3})(\d{3})"', read("lib/mod_perl2.pm"))
    if m is None:
        raise SystemExit("mod_perl: no $VERSION in lib/mod_perl2.pm")
    return ".".join(str(int(g)) for g in m.groups())


def _mod_wsgi_version(read: Callable[[str], str]) -> str:
    return _define(read("src/server/wsgi_version.h"), "MOD_WSGI_VERSION_STRING")


def _php_version(read: Callable[[str], str]) -> str:
    # Only apache_config.c is at hand: its header names the major version it belongs to.
    m = re.search(r"\| PHP Version (\d+)", read("sapi/apache2handler/apache_config.c"))
    if m is None:
        raise SystemExit("php: no 'PHP Version' header in apache_config.c")
    return m.group(1)


def _modsecurity_version(read: Callable[[str], str]) -> str:
    text = read("apache2/msc_release.h")
    return ".".join(_define(text, f"MODSEC_VERSION_{p}") for p in ("MAJOR", "MINOR", "MAINT"))


def _fcgid_version(read: Callable[[str], str]) -> str:
    text = read("modules/fcgid/fcgid_conf.h")
    parts = [_define(text, f"MODFCGID_VERSION_{p}") for p in ("MAJOR", "MINOR", "SUBVER")]
    return ".".join(parts) + ("-dev" if _define(text, "MODFCGID_VERSION_DEV") != "0" else "")


HTTPD_PATHS = ("include/", "server/", "modules/", "os/")
# fmt: off
SOURCES = (
    # The 2.4.x branch head: the newest 2.4 code the snapshot has (Debian ships later 2.4s).
    Source("httpd", "apache/httpd", "refs/heads/2.4.x", HTTPD_PATHS, _httpd_version,
           applies_to=("2.4",)),
    Source("httpd-2.2", "apache/httpd", "refs/heads/2.2.x", HTTPD_PATHS, _httpd_version,
           applies_to=("2.2",)),
    # The releases Debian 12 packages (libapache2-mod-perl2 2.0.12, -mod-wsgi-py3 4.9.4).
    Source("mod_perl", "apache/mod_perl", "refs/tags/2_0_12",
           ("src/modules/perl/", "lib/ModPerl/Code.pm"), _mod_perl_version),
    Source("mod_wsgi", "GrahamDumpleton/mod_wsgi", "refs/tags/4.9.4", ("src/server/",),
           _mod_wsgi_version),
    # php-src is too large to fetch whole: a plain copy of the one file (with its COMMIT).
    Source("php", "php/php-src", "", ("sapi/apache2handler/",), _php_version,
           module="php_module",
           note="apache_config.c only (the command table of PHP 7 and 8 alike); the module "
                "struct is in mod_php.c, which declares php_module since PHP 8 (libphp8.2.so)"),
    Source("modsecurity", "owasp-modsecurity/ModSecurity", "refs/tags/v2.9.8", ("apache2/",),
           _modsecurity_version),
    Source("mod_fcgid", "apache/httpd-mod_fcgid", "refs/tags/2.3.9", ("modules/fcgid/",),
           _fcgid_version),
)
# fmt: on


# --- reading a source ---------------------------------------------------------------------------


class Tree:
    """A source at one revision: a git directory, or a plain copy with a COMMIT file."""

    def __init__(self, source: Source, roots: list[Path]):
        self.source = source
        name = source.repo.replace("/", "+")
        for root in roots:
            for cand in (root / name / "repo", root / name):
                if (cand / "HEAD").is_file() and (cand / "objects").is_dir():
                    self.git: Path | None = cand
                    self.commit = self._git("rev-parse", f"{source.ref}^{{commit}}").strip()
                    return
                if (cand / "COMMIT").is_file():
                    self.git, self.base = None, cand
                    self.commit = (cand / "COMMIT").read_text(encoding="ascii").strip()
                    return
        raise SystemExit(f"{source.repo}: not found under {', '.join(map(str, roots))}")

    def _git(self, *args: str) -> str:
        out = subprocess.run(
            ["git", f"--git-dir={self.git}", *args], capture_output=True, check=True
        ).stdout
        return out.decode("utf-8", "surrogateescape")

    def files(self) -> list[str]:
        """The C files and headers under the source's paths, sorted."""
        if self.git is not None:
            listing = self._git(
                "ls-tree", "-r", "--name-only", self.commit, "--", *self.source.paths
            )
            names = listing.splitlines()
        else:
            names = [
                p.relative_to(self.base).as_posix()
                for path in self.source.paths
                for p in (self.base / path).rglob("*")
                if p.is_file()
            ]
        wanted = [n for n in names if n.endswith((".c", ".h", ".pm"))]
        return sorted(set(wanted))

    def read(self, path: str) -> str:
        if self.git is not None:
            return self._git("show", f"{self.commit}:{path}")
        return (self.base / path).read_text(encoding="utf-8", errors="surrogateescape")


# --- a small C preprocessor: comments, continuations, conditions, wrapper macros ----------------

_COMMENT_OR_LITERAL = re.compile(
    r"/\*.*?\*/|//[^\n]*|\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*'", re.S
)
_DIRECTIVE = re.compile(r"^\s*#\s*(\w+)\s*(.*)$")
_DEFINE = re.compile(r"(\w+)(\(([^)]*)\))?\s*(.*)", re.S)
_TOKEN = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|##|#|\w+|\s+|.', re.S)


def strip_comments(text: str) -> str:
    """C text without comments (a block comment keeps its newlines, so lines stay lines)."""

    def repl(m: re.Match[str]) -> str:
        s = m.group(0)
        if s.startswith("/*"):
            return " " + "\n" * s.count("\n")
        return "" if s.startswith("//") else s

    return _COMMENT_OR_LITERAL.sub(repl, text)


@dataclass
class Macro:
    name: str
    params: list[str] | None  # None: object-like
    body: str


@dataclass
class CFile:
    """One file after preprocessing: its code lines with the #if conditions around each."""

    path: str
    code: str = ""
    line_starts: list[int] = field(default_factory=list)
    conditions: list[str | None | bool] = field(default_factory=list)
    macros: dict[str, Macro] = field(default_factory=dict)

    def condition_at(self, offset: int) -> str | None:
        lo, hi = 0, len(self.line_starts) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.line_starts[mid] <= offset:
                lo = mid
            else:
                hi = mid - 1
        return self.conditions[lo] if self.conditions else None


def _cond_text(kind: str, rest: str) -> str:
    rest = " ".join(rest.split())
    if kind == "ifdef":
        return f"defined({rest})"
    if kind == "ifndef":
        return f"!defined({rest})"
    return rest


def _negate(cond: str) -> str:
    if re.fullmatch(r"!?defined\(\w+\)", cond):
        return cond[1:] if cond.startswith("!") else "!" + cond
    return f"!({cond})"


def preprocess(path: str, text: str) -> CFile:
    text = strip_comments(text.replace("\r\n", "\n"))
    text = re.sub(r"\\\n", " ", text)
    out = CFile(path)
    # Each open #if: the conditions of its branches so far (the last one is current).
    stack: list[list[str]] = []
    parts: list[str] = []
    offset = 0
    for line in text.split("\n"):
        m = _DIRECTIVE.match(line)
        if m is not None:
            kind, rest = m.group(1), m.group(2)
            if kind in ("if", "ifdef", "ifndef"):
                stack.append([_cond_text(kind, rest)])
            elif kind == "elif" and stack:
                stack[-1].append(" ".join(rest.split()))
            elif kind == "else" and stack:
                stack[-1].append("")
            elif kind == "endif" and stack:
                stack.pop()
            elif kind == "define" and _condition(stack) is not False:
                d = _DEFINE.match(rest)
                if d is not None:
                    params = None
                    if d.group(2) is not None:
                        params = [p.strip() for p in d.group(3).split(",") if p.strip()]
                    out.macros[d.group(1)] = Macro(d.group(1), params, d.group(4).strip())
            continue
        out.line_starts.append(offset)
        out.conditions.append(_condition(stack))
        parts.append(line)
        offset += len(line) + 1
    out.code = "\n".join(parts)
    return out


def _condition(stack: list[list[str]]) -> str | None | bool:
    """The condition of the current line as text, None when unconditional, and False when
    inside a branch no build compiles (`#if 0`, or after an `#if 1`)."""
    terms: list[str] = []
    for branches in stack:
        current, earlier = branches[-1], branches[:-1]
        if current == "0" or "1" in earlier:
            return False
        # A branch holds when every earlier one failed and its own condition holds.
        terms += [_negate(c) for c in earlier if c != "0"]
        if current and current != "1":
            terms.append(f"({current})" if earlier and terms else current)
    return " && ".join(terms) if terms else None


def split_top(text: str) -> list[str]:
    """Split a C argument list at the commas outside parentheses, braces and literals."""
    items, depth, cur = [], 0, []
    for tok in _TOKEN.findall(text):
        if tok in "([{":
            depth += 1
        elif tok in ")]}":
            depth -= 1
        if tok == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(tok)
    items.append("".join(cur).strip())
    return items


def balanced(text: str, start: int) -> int:
    """Index just past the parenthesis group that opens at text[start]."""
    depth = 0
    for m in _TOKEN.finditer(text, start):
        tok = m.group(0)
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
            if depth == 0:
                return m.end()
    raise SystemExit(f"unbalanced parentheses at {text[start : start + 60]!r}")


def expand(macro: Macro, args: list[str]) -> str:
    """The macro's body with its parameters substituted (`#x` stringified, `##` pasted)."""
    values = dict(zip(macro.params or [], args, strict=False))
    toks = _TOKEN.findall(macro.body)
    out: list[str] = []
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok == "#" and i + 1 < len(toks) and toks[i + 1] in values:
            out.append(json.dumps(values[toks[i + 1]]))
            i += 2
            continue
        if tok == "##":
            while out and out[-1].isspace():
                out.pop()
            i += 1
            while i < len(toks) and toks[i].isspace():
                i += 1
            continue
        out.append(values.get(tok, tok))
        i += 1
    return "".join(out)


# --- command tables and module structs ----------------------------------------------------------

_INIT = re.compile(r"\bAP_INIT_([A-Z0-9_]+)\s*\(")
_IDENT = re.compile(r"\b[A-Za-z_]\w*\b")
_CMD_TABLE = re.compile(r"command_rec\s+(\w+)\s*\[\s*\]\s*=\s*\{")
_MODULE = re.compile(
    r"(?:AP_DECLARE_MODULE\s*\(\s*(\w+)\s*\)|\bmodule\s+(?:[A-Z_]+\s+)*(\w+))"
    r"\s*=\s*\{"
)


class NotLiteral(Exception):
    """A string argument that is not made of literals (2.2's SSLMutex help is a const array
    whose pieces depend on the platform's lock mechanisms)."""


def c_string(expr: str, macros: dict[str, Macro]) -> str | None:
    """The value of a C string expression (adjacent literals, string macros), None for NULL."""
    expr = expr.strip()
    if expr in ("NULL", "0"):
        return None
    parts: list[str] = []
    toks = [t for t in _TOKEN.findall(expr) if not t.isspace()]
    while toks:
        tok = toks.pop(0)
        if tok in ("(", ")"):
            continue
        if tok == "APR_STRINGIFY" and toks[:1] == ["("] and toks[2:3] == [")"]:
            # APR_STRINGIFY(n) is #n after n's expansion: "(default: " APR_STRINGIFY(200) ")".
            value = toks[1]
            while value in macros and macros[value].params is None:
                value = macros[value].body
            parts.append(value)
            del toks[:3]
        elif tok.startswith('"'):
            parts.append(json.loads(tok.replace("\\'", "'")))
        elif tok in macros and macros[tok].params is None:
            value = c_string(macros[tok].body, macros)
            parts.append(value or "")
        else:
            raise NotLiteral(expr)
    return "".join(parts)


def override_bits(expr: str, macros: dict[str, Macro]) -> list[str]:
    """req_override as the flag names it ORs together, wrapper macros resolved."""
    bits: set[str] = set()
    for name in _IDENT.findall(expr):
        macro = macros.get(name)
        if macro is not None and macro.params is None and _IDENT.search(macro.body):
            bits.update(override_bits(macro.body, macros))
        else:
            bits.add(name)
    return sorted(bits)


def table_entries(cfile: CFile, macros: dict[str, Macro]) -> Iterator[tuple[str, int, str]]:
    """(table name, offset, entry text) for every AP_INIT_* a command table declares."""
    for m in _CMD_TABLE.finditer(cfile.code):
        body_start = m.end()
        depth, end = 1, body_start
        for tok in _TOKEN.finditer(cfile.code, body_start):
            if tok.group(0) == "{":
                depth += 1
            elif tok.group(0) == "}":
                depth -= 1
                if depth == 0:
                    end = tok.start()
                    break
        for offset, text in _scan(cfile.code[body_start:end], macros, 0):
            yield m.group(1), body_start + offset, text


def _scan(text: str, macros: dict[str, Macro], depth: int) -> Iterator[tuple[int, str]]:
    if depth > 20:
        raise SystemExit("macro expansion too deep")
    pos = 0
    while (m := _IDENT.search(text, pos)) is not None:
        name = m.group(0)
        pos = m.end()
        if name.startswith("AP_INIT_"):
            paren = text.index("(", m.end())
            close = balanced(text, paren)
            yield m.start(), text[m.start() : close]
            pos = close
        elif name in macros and "AP_INIT_" in _expanded_body(name, macros):
            macro = macros[name]
            if macro.params is None:
                body = macro.body
            else:
                paren = text.index("(", m.end())
                close = balanced(text, paren)
                body = expand(macro, split_top(text[paren + 1 : close - 1]))
                pos = close
            for _, inner in _scan(body, macros, depth + 1):
                yield m.start(), inner


def _expanded_body(name: str, macros: dict[str, Macro], seen: frozenset[str] = frozenset()) -> str:
    """The macro's body with the bodies of the macros it names appended (to find AP_INIT_)."""
    if name in seen:
        return ""
    body = macros[name].body
    extra = [
        _expanded_body(n, macros, seen | {name})
        for n in set(_IDENT.findall(body))
        if n in macros and not n.startswith("AP_INIT_")
    ]
    return body + " ".join(extra)


def module_tables(cfile: CFile) -> dict[str, str]:
    """Command table name -> module identifier, from the module structs of one file."""
    found: dict[str, str] = {}
    for m in _MODULE.finditer(cfile.code):
        ident = m.group(1) + "_module" if m.group(1) else m.group(2)
        close = cfile.code.index("}", m.end())
        fields = split_top(cfile.code[m.end() : close])
        # MPM20_MODULE_STUFF leaves out the rewrite_args hook, which then comes first.
        at = {"STANDARD20_MODULE_STUFF": 5, "MPM20_MODULE_STUFF": 6}.get(
            fields[0] if fields else ""
        )
        if at is not None and len(fields) > at:
            table = fields[at].strip("& ")
            if _IDENT.fullmatch(table) and table != "NULL":
                found.setdefault(table, ident)
    return found


# --- mod_perl's generated handler directives ---------------------------------------------------


def mod_perl_entries(code_pm: str) -> Macro:
    """MP_CMD_ENTRIES, as lib/ModPerl/Code.pm writes it into modperl_directives.h at build time:
    one ITERATE directive Perl<Phase>Handler per phase, scoped like its hook class."""
    handlers = re.search(r"my %handlers = \((.*?)\n\);", code_pm, re.S)
    if handlers is None:
        raise SystemExit("mod_perl: no %handlers in Code.pm")
    protos = code_pm[code_pm.index("my %directive_proto") :]
    scopes = dict(re.findall(r"(\w+)\s*=>\s*\{.*?scope => '(\w+)'", protos, re.S))
    inherit = re.search(r"for my \$class \(qw\(([^)]*)\)\)\s*\{\s*\$directive_proto", code_pm)
    if inherit is None or "PerSrv" not in scopes or "PerDir" not in scopes:
        raise SystemExit("mod_perl: the directive scopes in Code.pm changed shape")
    for cls in inherit.group(1).split():
        scopes[cls] = scopes["PerSrv"]
    entries = []
    for cls, names in sorted(re.findall(r"(\w+)\s*=>\s*\[qw\(([^)]*)\)\]", handlers.group(1))):
        for h in names.split():
            entries.append(
                f'AP_INIT_ITERATE("Perl{h}Handler", modperl_cmd_{h.lower()}_handlers, NULL, '
                f'{scopes[cls]}, "Subroutine name")'
            )
    return Macro("MP_CMD_ENTRIES", None, ", ".join(entries))


# --- read-time value rules ----------------------------------------------------------------------

# What handlers check beyond the word count, for directives whose values httpd 2.4 refuses
# while it reads the configuration: every keyword or number that a handler of core.c or
# http_core.c refuses, and mod_wsgi's On/Off switches (wsgi_keyword_rules). Each rule names
# its handler's file; generation stops when the file no longer holds each message's text and
# each keyword, so a rule cannot outlive its code.
# Types (interpreted by src/httpdlint/arguments.py):
#   keyword   the word (with "each": every word) is one of `words`, compared as ap_cstr_casecmp;
#   integer   `parse` is how the handler reads the word: "atoi" (C atoi: leading digits, junk
#             is 0, wraps to int), "atol" (long), "strtoff" (apr_strtoff: the whole word,
#             overflow is an error); the value must be within [min, max]; `keywords` are taken
#             instead of a number; "each": every word; without messages httpd refuses nothing
#             and a word that is no number is only a warning (httpd reads it as atoi does);
#   timeout   ap_timeout_parameter_parse: a number and an optional unit (s, ms, mi, h);
#   options, allowoverride, fileetag, loglevel: those handlers' own grammars.
# Messages may hold {name} (the directive as declared) and {arg} (the offending word); `quotes`
# gives, per message, the handler text to look for when the message is not spelled in one piece
# there (an APR_STRINGIFY in the middle, a "%s" format), as (file, text) when another file
# holds it; a quote without a message is evidence of the parsing (atoi) alone.
VALUE_RULES: dict[str, dict[str, Any]] = {}
CORE, HTTP_CORE, LOG = "server/core.c", "modules/http/http_core.c", "server/log.c"
ON_OFF = ["on", "off"]
OPTIONS = ["indexes", "includes", "includesnoexec", "followsymlinks", "symlinksifownermatch",
           "execcgi", "multiviews", "runscripts"]  # fmt: skip


def value_rule(name: str, file: str, type: str, messages: dict[str, str] | None = None,
               quotes: dict[str, Any] | None = None, **facts: Any) -> None:  # fmt: skip
    rule = {"name": name, "file": file, "type": type, "messages": messages or {}}
    VALUE_RULES[name.lower()] = {**rule, "quotes": quotes or {}, **facts}


# fmt: off
for _name, _words, _msg in (
    ("AcceptPathInfo", ["on", "off", "default"],
     "AcceptPathInfo must be set to on, off or default"),
    ("EnableMMAP", ON_OFF, "parameter must be 'on' or 'off'"),
    ("EnableSendfile", ON_OFF, "parameter must be 'on' or 'off'"),
    ("HostnameLookups", ["on", "off", "double"], "parameter must be 'on', 'off', or 'double'"),
    ("UseCanonicalName", ["on", "off", "dns"], "parameter must be 'on', 'off', or 'dns'"),
    ("UseCanonicalPhysicalPort", ON_OFF, "parameter must be 'on' or 'off'"),
    ("ServerSignature", ["on", "off", "email"], "ServerSignature: use one of: off | on | email"),
    ("AllowEncodedSlashes", ["on", "off", "nodecode"], "{name} must be On, Off, or NoDecode"),
    ("TraceEnable", ["on", "off", "extended"],
     "TraceEnable must be one of 'on', 'off', or 'extended'"),
    ("ProtocolsHonorOrder", ON_OFF, "ProtocolsHonorOrder must be 'on' or 'off'"),
    ("ServerTokens", ["os", "min", "minimal", "major", "minor", "prod", "productonly", "full"],
     "ServerTokens takes 1 argument: 'Prod(uctOnly)', 'Major', 'Minor', 'Min(imal)', 'OS', "
     "or 'Full'"),
):
    value_rule(_name, CORE, "keyword", {"bad": _msg}, words=_words)
value_rule(
    "HttpProtocolOptions", CORE, "keyword", each=True,
    words=["allow0.9", "require1.0", "strict", "unsafe", "registeredmethods", "lenientmethods"],
    messages={"bad": "HttpProtocolOptions accepts 'Unsafe' or 'Strict' (default), "
              "'RegisteredMethods' or 'LenientMethods' (default), and 'Require1.0' or "
              "'Allow0.9' (default)"},
)
value_rule("Options", CORE, "options", words=OPTIONS, messages={
    "mix": "Either all Options must start with + or -, or no Option may.",
    "none_first": "'Options None' must be the first Option given.",
    "none_sign": "You may not use 'Options +None' or 'Options -None'.",
    "all_first": "'Options All' must be the first option given.",
    "all_sign": "You may not use 'Options +All' or 'Options -All'.",
    "illegal": "Illegal option {arg}",
})
# set_override; "Options=" lists go through set_allow_opts, whose refusal httpd 2.4.71 reports
# (in the 2.4.x snapshot read here set_override still drops it, unchecked).
value_rule(
    "AllowOverride", CORE, "allowoverride",
    words=["limit", "options", "fileinfo", "authconfig", "indexes", "nonfatal", "none", "all"],
    option_words=[*OPTIONS, "none", "all"],
    messages={"illegal": "Illegal override option {arg}", "option": "Illegal option {arg}",
              "nonfatal": "=Override, =Unknown or =All expected after {arg}"},
)
value_rule(
    "FileETag", CORE, "fileetag",
    words=["none", "all", "size", "lmtime", "mtime", "lastmodified", "inode", "digest"],
    unsigned=["none", "all"],
    messages={"unknown": "Unknown keyword '{arg}' for {name} directive",
              "signed": "{name} keyword '{arg}' cannot be used with '+' or '-'"},
)
# The module half of "core:info" needs the loaded modules ("Cannot find module"): a pure check
# cannot know them, so only the level is checked, and that an empty module name is none.
value_rule(
    "LogLevel", LOG, "loglevel",
    words=["emerg", "alert", "crit", "error", "warn", "notice", "info", "debug",
           *(f"trace{i}" for i in range(1, 9))],
    messages={
        "level": "Log level keyword must be one of emerg/alert/crit/error/warn/notice/info/"
                 "debug/trace1/.../trace8",
        "no_level": "Module specifier '{arg}' must be followed by a log level keyword",
        "no_module": "Cannot find module {arg}",
    },
    quotes={"no_level": (CORE, "must be followed by a log level keyword"),
            "no_module": (CORE, "Cannot find module ")},
)
for _name, _tail in (("LimitRequestLine", ""), ("LimitRequestFieldsize", ""),
                     ("LimitRequestFields", " (0 = no limit)")):
    value_rule(_name, CORE, "integer", parse="atoi", min=0,
               messages={"bad": f'{_name} "{{arg}}" must be a non-negative integer{_tail}'})
value_rule("LimitRequestBody", CORE, "integer", parse="strtoff", min=0,
           messages={"bad": "LimitRequestBody requires a non-negative integer.",
                     "overflow": "LimitRequestBody argument is not parsable."})
# AP_MAX_LIMIT_XML_BODY is APR_SIZE_MAX / 6 - 1: its value on a 64-bit build.
value_rule("LimitXMLRequestBody", CORE, "integer", parse="atol", min=0, max=3074457345618258601,
           messages={"bad": "LimitXMLRequestBody requires a non-negative integer.",
                     "above": "LimitXMLRequestBody must not exceed 3074457345618258601"},
           quotes={"above": "LimitXMLRequestBody must not exceed "})
for _name in ("MaxRanges", "MaxRangeOverlaps", "MaxRangeReversals"):
    value_rule(_name, CORE, "integer", parse="atoi", min=1,
               keywords=["none", "default", "unlimited"],
               messages={"bad": f"{_name} requires 'none', 'default', 'unlimited' or a "
                                "positive integer"})
value_rule("LimitInternalRecursion", CORE, "integer", parse="atoi", min=1, each=True,
           messages={"bad": "The recursion limit must be greater than zero."})
# The bound is APR_STRINGIFY of APR's macro, spelled as the installed libapr spells it.
for _name, _lo, _hi, _text in (
    ("ReadBufferSize", 0, 4294967295, "0 and (4294967295U))"),
    ("FlushMaxThreshold", 0, 4294967295, "0 and (4294967295U))"),
    ("FlushMaxPipelined", -1, 2147483647, "-1 and (2147483647)"),
):
    _msg = f"parameter must be a number between {_text}: {{arg}}"
    _quote = f"parameter must be a number between {_text.split()[0]} and "
    value_rule(_name, CORE, "integer", parse="strtoff", min=_lo, max=_hi,
               messages={"bad": _msg, "overflow": _msg},
               quotes={"bad": _quote, "overflow": _quote})
value_rule("KeepAliveTimeout", HTTP_CORE, "timeout",
           messages={"bad": "KeepAliveTimeout has wrong format"})
# Read with atoi and never refused: "Timeout 30s" is 30, "Timeout abc" is 0 (a warning).
value_rule("Timeout", CORE, "integer", parse="atoi",
           quotes={"atoi": "apr_time_from_sec(atoi(arg))"})
value_rule("MaxKeepAliveRequests", HTTP_CORE, "integer", parse="atoi",
           quotes={"atoi": "keep_alive_max = atoi(arg)"})
# fmt: on

WSGI = "src/server/mod_wsgi.c"


def wsgi_keyword_rules(tree: Tree) -> None:
    """mod_wsgi's switches are TAKE1 directives whose handlers all refuse the same way
    (`return "WSGIRestrictStdin must be one of: Off | On";`): one keyword rule each."""
    text = tree.read(WSGI)
    found = set(re.findall(r'return "(WSGI\w+) must be one of: ((?:\w+ \| )+\w+)";', text))
    for name, choices in sorted(found):
        words = [w.lower() for w in choices.split(" | ")]
        value_rule(name, WSGI, "keyword", {"bad": f"{name} must be one of: {choices}"},
                   words=words, source="mod_wsgi")  # fmt: skip


# Sections (RAW_ARGS directives named "<..."): each handler refuses a line without '>'
# (`close`) and reads only the text before the last '>'; what it needs there differs: text
# (anything), word (a first word, after a "!"), words2 (two words), empty (nothing), or nothing
# checked (null), and `message` is its refusal.
SECTION_RULES: dict[str, dict[str, Any]] = {}
NEEDS_ARGS = "{name}> directive requires additional arguments"
CLOSE = "{name}> directive missing closing '>'"


def section_rule(name: str, file: str, need: str | None, message: str | None = None,
                 close: str = CLOSE) -> None:  # fmt: skip
    SECTION_RULES[name.lower()] = {"name": name, "file": file, "need": need, "message": message,
                                   "close": close}  # fmt: skip


# fmt: off
for _name in ("<Directory", "<DirectoryMatch", "<Location", "<LocationMatch", "<Files",
              "<FilesMatch", "<VirtualHost", "<Limit", "<LimitExcept", "<If", "<ElseIf"):
    section_rule(_name, CORE, "text", NEEDS_ARGS)
for _name in ("<IfModule", "<IfDefine", "<IfFile", "<IfDirective", "<IfSection"):
    section_rule(_name, CORE, "word", NEEDS_ARGS)
section_rule("<Else", CORE, "empty", "<Else> does not take an argument")
for _name in ("<RequireAll", "<RequireAny", "<RequireNone", "<RequireNotAll"):
    section_rule(_name, "modules/aaa/mod_authz_core.c", "empty",
                 "{name}> directive doesn't take additional arguments")
section_rule("<AuthzProviderAlias", "modules/aaa/mod_authz_core.c", "words2", NEEDS_ARGS)
section_rule("<AuthnProviderAlias", "modules/aaa/mod_authn_core.c", "words2", NEEDS_ARGS)
section_rule("<Macro", "modules/core/mod_macro.c", "text", "{name} macro definition: empty name")
# proxysection's "block must specify a path" cannot fire: it tests the pointer, not the text.
for _name in ("<Proxy", "<ProxyMatch"):
    section_rule(_name, "modules/proxy/mod_proxy.c", None)
# One handler for both, whose messages name MD_CMD_MD_SECTION ("<MDomainSet") either way.
for _name in ("<MDomain", "<MDomainSet"):
    section_rule(_name, "modules/md/mod_md_config.c", "text",
                 "<MDomainSet > section must specify a unique domain name",
                 close="<MDomainSet> directive missing closing '>'")
# fmt: on


def _literals(source: str) -> list[str]:
    """The string literals of C source, adjacent ones joined (string macros such as mod_md's
    MD_CMD_MD_SECTION spelled out first), escapes resolved."""
    code = strip_comments(source)
    defines = dict(re.findall(r'^\s*#\s*define\s+(\w+)\s+("(?:\\.|[^"\\\n])*")\s*$', code, re.M))
    code = re.sub(r"^\s*#.*$", "", code, flags=re.M)
    if defines:
        code = re.sub(r"\b(" + "|".join(defines) + r")\b", lambda m: defines[m.group(1)], code)
    out = []
    for run in re.findall(r'(?:"(?:\\.|[^"\\\n])*"\s*)+', code):
        parts = re.findall(r'"(?:\\.|[^"\\])*"', run)
        out.append("".join(json.loads(lit) for lit in parts if _json_safe(lit)))
    return out


def _json_safe(lit: str) -> bool:
    try:
        json.loads(lit)
    except ValueError:
        return False
    return True


def _fixed_pieces(message: str) -> list[str]:
    return [p for p in re.split(r"\{name\}|\{arg\}", message) if p.strip()]


def check_rules(trees: dict[str, Tree]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The value and section rules, each found in its handler's source (or generation stops)."""
    cache: dict[tuple[str, str], tuple[str, list[str]]] = {}
    tree = trees["httpd"]

    def source(file: str) -> tuple[str, list[str]]:
        if (tree.source.key, file) not in cache:
            text = tree.read(file)
            cache[tree.source.key, file] = (text, _literals(text))
        return cache[tree.source.key, file]

    def find(name: str, file: str, text: str) -> None:
        code, literals = source(file)
        if text not in code and not any(text in lit for lit in literals):
            raise SystemExit(f"rule {name}: {file} lacks {text!r}")

    for how, facts in sorted(KINDS.items()):
        if facts["message"]:
            find(how, "server/config.c", f" {facts['message']}")
    wsgi_keyword_rules(trees["mod_wsgi"])
    values = {}
    for key, rule in sorted(VALUE_RULES.items()):
        tree = trees[rule.get("source", "httpd")]
        quotes = rule["quotes"]
        for mkey in sorted(set(rule["messages"]) | set(quotes)):
            quote = quotes.get(mkey) or max(_fixed_pieces(rule["messages"][mkey]), key=len)
            file, text = quote if isinstance(quote, tuple) else (rule["file"], quote)
            find(rule["name"], file, text)
        # Keywords are compared without case, as the handlers compare them.
        lowered = source(rule["file"])[0].lower()
        words = rule.get("words", []) + rule.get("keywords", []) + rule.get("option_words", [])
        missing = [w for w in words if f'"{w}"' not in lowered]
        if missing:
            raise SystemExit(f"rule {rule['name']}: {rule['file']} lacks the keywords {missing}")
        values[key] = {k: v for k, v in rule.items() if k != "quotes" and v not in (None, {})}
        values[key]["versions"] = list(tree.source.applies_to)
    tree = trees["httpd"]
    sections = {}
    for key, rule in sorted(SECTION_RULES.items()):
        for message in (rule["close"], rule["message"]):
            if message:
                find(rule["name"], rule["file"], max(_fixed_pieces(message), key=len))
        sections[key] = {k: v for k, v in rule.items() if v is not None}
        sections[key]["versions"] = ["2.4"]
    return values, sections


# --- building the table ------------------------------------------------------------------------


def init_kinds(header: str) -> dict[str, str]:
    """AP_INIT_X -> the cmd_how its initializer stores, from include/http_config.h. Not always
    X: AP_INIT_NO_ARGS stores RAW_ARGS, so invoke_cmd never refuses its arguments."""
    found: dict[str, str] = {}
    pattern = (
        r"define AP_INIT_(\w+)\(directive, func, mconfig, where, help\)"
        r"\s*\\\s*\{[^}]*?(\w+), help \}"
    )
    for macro, how in re.findall(pattern, header):
        if found.setdefault(macro, how) != how:
            raise SystemExit(f"http_config.h: AP_INIT_{macro} stores both {found[macro]} and {how}")
    if set(found) != set(KINDS) or not set(found.values()) <= set(KINDS):
        raise SystemExit(f"http_config.h: unexpected AP_INIT_ macros {sorted(found)}")
    return found


def extract(tree: Tree, how: dict[str, str]) -> list[dict[str, Any]]:
    """Every command declaration of one source; `how` maps AP_INIT_ macros to cmd_how."""
    files = tree.files()
    parsed = {f: preprocess(f, tree.read(f)) for f in files if not f.endswith(".pm")}
    shared: dict[str, Macro] = {}
    for f, cf in parsed.items():
        if f.endswith(".h"):
            for name, macro in cf.macros.items():
                if not name.startswith("AP_INIT_"):
                    shared.setdefault(name, macro)
    if tree.source.key == "mod_perl":
        shared["MP_CMD_ENTRIES"] = mod_perl_entries(tree.read("lib/ModPerl/Code.pm"))
    # A table belongs to the module struct of its own file; else (h2_config.c's h2_cmds, named
    # by mod_http2.c) to the one module struct anywhere that names it.
    local = {f: module_tables(cf) for f, cf in parsed.items()}
    anywhere: dict[str, set[str]] = {}
    for tables in local.values():
        for table, module in tables.items():
            anywhere.setdefault(table, set()).add(module)
    entries = []
    for f, cf in parsed.items():
        macros = {**shared, **{k: v for k, v in cf.macros.items() if not k.startswith("AP_INIT_")}}
        for table, offset, text in table_entries(cf, macros):
            cond = cf.condition_at(offset)
            if cond is False:
                continue
            m = _INIT.match(text)
            if m is None:
                raise SystemExit(f"{f}: not an AP_INIT_ entry: {text[:60]!r}")
            declared = m.group(1)
            if declared not in how:
                raise SystemExit(f"{f}: unknown kind AP_INIT_{declared}")
            kind = how[declared]
            args = split_top(text[m.end() : -1])
            if len(args) != 5:
                raise SystemExit(f"{f}: AP_INIT_{declared} with {len(args)} arguments: {text!r}")
            name = c_string(args[0], macros)
            if name is None:
                continue  # a table's terminator written as AP_INIT_TAKE1(NULL, ...)
            module = local[f].get(table)
            if module is None and len(anywhere.get(table, ())) == 1:
                module = next(iter(anywhere[table]))
            module = module or tree.source.module
            if module is None:
                raise SystemExit(f"{f}: no single module struct names the table {table}")
            try:
                help_text = c_string(args[4], macros)
            except NotLiteral:
                help_text = None
                print(f"{f}: {name}: help is not a literal: {args[4]}", file=sys.stderr)
            entries.append(
                {
                    "name": name,
                    "kind": kind,
                    **({"declared": declared} if declared != kind else {}),
                    "help": help_text,
                    "override": override_bits(args[3], macros),
                    "module": module,
                    "source": tree.source.key,
                    "file": f,
                    "when": cond,
                }
            )
    return entries


def merge(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One declaration per (module, name, facts): the #if branches that declare a directive the
    same way (core.c's RLimitCPU with and without RLIMIT_CPU) are one declaration, unconditional
    when the branches together cover every build."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for e in entries:
        key = (e["name"].lower(), e["module"], e["kind"], e["help"], tuple(e["override"]))
        groups.setdefault(key, []).append(e)
    out = []
    for group in groups.values():
        first = dict(group[0])
        conds = sorted({e["when"] or "" for e in group})
        if len(conds) == 1:
            first["when"] = conds[0] or None
        elif "" in conds or _complementary(conds):
            first["when"] = None
        else:
            first["when"] = " || ".join(f"({c})" for c in conds)
        out.append(first)
    return out


def _complementary(conds: list[str]) -> bool:
    return len(conds) == 2 and (_negate(conds[0]) == conds[1] or _negate(conds[1]) == conds[0])


def build(roots: list[Path]) -> dict[str, Any]:
    trees = {s.key: Tree(s, roots) for s in SOURCES}
    how = init_kinds(trees["httpd"].read("include/http_config.h"))
    if init_kinds(trees["httpd-2.2"].read("include/http_config.h")) != how:
        raise SystemExit("httpd 2.2 and 2.4 store different cmd_how for an AP_INIT_ macro")
    directives: dict[str, list[dict[str, Any]]] = {}
    sources = {}
    for key, tree in trees.items():
        s = tree.source
        found = merge(extract(tree, how))
        sources[key] = {
            "repo": s.repo,
            "ref": s.ref or None,
            "commit": tree.commit,
            "version": s.version(tree.read),
            "applies_to": list(s.applies_to),
            "declarations": len(found),
        }
        if s.note:
            sources[key]["note"] = s.note
        for e in found:
            e["versions"] = list(s.applies_to)
            directives.setdefault(e["name"].lower(), []).append(e)
    for key, decls in directives.items():
        directives[key] = fold_versions(decls)
    values, sections = check_rules(trees)
    return {
        "generated_by": "scripts/gen_arguments.py",
        "sources": sources,
        "kinds": KINDS,
        "values": values,
        "sections": sections,
        "directives": directives,
    }


def fold_versions(decls: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Declarations of 2.2 and 2.4 that agree except for their file become one for both (which
    keeps 2.4's file and source: httpd 2.4 is read first)."""
    out: list[dict[str, Any]] = []
    for d in decls:
        same = [
            o
            for o in out
            if all(o[k] == d[k] for k in ("name", "module", "kind", "help", "override", "when"))
        ]
        if same:
            same[0]["versions"] = sorted(set(same[0]["versions"]) | set(d["versions"]))
        else:
            out.append(d)
    return sorted(
        out, key=lambda d: (d["versions"][-1] != "2.4", d["module"], d["kind"], d["file"])
    )


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def render(table: dict[str, Any]) -> str:
    """Sorted JSON, one directive per line, so regenerations diff line by line."""
    parts = []
    for key in sorted(table):
        value = table[key]
        if key in ("directives", "values", "sections", "sources"):
            rows = ",\n".join(f"{dumps(k)}:{dumps(value[k])}" for k in sorted(value))
            parts.append(f"{dumps(key)}:{{\n{rows}\n}}")
        else:
            parts.append(f"{dumps(key)}:{dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sources", nargs="+", type=Path)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    table = build(args.sources)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(table), encoding="utf-8", newline="\n")
    for key, s in table["sources"].items():
        print(
            f"{key} {s['version']} ({s['commit'][:12]}): {s['declarations']} declarations",
            file=sys.stderr,
        )
    print(f"wrote {args.output}: {len(table['directives'])} directives", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
