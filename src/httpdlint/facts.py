"""httpd's facts about its directives beyond the manual's table (knowledge.py), corrected
where the server disagrees with its manual: the context each section gives, where each
directive is accepted (measured by running `apache2 -t`, Debian's 2.4.71 with all its modules,
on every documented directive in every kind of section), the undocumented names the same binary
accepts (`apache2 -L`), what httpd refuses outright, third-party module families, and the 2.2
to 2.4 renames and removals. Rules and the model ask this module; none of them keeps a copy.
"""

from __future__ import annotations

from . import knowledge

SYNTAX_ERROR = "AH00526"


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


# -- 2.2 to 2.4: renamed, replaced and removed ---------------------------------------------

# Replaced by Mutex in 2.4 (two of them existed only in 2.3 and have no manual page).
MUTEX_REPLACED = {
    "acceptmutex": "mpm-accept",
    "lockfile": "mpm-accept",
    "rewritelock": "rewrite-map",
    "sslmutex": "ssl-cache",
    "sslstaplingmutex": "ssl-stapling",
    "watchdogmutexpath": "watchdog-callback",
}

REMOVED_UNDOCUMENTED = {"sslstaplingmutex", "watchdogmutexpath"}

REWRITE_LOG = {"rewritelog", "rewriteloglevel"}

# Modules 2.4 no longer has, and what replaces them.
REMOVED_MODULES = {
    "authn_default_module": "nothing: 2.4's mod_authn_core does its job; delete the line",
    "authz_default_module": "nothing: 2.4's mod_authz_core does its job; delete the line",
    "authn_alias_module": "mod_authn_core, which now holds <AuthnProviderAlias>",
    "mem_cache_module": "mod_cache_disk or mod_cache_socache",
    "disk_cache_module": "cache_disk_module (mod_cache_disk.so), its 2.4 name",
}

# What each other 2.2-only directive became (the default hint is "delete it").
REMOVED_HINTS = {
    "authzdbmauthoritative": "express the fallback with <RequireAny>/<RequireAll>",
    "authzgroupfileauthoritative": "express the fallback with <RequireAny>/<RequireAll>",
    "authzldapauthoritative": "express the fallback with <RequireAny>/<RequireAll>",
    "authzownerauthoritative": "express the fallback with <RequireAny>/<RequireAll>",
    "authzuserauthoritative": "express the fallback with <RequireAny>/<RequireAll>",
    "authzdefaultauthoritative": "mod_authz_default is gone; delete it",
    "authdefaultauthoritative": "mod_authn_default is gone; delete it",
    "dumpiologlevel": "use LogLevel dumpio:trace7",
    "cookielog": "use CustomLog with a cookie format",
    "mcachemaxobjectcount": "mod_mem_cache is gone: use mod_cache_disk or mod_cache_socache",
    "mcachemaxobjectsize": "mod_mem_cache is gone: use mod_cache_disk or mod_cache_socache",
    "mcachemaxstreamingbuffer": "mod_mem_cache is gone: use mod_cache_disk or mod_cache_socache",
    "mcacheminobjectsize": "mod_mem_cache is gone: use mod_cache_disk or mod_cache_socache",
    "mcacheremovalalgorithm": "mod_mem_cache is gone: use mod_cache_disk or mod_cache_socache",
    "mcachesize": "mod_mem_cache is gone: use mod_cache_disk or mod_cache_socache",
    "win32disableacceptex": "use AcceptFilter http none",
}

# 2.2-only names 2.4 still accepts: the renamed MPM settings and a no-op.
STILL_ACCEPTED = {"maxclients", "maxrequestsperchild", "authdigestnccheck"}

RENAMED = {"maxclients": "MaxRequestWorkers", "maxrequestsperchild": "MaxConnectionsPerChild"}
