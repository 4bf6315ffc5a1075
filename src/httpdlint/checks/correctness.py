"""Correctness checks: what makes httpd refuse to start, or quietly do something else.

The facts behind the directive checks are the manual's (``knowledge``), corrected where the
server disagrees with its manual: the context tables below were measured by running
``apache2 -t`` (Debian's 2.4.71 with all its modules loaded) on every documented directive in
every kind of section, and the undocumented names the same binary accepts were read from
``apache2 -L``.
"""

from __future__ import annotations

import collections
import functools
import ipaddress
import itertools
import operator
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple

from .. import knowledge
from ..findings import Finding
from ..syntax import Directive, section_args, split_args

SYNTAX_ERROR = "AH00526"


def unique(check):
    """Apache 2.2 has no AH message numbers, so findings on a 2.2 tree carry none.
    (The engine already keeps one finding per rule, place and message.)"""

    @functools.wraps(check)
    def run(model, rule, settings) -> Iterator[Finding]:
        for f in check(model, rule, settings):
            if model.version == "2.2":
                f.httpd_code = None  # AH numbers came with 2.3/2.4; 2.2 prints none
            yield f

    return run


# -- sections ------------------------------------------------------------------------------

# The context a section gives the directives inside it.
SECTION_CLASS = {
    "<virtualhost": "vhost",
    "<directory": "directory",
    "<directorymatch": "directory",
    "<location": "location",
    "<locationmatch": "location",
    "<files": "files",
    "<filesmatch": "files",
    "<if": "if",
    "<elseif": "if",
    "<else": "if",
    "<proxy": "proxy",
    "<proxymatch": "proxy",
}
LIMIT_SECTIONS = {"<limit", "<limitexcept"}
# Sections whose body is not configuration httpd reads in place: Perl code for mod_perl,
# a template that mod_macro expands where `Use` names it.
OPAQUE_SECTIONS = {"<perl", "<macro"}
# What the manual calls each context.
MANUAL_CONTEXT = {
    "top": "server config",
    "vhost": "virtual host",
    "directory": "directory",
    "location": "directory",
    "files": "directory",
    "if": "directory",
    "proxy": "directory",
}
SECTION_WORD = {
    "vhost": "<VirtualHost>",
    "directory": "<Directory>",
    "location": "<Location>",
    "files": "<Files>",
    "if": "<If>",
    "proxy": "<Proxy>",
}

# Measured on 2.4.71: directives httpd accepts in a context its manual does not list.
_ACCEPTED_DIR = {
    "defaultruntimedir",
    "h2proxyrequests",
    "loadfile",
    "luaauthzprovider",
    "mdcertificatemonitor",
    "proxyexpressdbmfile",
    "proxyexpressdbmtype",
    "proxyexpressenable",
    "proxyhcexpr",
    "proxyhctemplate",
    "proxywebsocketfallbacktoproxyhttp",
    "sslcacertificatefile",
    "sslcacertificatepath",
    "undefine",
    "mdrequirehttps",
}
_ACCEPTED_LOC = _ACCEPTED_DIR | {
    "luahooktranslatename",
    "luainputfilter",
    "luaoutputfilter",
    "luaquickhandler",
}
ACCEPTED = {
    "top": {
        "authnzfcgicheckauthnprovider",
        "balancermember",
        "cgivar",
        "forcetype",
        "logmessage",
        "removecharset",
        "removeencoding",
        "removehandler",
        "removeinputfilter",
        "removelanguage",
        "removeoutputfilter",
        "removetype",
        "serverpath",
        "substitute",
        "substituteinheritbefore",
        "substitutemaxlinelength",
    },
    "vhost": {
        "<mdomainset",
        "<mdomain",
        "authdigestshmemsize",
        "authldapcharsetconfig",
        "authnzfcgicheckauthnprovider",
        "balancermember",
        "bufferedlogs",
        "cachefile",
        "cgivar",
        "defaultruntimedir",
        "dumpioinput",
        "dumpiooutput",
        "extfilterdefine",
        "forcetype",
        "h2maxworkeridleseconds",
        "h2maxworkers",
        "h2minworkers",
        "logmessage",
        "luaauthzprovider",
        "luainputfilter",
        "luaoutputfilter",
        "mmapfile",
        "namevirtualhost",
        "sslusername",
        "substitute",
        "substituteinheritbefore",
        "substitutemaxlinelength",
        "typesconfig",
        "undefine",
    },
    "directory": _ACCEPTED_DIR,
    "files": _ACCEPTED_DIR,
    "if": _ACCEPTED_DIR,
    "location": _ACCEPTED_LOC,
    "proxy": _ACCEPTED_LOC
    | {
        "sslproxycacertificatefile",
        "sslproxycacertificatepath",
        "sslproxycarevocationcheck",
        "sslproxycarevocationfile",
        "sslproxycarevocationpath",
        "sslproxycheckpeercn",
        "sslproxycheckpeerexpire",
        "sslproxycheckpeername",
        "sslproxyciphersuite",
        "sslproxyengine",
        "sslproxymachinecertificatechainfile",
        "sslproxymachinecertificatefile",
        "sslproxymachinecertificatepath",
        "sslproxyprotocol",
        "sslproxyverify",
        "sslproxyverifydepth",
    },
}
# Every mod_md directive is accepted in a virtual host, whatever the manual says.
_ACCEPTED_PREFIX = {"vhost": ("md",)}

# Measured on 2.4.71: directives httpd refuses in a context its manual lists
# (ap_check_cmd_context with NOT_IN_DIRECTORY, NOT_IN_FILES, NOT_IN_LIMIT, ...).
_NOT_IN_DIR = {
    "cachedisable",
    "cacheenable",
    "h2streamtimeout",
    "luamaphandler",
    "proxypass",
    "proxypassmatch",
    "proxypassreverse",
}
REJECTED = {
    "top": {"buffersize", "davgenericlockdb"},
    "vhost": {"buffersize", "davgenericlockdb"},
    "directory": _NOT_IN_DIR,
    "files": _NOT_IN_DIR,
    "if": _NOT_IN_DIR,
    "location": {"h2streamtimeout", "multiviewsmatch", "<files", "<filesmatch"},
    "proxy": {"h2streamtimeout"},
    "limit": _NOT_IN_DIR | {"<else", "<elseif", "<if", "<files", "<filesmatch", "multiviewsmatch"},
}

# The modules whose directives were measured (Debian's 2.4.71 build, every module loaded).
MEASURED_MODULES = {
    "core_module",
    "http_module",
    "so_module",
    "watchdog_module",
    "log_config_module",
    "logio_module",
    "version_module",
    "unixd_module",
    "mpm_event_module",
    "mpm_prefork_module",
    "mpm_worker_module",
    "access_compat_module",
    "actions_module",
    "alias_module",
    "allowmethods_module",
    "asis_module",
    "auth_basic_module",
    "auth_digest_module",
    "auth_form_module",
    "authn_anon_module",
    "authn_core_module",
    "authn_dbd_module",
    "authn_dbm_module",
    "authn_file_module",
    "authn_socache_module",
    "authnz_fcgi_module",
    "authnz_ldap_module",
    "authz_core_module",
    "authz_dbd_module",
    "authz_dbm_module",
    "authz_groupfile_module",
    "authz_host_module",
    "authz_owner_module",
    "authz_user_module",
    "autoindex_module",
    "brotli_module",
    "buffer_module",
    "cache_disk_module",
    "cache_module",
    "cache_socache_module",
    "cern_meta_module",
    "cgi_module",
    "cgid_module",
    "charset_lite_module",
    "data_module",
    "dav_fs_module",
    "dav_lock_module",
    "dav_module",
    "dbd_module",
    "deflate_module",
    "dialup_module",
    "dir_module",
    "dumpio_module",
    "echo_module",
    "env_module",
    "expires_module",
    "ext_filter_module",
    "file_cache_module",
    "filter_module",
    "headers_module",
    "heartbeat_module",
    "heartmonitor_module",
    "http2_module",
    "ident_module",
    "imagemap_module",
    "include_module",
    "info_module",
    "lbmethod_bybusyness_module",
    "lbmethod_byrequests_module",
    "lbmethod_bytraffic_module",
    "lbmethod_heartbeat_module",
    "ldap_module",
    "log_debug_module",
    "log_forensic_module",
    "lua_module",
    "macro_module",
    "md_module",
    "mime_magic_module",
    "mime_module",
    "negotiation_module",
    "proxy_ajp_module",
    "proxy_balancer_module",
    "proxy_connect_module",
    "proxy_express_module",
    "proxy_fcgi_module",
    "proxy_fdpass_module",
    "proxy_ftp_module",
    "proxy_hcheck_module",
    "proxy_html_module",
    "proxy_http2_module",
    "proxy_http_module",
    "proxy_module",
    "proxy_scgi_module",
    "proxy_uwsgi_module",
    "proxy_wstunnel_module",
    "ratelimit_module",
    "reflector_module",
    "remoteip_module",
    "reqtimeout_module",
    "request_module",
    "rewrite_module",
    "sed_module",
    "session_cookie_module",
    "session_crypto_module",
    "session_dbd_module",
    "session_module",
    "setenvif_module",
    "slotmem_plain_module",
    "slotmem_shm_module",
    "socache_dbm_module",
    "socache_memcache_module",
    "socache_redis_module",
    "socache_shmcb_module",
    "speling_module",
    "ssl_module",
    "status_module",
    "substitute_module",
    "suexec_module",
    "unique_id_module",
    "userdir_module",
    "usertrack_module",
    "vhost_alias_module",
    "xml2enc_module",
}

