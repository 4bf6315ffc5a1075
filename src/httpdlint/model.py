"""The evaluated configuration that rules read: version, modules, MPM, server and virtual hosts.

Built once from the loader's tree. Rules never look at files; they ask this model what httpd
would do (which MPM runs, with which effective settings, what a virtual host inherits).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from .errors import ConfigError
from .loader import Config, Loader, LoadOptions
from .reading import read_envvars
from .syntax import Directive, walk

MPMS = {"mpm_prefork_module": "prefork", "mpm_worker_module": "worker", "mpm_event_module": "event"}

# Names that exist in only one of the two lines; enough to tell a tree's era apart.
_ONLY_22 = {
    "maxclients",
    "maxrequestsperchild",
    "namevirtualhost",
    "lockfile",
    "acceptmutex",
    "defaulttype",
    "order",
    "allow",
    "deny",
    "rewritelog",
    "rewriteloglevel",
    "sslmutex",
}
_ONLY_24 = {
    "maxrequestworkers",
    "maxconnectionspersecond",
    "maxconnectionsperchild",
    "require",
    "mutex",
    "includeoptional",
    "define",
    "globallog",
    "errorlogformat",
}
_MODULES_24 = {
    "authz_core_module",
    "unixd_module",
    "mpm_event_module",
    "mpm_worker_module",
    "mpm_prefork_module",
    "authn_core_module",
}


@dataclass
class VirtualHost:
    """A `<VirtualHost>` section and the addresses it answers on."""

    node: Directive
    addresses: list[str]

    @property
    def directives(self) -> list[Directive]:
        return self.node.children or []

    def find(self, name: str) -> list[Directive]:
        lname = name.lower()
        return [d for d in walk(self.directives) if d.lname == lname]

    def own(self, name: str) -> Directive | None:
        """The last occurrence directly in the virtual host (not inside a nested section)."""
        # Cached by hand: functools.cached_property takes a lock on first use (Python
        # 3.11), which costs more than the lookup across ten thousand virtual hosts.
        own = self.__dict__.get("_own")
        if own is None:
            # The last one wins, as for single-valued settings.
            own = self._own = {d.lname: d for d in self.directives}
        return own.get(name.lower())


@dataclass
class Model:
    """What httpd would run with, as far as the files tell."""

    config: Config
    version: str
    version_source: str
    mpm_name: str | None
    mpm_source: str
    mpm: object | None = None  # httpdlint.mpm.MpmResult
    mpm_settings: list = field(default_factory=list)
    system: bool = False
    #: Where the configuration came from: a discover.Found (None: loaded directly).
    found: object | None = None
    #: What rules compute once per model and share (TLS hosts, access summaries, ...).
    cache: dict = field(default_factory=dict)

    @property
    def modules(self) -> set[str]:
        return set(self.config.modules)

    @property
    def tree(self) -> list[Directive]:
        return self.config.tree

    def has_module(self, *idents: str) -> bool:
        """Loaded, or named by an `<IfModule>` that could not be decided (both branches
        are analysed then, and findings inside say so)."""
        modules = self.config.modules
        maybe = self.config.maybe_modules
        return any(i in modules or i in maybe for i in idents)

    def module_node(self, ident: str) -> Directive | None:
        return self.config.modules.get(ident)

    def all(self) -> Iterator[Directive]:
        return walk(self.config.tree)

    @functools.cached_property
    def _indexed(self) -> tuple[dict[str, list[Directive]], bool]:
        # Built once: rules ask for directives by name many times over large trees.
        from .scopes import index_nodes

        return index_nodes(self.config.tree, self.has_module("perl_module"))

    def indexed(self) -> tuple[dict[str, list[Directive]], bool]:
        """Every node httpd reads as a directive, by lowercase name in reading order, and
        whether bodies were left out (<Perl> code, POD): the one index rules and `find` use."""
        return self._indexed

    @property
    def _index(self) -> dict[str, list[Directive]]:
        return self._indexed[0]

    def find(self, name: str) -> list[Directive]:
        """Every occurrence of a directive (or `<Section`), in file order."""
        return self._index.get(name.lower(), [])

    def server(self) -> list[Directive]:
        """Directives at server level, outside every section."""
        return [d for d in self.config.tree if not d.is_section]

    @functools.cached_property
    def _top(self) -> dict[str, list[Directive]]:
        index: dict[str, list[Directive]] = {}
        for d in self.config.tree:
            index.setdefault(d.lname, []).append(d)
        return index

    def top(self, *names: str) -> list[Directive]:
        """Server-level occurrences of directives (outside every section), in file order."""
        if len(names) == 1:
            return self._top.get(names[0].lower(), [])
        wanted = {n.lower() for n in names}
        return [d for d in self.config.tree if d.lname in wanted]

    def server_directive(self, name: str) -> Directive | None:
        """The last server-level occurrence: the one httpd keeps for single-valued settings."""
        found = self._top.get(name.lower())
        return found[-1] if found else None

    def server_values(self, name: str) -> list[str] | None:
        d = self.server_directive(name)
        return d.args if d else None

    @functools.cached_property
    def _vhosts(self) -> list[VirtualHost]:
        return [VirtualHost(d, list(d.args)) for d in self.top("<VirtualHost")]

    def virtual_hosts(self) -> list[VirtualHost]:
        """The `<VirtualHost>` sections at server level, in file order (built once)."""
        return self._vhosts

    def sections(self, name: str) -> list[Directive]:
        return self.find("<" + name.lstrip("<"))

    def each_scope(self, name: str) -> Iterator[Directive]:
        """A per-server setting where it is written: at server level, then each virtual
        host's own."""
        node = self.server_directive(name)
        if node is not None:
            yield node
        for vhost in self.virtual_hosts():
            own = vhost.own(name)
            if own is not None:
                yield own

    def effective(self, name: str, vhost: VirtualHost | None = None) -> Directive | None:
        """A single-valued server setting as a virtual host sees it (its own, else inherited)."""
        if vhost is not None:
            own = vhost.own(name)
            if own is not None:
                return own
        return self.server_directive(name)


