"""The argument table and problems(): httpd's word counts, messages and read-time value checks.

The expected messages are httpd's own (2.4.71, as `apache2 -t` prints them after "AH00526:
Syntax error on line N of FILE:"); test_arguments_differential.py checks the whole table
against the binary. The generator's C reading is tested here on small pieces of source, and
regeneration is byte-for-byte when the source checkouts are at hand.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from httpdlint import arguments
from httpdlint.arguments import Problem, c_atoi, c_strtol, declaration, kind, problems

REPO_ROOT = Path(__file__).parents[1]
SCRIPT = REPO_ROOT / "scripts" / "gen_arguments.py"
TABLE = REPO_ROOT / "src" / "httpdlint" / "data" / "arguments.json"


def errors(name: str, args: str, **kw) -> list[str]:
    return [p.message for p in problems(name, args, **kw) if p.severity == "error"]


def warnings(name: str, args: str, **kw) -> list[str]:
    return [p.message for p in problems(name, args, **kw) if p.severity == "warning"]


def load_script():
    spec = importlib.util.spec_from_file_location("gen_arguments", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["gen_arguments"] = module
    spec.loader.exec_module(module)
    return module


# --- the table ---------------------------------------------------------------------------------


def test_table_names_its_sources_and_versions() -> None:
    sources = arguments.load().sources
    assert set(sources) == {
        "httpd", "httpd-2.2", "mod_perl", "mod_wsgi", "php", "modsecurity", "mod_fcgid",
    }  # fmt: skip
    for source in sources.values():
        assert re.fullmatch(r"[0-9a-f]{40}", source["commit"])
        assert source["version"] and source["declarations"] > 0
    assert sources["httpd"]["version"].startswith("2.4.")
    assert sources["httpd-2.2"]["version"].startswith("2.2.")
    assert arguments.load() is arguments.load()


@pytest.mark.parametrize(
    ("name", "module", "expected"),
    [
        ("ServerName", "core_module", "TAKE1"),
        ("KeepAlive", "http_module", "FLAG"),
        ("RLimitCPU", "core_module", "TAKE12"),
        ("LogLevel", "core_module", "ITERATE"),
        ("AllowOverride", "core_module", "RAW_ARGS"),
        ("Listen", "mpm_event_module", "TAKE_ARGV"),
        ("<VirtualHost", "core_module", "section"),
        ("VirtualHost", "core_module", "section"),
        ("SSLCipherSuite", "ssl_module", "TAKE12"),  # through mod_ssl's SSL_CMD_ALL macro
        ("H2MaxSessionStreams", "http2_module", "TAKE1"),  # h2_config.c, owned by mod_http2.c
        ("PerlResponseHandler", "perl_module", "ITERATE"),  # generated from Code.pm
        ("PerlSetVar", "perl_module", "TAKE2"),
        ("WSGIDaemonProcess", "wsgi_module", "RAW_ARGS"),
        ("php_admin_value", "php_module", "TAKE2"),
        ("SecRuleEngine", "security2_module", "TAKE1"),
        ("FcgidMaxProcesses", "fcgid_module", "TAKE1"),
    ],
)
def test_kinds_and_modules(name: str, module: str, expected: str) -> None:
    assert kind(name, module=module) == expected
    decl = declaration(name, module=module)
    assert decl is not None and decl["module"] == module


def test_no_args_is_stored_as_raw_args() -> None:
    # http_config.h: AP_INIT_NO_ARGS fills in RAW_ARGS, so "takes no arguments" never comes.
    decl = declaration("AuthnCacheEnable")
    assert decl is not None
    assert (decl["kind"], decl["declared"]) == ("RAW_ARGS", "NO_ARGS")
    assert errors("AuthnCacheEnable", "extra") == []
    assert warnings("AuthnCacheEnable", "extra") == [
        "AuthnCacheEnable takes no arguments: httpd ignores 'extra'"
    ]


def test_versions() -> None:
    # 2.2's KeepAlive was a TAKE1 whose handler read On/Off itself.
    assert kind("KeepAlive", "2.2") == "TAKE1"
    assert errors("KeepAlive", "On Off", version="2.2") == [
        "KeepAlive takes one argument, Whether persistent connections should be On or Off"
    ]
    assert errors("KeepAlive", "maybe", version="2.2") == []
    assert kind("Mutex", "2.2") is None and kind("AcceptMutex", "2.4") is None
    # Value rules are 2.4's handlers.
    assert errors("ServerTokens", "Bogus", version="2.2") == []
    with pytest.raises(ValueError):
        problems("ServerName", "x", version="2.0")


def test_unknown_directive_has_no_opinion() -> None:
    assert problems("NoSuchDirective", "a b c") == []


def test_module_chooses_the_declaration() -> None:
    assert errors("HeartbeatStorage", "", module="heartmonitor_module") == [
        "HeartbeatStorage takes one argument, Path to store heartbeat data."
    ]
    assert errors("HeartbeatStorage", "", module="lbmethod_heartbeat_module") == [
        "HeartbeatStorage takes one argument, Path to read heartbeat data."
    ]


# --- invoke_cmd's counts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("ServerName", "", "ServerName takes one argument, The hostname and port of the server"),
        ("ServerName", "a b", "ServerName takes one argument, The hostname and port of the server"),
        ("servername", '""', "ServerName takes one argument, The hostname and port of the server"),
        ("KeepAlive", "", "KeepAlive must be On or Off"),
        ("KeepAlive", "maybe", "KeepAlive must be On or Off"),
        ("KeepAlive", '""', "KeepAlive must be On or Off"),
        ("php_value", "a", "php_value takes two arguments, PHP Value Modifier"),
        ("php_flag", 'a ""', "php_flag takes two arguments, PHP Flag Modifier"),
        ("RLimitCPU", "1 2 3", "RLimitCPU takes 1-2 arguments, "
         "Soft/hard limits for max CPU usage in seconds"),
        ("LuaOutputFilter", "a b", "LuaOutputFilter takes three arguments, "
         "Registers a Lua function as an output filter"),
        ("ProxyRemote", "a", "ProxyRemote takes two or three arguments, "
         "a scheme, partial URL or '*' and a proxy server"),
        ("LuaScope", "a b c d", "LuaScope takes one, two or three arguments, "
         "One of once, request, conn, server -- default is once"),
        ("LogMessage", "a b c d", "LogMessage takes one, two or three arguments, "
         "Log a debug message to the error log if this config block is used for  a request"),
        ("LogLevel", "", "LogLevel requires at least one argument, "
         "Level of verbosity in error logging"),
        ("PerlAddVar", "a", "PerlAddVar requires at least two arguments, PerlAddVar"),
    ],
)  # fmt: skip
def test_count_messages(name: str, args: str, message: str) -> None:
    assert problems(name, args) == [Problem("error", message, "AH00526")]


def test_words_split_as_ap_getword_conf() -> None:
    assert errors("ServerName", '"a b"') == []
    assert errors("ServerName", "'a b'") == []
    assert errors("ServerName", r'"a \" b"') == []
    assert errors("ServerName", '"a"b') != []  # two words: the quote ends the first
    # An empty word ends the arguments for invoke_cmd: a TAKE12's second may be "".
    assert errors("RLimitCPU", '1 ""') == []


def test_take13_needs_a_third_after_a_second() -> None:
    # No module of 2.4 declares a TAKE13 (mod_example_hooks' is not built): a made-up one.
    decl = {"name": "X", "kind": "TAKE13", "help": "h"}

    def count(raw: str) -> str | None:
        return arguments._count(decl, raw, arguments.split_args(raw))

    assert count("a b") == "X takes one or three arguments, h"
    assert count("a b c d") == "X takes one or three arguments, h"
    assert count("a") is None and count("a b c") is None
    assert count('a b ""') is None  # (w2 && *w2 && !w3): a third "" is a third
    assert count('a "" c') is None


def test_flag_trailing_words_are_a_warning() -> None:
    assert problems("KeepAlive", "On extra words") == [
        Problem("warning", "KeepAlive takes only On or Off: httpd ignores 'extra words' after it")
    ]
    assert problems("KeepAlive", "oFF") == []


def test_iterate_stops_at_an_empty_word() -> None:
    assert warnings("LogLevel", 'info "" bogus') == [
        "LogLevel stops at the empty argument \"\": httpd ignores 'bogus'"
    ]
    assert errors("LogLevel", 'info "" bogus') == []
    assert errors("PerlAddVar", 'a ""') == []  # *args is not empty: no count refusal


# --- value rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("AllowOverride", "php_value", "Illegal override option php_value"),
        ("AllowOverride", "Options=Indexes,php_value", "Illegal option php_value"),
        ("AllowOverride", '""', "Illegal override option "),
        ("AllowOverride", "Nonfatal", "=Override, =Unknown or =All expected after Nonfatal"),
        ("Options", "+Indexes FollowSymLinks",
         "Either all Options must start with + or -, or no Option may."),
        ("Options", "Indexes +FollowSymLinks",
         "Either all Options must start with + or -, or no Option may."),
        ("Options", "Indexes None", "'Options None' must be the first Option given."),
        ("Options", "-All", "You may not use 'Options +All' or 'Options -All'."),
        ("Options", "+", "Illegal option "),
        ("FileETag", "+None", "FileETag keyword 'None' cannot be used with '+' or '-'"),
        ("FileETag", "Inode Bogus", "Unknown keyword 'Bogus' for FileETag directive"),
        ("ServerTokens", "Bogus", "ServerTokens takes 1 argument: 'Prod(uctOnly)', 'Major', "
         "'Minor', 'Min(imal)', 'OS', or 'Full'"),
        ("HostnameLookups", "yes", "parameter must be 'on', 'off', or 'double'"),
        ("TraceEnable", "maybe", "TraceEnable must be one of 'on', 'off', or 'extended'"),
        ("AllowEncodedSlashes", "x", "AllowEncodedSlashes must be On, Off, or NoDecode"),
        ("LogLevel", "bogus", "Log level keyword must be one of emerg/alert/crit/error/warn/"
         "notice/info/debug/trace1/.../trace8"),
        ("LogLevel", "info core:bogus", "core:bogus: Log level keyword must be one of "
         "emerg/alert/crit/error/warn/notice/info/debug/trace1/.../trace8"),
        ("LogLevel", "core:", "Module specifier 'core' must be followed by a log level keyword"),
        ("LogLevel", ":info", "Cannot find module "),
        ("LimitRequestLine", "-1", 'LimitRequestLine "-1" must be a non-negative integer'),
        ("LimitRequestLine", "2147483648",
         'LimitRequestLine "2147483648" must be a non-negative integer'),
        ("LimitRequestFields", "-5",
         'LimitRequestFields "-5" must be a non-negative integer (0 = no limit)'),
        ("LimitRequestBody", "abc", "LimitRequestBody requires a non-negative integer."),
        ("LimitRequestBody", "99999999999999999999", "LimitRequestBody argument is not parsable."),
        ("LimitXMLRequestBody", "99999999999999999999",
         "LimitXMLRequestBody must not exceed 3074457345618258601"),
        ("MaxRanges", "0", "MaxRanges requires 'none', 'default', 'unlimited' or a positive "
         "integer"),
        ("LimitInternalRecursion", "5 0", "The recursion limit must be greater than zero."),
        ("ReadBufferSize", "5x", "parameter must be a number between 0 and (4294967295U)): 5x"),
        ("KeepAliveTimeout", "5x", "KeepAliveTimeout has wrong format"),
        ("KeepAliveTimeout", "-1", "KeepAliveTimeout has wrong format"),
        ("WSGIRestrictStdin", "maybe", "WSGIRestrictStdin must be one of: Off | On"),
        ("WSGIMapHEADToGET", "x", "WSGIMapHEADToGET must be one of: Off | On | Auto"),
        ("HttpProtocolOptions", "Strict bogus", "HttpProtocolOptions accepts 'Unsafe' or "
         "'Strict' (default), 'RegisteredMethods' or 'LenientMethods' (default), and "
         "'Require1.0' or 'Allow0.9' (default)"),
    ],
)  # fmt: skip
def test_value_refusals(name: str, args: str, message: str) -> None:
    assert errors(name, args) == [message]


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("AllowOverride", ""),
        ("AllowOverride", "None"),
        ("AllowOverride", "Options=Indexes,,MultiViews FileInfo=x Limit=x Nonfatal=Bogus"),
        ("Options", ""),
        ("Options", "None"),
        ("Options", "+Indexes -MultiViews"),
        ("Options", "None +Indexes"),  # the "all_none" exception of set_options
        ("FileETag", "MTime Size +INode -Digest"),
        ("ServerTokens", "prod"),
        ("LogLevel", "info core:trace8 ssl:warn"),
        ("LimitRequestLine", "0"),
        ("LimitRequestBody", " 5"),
        ("MaxRanges", "unlimited"),
        ("KeepAliveTimeout", "5ms"),
        ("KeepAliveTimeout", "5hx"),  # the unit is read from its first letters only
        ("ReadBufferSize", "4294967295"),
        ("WSGIMapHEADToGET", "auto"),
    ],
)
def test_values_httpd_accepts(name: str, args: str) -> None:
    assert errors(name, args) == []


def test_numbers_httpd_reads_in_part_are_warnings() -> None:
    assert problems("Timeout", "abc") == [
        Problem("warning", "Timeout 'abc' is no number: httpd reads it as 0")
    ]
    assert problems("MaxKeepAliveRequests", "30s") == [
        Problem("warning", "MaxKeepAliveRequests '30s' is no number: httpd reads it as 30")
    ]
    assert problems("Timeout", "30") == []


def test_c_number_parsing() -> None:
    assert c_strtol("  -12abc") == (-12, False, "abc")
    assert c_strtol("x") == (0, False, "x")
    assert c_strtol("99999999999999999999") == (2**63 - 1, True, "")
    assert c_atoi("4294967295") == -1
    assert c_atoi("2147483648") == -(2**31)
    assert c_atoi("99999999999999999999") == -1


# --- sections ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("<Directory", "/tmp", "<Directory> directive missing closing '>'"),
        ("<Directory", ">", "<Directory> directive requires additional arguments"),
        ("<Directory", "", "<Directory> directive requires additional arguments"),
        ("<IfModule", "!>", "<IfModule> directive requires additional arguments"),
        ("<IfDefine", '"">', "<IfDefine> directive requires additional arguments"),
        ("<Else", "x>", "<Else> does not take an argument"),
        ("<RequireAll", "x>", "<RequireAll> directive doesn't take additional arguments"),
        ("<AuthnProviderAlias", "file>", "<AuthnProviderAlias> directive requires additional "
         "arguments"),
        ("<Macro", ">", "<Macro macro definition: empty name"),
        ("<MDomain", "example.com", "<MDomainSet> directive missing closing '>'"),
        ("<MDomain", ">", "<MDomainSet > section must specify a unique domain name"),
        ("<Proxy", "*", "<Proxy> directive missing closing '>'"),
    ],
)  # fmt: skip
def test_section_refusals(name: str, raw: str, message: str) -> None:
    assert errors(name, raw) == [message]


def test_sections_httpd_accepts() -> None:
    assert problems("<Directory", "/tmp>") == []
    assert problems("<Directory", '"">') == []  # text before '>' is all <Directory> needs
    assert problems("<Proxy", ">") == []
    assert problems("<Else", ">") == []
    assert problems("<Directory", "/a> b") == [
        Problem("warning", "<Directory>: httpd ignores 'b' after the '>'")
    ]


# --- the generator -----------------------------------------------------------------------------


def test_generator_expands_wrapper_macros_and_conditions() -> None:
    gen = load_script()
    source = r"""