# -- names the manual does not document -----------------------------------------------------

# Accepted by 2.4.71 (`apache2 -L`) although the manual has no page for them: name -> module.
EXTRA_24 = {
    "h2sessionextrafiles": "http2_module",
    "h2maxheaderblocklen": "http2_module",
    "h2maxstreamerrors": "http2_module",
    "luahookpretranslatename": "lua_module",
    "<luahookpretranslatename": "lua_module",
    "<luahooktranslatename": "lua_module",
    "<luahookfixups": "lua_module",
    "<luahookmaptostorage": "lua_module",
    "<luahookcheckuserid": "lua_module",
    "<luahooktypechecker": "lua_module",
    "<luahookaccesschecker": "lua_module",
    "<luahookauthchecker": "lua_module",
    "<luaquickhandler": "lua_module",
    "macroignoreemptyargs": "macro_module",
    "macroignorebadnesting": "macro_module",
    "<mdomain": "md_module",
    "mdcacertificatefile": "md_module",
    "mdhttpproxycacertificatefile": "md_module",
    "mdinitialdelay": "md_module",
    "mdcheckinterval": "md_module",
    "mdprofile": "md_module",
    "mdprofilemandatory": "md_module",
    "mdrenewviaari": "md_module",
    "listentcpdeferaccept": "core_module",
    "sslvhostsnipolicy": "ssl_module",
    "authdigestnccheck": "auth_digest_module",
}
# Documented core or MPM directives that only some builds have: (where, severity). Debian's
# 2.4.71 refuses each with "Invalid command"; the last two depend on configure options.
NOT_ON_UNIX = {
    "unclist": ("for Windows", None),
    "scriptinterpretersource": ("for Windows", None),
    "cgimapextension": ("for NetWare", None),
    "startthreads": ("for NetWare or OS/2", None),
    "enableexceptionhook": ("with --enable-exception-hook", "warning"),
    "gprofdir": ("for profiling (gprof)", "warning"),
}
# Documented in the manual, yet unknown to 2.4.71: older 2.4 releases may have them.
DOCUMENTED_ABSENT = {
    "mdcertificatemonitor": "mod_md dropped it",
    "luahookpretranslate": "its name is LuaHookPreTranslateName",
}
# Names httpd still recognises only to refuse them, with its message.
REFUSED = {
    "port": "Port was replaced with Listen in Apache 2.0",
    "ssllog": "SSLLog directive is no longer supported - use ErrorLog.",
    "sslloglevel": "SSLLogLevel directive is no longer supported - use LogLevel.",
    "fancyindexing": (
        "The FancyIndexing directive is no longer supported. Use IndexOptions FancyIndexing."
    ),
}

# Third-party modules: identifiers (any one loaded makes the family valid), the source file
# names <IfModule> knows them by, directive name prefixes, and whole names.
THIRD_PARTY: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], frozenset[str]]] = [
    (
        ("perl_module",),
        ("mod_perl.c",),
        ("perl",),
        frozenset({"<perl", "=pod", "=back", "=cut", "__end__"}),
    ),
    (
        ("php_module", "php4_module", "php5_module", "php7_module", "php8_module"),
        ("mod_php.c", "mod_php4.c", "mod_php5.c", "mod_php7.c", "mod_php8.c", "sapi_apache2.c"),
        ("php_",),
        frozenset({"phpinidir"}),
    ),
    (("wsgi_module",), ("mod_wsgi.c",), ("wsgi",), frozenset()),
    (("python_module",), ("mod_python.c",), ("python",), frozenset()),
    (("security2_module",), ("mod_security2.c",), ("sec",), frozenset()),
    (
        ("security3_module",),
        ("mod_security3.c",),
        (),
        frozenset({"modsecurity", "modsecurity_rules", "modsecurity_rules_file"}),
    ),
    (
        ("passenger_module",),
        ("mod_passenger.c",),
        ("passenger", "rails", "rack", "unionstation"),
        frozenset(),
    ),
    (
        ("fcgid_module",),
        ("mod_fcgid.c",),
        ("fcgid",),
        frozenset(
            {
                "busyscaninterval",
                "busytimeout",
                "defaultinitenv",
                "defaultmaxclassprocesscount",
                "defaultminclassprocesscount",
                "errorscaninterval",
                "fcgiwrapper",
                "idlescaninterval",
                "idletimeout",
                "ipccommtimeout",
                "ipcconnecttimeout",
                "maxprocesscount",
                "maxrequestinmem",
                "maxrequestlen",
                "maxrequestsperprocess",
                "outputbuffersize",
                "passheader",
                "php_fix_pathinfo_enable",
                "processlifetime",
                "sharemempath",
                "socketpath",
                "spawnscore",
                "spawnscoreuplimit",
                "terminationscore",
                "timescore",
                "zombiescaninterval",
                "fastcgiaccesschecker",
                "fastcgiaccesscheckerauthoritative",
                "fastcgiauthenticator",
                "fastcgiauthenticatorauthoritative",
                "fastcgiauthorizer",
                "fastcgiauthorizerauthoritative",
            }
        ),
    ),
    (("fastcgi_module",), ("mod_fastcgi.c",), ("fastcgi",), frozenset()),
    (("auth_mellon_module",), ("mod_auth_mellon.c",), ("mellon",), frozenset()),
    (("auth_openidc_module",), ("mod_auth_openidc.c",), ("oidc",), frozenset()),
    (("jk_module",), ("mod_jk.c",), ("jk",), frozenset()),
    (
        ("ruid2_module",),
        ("mod_ruid2.c",),
        ("ruid",),
        frozenset(
            {
                "rmode",
                "ruidgid",
                "rgroups",
                "rdefaultuidgid",
                "rdefaultgroups",
                "rminuidgid",
                "rdocumentchroot",
                "rcoredump",
            }
        ),
    ),
    (
        ("mpm_itk_module",),
        ("mpm_itk.c",),
        (),
        frozenset(
            {
                "assignuserid",
                "assignuseridexpr",
                "assigngroupidexpr",
                "maxclientsvhost",
                "nicevalue",
                "limituidrange",
                "limitgidrange",
                "enablecapabilities",
            }
        ),
    ),
    (("qos_module",), ("mod_qos.c",), ("qs_",), frozenset()),
    (("pagespeed_module",), ("mod_pagespeed.c",), ("modpagespeed",), frozenset()),
    (("xsendfile_module",), ("mod_xsendfile.c",), ("xsendfile",), frozenset()),
    (("rpaf_module",), ("mod_rpaf.c", "mod_rpaf-2.0.c"), ("rpaf",), frozenset()),
    (
        ("bw_module",),
        ("mod_bw.c",),
        ("bandwidth",),
        frozenset({"forcebandwidthmodule", "maxconnection", "largefilelimit", "minbandwidth"}),
    ),
    (("geoip_module",), ("mod_geoip.c",), ("geoip",), frozenset()),
    (("maxminddb_module",), ("mod_maxminddb.c",), ("maxminddb",), frozenset()),
    (("cloudflare_module",), ("mod_cloudflare.c",), ("cloudflare",), frozenset()),
    (
        ("evasive20_module", "evasive24_module", "evasive_module"),
        ("mod_evasive20.c", "mod_evasive24.c", "mod_evasive.c"),
        ("dos",),
        frozenset(),
    ),
    (("auth_kerb_module",), ("mod_auth_kerb.c",), ("krb", "kerberos"), frozenset()),
    (("auth_gssapi_module",), ("mod_auth_gssapi.c",), ("gssapi",), frozenset()),
    (
        ("authnz_pam_module",),
        ("mod_authnz_pam.c",),
        ("authpam",),
        frozenset(),
    ),
    (("dav_svn_module",), ("mod_dav_svn.c",), ("svn",), frozenset()),
    (("authz_svn_module",), ("mod_authz_svn.c",), ("authzsvn",), frozenset()),
    (("suphp_module",), ("mod_suphp.c",), ("suphp_",), frozenset()),
    (("auth_cas_module",), ("mod_auth_cas.c",), ("cas",), frozenset()),
    (("cband_module",), ("mod_cband.c",), ("cband",), frozenset()),
    (("lsapi_module",), ("mod_lsapi.c",), ("lsapi_",), frozenset()),
    (("gnutls_module",), ("mod_gnutls.c",), ("gnutls",), frozenset()),
    (("nss_module",), ("mod_nss.c",), ("nss",), frozenset()),
    (("auth_tkt_module",), ("mod_auth_tkt.c",), ("tktauth",), frozenset()),
    (("weblogic_module",), ("mod_weblogic.c", "mod_wl.c"), ("weblogic", "wl"), frozenset()),
    (
        ("limitipconn_module",),
        ("mod_limitipconn.c",),
        (),
        frozenset({"maxconnperip", "noiplimit", "onlyiplimit"}),
    ),
    (("shib_module", "mod_shib"), ("mod_shib.cpp", "mod_shib"), ("shib",), frozenset()),
    (
        ("authnz_external_module",),
        ("mod_authnz_external.c",),
        (),
        frozenset(
            {
                "defineexternalauth",
                "defineexternalgroup",
                "addexternalauth",
                "addexternalgroup",
                "authexternal",
                "groupexternal",
                "authexternalcontext",
                "groupexternalmanyatonce",
                "groupexternalerror",
                "setexternalauthmethod",
                "setexternalgroupmethod",
            }
        ),
    ),
    (("auth_radius_module",), ("mod_auth_radius.c",), ("authradius", "addradius"), frozenset()),
    (
        ("upload_progress_module",),
        ("mod_upload_progress.c",),
        ("uploadprogress", "reportuploads", "trackuploads"),
        frozenset(),
    ),
    (
        ("auth_mysql_module", "mysql_auth_module"),
        ("mod_auth_mysql.c",),
        ("authmysql", "auth_mysql"),
        frozenset(),
    ),
    (("auth_pgsql_module",), ("mod_auth_pgsql.c",), ("auth_pg",), frozenset()),
    (("tile_module",), ("mod_tile.c",), ("modtile",), frozenset({"loadtileconfigfile"})),
    (("dnssd_module",), ("mod_dnssd.c",), ("dnssd",), frozenset()),
    (("apreq_module",), ("mod_apreq2.c",), ("apreq2_",), frozenset()),
    (("spdy_module",), ("mod_spdy.c",), ("spdy",), frozenset()),
    (
        ("manager_module", "advertise_module", "proxy_cluster_module", "cluster_slotmem_module"),
        ("mod_manager.c", "mod_advertise.c", "mod_proxy_cluster.c", "mod_cluster_slotmem.c"),
        ("manager", "advertise", "serveradvertise"),
        frozenset(
            {
                "createbalancers",
                "enablemcpmreceive",
                "memmanagerfile",
                "maxcontext",
                "maxnode",
                "maxhost",
                "maxsessionid",
                "persistslots",
                "checknonce",
                "allowdisplay",
                "allowcmd",
                "reducedisplay",
                "usealias",
                "lbstatusrecaltime",
                "waitbeforeremove",
                "usenocontext",
            }
        ),
    ),
    (("h264_streaming_module",), ("mod_h264_streaming.c",), ("h264",), frozenset()),
    (
        ("auth_ntlm_winbind_module",),
        ("mod_auth_ntlm_winbind.c",),
        ("ntlm", "negotiateauth", "ntlmauth", "plaintextauth"),
        frozenset({"ntlmauthhelper", "negotiateauthhelper", "ntlmbasicauthoritative"}),
    ),
]


