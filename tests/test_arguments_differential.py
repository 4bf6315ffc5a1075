"""httpdlint.arguments against the real apache2: generated cases over the whole argument table.

Every directive the table declares for a module installed here, and the installed httpd knows
(`apache2 -L` with every module of /usr/lib/apache2/modules loaded, once per MPM), gets cases
generated from its kind: argument counts below, at and above its bounds; for FLAG, keyword and
numeric directives, good and bad values; for sections, lines without '>', with nothing or with
text after it. Each case is a minimal tree (the directive's module and what that depends on,
the directive where it is allowed) checked with `apache2 -t`: httpd must refuse it exactly when
`problems()` reports an error, with the same message, at the directive's line.

Handlers check more than the count, so the words of an at-bound case are the first of the
directive's SAMPLES and the generic CANDIDATES that httpd accepts; counts out of bounds are
refused before any handler runs, so any words do there. EXCLUDED lists, with the reason, the
directives whose handlers refuse every value a case could give: only their out-of-bounds counts
are checked. Directives of modules not installed here, those this build does not compile, and
those the installed httpd has but the table lacks (newer than the source) are printed as not
verified.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from httpdlint.arguments import Entry, declarations, load, problems

pytestmark = pytest.mark.apache

MODS_AVAILABLE = Path("/etc/apache2/mods-available")
WORKERS = max(2, min(4, os.cpu_count() or 2))
ENV = {"PATH": "/usr/sbin:/usr/bin:/bin", "LANG": "C"}
MPMS = ("prefork", "event", "worker")

# Words tried, in order, for an at-bound case (repeated to the count needed).
CANDIDATES = ("On", "1", "/tmp", "x", "none", "Off", "text/html", "localhost", "default")

# fmt: off
# Argument texts handlers accept, tried before CANDIDATES. {file}: a non-empty file of comment
# lines; {pl}: a Perl file; {lua}: a Lua file; {so}: a module file; "@place ": the case stands
# in that context (see Runner.tree) instead of the directive's usual one.
SAMPLES: dict[str, tuple[str, ...]] = {
    "<ifversion": ("2.4>", ">= 2.4 >"),
    "action": ("x /cgi-bin/x", "x /cgi-bin/x virtual"),
    "addoutputfilterbytype": ("DEFLATE text/html",),
    "alias": ("/a /tmp", "@location /tmp"),
    "allow": ("from all", "from 127.0.0.1 10.0.0.1 ::1"),
    "allowmethods": ("GET", "GET POST"),
    "authbasicprovider": ("file", "file file file"),
    "authbasicusedigestalgorithm": ("MD5",),
    "authdigestalgorithm": ("MD5",),
    "authdigestprovider": ("file", "file file file"),
    "authdigestqop": ("auth", "auth auth auth"),
    "authdigestshmemsize": ("1000",),
    "authformprovider": ("file", "file file file"),
    "authldapurl": ("ldap://localhost/dc=x", "ldap://localhost/dc=x NONE"),
    "authmerging": ("Off",),
    "authncachesocache": ("shmcb",),
    "authnzfcgidefineprovider": ("authn p fcgi://localhost:1/",),
    "balancermember": ("balancer://b http://localhost/", "balancer://b http://localhost/ retry=1"),
    "brotlialteretag": ("NoChange",),
    "brotlicompressionmaxinputblock": ("16",),
    "brotlicompressionwindow": ("10",),
    "brotlifilternote": ("x", "Ratio x"),
    "browsermatch": ("x y", "x y z"),
    "browsermatchnocase": ("x y",),
    "cacheenable": ("disk /", "@location disk"),
    "cachekeybaseurl": ("http://localhost/",),
    "cachesocache": ("shmcb",),
    "cachesocachemaxsize": ("1024",),
    "cgivar": ("REQUEST_URI current-uri",),
    "charsetoptions": ("NoImplicitAdd", "NoImplicitAdd NoImplicitAdd NoImplicitAdd"),
    "cookiedomain": (".example.com",),
    "cookiestyle": ("Netscape",),
    "customlog": ("{file} common", "{file} common env=x"),
    "dav": ("On",),
    "dbdriver": ("sqlite3",),
    "deflatealteretag": ("NoChange",),
    "deflatefilternote": ("x", "Input x"),
    "deny": ("from all", "from 127.0.0.1 10.0.0.1 ::1"),
    "errordocument": ("404 /x",),
    "errorlogformat": ("%M", "connection %a"),
    "expiresbytype": ("text/html A1",),
    "extfilteroptions": ("LogStderr", "LogStderr LogStderr LogStderr"),
    "filterprotocol": ("@filter f change=yes", "@filter f DEFLATE change=yes"),
    "filterprovider": ("f DEFLATE true",),
    "filtertrace": ("@filter f 1",),
    "globallog": ("{file} common", "{file} common env=x"),
    "group": ("www-data",),
    "h2pushpriority": ("text/css", "text/css After 1"),
    "h2pushresource": ("/x", "add /x critical"),
    "h2streammaxmemsize": ("1024",),
    "h2windowsize": ("1024",),
    "header": ("unset X", "set X y", "set X y env=z", "always set X y early"),
    "heartbeataddress": ("239.0.0.1:27999",),
    "heartbeatlisten": ("239.0.0.1:27999",),
    "httpprotocoloptions": ("Strict", "Strict LenientMethods Allow0.9"),
    "include": ("{file}",),
    "includeoptional": ("{file}",),
    "indexorderdefault": ("Ascending Name",),
    "ldaptrustedclientcert": ("CA_BASE64 {file}", "CA_BASE64 {file} pw"),
    "ldaptrustedglobalcert": ("CA_BASE64 {file}", "CA_BASE64 {file} pw"),
    "loadfile": ("{so}", "{so} {so} {so}"),
    "loadmodule": ("mime_module {so}",),
    "loglevel": ("info", "info core:debug core:info"),
    "logmessage": ("x", "x hook=fixups expr=true"),
    "luacodecache": ("stat",),
    "luahookaccesschecker": ("{lua} handle", "{lua} handle early"),
    "luahookauthchecker": ("{lua} handle", "{lua} handle early"),
    "luahooktranslatename": ("{lua} handle", "{lua} handle early"),
    "luascope": ("once", "server 1 2"),
    "mdcertificateauthority": ("letsencrypt",),
    "mddrivemode": ("auto",),
    "mdhttpproxy": ("http://localhost:1",),
    "mdmatchnames": ("all",),
    "mdmember": ("auto",),
    "mdmembers": ("auto",),
    "mdportmap": ("80:80", "80:80 443:443"),
    "mdrenewmode": ("auto",),
    "mdrequirehttps": ("temporary",),
    "modemstandard": ("V.92",),
    "multiviewsmatch": ("Any", "Handlers Filters Handlers"),
    "mutex": ("default",),
    "order": ("allow,deny",),
    "perlconfigrequire": ("{pl}", "{pl} {pl} {pl}"),
    "perlmodule": ("strict",),
    "perloptions": ("+ParseHeaders", "+ParseHeaders +GlobalRequest +SetupEnv"),
    "perlpostconfigrequire": ("{pl}",),
    "perlrequire": ("{pl}",),
    "proxybadheader": ("IsError",),
    "proxydomain": (".example.com",),
    "proxyfcgibackendtype": ("GENERIC",),
    "proxyfcgisetenvif": ("true X", "true X y"),
    "proxyhcexpr": ("e {true}",),
    "proxypass": ("/a http://localhost/", "/a http://localhost/ retry=1"),
    "proxypassmatch": ("^/a http://localhost/",),
    "proxypassreverse": ("/a http://localhost/", "/a http://localhost/ interpolate",
                         "@location http://localhost/"),
    "proxyremote": ("* http://localhost:1", "* http://localhost:1 Zm9vOmJhcg=="),
    "proxyremotematch": ("x http://localhost:1", "x http://localhost:1 Zm9vOmJhcg=="),
    "proxyset": ("@worker http://localhost/ retry=1",),
    "redirect": ("/a", "/a http://localhost/", "permanent /a http://localhost/"),
    "redirectmatch": ("^/a", "^/a http://localhost/", "permanent ^/a http://localhost/"),
    "remoteipinternalproxylist": ("{file}",),
    "remoteiptrustedproxylist": ("{file}",),
    "requestheader": ("unset X", "set X y", "set X y env=z"),
    "requestreadtimeout": ("header=20",),
    "require": ("all granted",),
    "rewritebase": ("/",),
    "rewritecond": ("x y", "x y [NC]"),
    "rewriteoptions": ("Inherit", "Inherit AllowNoSlash AllowAnyURI"),
    "rewriterule": ("x y", "x y [L]"),
    "satisfy": ("all",),
    "scriptalias": ("/a /tmp", "@location /tmp"),
    "serveralias": ("localhost",),
    "servertokens": ("Prod",),
    "sessioncryptopassphrasefile": ("{file}",),
    "setenvif": ("x y z",),
    "setenvifexpr": ("true x",),
    "setenvifnocase": ("x y z",),
    "sslcacertificatefile": ("{file}",),
    "sslcadnrequestfile": ("{file}",),
    "sslcarevocationfile": ("{file}",),
    "sslcertificatechainfile": ("{file}",),
    "sslcertificatefile": ("{file}",),
    "sslcertificatekeyfile": ("{file}",),
    "sslciphersuite": ("HIGH", "SSL HIGH"),
    "sslcryptodevice": ("builtin",),
    "sslocsprespondercertificatefile": ("{file}",),
    "sslopensslconfcmd": ("Options -SessionTicket",),
    "ssloptions": ("+StdEnvVars",),
    "sslpassphrasedialog": ("builtin",),
    "sslprotocol": ("TLSv1.2",),
    "sslproxycacertificatefile": ("{file}",),
    "sslproxycarevocationfile": ("{file}",),
    "sslproxyciphersuite": ("HIGH", "SSL HIGH"),
    "sslproxymachinecertificatechainfile": ("{file}",),
    "sslproxymachinecertificatefile": ("{file}",),
    "sslproxyprotocol": ("TLSv1.2",),
    "sslrandomseed": ("startup builtin", "startup file:{file} 16"),
    "sslrequire": ("true",),
    "sslsessionticketkeyfile": ("{file}",),
    "sslsrpverifierfile": ("{file}",),
    "sslstaplingcache": ("shmcb",),
    "substitute": ("s/a/b/",),
    "undefmacro": ("m",),
    "use": ("m",),
    "user": ("www-data",),
    "wsgiacceptmutex": ("default",),
    "wsgihandlerscript": ("x {file}",),
    "wsgiimportscript": ("{file} process-group=%{GLOBAL} application-group=%{GLOBAL}",),
    "wsgiscriptalias": ("/a {file}",),
    "wsgiscriptaliasmatch": ("^/a {file}",),
    "xml2encdefault": ("utf-8",),
}

# Where a directive stands when server level is not it (its handler checks the context).
PLACES = {
    "serveralias": "vhost", "rewritebase": "dir", "use": "macro", "undefmacro": "macro",
    "mdcertificatefile": "mdomainset", "mdcertificatekeyfile": "mdomainset",
    "perlmodule": "top", "perlrequire": "top", "balancermember": "top",
    "<limit": "dir", "<limitexcept": "dir", "<elseif": "after_if", "<else": "after_if",
    "<requireall": "dir", "<requireany": "dir", "<requirenone": "requireall",
}

# Dependencies the Debian .load files do not declare.
DEPENDS = {"dav_lock_module": ["dav_module"]}

# Modules a sample needs besides the directive's own (the providers it names).
EXTRA_MODULES = {
    "authbasicprovider": ("authn_file_module",), "authdigestprovider": ("authn_file_module",),
    "authformprovider": ("authn_file_module",), "<authnprovideralias": ("authn_file_module",),
    "<authzprovideralias": ("authz_host_module",), "cacheenable": ("cache_disk_module",),
    "authncachesocache": ("socache_shmcb_module",), "cachesocache": ("socache_shmcb_module",),
    "sslstaplingcache": ("socache_shmcb_module",), "addoutputfilterbytype": ("deflate_module",),
    "filterprovider": ("deflate_module",), "filterprotocol": ("deflate_module",),
    "filtertrace": ("deflate_module",),
}

# Directives whose handlers refuse every value a case could give: only counts are checked.
EXCLUDED = {
    "error": "Error refuses every line: that is what it is for",
    "port": "its handler refuses every line (Port was replaced with Listen in 2.0)",
    "fancyindexing": "its handler refuses every line (no longer supported)",
    "ssllog": "its handler refuses every line (no longer supported)",
    "sslloglevel": "its handler refuses every line (no longer supported)",
    "luahookinsertfilter": "its handler refuses every line (not yet implemented)",
    "suexecusergroup": "its handler refuses every line without the suexec binary (not installed)",
    "suexec": "a FLAG whose handler refuses On without the suexec binary (not installed)",
    "sslcompression": "a FLAG whose handler refuses On: this OpenSSL has no compression",
    "lua_____bytecodehack": "mod_lua's internal marker for compiled <LuaHook...> blocks",
    "=pod": "mod_perl's POD markers read the lines after them, not arguments",
    "=back": "mod_perl's POD markers read the lines after them, not arguments",
    "=cut": "mod_perl's POD markers read the lines after them, not arguments",
    "__end__": "mod_perl's __END__ ends the configuration file",
    "<perl": "a <Perl> section holds Perl code that mod_perl runs",
}

# Sections: an argument text httpd accepts, and what the body needs.
LUA_HOOKS = ("accesschecker", "authchecker", "checkuserid", "fixups", "maptostorage",
             "pretranslatename", "translatename", "typechecker")
SECTION_SAMPLES = {
    "<directory": "/tmp", "<directorymatch": "^/tmp", "<location": "/a", "<locationmatch": "^/a",
    "<files": "a", "<filesmatch": "^a", "<virtualhost": "*:80", "<limit": "GET",
    "<limitexcept": "GET", "<if": "true", "<elseif": "true", "<else": "", "<ifmodule": "core.c",
    "<ifdefine": "X", "<iffile": "/tmp", "<ifdirective": "Listen", "<ifsection": "Directory",
    "<requireall": "", "<requireany": "", "<requirenone": "", "<macro": "m",
    "<authzprovideralias": "host a localhost", "<authnprovideralias": "file a",
    "<proxy": "http://localhost/", "<proxymatch": "^http://localhost/",
    "<mdomain": "example.com", "<mdomainset": "example.com", "<luaquickhandler": "f",
    **{f"<luahook{hook}": "f" for hook in LUA_HOOKS},
}
SECTION_BODIES = {
    "<requireall": ["Require all granted"], "<requireany": ["Require all granted"],
    "<requirenone": ["Require all denied"],
}

# Values for FLAG directives and for the value rules (by rule type).
FLAG_VALUES = ("on", "OFF", "maybe", '""', "On extra words")
INTEGER_VALUES = ("0", "1", "-1", "5", "abc", "12abc", " 7", "2147483648", "4294967295",
                  "99999999999999999999", "3074457345618258602")
TIMEOUT_VALUES = ("5", "5s", "5ms", "5mi", "5h", "5hx", "5x", "-1", "abc", "99999999999999999999")
SPECIAL_VALUES = {
    "options": (
        "", "None", "All", "Indexes FollowSymLinks", "+Indexes -MultiViews", "+Indexes Includes",
        "Indexes +Includes", "None +Indexes", "+None", "-All", "Indexes None", "Indexes All",
        "Bogus", "+", '""', "RunScripts IncludesNOEXEC SymLinksIfOwnerMatch ExecCGI",
    ),
    "allowoverride": (
        "", "None", "All", "AuthConfig FileInfo Indexes Limit Options",
        "Options=Indexes,MultiViews", "Options=Indexes,php_value", "Options=", "Options=,,Indexes",
        "php_value", "Nonfatal", "Nonfatal=Override", "Nonfatal=Bogus", "Limit=x", "FileInfo=x",
        '""', "All Options=Bogus",
    ),
    "fileetag": (
        "", "None", "All", "INode MTime Size", "+Size -INode", "+None", "-All", "Bogus", "Digest",
        "LastModified LMTime", "+", '""',
    ),
    "loglevel": (
        "info", "trace8", "bogus", "info core:debug", "core:bogus", "core:", "info bogus",
        "INFO", ":info",
    ),
}
# fmt: on


# --- the installed server ----------------------------------------------------------------------


@dataclass
class Server:
    """The apache2 binary, its modules (compiled in and shared) and the directives it knows."""

    binary: str
    root: Path
    static: set[str] = field(default_factory=set)
    shared: dict[str, Path] = field(default_factory=dict)
    depends: dict[str, list[str]] = field(default_factory=dict)
    known: dict[str, set[str]] = field(default_factory=dict)  # name -> module source files
    spelled: dict[str, str] = field(default_factory=dict)
    runs: int = 0

    def installed(self, module: str) -> bool:
        return module in self.static or module in self.shared

    def load_lines(self, modules: list[str], mpm: str) -> list[str]:
        """LoadModule lines for an MPM and the modules, each after what it depends on."""
        order: list[str] = []

        def visit(module: str) -> None:
            for dep in self.depends.get(module, []):
                visit(dep)
            if module not in order and module not in self.static:
                order.append(module)

        for module in [f"mpm_{mpm}_module", *modules]:
            visit(module)
        return [f"LoadModule {m} {self.shared[m]}" for m in order]

    def run(self, args: list[str]) -> tuple[int, str]:
        proc = subprocess.run(
            [self.binary, *args], capture_output=True, text=True, errors="surrogateescape",
            env=ENV, timeout=60,
        )  # fmt: skip
        self.runs += 1
        return proc.returncode, proc.stderr + proc.stdout


def header(root: Path) -> list[str]:
    return ["ServerName localhost", f"ErrorLog {root}/error.log", f"PidFile {root}/httpd.pid"]


def find_server(binary: str, modules_dir: Path, root: Path) -> Server:
    server = Server(binary, root)
    listing = subprocess.run([binary, "-l"], capture_output=True, text=True, env=ENV).stdout
    for src in re.findall(r"^\s+(\S+)\.c$", listing, re.M):
        special = {"core": "core_module", "http_core": "http_module"}
        server.static.add(special.get(src) or src.removeprefix("mod_") + "_module")
    by_load: dict[str, str] = {}
    for dot_load in sorted(MODS_AVAILABLE.glob("*.load")):
        text = dot_load.read_text()
        m = re.search(r"^\s*LoadModule\s+(\S+)\s+(\S+)", text, re.M)
        if m is None:
            continue
        by_load[dot_load.stem] = m.group(1)
        server.shared[m.group(1)] = Path(m.group(2))
        dep = re.search(r"#\s*Depends:\s*(.*)", text)
        server.depends[m.group(1)] = dep.group(1).split() if dep else []
    for ident, deps in server.depends.items():
        # An MPM dependency (mod_php's prefork) is the case's MPM, chosen per directive.
        wanted = [by_load[d] for d in deps if not d.startswith("mpm_")]
        server.depends[ident] = wanted + DEPENDS.get(ident, [])
    for so in sorted(modules_dir.glob("*.so")):
        if so not in server.shared.values():
            server.shared[so.stem.removeprefix("mod_") + "_module"] = so
    for mpm in MPMS:
        mods = [m for m in sorted(server.shared) if not m.startswith("mpm_")]
        if mpm != "prefork" and "php_module" in mods:
            mods.remove("php_module")  # libphp refuses a threaded MPM
        conf = root / f"all-{mpm}.conf"
        conf.write_text("\n".join(header(root) + server.load_lines(mods, mpm)) + "\n")
        _, out = server.run(["-L", "-d", str(root), "-f", str(conf)])
        for name, source in re.findall(r"^(\S+) \((\S+)\)$", out, re.M):
            server.known.setdefault(name.lower(), set()).add(source)
            server.spelled[name.lower()] = name
    assert len(server.known) > 500, f"apache2 -L listed too few directives:\n{out}"
    return server


# --- cases -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    decl: Entry
    args: str
    what: str  # at, count, value, section


@dataclass
class Result:
    case: Case
    line: int
    refused: tuple[int, str] | None  # httpd's (line, message)
    expected: str | None  # problems()'s error
    agree: bool


SYNTAX = re.compile(r"Syntax error on line (\d+) of [^\n]*?:(?: (.+)|\n(.+))", re.S)
# Lines put around the directive for each place: (before, after).
CONTEXTS = {
    "top": ([], []),
    "dir": (['<Directory "/">'], ["</Directory>"]),
    "vhost": (["<VirtualHost *:80>"], ["</VirtualHost>"]),
    "location": (["<Location /a>"], ["</Location>"]),
    "mdomainset": (["<MDomainSet example.com>"], ["</MDomainSet>"]),
    "macro": (["<Macro m>", "</Macro>"], []),
    "after_if": (["<If true>", "</If>"], []),
    "requireall": (['<Directory "/">', "<RequireAll>", "Require all granted"],
                   ["</RequireAll>", "</Directory>"]),
    "filter": (["FilterDeclare f", "FilterProvider f DEFLATE true"], []),
    "worker": (["ProxyPass /w http://localhost/"], []),
}  # fmt: skip


def outcome(rc: int, output: str) -> tuple[int, str] | None:
    """httpd's refusal as (line, message), None when it says Syntax OK."""
    if rc == 0:
        return None
    m = SYNTAX.search(output)
    if m is None:
        return (-1, output.strip())
    return int(m.group(1)), (m.group(2) or m.group(3)).strip()