def detect_version(config: Config) -> str:
    """2.2 or 2.4, from what the tree uses; 2.4 when nothing tells."""
    if any(m in config.modules and config.modules[m] is not None for m in _MODULES_24):
        return "2.4"
    names = {d.lname for d in walk(config.tree)} | {d.lname for d in config.exec_directives}
    if names & _ONLY_24:
        return "2.4"
    if names & _ONLY_22:
        return "2.2"
    return "2.4"


def mpm_settings(config: Config, mpm_name: str) -> list:
    """The MPM's directives at server level in reading order, as the MPM model wants them."""
    from .mpm import MPM_SETTINGS, Setting

    wanted = MPM_SETTINGS.get(mpm_name, set())
    return [
        Setting(d.name, tuple(d.args), d.file, d.line) for d in config.tree if d.lname in wanted
    ]


def find_envvars(root: str) -> str | None:
    """Debian's envvars beside the main file, which apache2ctl sources before httpd starts."""
    path = os.path.join(os.path.dirname(root), "envvars")
    return path if os.path.isfile(path) else None


def build(config: Config, version_source: str) -> Model:
    mpm_name = None
    mpm_source = "loaded"
    for ident, name in MPMS.items():
        node = config.modules.get(ident)
        if ident in config.modules:
            mpm_name = name
            mpm_source = (
                "loaded"
                if node is not None
                else (
                    "compiled in (Apache 2.2 builds the MPM into the binary; prefork is the Unix "
                    "default)"
                    if config.version == "2.2"
                    else "--module"
                )
            )
            if node is not None:
                break
    model = Model(config, config.version, version_source, mpm_name, mpm_source)
    if mpm_name is not None:
        try:
            from .mpm import evaluate_mpm
        except ImportError:  # the MPM model ships with the same package; guard partial installs
            return model
        model.mpm_settings = mpm_settings(config, mpm_name)
        model.mpm = evaluate_mpm(mpm_name, config.version, model.mpm_settings)
    return model


def load_model(
    paths: Iterable[str] | str,
    *,
    server_root: str | None = None,
    defines: Iterable[str] = (),
    modules: Iterable[str] = (),
    apache_version: str | None = None,
    env: dict[str, str] | None = None,
    confine=None,
    before: Iterable[str] = (),
    after: Iterable[str] = (),
    default_root: str | None = None,
) -> Model:
    """Read a configuration (a main file or a server root directory) and evaluate it;
    `confine` (a confine.Confinement) keeps every file read inside one directory."""
    if isinstance(paths, str):
        paths = [paths]
    paths = list(paths)
    if len(paths) != 1:
        raise ConfigError("give one configuration: its main file or its server root directory")
    if confine is not None:
        confine.check(paths[0])
    root = resolve_root(paths[0])
    commands = (tuple(before), tuple(after))  # -C and -c: read again with every reading
    environment = dict(os.environ if env is None else env)
    # A running server's own environment (`env`) already holds what apache2ctl sourced.
    envvars = find_envvars(root) if env is None else None
    if envvars:
        environment.update(read_envvars(envvars))
    if apache_version is not None and apache_version not in ("2.2", "2.4"):
        raise ConfigError(f"unknown Apache version {apache_version!r}: use 2.2 or 2.4")

    def read(version: str, modules_unknown: bool = False) -> Config:
        opts = LoadOptions(
            server_root=server_root,
            defines=tuple(defines),
            modules=tuple(modules),
            apache_version=version,
            env=environment,
            modules_unknown=modules_unknown,
            confine=confine,
            before=commands[0],
            after=commands[1],
            default_root=default_root,
        )
        return Loader(opts).load(root)

    version = apache_version or "2.4"
    config = read(version)
    if not apache_version and detect_version(config) == "2.2":
        version = "2.2"
        config = read(version)
    if modules_unknown(config, modules):
        config = read(version, modules_unknown=True)
    config.version_given = bool(apache_version)
    return build(config, "given" if apache_version else "detected")


def modules_unknown(config: Config, named: Iterable[str]) -> bool:
    """A tree that loads no module (a fragment, or one whose LoadModule lines live
    elsewhere) says nothing about the modules httpd has, unless --module named some; its
    `<IfModule>` conditions on modules the binary does not build in cannot be decided."""
    if list(named) or config.module_conditions == 0:
        return False
    return not any(node is not None for node in config.modules.values())


CANDIDATES = ("apache2.conf", "httpd.conf", "conf/httpd.conf", "conf/apache2.conf")


def resolve_root(path: str) -> str:
    """A main configuration file from a file or a server root directory."""
    if os.path.isdir(path):
        for name in CANDIDATES:
            candidate = os.path.join(path, name)
            if os.path.isfile(candidate):
                return os.path.abspath(candidate)
        raise ConfigError(
            f"no apache2.conf or httpd.conf (or conf/httpd.conf) in directory {path}", path
        )
    if not os.path.exists(path):
        raise ConfigError("Could not open configuration file: No such file or directory", path)
    return os.path.abspath(path)