def third_party_family(lname: str):
    """The third-party family a directive name belongs to, or None."""
    bare = lname.lstrip("<") if lname != "<perl" else lname
    for family in THIRD_PARTY:
        idents, _, prefixes, names = family
        if lname in names or bare in names:
            return family
        if prefixes and bare.startswith(prefixes):
            return family
    return None


def third_party_module_names() -> set[str]:
    names: set[str] = set()
    for idents, sources, _, _ in THIRD_PARTY:
        names.update(idents)
        names.update(sources)
    return names


# -- walking the tree with each node's context ------------------------------------------------


class Where(NamedTuple):
    """Where a directive stands: the context class of its innermost section (None inside a
    section whose body this module does not judge), inside <Limit>?, and the section.
    (A named tuple: a large tree has tens of thousands of sections, each with its own.)"""

    cls: str | None
    limit: bool
    section: Directive | None
    vhost: Directive | None


TOP = Where("top", False, None, None)

# C-level attribute readers, for map() and set() over thousands of nodes at once.
PARENT = operator.attrgetter("parent")
RAW = operator.attrgetter("raw")
LNAME = operator.attrgetter("lname")
CHILDREN = operator.attrgetter("children")


_POD_START = ("=pod", "=back", "=head1", "=head2", "=begin", "=over")


def _collect(nodes: list[Directive], perl: bool, by_name: dict[str, list[Directive]]) -> None:
    """Group by lowercase name every node httpd reads in place, skipping Perl and macro
    bodies and, with mod_perl, POD blocks. No per-node objects are made: on a 200,000-line
    tree, that many new objects would set off the cyclic collector's full passes."""
    skipping_pod = False
    for node in nodes:
        lname = node.lname
        if perl:
            if skipping_pod:
                if lname == "=cut":
                    skipping_pod = False
                continue
            if lname == "__end__":
                return
            if lname in _POD_START:
                skipping_pod = True
        group = by_name.get(lname)
        if group is None:
            by_name[lname] = [node]
        else:
            group.append(node)
        if node.children is not None and lname not in OPAQUE_SECTIONS:
            _collect(node.children, perl, by_name)


def reaches(nodes: set, targets: set) -> bool:
    """Whether any of `nodes` (sections, or None for server level) is one of `targets` or
    lies inside one: one set operation per nesting level instead of a walk per node."""
    if not targets:
        return False
    level = nodes - {None} if None in nodes else nodes
    while level:
        if not level.isdisjoint(targets):
            return True
        level = set(map(PARENT, level))
        level.discard(None)
    return False


class Pass:
    """The nodes httpd reads in place, grouped by lowercase name (in reading order within a
    name), shared by every check, with what the checks ask of them computed once: the
    context of each section (when asked), the sections around a name's nodes, the sections
    of each context class, and the names that stand inside <Directory>-like sections.

    On a large tree what costs is visiting nodes (each visit is a cache miss), so the
    questions are answered from the name index and from the few nodes inside sections,
    and each node's context is computed only for the names that may be misplaced."""

    def __init__(self, by_name: dict[str, list[Directive]], top, exact: bool):
        #: Read only: without Perl or macro bodies this is the model's own index.
        self.by_name = by_name
        #: The server-level nodes of a name (`model.top`): all those of `by_name`, or more.
        self.top = top
        #: Whether `by_name` holds every node of the tree (nothing skipped).
        self.exact = exact
        self.wheres: dict[Directive | None, Where] = {None: TOP}
        self._parents: dict[str, set] = {}
        self._classes: dict[tuple, set] = {}
        self._names_in: dict[str, collections.Counter[str]] = {}

    def where(self, node: Directive) -> Where:
        """The context a node stands in: that of its innermost enclosing section."""
        parent = node.parent
        found = self.wheres.get(parent)
        if found is None:
            found = self._section(parent)
        return found

    def within(self, section: Directive | None) -> Where:
        """The context the nodes directly inside a section (None: server level) stand in."""
        found = self.wheres.get(section)
        if found is None:
            found = self._section(section)
        return found

    def _section(self, section: Directive | None) -> Where:
        chain = []
        while section not in self.wheres:
            chain.append(section)
            section = section.parent  # type: ignore[union-attr]
        where = self.wheres[section]
        for sec in reversed(chain):
            lname = sec.lname
            if lname in LIMIT_SECTIONS:
                where = Where(where.cls, True, where.section, where.vhost)
            elif lname in SECTION_CLASS:
                cls = SECTION_CLASS[lname]
                vhost = sec if cls == "vhost" else where.vhost
                where = Where(cls, where.limit, sec, vhost)
            else:
                where = Where(None, where.limit, sec, where.vhost)
            self.wheres[sec] = where
        return where

    def parents(self, lname: str) -> set:
        """The sections (None: server level) that hold a node of this name directly."""
        found = self._parents.get(lname)
        if found is None:
            found = self._parents[lname] = set(map(PARENT, self.by_name.get(lname, ())))
        return found

    def sections_of(self, classes: Iterable[str]) -> set:
        """The sections whose body has one of these context classes (`directory`, `vhost`,
        ...), built once per combination."""
        key = tuple(classes)
        found = self._classes.get(key)
        if found is None:
            found = set()
            for lname, cls in SECTION_CLASS.items():
                if cls in key:
                    found.update(self.by_name.get(lname, ()))
            self._classes[key] = found
        return found

    def named_sections(self, lnames: tuple[str, ...]) -> set:
        """The sections with these names."""
        found = self._classes.get(lnames)
        if found is None:
            found = set()
            for lname in lnames:
                found.update(self.by_name.get(lname, ()))
            self._classes[lnames] = found
        return found

    def names_in(self, cls: str) -> collections.Counter[str]:
        """How many nodes of each name stand directly inside the sections of a context
        class other than `vhost`: one pass over the few nodes there answers for every
        name, where looking at each name's nodes would visit most of a large tree."""
        found = self._names_in.get(cls)
        if found is None:
            sections = itertools.chain.from_iterable(
                self.by_name.get(lname, ()) for lname, c in SECTION_CLASS.items() if c == cls
            )
            children = itertools.chain.from_iterable(map(CHILDREN, sections))
            found = self._names_in[cls] = collections.Counter(map(LNAME, children))
        return found

    def limits(self) -> set:
        """The <Limit> and <LimitExcept> sections."""
        return self.named_sections(_LIMITS)

    def may_stand_in(self, lname: str, classes: Iterable[str]) -> bool:
        """Whether some node of this name may stand in one of these context classes
        ("top" for server level), or inside a <Limit>: a cheap test that may say yes
        wrongly, never no wrongly. It looks at the name's own nodes only when `vhost` is
        asked and they do not all stand in <Directory>-like sections."""
        nodes = self.by_name.get(lname, ())
        if self.exact and len(self.top(lname)) == len(nodes):
            # All at server level (the model's index is this one: its server-level nodes
            # of the name are among these).
            return "top" in classes
        if "top" in classes and self.top(lname):
            return True
        inner = 0  # how many of the nodes stand directly in <Directory>-like sections
        for cls in _INNER_CLASSES:
            count = self.names_in(cls).get(lname, 0)
            if count and cls in classes:
                return True
            inner += count
        if "vhost" in classes and not (self.exact and inner == len(nodes)):
            # Unless every node stands in a <Directory>-like section, look at each one's.
            sections = self.sections_of(("vhost",))
            if sections and not sections.isdisjoint(map(PARENT, nodes)):
                return True
        limits = self.limits()
        return bool(limits) and reaches(self.parents(lname), limits)