#define SSL_CMD_SRV(name, args, desc) \
        AP_INIT_##args("SSL"#name, ssl_cmd_SSL##name, NULL, RSRC_CONF, desc),
#define LIST AP_INIT_TAKE1("Listen2", f, NULL, RSRC_CONF, "a" " b")
static const command_rec cmds[] = {
    SSL_CMD_SRV(Engine, TAKE1, "SSL switch (" APR_STRINGIFY(TEN) ")") /* a comment */
    LIST,
#ifdef HAVE_X
    AP_INIT_FLAG("Only", f, NULL, OR_OPTIONS|EXEC_ON_READ, NULL),
#else
    AP_INIT_RAW_ARGS("<Else", f, NULL, OR_ALL, NULL),
#endif
#if 0
    AP_INIT_TAKE1("Never", f, NULL, RSRC_CONF, "x"),
#endif
    AP_INIT_TAKE1(NULL, NULL, NULL, RSRC_CONF, NULL)
};
"""
    cfile = gen.preprocess("x.c", source)
    macros = {**cfile.macros, "TEN": gen.Macro("TEN", None, "10")}
    found = []
    for _, offset, text in gen.table_entries(cfile, macros):
        args = gen.split_top(text[text.index("(") + 1 : -1])
        found.append((gen.c_string(args[0], macros), cfile.condition_at(offset), args[-1]))
    assert [(n, w) for n, w, _ in found] == [
        ("SSLEngine", None),
        ("Listen2", None),
        ("Only", "defined(HAVE_X)"),
        ("<Else", "!defined(HAVE_X)"),
        ("Never", False),  # inside #if 0: extract() drops it
        (None, None),
    ]
    assert gen.c_string(found[0][2], macros) == "SSL switch (10)"
    assert gen.override_bits("OR_OPTIONS|EXEC_ON_READ", {}) == ["EXEC_ON_READ", "OR_OPTIONS"]


def test_generator_reads_init_kinds_from_http_config_h() -> None:
    gen = load_script()
    header = "\n".join(
        f"# define AP_INIT_{k}(directive, func, mconfig, where, help) \\\n"
        f"    {{ directive, func, mconfig, where, {'RAW_ARGS' if k == 'NO_ARGS' else k}, help }}"
        for k in gen.KINDS
    )
    how = gen.init_kinds(header)
    assert how["NO_ARGS"] == "RAW_ARGS" and how["TAKE1"] == "TAKE1"


def test_generator_reads_mod_perl_handler_directives() -> None:
    gen = load_script()
    code_pm = """
