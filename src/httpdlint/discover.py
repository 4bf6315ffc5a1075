"""Find this machine's httpd configuration (the binary's -V, then the usual paths) and load
the configurations a command is given, or this machine's when it is given none."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

from .errors import ConfigError

BINARIES = ("apache2", "httpd", "httpd24", "apache22")
# Debian/Ubuntu, RHEL/Fedora, SUSE and Gentoo, FreeBSD, and a source build's default.
USUAL = (
    "/etc/apache2/apache2.conf",
    "/etc/httpd/conf/httpd.conf",
    "/etc/apache2/httpd.conf",
    "/usr/local/etc/apache24/httpd.conf",
    "/usr/local/etc/apache22/httpd.conf",
    "/usr/local/apache2/conf/httpd.conf",
)


def find_binary() -> str | None:
    for name in BINARIES:
        path = shutil.which(name)
        if path:
            return path
        for d in ("/usr/sbin", "/usr/local/sbin", "/usr/local/apache2/bin"):
            candidate = os.path.join(d, name)
            if os.access(candidate, os.X_OK):
                return candidate
    return None


def compiled_paths(binary: str) -> tuple[str | None, str | None, str | None]:
    """(HTTPD_ROOT, SERVER_CONFIG_FILE, version) from `httpd -V`."""
    try:
        out = subprocess.run(
            [binary, "-V"], capture_output=True, text=True, timeout=10, errors="replace"
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None, None
    root = re.search(r'-D HTTPD_ROOT="([^"]*)"', out)
    conf = re.search(r'-D SERVER_CONFIG_FILE="([^"]*)"', out)
    version = re.search(r"Apache/(\d+\.\d+)", out)
    return (
        root.group(1) if root else None,
        conf.group(1) if conf else None,
        version.group(1) if version else None,
    )


def _running_server(pid: int | None) -> tuple[str, str | None, list[str], str, int] | None:
    """(main file, server root, -D defines, binary, PID) of a running httpd parent: `pid`, else
    the one with most children. Its own command line decides (-f, -d, -D), then its
    binary's compiled paths, as httpd itself does; None when no httpd runs."""
    from .procfs import PROC, is_httpd_name, is_one_shot, parents_and_names

    table = parents_and_names()
    if pid is None:
        parents = [
            p
            for p, (name, ppid) in table.items()
            if is_httpd_name(name)
            and not is_httpd_name(table.get(ppid, ("", 0))[0])
            and not is_one_shot(p)
        ]
        if not parents:
            return None
        children = {p: sum(1 for _, pp in table.values() if pp == p) for p in parents}
        pid = max(parents, key=lambda p: (children[p], -p))
    argv = _argv(pid)
    try:
        binary = os.readlink(f"{PROC}/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        binary = argv[0] if argv and os.path.isabs(argv[0]) else find_binary()
    conf = root = None
    defines: list[str] = []
    args, i = argv[1:], 0
    while i < len(args):
        option, value = args[i][:2], args[i][2:]
        if option in _VALUED:
            if not value:
                i += 1
                value = args[i] if i < len(args) else ""
            if option == "-f":
                conf = value
            elif option == "-d":
                root = value
            elif option == "-D":
                defines.append(value)
        i += 1
    compiled_root, compiled_conf, _ = compiled_paths(binary) if binary else (None, None, None)
    root = root or compiled_root
    conf = conf or compiled_conf
    if not conf:
        return None
    path = conf if os.path.isabs(conf) else os.path.join(root or "/", conf)
    return (path, root, defines, binary or "", pid) if os.path.isfile(path) else None


# httpd's options that take a value (main.c): -f -d -D -C -c -k -e -E -R -T... only the
# ones with a value matter, so that the value is not read as an option.
_VALUED = frozenset({"-f", "-d", "-D", "-C", "-c", "-k", "-e", "-E", "-R"})


def running_options(pid: int | None = None) -> tuple[str, list[str]] | None:
    """(binary, the options that choose its tree: -f, -d, -D, -C, -c) of the running httpd
    parent (`pid`, else the one with most children); None when none runs."""
    found = _running_server(pid)
    if found is None:
        return None
    binary = found[3]
    argv = _argv(found[4])
    options: list[str] = []
    i = 1
    while i < len(argv):
        option, value = argv[i][:2], argv[i][2:]
        if option in _VALUED:
            if not value:
                i += 1
                value = argv[i] if i < len(argv) else ""
            if option in ("-f", "-d", "-D", "-C", "-c"):
                options += [option, value]
        i += 1
    return binary, options


def _argv(pid: int) -> list[str]:
    from .procfs import cmdline

    return [a.decode("utf-8", "surrogateescape") for a in cmdline(pid) or []]


def discover() -> tuple[str, str | None, str | None]:
    """(main config file, server root, version) of this machine's httpd; ConfigError if none."""
    binary = find_binary()
    if binary:
        root, conf, version = compiled_paths(binary)
        if conf:
            path = conf if os.path.isabs(conf) else os.path.join(root or "/", conf)
            if os.path.isfile(path):
                return path, root, version
    for path in USUAL:
        if os.path.isfile(path):
            return path, None, None
    raise ConfigError(
        "no httpd configuration found on this machine (tried `apache2 -V`/`httpd -V` and "
        + ", ".join(USUAL)
        + "); give its path"
    )


def load_models(
    paths: list[str],
    server_root: str | None,
    defines: list[str],
    modules: list[str],
    version: str | None,
    *,
    optional: bool = False,
    pid: int | None = None,
    confine=None,
) -> list:
    """The models of `paths`, or of this machine's configuration when there are none: the
    running server's (`pid`, else the one with most children: its -f, -d and -D), else the
    one the binary names (-V), else the usual paths.

    With `optional`, a machine without any httpd configuration gives [] instead of an error
    (suggest and measure can still work from what is given or measured). With `confine`
    (--confine) a PATH is required and nothing outside its directory is read.
    """
    from .model import load_model

    system = False
    if not paths and confine is not None:
        raise confine.refuse("this machine's configuration (no PATH)")
    if not paths:
        running = _running_server(pid)
        if running is not None:
            main, root, running_defines, _, _ = running
            defines = [*running_defines, *defines]
            found_version = None
        else:
            try:
                main, root, found_version = discover()
            except ConfigError:
                if optional:
                    return []
                raise
        paths = [main]
        server_root = server_root or root
        version = version or found_version
        system = True
    models = []
    for path in paths:
        model = load_model(
            path,
            server_root=server_root,
            defines=defines,
            modules=modules,
            apache_version=version,
            confine=confine,
        )
        model.system = system
        models.append(model)
    return models


def on_this_machine(model) -> bool:
    """Whether the tree is read where it runs, so its paths can be checked on disk: the
    discovered configuration, or one under /etc. A tree in a checkout or a CI workspace is
    not, and its DocumentRoot need not exist on the machine that lints it."""
    return model.system or model.config.root.startswith("/etc/")