_LIMITS = tuple(sorted(LIMIT_SECTIONS))
_INNER_CLASSES = ("directory", "location", "files", "if", "proxy")
_PASS_KEY = "correctness.context_pass"


def context_pass(model) -> Pass:
    """The shared walk for this model, computed once (kept in the model's cache)."""
    found = model.cache.get(_PASS_KEY)
    if found is not None:
        return found
    perl = model.has_module("perl_module")
    by_name = None
    if not perl and not any(n.children for s in OPAQUE_SECTIONS for n in model.find(s)):
        # Nothing to skip: the model's index of every node by name is the same grouping,
        # in the same order (first occurrence of each name, then reading order).
        by_name = getattr(model, "_index", None)
    exact = by_name is not None
    if by_name is None:
        by_name = {}
        _collect(model.config.tree, perl, by_name)
    found = model.cache[_PASS_KEY] = Pass(by_name, model.top, exact)
    return found


def named(model, *names: str) -> list[tuple[Directive, Where]]:
    """(node, Where) of the directives with these names, in reading order."""
    ctx = context_pass(model)
    found = [(node, ctx.where(node)) for n in names for node in ctx.by_name.get(n.lower(), ())]
    if len(names) > 1:
        found.sort(key=lambda item: (item[0].file, item[0].line))
    return found


def file_line(node: Directive) -> tuple[str, int]:
    return node.file, node.line


def nodes_named(model, *names: str) -> list[Directive]:
    """The directives with these names, in reading order (as `named`, without contexts)."""
    by_name = context_pass(model).by_name
    if len(names) == 1:
        return by_name.get(names[0].lower(), [])
    found = [node for n in names for node in by_name.get(n.lower(), ())]
    found.sort(key=file_line)
    return found


def vhost_nodes(model) -> set[Directive]:
    """The `<VirtualHost>` sections at server level, as a set (built once per model)."""
    found = model.cache.get("correctness.vhost_nodes")
    if found is None:
        found = model.cache["correctness.vhost_nodes"] = set(model.top("<VirtualHost"))
    return found


_C_SPACE = " \t\n\v\f\r"
_STRIP_SPACE = operator.methodcaller("strip", _C_SPACE)
_FIRST_PLAIN = re.compile(r"[^ \t\n\v\f\r]+[ \t\n\v\f\r]*")


def after_first_word(raw: str) -> str | None:
    """The text after a directive's first word (whose words then are the directive's words
    after the first), or None when that takes a full parse (an escape in a quoted word).
    Cheaper than `node.args`: rules that want the second word need not split the first."""
    if raw[:1] in _C_SPACE:
        raw = raw.lstrip(_C_SPACE)
    quote = raw[:1]
    if quote == '"' or quote == "'":
        end = raw.find(quote, 1)
        if end < 0:
            return ""  # an unclosed quote runs to the end: one word
        if "\\" in raw[:end]:
            return None
        return raw[end + 1 :]
    m = _FIRST_PLAIN.match(raw)
    return raw[m.end() :] if m else ""


def direct(model, name: str) -> dict[Directive | None, list[Directive]]:
    """The directives of this name directly in each section (None: at server level)."""
    out: dict[Directive | None, list[Directive]] = {}
    for node in context_pass(model).by_name.get(name.lower(), ()):
        group = out.get(node.parent)
        if group is None:
            out[node.parent] = [node]
        else:
            group.append(node)
    return out


# -- directive facts ---------------------------------------------------------------------------


def _module_ident(module_name: str) -> str | None:
    entry = knowledge.load().modules.get(module_name)
    return entry.get("identifier") if entry else None


def contexts_for(entry: dict, version: str) -> list[str]:
    if version == "2.2":
        return (entry.get("v22") or {}).get("contexts") or entry["contexts"]
    return entry["contexts"]


def in_version(entry: dict, version: str) -> bool:
    return version in entry["versions"]


def entry_for(lname: str, version: str) -> dict | None:
    """The table entry for a name as httpd of `version` knows it (2.4 aliases resolved)."""
    entry = knowledge.directive(lname)
    if version == "2.4":
        alias = knowledge.load().aliases.get(lname)
        if alias:
            return knowledge.directive(alias)
    return entry


# MPM directives each MPM registers itself in 2.4 (server/mpm/*/*.c); the rest of the manual's
# mpm_common page is implemented in core on Unix.
MPM_OWN_24 = {
    "startservers": {"prefork", "worker", "event"},
    "serverlimit": {"prefork", "worker", "event"},
    "maxrequestworkers": {"prefork", "worker", "event"},
    "maxclients": {"prefork", "worker", "event"},
    "minspareservers": {"prefork"},
    "maxspareservers": {"prefork"},
    "minsparethreads": {"worker", "event"},
    "maxsparethreads": {"worker", "event"},
    "threadsperchild": {"worker", "event"},
    "threadlimit": {"worker", "event"},
    "asyncrequestworkerfactor": {"event"},
}
UNIX_MPMS = {"prefork", "worker", "event"}


def required_module(lname: str, entry: dict, version: str) -> tuple[str | None, set[str] | None]:
    """(module identifier that must be loaded, or None; MPMs that implement it, or None)."""
    if version == "2.4" and lname in EXTRA_24:
        ident = EXTRA_24[lname]
        return (None if ident == "core_module" else ident), None
    module = entry["modules_by_version"].get(version, entry["module"])
    if module in ("core", "http_core"):
        return None, None
    if module == "mpm_common":
        if version == "2.4":
            mpms = MPM_OWN_24.get(lname)
            return None, (set(mpms) if mpms else None)
        mpms = (entry.get("v22") or {}).get("mpms") or entry.get("mpms") or []
        unix = set(mpms) & UNIX_MPMS
        return None, (unix or None)
    return _module_ident(module), None


# -- COR001 unknown directive -------------------------------------------------------------


def _unknown_loaded_modules(model) -> list[str]:
    """Loaded modules whose directives httpdlint cannot know."""
    known = set(knowledge.known_module_names()) | third_party_module_names()
    return sorted(
        ident
        for ident, node in model.config.modules.items()
        if node is not None and ident not in known
    )


def _is_known_anywhere(lname: str) -> bool:
    from .upgrade import REMOVED_UNDOCUMENTED

    return (
        knowledge.directive(lname) is not None
        or lname in EXTRA_24
        or lname in REFUSED
        or lname in REMOVED_UNDOCUMENTED
    )


@unique
def unknown_directive(model, rule, settings) -> Iterator[Finding]:
    unknown_mods = _unknown_loaded_modules(model)
    perl_defines = bool(nodes_named(model, "PerlLoadModule")) and model.has_module("perl_module")
    for lname, items in context_pass(model).by_name.items():
        if lname in REFUSED:
            for node in items:
                yield rule.finding(
                    f'{node.name}: httpd refuses it: "{REFUSED[lname]}"',
                    node,
                    httpd_code=SYNTAX_ERROR,
                )
            continue
        if model.version == "2.4" and lname in DOCUMENTED_ABSENT:
            for node in items:
                yield rule.finding(
                    f"Invalid command '{node.name}': the manual documents it, but httpd "
                    f"2.4.71 does not know it ({DOCUMENTED_ABSENT[lname]}); current releases "
                    "refuse to start",
                    node,
                    httpd_code=SYNTAX_ERROR,
                    severity="warning",
                )
            continue
        if _is_known_anywhere(lname) or third_party_family(lname) is not None:
            continue
        guess = knowledge.suggest(lname, model.version)
        hint = f"; did you mean {guess}?" if guess and guess.lower() != lname else ""
        for node in items:
            shown = node.name + (">" if node.is_section else "")
            if unknown_mods or perl_defines:
                owners = ", ".join(unknown_mods) or "a Perl module loaded with PerlLoadModule"
                yield rule.finding(
                    f"{shown} is not a directive of any httpd release or known module{hint} "
                    f"(unless {owners}, which httpdlint does not know, defines it)",
                    node,
                    severity="warning",
                )
                continue
            yield rule.finding(
                f"Invalid command '{shown}': no httpd release or known module defines "
                f"it{hint}; httpd refuses to start",
                node,
                httpd_code=SYNTAX_ERROR,
            )


# -- COR002 directive in a context its module does not allow --------------------------------


def _measured(lname: str) -> bool:
    entry = knowledge.directive(lname)
    if entry is None or "2.4" not in entry["versions"]:
        return False
    ident, _ = required_module(lname, entry, "2.4")
    return ident is None or ident in MEASURED_MODULES