class Runner:
    """Writes each case's tree and runs apache2 -t on it; one per directive."""

    def __init__(self, server: Server, files: dict[str, str], tag: str):
        self.server, self.files, self.tag = server, files, tag
        self.counter = 0

    def tree(self, decl: Entry, args: str, place: str) -> tuple[list[str], int]:
        name, module = decl["name"], decl["module"]
        mpm = module[4:-7] if module.startswith("mpm_") and module[4:-7] in MPMS else "prefork"
        modules = [*EXTRA_MODULES.get(name.lower(), ()), module]
        before, after = CONTEXTS[place]
        lines = header(self.server.root) + self.server.load_lines(modules, mpm) + before
        at = len(lines) + 1
        if name.startswith("<"):
            body = [*SECTION_BODIES.get(name.lower(), []), f"</{name[1:]}>"]
            lines += [f"{name} {args}", *body, *after]
        else:
            lines += [f"{name} {args}".rstrip(), *after]
        return lines, at

    def check(self, case: Case, place: str) -> Result:
        text = case.args
        if text.startswith("@"):  # a sample that needs its own context: "@location /tmp"
            place, _, text = text[1:].partition(" ")
        for key, path in self.files.items():
            text = text.replace("{" + key + "}", path)
        case = Case(case.decl, text, case.what)
        lines, at = self.tree(case.decl, text, place)
        self.counter += 1
        conf = self.server.root / f"case-{self.tag}-{self.counter}.conf"
        conf.write_text("\n".join(lines) + "\n")
        rc, output = self.server.run(["-t", "-d", str(self.server.root), "-f", str(conf)])
        conf.unlink()
        refused = outcome(rc, output)
        decl = case.decl
        errors = [
            p for p in problems(decl["name"], text, module=decl["module"]) if p.severity == "error"
        ]
        expected = errors[0].message if errors else None
        # httpd's line ends where its message does: a trailing space is not seen.
        agree = refused == (None if expected is None else (at, expected.rstrip()))
        return Result(case, at, refused, expected, agree)