my %handlers = (
    Process    => [qw(ChildInit ChildExit)], #Restart PreConfig
    PerDir     => [qw(Response)],
);
my %directive_proto = (
    PerSrv     => {
        args => [{type => 'cmd_parms', name => 'parms'}],
        scope => 'RSRC_CONF',
    },
    PerDir     => {
        scope => 'OR_ALL',
    },
);
for my $class (qw(Process Connection PreConnection Files)) {
    $directive_proto{$class}->{cfg}->{name} = 'scfg';
"""
    macro = gen.mod_perl_entries(code_pm)
    assert 'AP_INIT_ITERATE("PerlResponseHandler", modperl_cmd_response_handlers, NULL, OR_ALL' in (
        macro.body
    )
    assert '"PerlChildInitHandler", modperl_cmd_childinit_handlers, NULL, RSRC_CONF' in macro.body


SOURCES = os.environ.get("HTTPDLINT_ARGUMENT_SOURCES")


@pytest.mark.skipif(not SOURCES, reason="HTTPDLINT_ARGUMENT_SOURCES names no source checkouts")
def test_regeneration_is_byte_for_byte(tmp_path: Path) -> None:
    out = tmp_path / "arguments.json"
    roots = (SOURCES or "").split(os.pathsep)
    subprocess.run([sys.executable, str(SCRIPT), *roots, "-o", str(out)], check=True)
    assert out.read_bytes() == TABLE.read_bytes()