def context_verdict(lname: str, entry: dict, where: Where, version: str) -> str:
    """'ok'; 'refused' (the manual's contexts exclude it and httpd refuses it); 'checked'
    (the manual allows it but the module's own check refuses it here); or 'doubtful' (the
    manual says no, and httpd was not measured on it)."""
    cls = where.cls
    if cls is None:
        return "ok"
    if where.limit and lname in REJECTED["limit"]:
        return "checked"
    if lname in REJECTED.get(cls, ()):
        return "checked"
    allowed = contexts_for(entry, version)
    if MANUAL_CONTEXT[cls] in allowed:
        return "ok"
    if lname in ACCEPTED.get(cls, ()) or lname.startswith(_ACCEPTED_PREFIX.get(cls, ("\0",))):
        return "ok"
    if cls == "vhost" and not _measured(lname):
        return "doubtful"
    return "refused"


def _alias_refused(node: Directive, where: Where) -> str | None:
    """Why mod_alias refuses Alias/ScriptAlias here: two arguments only outside every
    section (NOT_IN_DIR_CONTEXT), one argument only outside <Directory> and <Files>."""
    if where.cls in (None, "top", "vhost") and not where.limit:
        return None
    if len(node.args) >= 2:
        return "with two arguments"
    parent = node.parent
    while parent is not None:
        if parent.lname in ("<directory", "<directorymatch", "<files", "<filesmatch"):
            return "with one argument"
        parent = parent.parent
    return None


# Where the two-argument Alias is refused, and where AllowOverride is useless.
_ALIAS_REFUSED_IN = _INNER_CLASSES
_NO_HTACCESS = ("<location", "<locationmatch", "<files", "<filesmatch")


@functools.cache
def _context_verdicts(lname: str, version: str) -> tuple[dict, tuple[str, ...], str] | None:
    """For a name httpd of `version` knows: its verdict in each (context class, inside
    <Limit>), the classes where it is not fine outside <Limit>, and the manual's contexts;
    None when no verdict is needed (unknown here, or allowed everywhere). The same for
    every tree, so computed once per name."""
    entry = entry_for(lname, version)
    if entry is None or (not in_version(entry, version) and lname not in knowledge.load().aliases):
        return None
    verdicts = {
        (cls, limit): context_verdict(lname, entry, Where(cls, limit, None, None), version)
        for cls in MANUAL_CONTEXT
        for limit in (False, True)
    }
    if all(v == "ok" for v in verdicts.values()):
        return None  # allowed everywhere: no need to look where each one stands
    bad = tuple(cls for (cls, limit), v in verdicts.items() if v != "ok" and not limit)
    return verdicts, bad, ", ".join(contexts_for(entry, version))


def _may_be_useless(ctx: Pass, lname: str) -> bool:
    """Whether some node of this name may lie inside <Location> or <Files>."""
    inside = ctx.names_in("location") + ctx.names_in("files")
    if lname in inside:
        return True
    if not any(name.startswith("<") for name in inside):
        return False  # no section nested in them: only their own nodes are inside
    return reaches(ctx.parents(lname), ctx.named_sections(_NO_HTACCESS))


@unique
def directive_not_allowed_here(model, rule, settings) -> Iterator[Finding]:
    version = model.version
    ctx = context_pass(model)
    for lname, items in ctx.by_name.items():
        if lname in ("alias", "scriptalias"):
            if not ctx.may_stand_in(lname, _ALIAS_REFUSED_IN):
                continue
            for node in items:
                where = ctx.where(node)
                why = _alias_refused(node, where)
                if why is not None:
                    yield rule.finding(
                        f"{node.name} {why} cannot occur within {_where_label(where)}: httpd "
                        "refuses to start (inside a section only the one-argument form, "
                        f"`{node.name} /target/path`, works, and only in <Location>)",
                        node,
                        httpd_code=SYNTAX_ERROR,
                    )
            continue
        if lname in ("allowoverride", "allowoverridelist") and _may_be_useless(ctx, lname):
            for node in items:
                where = ctx.where(node)
                if _inside(node, *_NO_HTACCESS):
                    yield rule.finding(
                        f"Useless use of {node.name} in {_where_label(where)}: httpd reads "
                        ".htaccess files per directory, so it applies only in <Directory>; "
                        "here it changes nothing",
                        node,
                        httpd_code="AH00114" if lname == "allowoverride" else "AH00115",
                        severity="warning",
                    )
        known = _context_verdicts(lname, version)
        if known is None:
            continue
        verdicts, bad, allowed = known
        if not ctx.may_stand_in(lname, bad):
            continue  # no node of this name stands where it is refused
        wheres = ctx.wheres
        for node in items:
            where = wheres.get(node.parent) or ctx.where(node)
            verdict = verdicts.get((where.cls, where.limit), "ok")
            if verdict == "ok":
                continue
            yield _context_finding(rule, node, where, verdict, lname, allowed)


def _inside(node: Directive, *sections: str) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.lname in sections:
            return True
        parent = parent.parent
    return False


def _context_finding(rule, node, where: Where, verdict: str, lname: str, allowed: str):
    name = node.name + (">" if node.is_section else "")
    if verdict == "doubtful":
        return rule.finding(
            f"{name} in {_where_label(where)}: the manual allows it only in {allowed}; "
            "httpd refuses it there or applies it to the whole server",
            node,
            severity="warning",
        )
    if verdict == "checked":
        inner = where.section.name[1:] if where.section is not None else "Limit"
        if where.limit and lname in REJECTED["limit"]:
            inner = "Limit> or <LimitExcept"
        return rule.finding(
            f'"{name} cannot occur within <{inner}> section": httpd refuses to start, '
            "although the manual lists the context; move it out of this section",
            node,
            httpd_code=SYNTAX_ERROR,
        )
    return rule.finding(
        f"{_httpd_says(name, where)}: httpd refuses to start; it belongs in: {allowed}",
        node,
        httpd_code=SYNTAX_ERROR,
    )


def _httpd_says(name: str, where: Where) -> str:
    """httpd's own words for a directive refused in this place."""
    if where.cls == "top" and not where.limit:
        return f'"{name} not allowed here" (outside every section)'
    if where.cls == "vhost" and not where.limit:
        return f'"{name} cannot occur within <VirtualHost> section"'
    return f'"{name} not allowed in {_where_label(where)}"'


def _where_label(where: Where) -> str:
    if where.cls == "top":
        return "the server config (outside every section)"
    if where.section is not None:
        label = f"<{where.section.name[1:]}> context"
    else:
        label = SECTION_WORD.get(where.cls or "", "this") + " context"
    if where.limit:
        label += " (inside <Limit>)"
    return label


# -- COR003 module not loaded ------------------------------------------------------------------

_OWNED_BY_UPG = {"order", "allow", "deny", "satisfy"}
# A second module that registers the same directive (the manual's <directivesynopsis
# location=...> entries): mod_cgid takes mod_cgi's script log settings.
ALSO_IN = {
    "scriptlog": "cgid_module",
    "scriptloglength": "cgid_module",
    "scriptlogbuffer": "cgid_module",
}
# Compiled into some distributions' 2.2 binaries (Debian's apache2.2-bin), loaded by
# LoadModule in others (RHEL 5/6): a 2.2 tree without their LoadModule may still be right.
MAYBE_STATIC_22 = {"log_config_module", "logio_module"}


@unique
def module_not_loaded(model, rule, settings) -> Iterator[Finding]:
    for lname, items in context_pass(model).by_name.items():
        problem = _module_problem(model, lname)
        if problem is None:
            continue
        for node in items:
            name = node.name + (">" if node.is_section else "")
            message, severity = problem
            yield rule.finding(
                message.replace("{name}", name),
                node,
                httpd_code=SYNTAX_ERROR,
                severity=severity,
            )


def _module_problem(model, lname: str) -> tuple[str, str | None] | None:
    """Why httpd does not know this directive with the modules loaded: (message with a
    {name} placeholder, severity override), or None when it does."""
    version = model.version
    modules = model.config.modules
    mpm = model.mpm_name
    mpm_assumed = version == "2.2" and modules.get(f"mpm_{mpm}_module") is None
    family = third_party_family(lname) if knowledge.directive(lname) is None else None
    if family is not None and lname not in EXTRA_24:
        idents, sources, _, _ = family
        if any(i in modules for i in idents) or any(
            src in model.config.module_sources for src in sources
        ):
            return None
        return (
            "Invalid command '{name}': it belongs to the third-party module "
            f"{idents[0]}, which is not loaded; httpd refuses to start (LoadModule "
            f"{idents[0]} first, or guard it with <IfModule {idents[0]}>)",
            None,
        )
    entry = entry_for(lname, version)
    if version == "2.4" and lname in NOT_ON_UNIX:
        platform, severity = NOT_ON_UNIX[lname]
        return (
            f"Invalid command '{{name}}': it exists only in httpd built {platform}; "
            "httpd on Unix refuses to start",
            severity,
        )
    if lname in EXTRA_24 and version == "2.4" and (entry is None or not in_version(entry, version)):
        ident = EXTRA_24[lname]
        if ident == "core_module" or ident in modules:
            return None
        return _not_loaded_message(ident), None
    if entry is None or not in_version(entry, version):
        return None
    if version == "2.4" and lname in _OWNED_BY_UPG:
        return None  # UPG001 reports these with the 2.4 migration advice
    ident, mpms = required_module(lname, entry, version)
    if mpms is not None:
        if mpm is None or mpm in mpms:
            return None
        which = ", ".join(sorted(mpms))
        return (
            f"Invalid command '{{name}}': only the {which} MPM defines it, and the {mpm} MPM "
            f"is {'assumed' if mpm_assumed else 'loaded'}; httpd refuses to start (guard it "
            f"with <IfModule mpm_{sorted(mpms)[0]}_module>)",
            "warning" if mpm_assumed else None,
        )
    if ident is None or ident in modules or ALSO_IN.get(lname, "") in modules:
        return None
    if version == "2.2" and ident in MAYBE_STATIC_22:
        return None
    if ident.startswith("mpm_"):
        if mpm is None or mpm_assumed:
            return None
        return (
            f"Invalid command '{{name}}': only the {ident[4:-7]} MPM defines it, and the {mpm} "
            f"MPM is loaded; httpd refuses to start (guard it with <IfModule {ident}>)",
            None,
        )
    return _not_loaded_message(ident), None