def place_of(decl: Entry) -> str:
    key = decl["name"].lower()
    if key in PLACES:
        return PLACES[key]
    bits = set(decl["override"])
    # The main configuration reads with RSRC_CONF | OR_ALL but not OR_AUTHCFG or OR_LIMIT.
    if "RSRC_CONF" in bits or bits & {"OR_OPTIONS", "OR_FILEINFO", "OR_INDEXES"}:
        return "top"
    return "dir"


def count_message(decl: Entry, message: str) -> bool:
    """Whether a refusal is invoke_cmd's (the count or On/Off), not the handler's."""
    text = load().kinds[decl["kind"]]["message"]
    return bool(text) and message.startswith(f"{decl['name']} {text}")


def words_of(text: str) -> int:
    return len(text.split()) - text.startswith("@")


def samples(decl: Entry, count: int) -> Iterator[str]:
    for text in SAMPLES.get(decl["name"].lower(), ()):
        if words_of(text) == count:
            yield text
    for word in CANDIDATES:
        yield " ".join([word] * count)


def directive_cases(runner: Runner, decl: Entry) -> tuple[list[Result], str | None]:
    """All cases of one directive; the second item says which at-bound count found no value
    the handler accepts."""
    key = decl["name"].lower()
    place = place_of(decl)
    if key.startswith("<") and decl["kind"] == "RAW_ARGS":
        return section_cases(runner, decl, place), None
    excluded = key in EXCLUDED  # only what invoke_cmd refuses before the handler runs
    if decl["kind"] == "FLAG":
        cases = [("Off", "at"), ("", "count"), *((v, "value") for v in FLAG_VALUES)]
        if excluded:
            cases = [(text, what) for text, what in cases if text in ("", "maybe", '""')]
        return [runner.check(Case(decl, text, what), place) for text, what in cases], None
    kinds = load().kinds[decl["kind"]]
    low, high = kinds["min"], kinds["max"]
    if excluded:
        counts = []
    elif decl["kind"] in ("RAW_ARGS", "TAKE_ARGV"):
        # The handler counts: its samples (or one candidate word) are the cases at a bound.
        counts = sorted({words_of(t) for t in SAMPLES.get(key, ())} or {1})
    else:
        counts = sorted({low, high if high is not None else low + 2})
    results: list[Result] = []
    words: list[str] = []
    note = None
    for count in counts:
        last = ""
        for text in samples(decl, count):
            result = runner.check(Case(decl, text, "at"), place)
            if result.refused is None:
                results.append(result)  # accepted: problems() must say nothing either
                words = words or result.case.args.split()
                break
            if count_message(decl, result.refused[1]) or result.expected is not None:
                # Refused for the count, or for a value the table knows: a case like any other.
                results.append(result)
            # Else the handler wants other words (a path, a keyword of its own): try the next.
            last = result.refused[1]
        else:
            note = f"no accepted value with {count} words ({last})"
    if decl["kind"] not in ("RAW_ARGS", "TAKE_ARGV"):
        # Counts out of bounds are refused before the handler sees a word: any words will do.
        pad = (words or ["x"]) + ["extra"] * 4
        texts = []
        if low > 0 and not key.startswith("<"):  # "<IfVersion" alone reads as "<IfVersion >"
            texts.append(" ".join(pad[: low - 1]))
        if high is not None:
            texts.append(" ".join(pad[: high + 1]))
        if decl["kind"] == "TAKE13":
            texts.append(" ".join(pad[:2]))
        results += [runner.check(Case(decl, text, "count"), place) for text in texts]
    rule = load().values.get(key)
    if rule is not None and not excluded:
        results += [runner.check(Case(decl, v, "value"), place) for v in values_for(rule)]
    return results, note


