"""Find this machine's httpd configurations and load the ones a command is given, or this
machine's when it is given none.

Without a PATH the running servers come first: every httpd parent in the process table, its
tree read as httpd itself reads it (the -f, -d, -D, -C and -c options of its command line, its
binary's compiled paths, its environment for `${VAR}`), and kept only when that tree's PidFile
holds the parent's PID. Then the configuration a trusted binary's `-V` names, then the usual
paths of the common layouts (LAYOUTS). Each model records where it came from (`Found`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field

from .bounds import binary_refusal
from .errors import ConfigError

# Program names of httpd: upstream, Debian's, SUSE's one binary per MPM, old RHEL/FreeBSD ones.
BINARIES = (
    "apache2",
    "httpd",
    "httpd-prefork",
    "httpd-worker",
    "httpd-event",
    "httpd24",
    "apache22",
)
# Where the layouts below install it, relative to the root prefix.
BINARY_DIRS = (
    "usr/sbin",
    "usr/local/sbin",
    "opt/rh/httpd24/root/usr/sbin",
    "opt/bitnami/apache/bin",
    "opt/bitnami/apache2/bin",
    "opt/homebrew/bin",
    "usr/local/bin",
    "usr/local/apache2/bin",
)
# (layout, main configuration file relative to the root prefix), in the order tried.
LAYOUTS = (
    ("Debian/Ubuntu", "etc/apache2/apache2.conf"),
    ("RHEL/Fedora", "etc/httpd/conf/httpd.conf"),
    ("RHEL software collection httpd24", "opt/rh/httpd24/root/etc/httpd/conf/httpd.conf"),
    ("cPanel EasyApache", "etc/apache2/conf/httpd.conf"),
    ("SUSE, Gentoo", "etc/apache2/httpd.conf"),
    ("Bitnami", "opt/bitnami/apache/conf/httpd.conf"),
    ("Bitnami (older stacks)", "opt/bitnami/apache2/conf/httpd.conf"),
    ("FreeBSD", "usr/local/etc/apache24/httpd.conf"),
    ("FreeBSD, Apache 2.2", "usr/local/etc/apache22/httpd.conf"),
    ("Homebrew (Apple silicon)", "opt/homebrew/etc/httpd/httpd.conf"),
    ("Homebrew (Intel)", "usr/local/etc/httpd/httpd.conf"),
    ("source build", "usr/local/apache2/conf/httpd.conf"),
)


def usual_paths(prefix: str = "/") -> list[str]:
    """The main files of LAYOUTS under `prefix` (a fixture tree in tests)."""
    return [os.path.join(prefix, rel) for _, rel in LAYOUTS]


USUAL = tuple(usual_paths())

# httpd's options (AP_SERVER_BASEARGS, and the MPM's -k): those that take a value, so that
# a value is never read as an option. Only -f, -d, -D, -C and -c choose the tree.
_VALUED = frozenset("CcDdEefkR")
_TREE = frozenset("fdDCc")


@dataclass(frozen=True)
class ServerOptions:
    """The options of an httpd command line that decide its configuration, in their order."""

    given: tuple[tuple[str, str], ...] = ()

    def _all(self, flag: str) -> list[str]:
        return [value for f, value in self.given if f == flag]

    @property
    def conf(self) -> str | None:
        """-f: the main file (the last one counts, as httpd's getopt loop keeps the last)."""
        return (self._all("f") or [None])[-1]

    @property
    def root(self) -> str | None:
        """-d: the ServerRoot before the configuration sets one."""
        return (self._all("d") or [None])[-1]

    @property
    def defines(self) -> list[str]:
        return self._all("D")

    @property
    def before(self) -> list[str]:
        """-C: directives read before the main file."""
        return self._all("C")

    @property
    def after(self) -> list[str]:
        """-c: directives read after the main file."""
        return self._all("c")

    def as_list(self) -> list[str]:
        return [a for flag, value in self.given for a in (f"-{flag}", value)]


def parse_options(argv: list[str]) -> ServerOptions:
    """The tree-choosing options of an httpd command line (argv[0] is the program), read as
    apr_getopt reads them: `-f FILE` or `-fFILE`, flags grouped (`-XDSSL`), and the options
    ending at `--` or at the first word that is not one."""
    given: list[tuple[str, str]] = []
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--" or not word.startswith("-") or word == "-":
            break
        j = 1
        while j < len(word):
            flag = word[j]
            if flag in _VALUED:
                value = word[j + 1 :]
                if not value:
                    i += 1
                    value = argv[i] if i < len(argv) else ""
                if flag in _TREE:
                    given.append((flag, value))
                break
            j += 1
        i += 1
    return ServerOptions(tuple(given))


@dataclass
class Found:
    """Where a configuration came from: how it was found and what decided it."""

    #: running | compiled | usual-path | given
    how: str
    main: str
    server_root: str | None = None
    pid: int | None = None
    options: ServerOptions = field(default_factory=ServerOptions)
    binary: str | None = None
    version: str | None = None
    #: The server's own environment (None: ours, with Debian's envvars).
    env: dict[str, str] | None = None
    #: What discovery could not do, or chose: one sentence each.
    notes: list[str] = field(default_factory=list)
    #: The other running servers, when one was chosen among several: (PID, main file).
    others: list[tuple[int, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        out: dict = {"how": self.how}
        if self.how == "running":
            out["pid"] = self.pid
            out["options"] = self.options.as_list()
        if self.binary:
            out["binary"] = self.binary
        if self.others:
            out["others"] = [{"pid": pid, "root": main} for pid, main in self.others]
        if self.notes:
            out["notes"] = list(self.notes)
        return out


def provenance(model) -> dict:
    """The `config` object of measure's and suggest's JSON: main file, server root, how."""
    found = getattr(model, "found", None)
    return {
        "root": model.config.root,
        "server_root": model.config.server_root,
        "found": found.to_json() if found is not None else {"how": "given"},
    }


def describe(config: dict) -> str:
    """`configuration: FILE (how)`, the text outputs' line, from a `provenance` object."""
    found = config.get("found") or {"how": "given"}
    how = found.get("how")
    if how == "running":
        shown = " ".join(found.get("options") or [])
        how = f"running httpd {found.get('pid')}" + (f": {shown}" if shown else "")
    elif how == "compiled":
        how = f"compiled into {found.get('binary')}"
    elif how == "usual-path":
        how = "a usual path"
    return f"configuration: {config.get('root')} ({how})"


def provenance_line(model) -> str:
    return describe(provenance(model))


# --------------------------------------------------------------------------- binaries


def find_binaries(prefix: str = "/") -> list[str]:
    """Every httpd binary on PATH and in BINARY_DIRS under `prefix`, each once."""
    seen: set[str] = set()
    out: list[str] = []
    for name in BINARIES:
        places = [shutil.which(name)] if prefix == "/" else []
        places += [os.path.join(prefix, d, name) for d in BINARY_DIRS]
        for place in places:
            if place and os.access(place, os.X_OK) and os.path.isfile(place):
                real = os.path.realpath(place)
                if real not in seen:
                    seen.add(real)
                    out.append(place)
    return out


def find_binary() -> str | None:
    binaries = find_binaries()
    return binaries[0] if binaries else None


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


def _trusted_paths(binary: str, notes: list[str]) -> tuple[str | None, str | None, str | None]:
    """compiled_paths of a binary that passes binary_refusal; else a note and nothing."""
    refusal = binary_refusal(binary)
    if refusal is not None:
        notes.append(f"{binary} not run for -V: {refusal}")
        return None, None, None
    return compiled_paths(binary)


# --------------------------------------------------------------------------- running servers


def httpd_parents() -> list[int]:
    """Every running httpd parent (not a config test such as `apache2 -t`), the one with most
    children first."""
    from .procfs import is_httpd_name, is_one_shot, parents_and_names

    table = parents_and_names()
    parents = [
        p
        for p, (name, ppid) in table.items()
        if is_httpd_name(name)
        and not is_httpd_name(table.get(ppid, ("", 0))[0])
        and not is_one_shot(p)
    ]
    children = {p: 0 for p in parents}
    for _, ppid in table.values():
        if ppid in children:
            children[ppid] += 1
    return sorted(parents, key=lambda p: (-children[p], p))


def _binary(pid: int, argv: list[str]) -> str | None:
    from .procfs import PROC

    try:
        return os.readlink(f"{PROC}/{pid}/exe").removesuffix(" (deleted)")
    except OSError:
        return argv[0] if argv and os.path.isabs(argv[0]) else find_binary()


def running(pid: int, notes: list[str]) -> Found | None:
    """The tree httpd parent `pid` runs, as httpd chose it: its options, then its binary's
    compiled paths; None (and a note) when that cannot be told."""
    from .procfs import argv as process_argv
    from .procfs import environ

    argv = process_argv(pid)
    options = parse_options(argv)
    binary = _binary(pid, argv)
    env = environ(pid)
    found_notes = []
    if env is None:
        found_notes.append(
            f"cannot read the environment of httpd {pid} (run as root or as its user): "
            "${VAR} in its configuration is resolved from this shell and envvars"
        )
    # -C may set the ServerRoot a relative -f is read from (httpd reads -C first).
    command_root = None
    for line in options.before:
        words = line.split()
        if len(words) == 2 and words[0].lower() == "serverroot":
            command_root = words[1].strip("\"'")
    conf, root, version = options.conf, command_root or options.root, None
    if binary and (conf is None or root is None):
        compiled_root, compiled_conf, version = _trusted_paths(binary, found_notes)
        root = root or compiled_root
        conf = conf or compiled_conf
    if not conf:
        notes.extend(found_notes)
        notes.append(f"httpd {pid}: its main file is unknown (no -f, and no -V of its binary)")
        return None
    path = conf if os.path.isabs(conf) else os.path.join(root or "/", conf)
    return Found(
        "running",
        path,
        server_root=root,
        pid=pid,
        options=options,
        binary=binary,
        version=version,
        env=env,
        notes=found_notes,
    )


def running_options(pid: int | None = None) -> tuple[str, list[str]] | None:
    """(binary, the options that choose its tree: -f, -d, -D, -C, -c) of the running httpd
    parent (`pid`, else the one with most children); None when none runs."""
    if pid is None:
        parents = httpd_parents()
        if not parents:
            return None
        pid = parents[0]
    from .procfs import argv as process_argv

    argv = process_argv(pid)
    binary = _binary(pid, argv)
    if not argv or not binary:
        return None
    return binary, parse_options(argv).as_list()


# --------------------------------------------------------------------------- compiled, usual


def discover(prefix: str = "/", notes: list[str] | None = None) -> Found:
    """This machine's configuration when no server runs: the one a trusted binary's -V names,
    else the first of the usual paths under `prefix`; ConfigError if none."""
    notes = [] if notes is None else notes
    for binary in find_binaries(prefix):
        root, conf, version = _trusted_paths(binary, notes)
        if conf:
            path = conf if os.path.isabs(conf) else os.path.join(root or "/", conf)
            if os.path.isfile(path):
                return Found("compiled", path, root, binary=binary, version=version, notes=notes)
    for path in usual_paths(prefix):
        if os.path.isfile(path):
            return Found("usual-path", path, notes=notes)
    raise ConfigError(
        "no httpd configuration found on this machine (no running httpd whose PidFile names "
        "it, no `apache2 -V`/`httpd -V`, none of "
        + ", ".join(usual_paths(prefix))
        + "); give its path"
    )


# --------------------------------------------------------------------------- loading


def _load(found: Found, server_root, defines, modules, version, confine=None):
    from .model import load_model

    model = load_model(
        found.main,
        server_root=server_root,
        default_root=found.server_root,
        defines=[*found.options.defines, *defines],
        modules=modules,
        apache_version=version or found.version,
        env=found.env,
        confine=confine,
        before=found.options.before,
        after=found.options.after,
    )
    model.found = found
    return model


def _running_models(pid: int | None, server_root, defines, modules, version, notes) -> list:
    """The models of the running servers (`pid`, else all), each confirmed by its PidFile."""
    from .inputs import server_pid

    models = []
    for parent in [pid] if pid is not None else httpd_parents():
        found = running(parent, notes)
        if found is None:
            continue
        try:
            model = _load(found, server_root, defines, modules, version)
        except ConfigError as exc:
            notes.append(f"httpd {parent}: {found.main} not read: {exc}")
            continue
        own = server_pid(model)
        if own != parent:
            holds = f"PID {own}" if own is not None else "no running process"
            why = f"httpd {parent} runs {found.main}? Its PidFile holds {holds}"
            if pid is None:  # not confirmed: another tree, or another server's
                notes.append(f"{why}: not used")
                continue
            found.notes.append(f"{why}; read as --pid {pid} asks")
        models.append(model)
    return models


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
    every: bool = False,
) -> list:
    """The models of `paths`, or of this machine's configuration when there are none: the
    running servers' (`pid`, else each whose PidFile confirms it: all with `every`, else the
    one with most children, the others named in its `found.others`), else the one a trusted
    binary names (-V), else the usual paths. Each model's `found` says how it was found.

    With `optional`, a machine without any httpd configuration gives [] instead of an error
    (suggest and measure can still work from what is given or measured). With `confine`
    (--confine) a PATH is required and nothing outside its directory is read.
    """
    if not paths and confine is not None:
        raise confine.refuse("this machine's configuration (no PATH)")
    if paths:
        models = []
        for path in paths:
            models.append(
                _load(Found("given", path), server_root, defines, modules, version, confine)
            )
        return models
    notes: list[str] = []
    models = _running_models(pid, server_root, defines, modules, version, notes)
    if not models:
        try:
            found = discover(notes=notes)
        except ConfigError:
            if optional:
                return []
            raise
        models = [_load(found, server_root, defines, modules, version)]
    elif len(models) > 1 and not every:
        chosen = models[0]
        chosen.found.others = [(m.found.pid, m.config.root) for m in models[1:]]
        listed = ", ".join(f"httpd {p} ({main})" for p, main in chosen.found.others)
        notes.append(
            f"{len(models)} httpd servers run; this is httpd {chosen.found.pid}, the one with "
            f"most children; the others: {listed}; give --pid PID or PATH to choose"
        )
        models = [chosen]
    for model in models:
        model.system = True
        if model.found is not None and model.found.notes is not notes:
            model.found.notes[:0] = notes
    return models


def on_this_machine(model) -> bool:
    """Whether the tree is read where it runs, so its paths can be checked on disk: the
    discovered configuration, or one under /etc. A tree in a checkout or a CI workspace is
    not, and its DocumentRoot need not exist on the machine that lints it."""
    return model.system or model.config.root.startswith("/etc/")