def _not_loaded_message(ident: str) -> str:
    info = knowledge.module_by_identifier(ident)
    so = (info or {}).get("name") or "mod_" + ident[: -len("_module")]
    return (
        "Invalid command '{name}', perhaps misspelled or defined by a module not included "
        f"in the server configuration: it needs {so} (LoadModule {ident} "
        f"modules/{so}.so); httpd refuses to start"
    )


# -- COR004 a 2.4 directive on Apache 2.2 ------------------------------------------------------


@unique
def newer_than_version(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.2":
        return
    for lname, items in context_pass(model).by_name.items():
        entry = knowledge.directive(lname)
        if entry is not None and "2.2" not in entry["versions"]:
            ident, _ = required_module(lname, entry, "2.4")
            if ident is not None and model.config.modules.get(ident) is not None:
                continue  # a 2.2 build of the module (mod_proxy_html, mod_remoteip backports)
            since = f" (added in {entry['since']})" if entry.get("since") else ""
        elif entry is None and lname in EXTRA_24:
            since = ""
        else:
            continue
        for node in items:
            name = node.name + (">" if node.is_section else "")
            yield rule.finding(
                f"Invalid command '{name}': it does not exist in Apache 2.2{since}; httpd 2.2 "
                "refuses to start",
                node,
            )


# -- COR005 overlapping Listen -------------------------------------------------------------


@dataclass
class ListenAddr:
    host: str | None  # None: every address (Listen 80, Listen *:80)
    port: int
    node: Directive

    @property
    def family(self) -> str | None:
        """'any' (both families), 'v4', 'v6', or None for a host name."""
        if self.host is None:
            return "any"
        try:
            ip = ipaddress.ip_address(self.host.split("%")[0])
        except ValueError:
            return None
        return "v4" if ip.version == 4 else "v6"

    @property
    def wildcard(self) -> bool:
        if self.host is None:
            return True
        try:
            return ipaddress.ip_address(self.host.split("%")[0]).is_unspecified
        except ValueError:
            return False

    def label(self) -> str:
        """The address as written in the Listen line."""
        return self.node.args[0]

    def bound(self) -> str:
        """The address as httpd reports it when binding fails."""
        if self.host is None:
            return f"[::]:{self.port}"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def parse_listen(node: Directive) -> ListenAddr | None:
    if not node.args:
        return None
    text = node.args[0]
    host: str | None
    if text.startswith("["):
        end = text.find("]")
        if end < 0 or text[end + 1 : end + 2] != ":":
            return None
        host, port_text = text[1:end], text[end + 2 :]
    elif ":" in text:
        host, _, port_text = text.rpartition(":")
    else:
        host, port_text = None, text
    if host == "*":
        host = None
    try:
        port = int(port_text)
    except ValueError:
        return None
    return ListenAddr(host.lower() if host else None, port, node)


def listeners(model) -> list[ListenAddr]:
    out = []
    for node in model.top("listen"):
        parsed = parse_listen(node)
        if parsed is not None:
            out.append(parsed)
    return out


def _conflict(a: ListenAddr, b: ListenAddr) -> str | None:
    """Why b cannot be bound once a is: 'same' (httpd -t refuses), 'bind' (fails at start)."""
    if a.port != b.port:
        return None
    if a.host == b.host:
        return "same"
    fa, fb = a.family, b.family
    if fa is None or fb is None:
        return None
    # `Listen 80` binds [::]:80, which also takes IPv4; httpd then skips 0.0.0.0:80.
    pair = {a.host, b.host}
    if None in pair and "0.0.0.0" in pair:
        return None
    if pair == {"::", "0.0.0.0"}:
        return None
    if a.wildcard and b.wildcard:
        return "bind"  # `80` and `[::]:80`: the same socket twice
    wild, spec = (a, b) if a.wildcard else (b, a) if b.wildcard else (None, None)
    if wild is None or spec is None:
        return None
    covers = {"any": {"v4", "v6"}, "v6": {"v4", "v6"}, "v4": {"v4"}}[wild.family or "v4"]
    return "bind" if spec.family in covers else None


@unique
def overlapping_listen(model, rule, settings) -> Iterator[Finding]:
    seen: list[ListenAddr] = []
    for cur in listeners(model):
        for prev in seen:
            why = _conflict(prev, cur)
            if why is None:
                continue
            at = f"{os.path.basename(prev.node.file)}:{prev.node.line}"
            if why == "same" and model.version == "2.4":
                yield rule.finding(
                    f"Listen {cur.label()} repeats Listen {prev.label()} ({at}): httpd refuses "
                    'to start: "Cannot define multiple Listeners on the same IP:port"',
                    cur.node,
                    httpd_code=SYNTAX_ERROR,
                )
            else:
                yield rule.finding(
                    f"Listen {cur.label()} overlaps Listen {prev.label()} ({at}): the first "
                    'socket already holds the port, so httpd fails to start with "(98)Address '
                    f'already in use: make_sock: could not bind to address {cur.bound()}"',
                    cur.node,
                    httpd_code="AH00072",
                )
            break
        seen.append(cur)


# -- virtual host addresses and names --------------------------------------------------------


def _split_hostport(text: str) -> tuple[str, str | None]:
    text = text.strip().lower()
    if text.startswith("["):
        end = text.find("]")
        host = text[: end + 1]
        rest = text[end + 1 :]
        return host, rest[1:] if rest.startswith(":") else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None


def vhost_addresses(vhost) -> list[str]:
    """Normalised `host:port` strings of a virtual host (`*:80`, `_default_:443`, `*`)."""
    return [_norm_addr(arg) for arg in vhost.addresses]


def _server_name(value: str) -> str:
    """The host part of a ServerName or ServerAlias value, as name matching compares it."""
    v = value.strip().lower()
    if "://" in v:
        v = v.split("://", 1)[1]
    host, _ = _split_hostport(v)
    return host.rstrip(".")


def _main_name(model) -> str:
    """The name a virtual host without ServerName takes: the server's."""
    main = model.server_directive("ServerName")
    if main is not None and main.args:
        return _server_name(main.args[0])
    return "(this machine's host name)"


def _names(
    vhost, main_name: str, server_names: dict, aliases: dict
) -> list[tuple[str, Directive | None, bool]]:
    """(name, directive, inherited) for every name a virtual host answers to."""
    out: list[tuple[str, Directive | None, bool]] = []
    own = server_names.get(vhost.node)
    if own and own[-1].args:
        out.append((_server_name(own[-1].args[0]), own[-1], False))
    else:
        out.append((main_name, None, True))
    for d in aliases.get(vhost.node, ()):
        for a in d.args:
            out.append((_server_name(a), d, False))
    return out


def _name_based_22(model) -> set[str]:
    return {_norm_addr(d.args[0]) for d in model.top("namevirtualhost") if d.args}


@functools.lru_cache(maxsize=4096)
def _norm_addr(text: str) -> str:
    host, port = _split_hostport(text)
    return f"{host}:{port}" if port else host


def _names_may_repeat(model, main_name: str) -> bool:
    """Whether two virtual hosts may answer to one name: a test on all ServerName and
    ServerAlias words at once that may say yes wrongly, never no wrongly. It gives up
    (yes) on anything but plain words without a port."""
    vhosts = vhost_nodes(model)
    by_name = context_pass(model).by_name
    names = by_name.get("servername", [])
    raws = list(map(RAW, names))
    raws += map(RAW, by_name.get("serveralias", ()))
    text = "\n".join(raws).lower()
    if any(c in text for c in "\"'\\:[\x1c\x1d\x1e\x1f") or not text.isascii():
        return True
    # Each word is a whole argument; without ":" or "[", a name is the word, lowercase,
    # without trailing dots. Every name a host answers to is among the words of its own
    # lines (words of lines elsewhere only add candidates).
    words = text.split()
    if ".\n" in "\n".join(words) + "\n":
        words = [w.rstrip(".") for w in words]
    # Hosts without a ServerName (or with an empty one) take the server's name.
    lacking = len(vhosts) - len(vhosts.intersection(map(PARENT, names)))
    words += [main_name] * (lacking + raws.count(""))
    if len(set(words)) == len(words):
        return False
    # The server's own ServerName and ServerAlias lines name no virtual host.
    top = model.top("servername") + model.top("serveralias")
    if not top or model.has_module("perl_module"):
        return True  # (with mod_perl, some server-level lines may be POD, not read)
    counts = collections.Counter(words)
    for word in " ".join(node.raw for node in top).lower().split():
        counts[word.rstrip(".")] -= 1
    return any(n > 1 for n in counts.values())


@unique
def duplicate_server_name(model, rule, settings) -> Iterator[Finding]:
    if len(model.virtual_hosts()) < 2:
        return
    main_name = _main_name(model)
    if not _names_may_repeat(model, main_name):
        return
    named_22 = _name_based_22(model) if model.version == "2.2" else None
    claimed: dict[tuple[str, str], tuple[object, Directive | None]] = {}
    server_names = direct(model, "ServerName")
    aliases = direct(model, "ServerAlias")
    for vhost in model.virtual_hosts():
        reported: set[str] = set()
        names = _names(vhost, main_name, server_names, aliases)
        for addr in vhost_addresses(vhost):
            if named_22 is not None and addr not in named_22:
                continue  # 2.2 without NameVirtualHost: COR014's case
            for name, node, inherited in names:
                key = (addr, name)
                first = claimed.get(key)
                if first is None:
                    claimed[key] = (vhost, node)
                    continue
                if first[0] is vhost or name in reported:
                    continue
                reported.add(name)
                other = first[0].node  # type: ignore[attr-defined]
                how = " (it has no ServerName, so it takes the server's)" if inherited else ""
                yield rule.finding(
                    f"{name} on {addr} is already claimed by the <VirtualHost> at "
                    f"{os.path.basename(other.file)}:{other.line}{how}: requests for it always "
                    "go to that first one, never to this one",
                    node or vhost.node,
                )


@unique
def vhost_overlap_22(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.2":
        return
    named = _name_based_22(model)
    first: dict[str, Directive] = {}
    for vhost in model.virtual_hosts():
        for addr in vhost_addresses(vhost):
            if addr in named:
                continue
            prev = first.get(addr)
            if prev is None:
                first[addr] = vhost.node
                continue
            yield rule.finding(
                f"VirtualHost {addr} overlaps with the one at {os.path.basename(prev.file)}:"
                f"{prev.line} and there is no NameVirtualHost {addr}: httpd 2.2 warns that the "
                "first has precedence, and this one never receives a request",
                vhost.node,
            )


# -- COR007 / COR008 paths on the filesystem -----------------------------------------------------


def _resolve(model, path: str) -> str:
    return os.path.normpath(os.path.join(model.config.server_root, path))


def _checkable(path: str) -> bool:
    return bool(path) and "${" not in path and not any(c in path for c in "*?[")


@unique
def document_root_missing(model, rule, settings) -> Iterator[Finding]:
    ctx = context_pass(model)
    nodes = ctx.by_name.get("documentroot", [])
    exists: dict[str, tuple[str, bool]] = {}  # by the raw argument text
    for raw in set(map(RAW, nodes)):
        args = split_args(raw)
        path = args[0] if args else ""
        full = _resolve(model, path)
        exists[raw] = (full, not _checkable(path) or os.path.isdir(full))
    if all(ok for _, ok in exists.values()):
        return
    for node in nodes:
        full, ok = exists[node.raw]
        if ok:
            continue
        where = ctx.where(node)
        if where.cls not in ("top", "vhost"):
            continue
        if where.cls == "vhost":
            yield rule.finding(
                f'DocumentRoot {full} does not exist: httpd warns "DocumentRoot [{full}] does '
                'not exist" and this virtual host answers every request with 404',
                node,
                httpd_code="AH00112",
                severity="warning",
            )
        else:
            yield rule.finding(
                f"DocumentRoot '{full}' is not a directory, or is not readable: httpd refuses "
                "to start",
                node,
                httpd_code=SYNTAX_ERROR,
            )


@unique
def directory_path_missing(model, rule, settings) -> Iterator[Finding]:
    nodes = nodes_named(model, "<Directory")
    fine: dict[str, bool] = {}  # by the raw argument text
    for raw in set(map(RAW, nodes)):
        args = section_args(raw)
        path = args[0] if args else "~"
        fine[raw] = (
            path == "~" or not _checkable(path) or not path.startswith("/") or os.path.exists(path)
        )
    if all(fine.values()):
        return
    for node in nodes:
        if fine[node.raw]:
            continue
        path = node.args[0]
        yield rule.finding(
            f"<Directory {path}> names a path that does not exist here: the section applies "
            "to nothing (a typo, or a path on another machine?)",
            node,
        )


# -- COR009 / COR010 mod_rewrite ------------------------------------------------------------------


def _engine(nodes: list[Directive]) -> str | None:
    """The last RewriteEngine value directly among nodes: 'on', 'off' or None."""
    value = None
    for d in nodes:
        if d.lname == "rewriteengine" and d.args:
            value = d.args[0].lower()
    return value


@unique
def rewrite_engine_off(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("rewrite_module"):
        return
    ctx = context_pass(model)
    rules = ctx.by_name.get("rewriterule")
    if not rules:
        return
    all_engines = ctx.by_name.get("rewriteengine", [])
    at_top = itertools.compress(all_engines, map(operator.not_, map(PARENT, all_engines)))
    server = _engine(list(at_top))
    # Find the sections whose RewriteRules may never run, from the sections around the rules
    # (a large tree has a RewriteRule and a RewriteEngine in each virtual host), then judge
    # only the rules in them.
    parents = ctx.parents("rewriterule")
    suspects = set()
    if None in parents and server is None:
        suspects.add(None)
    vhosts = ctx.sections_of(("vhost",))
    in_vhosts = parents & vhosts
    if in_vhosts and (server is None or (model.version == "2.2" and server == "on")):
        with_args = itertools.compress(all_engines, map(_STRIP_SPACE, map(RAW, all_engines)))
        suspects |= in_vhosts.difference(map(PARENT, with_args))
    for parent in parents - in_vhosts - {None}:
        if ctx.within(parent).cls is not None:
            suspects.add(parent)
    if not suspects:
        return
    engines = direct(model, "RewriteEngine")
    any_on = any(d.args and d.args[0].lower() == "on" for d in all_engines)
    for node in rules:
        if node.parent not in suspects:
            continue
        where = ctx.where(node)
        if where.cls == "top":
            if server is None:
                yield rule.finding(
                    "RewriteRule never runs: RewriteEngine is not On at server level "
                    "(its default is off)",
                    node,
                )
            continue
        if where.cls == "vhost" and where.vhost is not None:
            own = _engine(engines.get(where.vhost, []))
            if own is not None:
                continue
            if model.version == "2.2":
                if server == "on":
                    yield rule.finding(
                        "RewriteRule in a virtual host without its own RewriteEngine On: "
                        "httpd 2.2 before 2.2.23 does not pass the server's RewriteEngine "
                        "On to virtual hosts, so the rule never runs there",
                        node,
                    )
                elif server is None:
                    yield rule.finding(
                        "RewriteRule never runs: neither this virtual host nor the server "
                        "sets RewriteEngine On",
                        node,
                    )
                continue
            if server is None:
                yield rule.finding(
                    "RewriteRule never runs: neither this virtual host nor the server sets "
                    "RewriteEngine On (its default is off)",
                    node,
                )
            continue
        if where.cls is not None and not any_on:
            yield rule.finding(
                "RewriteRule never runs: RewriteEngine On appears nowhere in the "
                "configuration (its default is off)",
                node,
            )


def _options(nodes: list[Directive]) -> set[str]:
    out: set[str] = set()
    for d in nodes:
        if d.lname == "rewriteoptions":
            out.update(a.lower() for a in d.args)
    return out


@unique
def server_rewrite_not_inherited(model, rule, settings) -> Iterator[Finding]:
    if not model.has_module("rewrite_module"):
        return
    rules = model.top("rewriterule")
    if not rules or _engine(model.top("rewriteengine")) != "on":
        return
    if _options(model.top("rewriteoptions")) & {"inheritdown", "inheritdownbefore"}:
        return
    missing = [
        v
        for v in model.virtual_hosts()
        if not _options(v.directives) & {"inherit", "inheritbefore"}
    ]
    if not missing:
        return
    where = ", ".join(f"{os.path.basename(v.node.file)}:{v.node.line}" for v in missing[:3]) + (
        " ..." if len(missing) > 3 else ""
    )
    yield rule.finding(
        f"{len(rules)} RewriteRule(s) at server level do not apply to the {len(missing)} "
        f"virtual host(s) ({where}) that lack RewriteOptions Inherit: rewrite rules are not "
        "inherited",
        rules[0],
    )


# -- COR011 undefined variable ----------------------------------------------------------------


@unique
def undefined_variable(model, rule, settings) -> Iterator[Finding]:
    seen = set()
    for name, file, line in model.config.undefined:
        if (name, file, line) in seen:
            continue
        seen.add((name, file, line))
        yield rule.finding(
            f"Config variable ${{{name}}} is not defined: httpd keeps the text "
            f"'${{{name}}}' literally (Define it, or export it in the environment httpd "
            "starts with)",
            file=file,
            line=line,
            httpd_code="AH00111",
        )


# -- COR012 <IfModule> naming no module ----------------------------------------------------------

_MODULE_FORM = re.compile(r"^(mod_[A-Za-z0-9_.+-]+\.(c|cpp)|[A-Za-z0-9_]+_module|mod_shib)$")


def _ifmodule_arg(node: Directive) -> str | None:
    raw = node.raw
    end = raw.rfind(">")
    arg = (raw[:end] if end >= 0 else raw).strip()
    if arg.startswith("!"):
        arg = arg[1:].strip()
    if len(arg) >= 2 and arg[0] == arg[-1] and arg[0] in "\"'":
        arg = arg[1:-1]
    return arg or None


def known_ifmodule_names(model) -> set[str]:
    return (
        set(knowledge.known_module_names())
        | third_party_module_names()
        | set(model.config.modules)
        | set(model.config.module_sources)
    )


def _module_guess(arg: str, known: set[str]) -> str | None:
    stem = arg.lower()
    for suffix in (".so", ".c", "_module"):
        if stem.endswith(suffix):
            stem = stem[: -len(suffix)]
    if stem.startswith("mod_"):
        stem = stem[4:]
    for candidate in (f"{stem}_module", f"mod_{stem}.c"):
        if candidate in known:
            return candidate
    import difflib

    close = difflib.get_close_matches(arg, sorted(known), n=1, cutoff=0.85)
    return close[0] if close else None


def _both_forms(name: str) -> str:
    """`ssl_module (or mod_ssl.c)` for a module the table knows, else the name."""
    entry = knowledge.module_by_identifier(name) or knowledge.module_by_sourcefile(name)
    if entry and entry.get("identifier") and entry.get("sourcefile"):
        first, second = (
            (entry["identifier"], entry["sourcefile"])
            if name == entry["identifier"]
            else (entry["sourcefile"], entry["identifier"])
        )
        return f"{first} (or {second})"
    return name


@unique
def unknown_ifmodule(model, rule, settings) -> Iterator[Finding]:
    known = known_ifmodule_names(model)
    guesses: dict[str, str | None] = {}  # by the argument: many blocks name the same module
    for node in model.config.exec_directives:
        if node.lname != "<ifmodule":
            continue
        arg = _ifmodule_arg(node)
        if arg is None or arg in known:
            continue
        negated = node.raw.lstrip().startswith("!")
        effect = "always applies" if negated else "never applies"
        if arg not in guesses:
            guesses[arg] = _module_guess(arg, known)
        guess = guesses[arg]
        if guess:
            yield rule.finding(
                f"<IfModule {'!' if negated else ''}{arg}> names no module, so the block "
                f"{effect}; did you mean {_both_forms(guess)}? (<IfModule> takes a module's "
                "identifier or its source file name, nothing else)",
                node,
            )
        elif not _MODULE_FORM.match(arg):
            yield rule.finding(
                f"<IfModule {'!' if negated else ''}{arg}> can match no module (<IfModule> "
                f"takes an identifier like rewrite_module or a file like mod_rewrite.c), so "
                f"the block {effect}",
                node,
            )
        else:
            yield rule.finding(
                f"<IfModule {'!' if negated else ''}{arg}>: no httpd release or well-known "
                f"third-party module has this name; unless a module of your own does, the "
                f"block {effect}",
                node,
                severity="info",
            )


# -- COR013 LoadModule twice ------------------------------------------------------------------


@unique
def duplicate_load_module(model, rule, settings) -> Iterator[Finding]:
    first: dict[str, Directive] = {}
    for node in model.config.exec_directives:
        if node.lname != "loadmodule" or len(node.args) != 2:
            continue
        ident = node.args[0]
        prev = first.get(ident)
        if prev is None:
            first[ident] = node
            continue
        yield rule.finding(
            f"module {ident} is already loaded, skipping (first loaded at "
            f"{os.path.basename(prev.file)}:{prev.line}): this line does nothing",
            node,
            httpd_code="AH01574",
        )


# -- COR015 exactly one MPM ------------------------------------------------------------------


@unique
def mpm_count(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.4":
        return
    loaded = [
        (ident, node)
        for ident, node in model.config.modules.items()
        if ident.startswith("mpm_") and ident.endswith("_module")
    ]
    # No MPM at all is CAP011's finding; reporting it here too would say it twice.
    for ident, node in loaded[1:]:
        first = loaded[0][0]
        where = {"at": node} if node is not None else {"file": model.config.root, "line": 1}
        yield rule.finding(
            f"More than one MPM loaded ({first} and {ident}): httpd refuses to start",
            httpd_code="AH00534",
            **where,
        )


# -- COR016 / COR017 Listen coverage ------------------------------------------------------------


@unique
def vhost_port_not_listening(model, rule, settings) -> Iterator[Finding]:
    ls = listeners(model)
    if not ls:
        return  # COR017
    vhosts = model.virtual_hosts()
    # Judge each distinct address once; look at the hosts only when one receives nothing.
    addresses = set(itertools.chain.from_iterable(map(ADDRESSES, vhosts)))
    verdicts = {arg: _unheard(arg, ls) for arg in addresses}
    if not any(verdicts.values()):
        return
    for vhost in vhosts:
        for arg in vhost.addresses:
            message = verdicts[arg]
            if message is not None:
                yield rule.finding(message, vhost.node)


ADDRESSES = operator.attrgetter("addresses")


def _unheard(arg: str, ls: list[ListenAddr]) -> str | None:
    """Why a virtual host address receives nothing from these listeners, or None."""
    host, port_text = _split_hostport(arg)
    if not port_text or port_text == "*":
        return None
    try:
        port = int(port_text)
    except ValueError:
        return None
    on_port = [x for x in ls if x.port == port]
    if not on_port:
        return f"<VirtualHost {arg}> never receives a request: no Listen on port {port}"
    bare = host.strip("[]")
    if host in ("*", "_default_") or any(x.wildcard for x in on_port):
        return None
    try:
        ipaddress.ip_address(bare)
    except ValueError:
        return None  # a host name: its addresses are not known here
    if any(x.host == bare for x in on_port):
        return None
    listening = ", ".join(x.label() for x in on_port)
    return (
        f"<VirtualHost {arg}> never receives a request: httpd listens on port {port} only "
        f"at {listening}"
    )


@unique
def no_listen(model, rule, settings) -> Iterator[Finding]:
    if model.top("listen"):
        return
    yield rule.finding(
        "No Listen directive: httpd starts with no listening sockets available and shuts down",
        file=model.config.root,
        line=1,
    )


# -- COR018 Require with a provider whose module is not loaded --------------------------------

AUTHZ_PROVIDERS = {
    "all": "authz_core_module",
    "env": "authz_host_module",
    "ip": "authz_host_module",
    "host": "authz_host_module",
    "forward-dns": "authz_host_module",
    "local": "authz_host_module",
    "method": "authz_core_module",
    "expr": "authz_core_module",
    "user": "authz_user_module",
    "valid-user": "authz_user_module",
    "group": "authz_groupfile_module",
    "file-owner": "authz_owner_module",
    "file-group": "authz_owner_module",
    "dbm-group": "authz_dbm_module",
    "dbm-file-group": "authz_dbm_module",
    "dbd-group": "authz_dbd_module",
    "ldap-user": "authnz_ldap_module",
    "ldap-group": "authnz_ldap_module",
    "ldap-dn": "authnz_ldap_module",
    "ldap-attribute": "authnz_ldap_module",
    "ldap-filter": "authnz_ldap_module",
    "ldap-search": "authnz_ldap_module",
}


@unique
def authz_provider_not_loaded(model, rule, settings) -> Iterator[Finding]:
    if model.version != "2.4" or not model.has_module("authz_core_module"):
        return
    aliases = {
        d.args[1].lower() for d in nodes_named(model, "<AuthzProviderAlias") if len(d.args) >= 2
    }
    modules = model.config.modules
    # The verdict depends on the words alone: judge each distinct argument text once
    # (a directive's words are those of its text, `split_args`).
    verdicts: dict[str, tuple[str, str] | None] = {}
    for raw in set(map(RAW, nodes_named(model, "Require"))):
        quick = '"' not in raw and "'" not in raw and "\\" not in raw
        args = raw.split(None, 2) if quick else split_args(raw)
        verdicts[raw] = _provider_missing(args, aliases, modules)
    if not any(verdicts.values()):
        return
    for node in nodes_named(model, "Require"):
        missing = verdicts[node.raw]
        if missing is None:
            continue
        word, ident = missing
        info = knowledge.module_by_identifier(ident)
        so = (info or {}).get("name", ident)
        yield rule.finding(
            f"Unknown Authz provider: {word}: `Require {word}` needs {so} (LoadModule "
            f"{ident}); httpd refuses to start",
            node,
            httpd_code=SYNTAX_ERROR,
        )


def _provider_missing(args: list[str], aliases: set[str], modules) -> tuple[str, str] | None:
    """(provider word, module identifier) when a Require line's provider is not loaded."""
    if not args:
        return None
    word = args[1] if args[0].lower() == "not" and len(args) > 1 else args[0]
    provider = word.lower()
    if provider in aliases:
        return None
    ident = AUTHZ_PROVIDERS.get(provider)
    if ident is None or ident in modules:
        return None
    return word, ident