def values_for(rule: Entry) -> tuple[str, ...]:
    kind = rule["type"]
    if kind == "keyword":
        words = rule["words"]
        return (*words, words[0].upper(), "bogus", f"{words[0]} {words[-1]}")
    if kind == "integer":
        return (*INTEGER_VALUES, *rule.get("keywords", ()), "1 2")
    if kind == "timeout":
        return TIMEOUT_VALUES
    return SPECIAL_VALUES[kind]


def section_cases(runner: Runner, decl: Entry, place: str) -> list[Result]:
    """The sample, no '>', nothing before the '>', text after it, and per the section's rule
    an empty quoted word, a "!" alone, or a word where none may be."""
    key = decl["name"].lower()
    sample = SECTION_SAMPLES[key]
    texts = [f"{sample}>", sample, ">", f"{sample}> trailing"]
    need = (load().sections.get(key) or {}).get("need")
    if need == "word":
        texts += ['"">', "!>", f"!{sample}>"]
    if need == "empty":
        texts.append("x>")
    return [runner.check(Case(decl, text, "section"), place) for text in texts]


# --- the test ----------------------------------------------------------------------------------


def select(server: Server) -> tuple[list[Entry], dict[str, str]]:
    """The declarations to check (each module's, when several declare a name) and the names
    not verified, with the reason."""
    table = load().directives
    checked: list[Entry] = []
    skipped: dict[str, str] = {}
    for key in sorted(table):
        decls = declarations(key)
        if not decls:
            continue
        name = decls[0]["name"]
        here = [d for d in decls if server.installed(d["module"])]
        if not here:
            skipped[name] = (
                f"module not installed ({', '.join(sorted({d['module'] for d in decls}))})"
            )
            continue
        if key not in server.known:
            when = here[0]["when"]
            skipped[name] = (
                f"not compiled into this build (#if {when})"
                if when
                else ("not in the installed httpd (removed after the source)")
            )
            continue
        if key in EXCLUDED and decls[0]["kind"] in ("RAW_ARGS", "TAKE_ARGV"):
            skipped[name] = EXCLUDED[key]  # no count of its own: nothing left to check
            continue
        # -L names the module (its source file) of each declaration the binary has.
        sources = server.known[key]
        mine = [
            d for d in here
            if d["file"].rsplit("/", 1)[-1] in sources
            or f"mod_{d['module'].removesuffix('_module')}.c" in sources
        ]  # fmt: skip
        for d in here:
            if mine and d not in mine:
                skipped[f"{name} ({d['module']})"] = "the installed module no longer declares it"
        checked += mine or here[:1]
    for key in sorted(set(server.known) - set(table)):
        skipped[server.spelled[key]] = "not in the table (newer than the source read)"
    return checked, skipped


@pytest.fixture(scope="module")
def server(apache2_bin: str, apache2_modules_dir: Path, tmp_path_factory) -> Server:
    return find_server(apache2_bin, apache2_modules_dir, tmp_path_factory.mktemp("arguments"))


def test_argument_table_against_apache2(server: Server) -> None:
    started = time.monotonic()
    root = server.root
    files = {"file": "# a sample file\n", "pl": "1;\n", "lua": "function handle(r) end\n"}
    paths = {"so": str(server.shared["mime_module"]), "true": "true"}
    for key, text in files.items():
        path = root / f"sample.{key}"
        path.write_text(text)
        paths[key] = str(path)
    checked, skipped = select(server)

    def work(item: tuple[int, Entry]) -> tuple[Entry, list[Result], str | None]:
        index, decl = item
        return decl, *directive_cases(Runner(server, paths, str(index)), decl)

    with ThreadPoolExecutor(WORKERS) as pool:
        done = list(pool.map(work, enumerate(checked)))
    results = [r for _, rs, _ in done for r in rs]
    bad = [r for r in results if not r.agree]
    notes = {f"{d['name']} ({d['module']})": note for d, _, note in done if note}
    kinds = Counter(r.case.what for r in results)
    refused = sum(r.refused is not None for r in results)
    print(
        f"\n{len(checked)} declarations checked with {len(results)} cases "
        f"({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}; {refused} refused by "
        f"httpd) in {server.runs} apache2 runs on {WORKERS} workers, "
        f"{time.monotonic() - started:.1f} s: {len(results) - len(bad)} agree, {len(bad)} not"
    )
    for key, reason in sorted(EXCLUDED.items()):
        print(f"value cases excluded: {key}: {reason}")
    for name, reason in sorted(skipped.items()):
        print(f"not verified: {name}: {reason}")
    report = "\n".join(
        f"{r.case.decl['name']} {r.case.args!r} ({r.case.what}): httpd {r.refused}, "
        f"problems() {r.expected!r} at line {r.line}"
        for r in bad
    )
    assert not bad, f"{len(bad)} disagreements:\n{report}"
    assert not notes, f"directives without an accepted at-bound value: {notes}"
