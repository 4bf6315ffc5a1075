"""Read a configuration tree as httpd builds it: files, includes, conditions and variables.

This mirrors httpd 2.4's `ap_build_config` (server/config.c): directives that httpd executes
while reading (EXEC_ON_READ: Include, Define, LoadModule, the <If...> conditions, ServerRoot)
act at once and are not part of the tree; every other line becomes a node with its file and
line. What httpd would refuse while reading raises ConfigError with the file and line.
"""

from __future__ import annotations

import errno
import fnmatch
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from .errors import ConfigError
from .syntax import (
    Directive,
    LineTooLong,
    decode,
    getword_conf,
    logical_lines,
    resolve_env,
    section_args,
    split_args,
)

# httpd's own guard against include recursion (AP_MAX_INCLUDE_DEPTH in server/core.c).
MAX_INCLUDE_DEPTH = 128

# Modules compiled into the binary. Debian's 2.4 apache2 (`apache2 -l`); a stock 2.2 Unix
# build has core, http_core, mod_so and its one MPM, prefork unless told otherwise.
STATIC_MODULES = {
    "2.4": [
        ("core_module", "core.c"),
        ("so_module", "mod_so.c"),
        ("watchdog_module", "mod_watchdog.c"),
        ("http_module", "http_core.c"),
        ("log_config_module", "mod_log_config.c"),
        ("logio_module", "mod_logio.c"),
        ("version_module", "mod_version.c"),
        ("unixd_module", "mod_unixd.c"),
    ],
    "2.2": [
        ("core_module", "core.c"),
        ("http_module", "http_core.c"),
        ("so_module", "mod_so.c"),
    ],
}

# The newest release of each line, for <IfVersion> when only major.minor is known.
LATEST = {"2.2": (2, 2, 34), "2.4": (2, 4, 71)}

_MPM_SOURCES = {
    "mpm_prefork_module": "prefork.c",
    "mpm_worker_module": "worker.c",
    "mpm_event_module": "event.c",
    "core_module": "core.c",
    "http_module": "http_core.c",
}

_PRAGMA = re.compile(
    r"#\s*httpdlint:\s*(ignore|ignore-file)\s*=\s*([A-Za-z0-9_,\s]+?)\s*(?:--\s*(.*))?$"
)


def module_source(ident: str, so_path: str | None = None) -> str:
    """The source-file name (`mod_ssl.c`) that `<IfModule>` also accepts for a module."""
    if ident in _MPM_SOURCES:
        return _MPM_SOURCES[ident]
    if ident.endswith("_module"):
        return "mod_" + ident[: -len("_module")] + ".c"
    if so_path:
        base = os.path.basename(so_path)
        if base.endswith(".so"):
            return base[:-3] + ".c"
    return ident


@dataclass
class LoadOptions:
    """What httpd would know before reading: -d, -D, the binary's modules, its version."""

    server_root: str | None = None
    defines: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()
    apache_version: str = "2.4"
    env: Mapping[str, str] | None = None
    max_files: int = 100_000
    max_bytes: int = 1 << 30


@dataclass
class Pragma:
    """A `# httpdlint: ignore=...` comment and the line it applies to."""

    file: str
    line: int
    codes: tuple[str, ...]
    reason: str | None
    whole_file: bool
    target: int | None = None
    used: bool = False


@dataclass
class Config:
    """The configuration as httpd keeps it after reading, with what reading revealed."""

    root: str
    server_root: str
    version: str
    tree: list[Directive]
    files: list[str]
    modules: dict[str, Directive | None]
    module_sources: set[str]
    defines: list[str]
    variables: dict[str, str]
    undefined: list[tuple[str, str, int]]
    exec_directives: list[Directive]
    notes: list[tuple[str, int, str]]
    pragmas: list[Pragma]
    version_given: bool = False
    bytes_read: int = 0


@dataclass
class _Reader:
    """Lines of one open file, shared by the nested builders reading it."""

    path: str
    lines: Iterator[tuple[int, str]]
    pending: list[Pragma] = field(default_factory=list)

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self

    def __next__(self) -> tuple[int, str]:
        try:
            return next(self.lines)
        except LineTooLong as exc:
            raise ConfigError(str(exc), self.path, exc.line) from None


class Loader:
    """One reading of a configuration, from its root file."""

    def __init__(self, options: LoadOptions):
        self.opt = options
        self.version = options.apache_version if options.apache_version in LATEST else "2.4"
        self.env = dict(os.environ if options.env is None else options.env)
        self.defines: list[str] = list(dict.fromkeys(options.defines))
        self.variables: dict[str, str] = {}
        self.modules: dict[str, Directive | None] = {}
        self.module_sources: set[str] = set()
        for ident, src in STATIC_MODULES[self.version]:
            self._add_module(ident, src, None)
        if self.version == "2.2" and not any(m.startswith("mpm_") for m in options.modules):
            self._add_module("mpm_prefork_module", "prefork.c", None)
        for name in options.modules:
            ident = name if name.endswith("_module") else None
            if ident is None:
                base = name[:-2] if name.endswith(".c") else name
                base = base[4:] if base.startswith("mod_") else base
                ident = base + "_module"
            src = name if name.endswith(".c") else module_source(ident)
            self._add_module(ident, src, None)
        self.files: list[str] = []
        self._seen_files: set[str] = set()
        self.stack: list[tuple[str, str, int]] = []  # (realpath, including file, line)
        self.undefined: list[tuple[str, str, int]] = []
        self.exec_directives: list[Directive] = []
        self.notes: list[tuple[str, int, str]] = []
        self.pragmas: list[Pragma] = []
        self.bytes_read = 0
        self.server_root = ""
        self.server_root_forced = options.server_root is not None

    # -- entry point -------------------------------------------------------------------

    def load(self, root: str) -> Config:
        root = os.path.abspath(root)
        if self.opt.server_root is not None:
            self.server_root = os.path.abspath(self.opt.server_root)
        else:
            self.server_root = default_server_root(root)
        tree = self.read_file(root, None, 0)
        return Config(
            root=root,
            server_root=self.server_root,
            version=self.version,
            tree=tree,
            files=self.files,
            modules=self.modules,
            module_sources=self.module_sources,
            defines=self.defines,
            variables=self.variables,
            undefined=self.undefined,
            exec_directives=self.exec_directives,
            notes=self.notes,
            pragmas=self.pragmas,
            bytes_read=self.bytes_read,
        )

    # -- files -------------------------------------------------------------------------

    def read_file(self, path: str, origin: Directive | None, depth: int) -> list[Directive]:
        real = os.path.realpath(path)
        for seen, _, _ in self.stack:
            if seen == real:
                chain = " -> ".join(f"{f}:{n}" for _, f, n in self.stack[1:])
                where = origin.file if origin else path
                raise ConfigError(
                    f"Include cycle: {chain} -> {path}", where, origin.line if origin else None
                )
        if len(self.stack) > MAX_INCLUDE_DEPTH:
            raise ConfigError(
                f"Exceeded maximum include depth of {MAX_INCLUDE_DEPTH}",
                origin.file if origin else path,
                origin.line if origin else None,
            )
        try:
            with open(path, "rb") as fh:
                data = fh.read(self.opt.max_bytes - self.bytes_read + 1)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            message = f"Could not open configuration file {path}: {reason}"
            if origin is None:
                raise ConfigError(message) from None
            raise ConfigError(message, origin.file, origin.line) from None
        self.bytes_read += len(data)
        if self.bytes_read > self.opt.max_bytes:
            raise ConfigError(f"configuration exceeds {self.opt.max_bytes} bytes", path)
        if path not in self._seen_files:
            self._seen_files.add(path)
            self.files.append(path)
            if len(self.files) > self.opt.max_files:
                raise ConfigError(f"configuration exceeds {self.opt.max_files} files", path)
        self.stack.append((real, origin.file if origin else "", origin.line if origin else 0))
        try:
            reader = _Reader(path, logical_lines(decode(data)))
            return self.build(reader, None)
        finally:
            self.stack.pop()

    # -- the builder (ap_build_config / ap_build_cont_config) ----------------------------

    def build(self, reader: _Reader, container: str | None) -> list[Directive]:
        """Nodes from the reader until its end, or until the close tag of `container`.

        `container` is the lowercase name of an EXEC_ON_READ section (`ifmodule`) whose
        true branch is being read; like httpd, its close tag only counts at the top level,
        and running out of file inside it is not an error.
        """
        nodes: list[Directive] = []
        open_sections: list[Directive] = []
        close = "</" + container + ">" if container else None
        path = reader.path
        for lineno, line in reader:
            if not line:
                continue
            if line[0] == "#":
                if "httpdlint" in line:
                    self._pragma(reader, lineno, line)
                continue
            if close and not open_sections and line.lower() == close:
                return nodes
            if reader.pending:
                for pragma in reader.pending:
                    pragma.target = lineno
                reader.pending.clear()
            if "${" in line:
                line, missing = resolve_env(line, self._lookup)
                for name in missing:
                    self.undefined.append((name, path, lineno))
            name, pos = getword_conf(line)
            raw = line[pos:]
            if name[1:2] != "/":
                if name.endswith(">"):
                    name = name[:-1]
                if name[:1] == "<" and not raw:
                    raw = ">"
            lname = name.lower()
            handler = self._exec_handler(lname)
            if handler is not None:
                node = Directive(name, raw, path, lineno, split_args(raw))
                self.exec_directives.append(node)
                sub = handler(reader, node)
                if sub:
                    parent = open_sections[-1] if open_sections else None
                    target = parent.children if parent is not None else nodes
                    for child in sub:
                        child.parent = parent
                    target.extend(sub)
                continue
            if name[:1] == "<":
                if name[1:2] != "/":
                    node = Directive(name, raw, path, lineno, section_args(raw), [])
                    self._append(node, open_sections, nodes)
                    open_sections.append(node)
                    continue
                if not open_sections:
                    raise ConfigError(f"{name} without matching <{name[2:]} section", path, lineno)
                if not name.endswith(">"):
                    raise ConfigError(f"{name}> directive missing closing '>'", path, lineno)
                current = open_sections[-1]
                if name[2:-1].lower() != current.name[1:].lower():
                    raise ConfigError(
                        f"Expected </{current.name[1:]}> but saw {name}", path, lineno
                    )
                open_sections.pop()
                continue
            self._append(Directive(name, raw, path, lineno, split_args(raw)), open_sections, nodes)
        if open_sections and container is None:
            first = open_sections[0]
            innermost = open_sections[-1]
            extra = "" if first is innermost else f" (inside {first.name}> of line {first.line})"
            raise ConfigError(f"{innermost.name}> was not closed{extra}.", path, innermost.line)
        if container is not None:
            self.notes.append(
                (
                    path,
                    0,
                    f"<{container}> is not closed before the end of the file; httpd accepts it",
                )
            )
        return nodes

    @staticmethod
    def _append(node: Directive, open_sections: list[Directive], nodes: list[Directive]) -> None:
        if open_sections:
            node.parent = open_sections[-1]
            open_sections[-1].children.append(node)  # type: ignore[union-attr]
        else:
            nodes.append(node)

    def _pragma(self, reader: _Reader, lineno: int, line: str) -> None:
        m = _PRAGMA.match(line)
        if not m:
            return
        codes = tuple(c.strip().upper() for c in m.group(2).replace(",", " ").split() if c.strip())
        pragma = Pragma(reader.path, lineno, codes, m.group(3), m.group(1) == "ignore-file")
        self.pragmas.append(pragma)
        if not pragma.whole_file:
            reader.pending.append(pragma)

    def _lookup(self, name: str) -> str | None:
        value = self.variables.get(name)
        if value is None:
            value = self.env.get(name)
        return value

    def _add_module(self, ident: str, src: str, node: Directive | None) -> None:
        if ident not in self.modules:
            self.modules[ident] = node
        self.module_sources.add(src)

    # -- EXEC_ON_READ directives -----------------------------------------------------

    def _exec_handler(self, lname: str):
        handler = _CORE_EXEC.get(lname)
        if handler is not None:
            if self.version == "2.2" and lname in _ONLY_24:
                return None
            return getattr(self, handler)
        needs = _MODULE_EXEC.get(lname)
        if needs is not None and needs[0] in self.modules:
            return getattr(self, needs[1])
        return None

    def _one_arg(self, node: Directive) -> str:
        if len(node.args) != 1:
            raise ConfigError(f"{node.name} takes one argument", node.file, node.line)
        return node.args[0]

    def x_include(self, reader: _Reader, node: Directive) -> list[Directive]:
        pattern = self._one_arg(node)
        optional = node.lname == "includeoptional"
        path = self.root_relative(pattern)
        out: list[Directive] = []
        for match in self.expand_include(path, optional, node):
            out.extend(self.read_file(match, node, len(self.stack)))
        return out

    def expand_include(self, path: str, optional: bool, node: Directive) -> list[str]:
        """Files an Include names, in httpd's order (`ap_dir_fnmatch`/`ap_dir_nofnmatch`)."""
        if not _has_glob(path):
            return self._no_glob(path, optional, node, 0)
        parts = path.strip("/").split("/")
        return self._glob("/", parts, optional, node)

    def _no_glob(self, path: str, optional: bool, node: Directive, depth: int) -> list[str]:
        if os.path.isdir(path):
            if depth > MAX_INCLUDE_DEPTH:
                raise ConfigError(
                    f"Directory '{path}' exceeds the maximum include directory nesting level",
                    node.file,
                    node.line,
                )
            try:
                names = os.listdir(path)
            except OSError as exc:
                raise ConfigError(
                    f"Could not open directory {path}: {os.strerror(exc.errno or errno.EIO)}",
                    node.file,
                    node.line,
                ) from None
            out: list[str] = []
            for name in sorted(names, key=os.fsencode):
                out.extend(self._no_glob(os.path.join(path, name), optional, node, depth + 1))
            return out
        if optional and not os.path.exists(path):
            return []
        return [path]

    def _glob(self, base: str, parts: list[str], optional: bool, node: Directive) -> list[str]:
        head, rest = parts[0], parts[1:]
        if not _has_glob(head):
            path = os.path.join(base, head)
            if not rest:
                return self._no_glob(path, optional, node, 0)
            return self._glob(path, rest, optional, node)
        try:
            entries = os.listdir(base)
        except OSError as exc:
            if optional and exc.errno == errno.ENOENT:
                return []
            raise ConfigError(
                f"Include/IncludeOptional: Could not open directory {base}: "
                f"{os.strerror(exc.errno or errno.EIO)}",
                node.file,
                node.line,
            ) from None
        matches = []
        for name in entries:
            if name[0] == "." and head[0] != ".":
                continue  # APR_FNM_PERIOD: a leading dot must be matched explicitly
            if not fnmatch.fnmatchcase(name, head):
                continue
            full = os.path.join(base, name)
            if rest and not os.path.isdir(full):
                continue
            matches.append(full)
        if not matches:
            if optional:
                return []
            raise ConfigError(
                f"Include/IncludeOptional: No matches for the wildcard '{head}' in '{base}', "
                "failing",
                node.file,
                node.line,
            )
        out: list[str] = []
        for full in sorted(matches, key=os.fsencode):
            if rest:
                out.extend(self._glob(full, rest, optional, node))
            else:
                out.extend(self._no_glob(full, optional, node, 0))
        return out

    def root_relative(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.server_root, path))

    def x_define(self, reader: _Reader, node: Directive) -> list[Directive]:
        if not 1 <= len(node.args) <= 2:
            raise ConfigError("Define takes one or two arguments", node.file, node.line)
        name = node.args[0]
        if ":" in name:
            raise ConfigError("Variable name must not contain ':'", node.file, node.line)
        if name not in self.defines:
            self.defines.append(name)
        if len(node.args) == 2:
            self.variables[name] = node.args[1]
        return []

    def x_undefine(self, reader: _Reader, node: Directive) -> list[Directive]:
        name = self._one_arg(node)
        if ":" in name:
            raise ConfigError("Variable name must not contain ':'", node.file, node.line)
        if name in self.defines:
            self.defines.remove(name)
        self.variables.pop(name, None)
        return []

    def x_server_root(self, reader: _Reader, node: Directive) -> list[Directive]:
        root = self._one_arg(node)
        if self.server_root_forced:
            return []
        root = os.path.normpath(os.path.join(self.server_root, root))
        if os.path.isdir(root):
            self.server_root = root
        else:
            # httpd stops here; a linter reading a tree away from its home goes on.
            self.notes.append(
                (
                    node.file,
                    node.line,
                    f"ServerRoot {root} is not a directory here; paths stay relative to "
                    f"{self.server_root} (use --server-root to choose)",
                )
            )
        return []

    def x_load_module(self, reader: _Reader, node: Directive) -> list[Directive]:
        if len(node.args) != 2:
            raise ConfigError("LoadModule takes two arguments", node.file, node.line)
        ident, so = node.args
        if ident in self.modules and self.modules[ident] is not None:
            # httpd 2.4 skips a second LoadModule of the same module with a warning (AH01574).
            self.notes.append((node.file, node.line, f"module {ident} is already loaded, skipping"))
            return []
        src = _known_source(ident) or module_source(ident, so)
        self._add_module(ident, src, node)
        return []

    def x_ignore(self, reader: _Reader, node: Directive) -> list[Directive]:
        return []

    def x_cond(self, reader: _Reader, node: Directive) -> list[Directive]:
        raw = node.raw
        end = raw.rfind(">")
        if end < 0:
            raise ConfigError(f"{node.name}> directive missing closing '>'", node.file, node.line)
        arg = raw[:end]
        negate = arg[:1] == "!"
        if negate:
            arg = arg[1:]
        word, _ = getword_conf(arg)
        if not word:
            raise ConfigError(
                f"{node.name}> directive requires additional arguments", node.file, node.line
            )
        kind = node.lname
        if kind == "<ifmodule":
            result = word in self.modules or word in self.module_sources
        elif kind == "<ifdefine":
            result = word in self.defines
        elif kind == "<iffile":
            result = os.path.exists(self.root_relative(word))
        elif kind == "<ifdirective":
            result = _directive_exists(word, self)
        elif kind == "<ifsection":
            result = _directive_exists("<" + word, self)
        else:
            result = False
        if result != negate:
            return self.build(reader, kind[1:])
        self.soak(reader, node.name)
        return []

    def x_ifversion(self, reader: _Reader, node: Directive) -> list[Directive]:
        raw = node.raw
        end = raw.rfind(">")
        if end < 0:
            raise ConfigError(f"{node.name}> directive missing closing '>'", node.file, node.line)
        words = split_args(raw[:end])
        if not words or len(words) > 2:
            raise ConfigError(
                "<IfVersion> takes an optional operator and a version", node.file, node.line
            )
        op, want = (words[0], words[1]) if len(words) == 2 else ("=", words[0])
        result = _match_version(op, want, self.version_tuple(), node)
        if result:
            return self.build(reader, "ifversion")
        self.soak(reader, node.name)
        return []

    def version_tuple(self) -> tuple[int, int, int]:
        return LATEST[self.version]

    def soak(self, reader: _Reader, name: str) -> None:
        """Skip to the matching close tag, as `ap_soak_end_container` (no variables, no tree)."""
        for lineno, line in reader:
            word, pos = getword_conf(line)
            if word[:1] != "<":
                if line[:1] == "#" and "httpdlint" in line:
                    self._pragma(reader, lineno, line)
                continue
            if word[1:2] == "/":
                if word[2:-1].lower() != name[1:].lower():
                    raise ConfigError(
                        f"Expected </{name[1:]}> but saw {word[:-1]}>", reader.path, lineno
                    )
                return
            if pos >= len(line) and word.endswith(">"):
                word = word[:-1]
            self.soak(reader, word)
        raise ConfigError(f"Expected </{name[1:]}> before end of configuration", reader.path, None)


_CORE_EXEC = {
    "include": "x_include",
    "includeoptional": "x_include",
    "define": "x_define",
    "undefine": "x_undefine",
    "serverroot": "x_server_root",
    "defaultruntimedir": "x_ignore",
    "unclist": "x_ignore",
    "<ifmodule": "x_cond",
    "<ifdefine": "x_cond",
    "<iffile": "x_cond",
    "<ifdirective": "x_cond",
    "<ifsection": "x_cond",
}
_ONLY_24 = {
    "includeoptional",
    "define",
    "undefine",
    "defaultruntimedir",
    "<iffile",
    "<ifdirective",
    "<ifsection",
}
_MODULE_EXEC = {
    "loadmodule": ("so_module", "x_load_module"),
    "loadfile": ("so_module", "x_ignore"),
    "<ifversion": ("version_module", "x_ifversion"),
    "remoteiptrustedproxylist": ("remoteip_module", "x_ignore"),
    "remoteipinternalproxylist": ("remoteip_module", "x_ignore"),
}


def _has_glob(path: str) -> bool:
    return any(c in path for c in "*?[")


def _known_source(ident: str) -> str | None:
    try:
        from . import knowledge
    except ImportError:
        return None
    try:
        entry = knowledge.module_by_identifier(ident)
    except Exception:  # the table is optional for reading; never fail a load on it
        return None
    return entry.get("sourcefile") if entry else None


def _directive_exists(name: str, loader: Loader) -> bool:
    try:
        from . import knowledge
    except ImportError:
        return False
    entry = knowledge.directive(name)
    if not entry:
        return False
    module = entry.get("module", "core")
    ident = knowledge.load().modules.get(module, {}).get("identifier", "")
    return module == "core" or ident in loader.modules


_VERSION_RE = re.compile(r"^(\d+)(?:\.(\d+))?(?:\.(\d+))?$")


def _match_version(op: str, want: str, have: tuple[int, int, int], node: Directive) -> bool:
    """<IfVersion> as mod_version compares: operators, `~` and /regex/ against "x.y.z"."""
    negate = op.startswith("!")
    if negate:
        op = op[1:]
    text = ".".join(map(str, have))
    if op in ("~", "") or (want.startswith("/") and want.endswith("/") and len(want) > 1):
        pattern = want[1:-1] if want.startswith("/") else want
        try:
            result = re.search(pattern, text) is not None
        except re.error:
            raise ConfigError(
                f"Invalid regex in <IfVersion>: {pattern}", node.file, node.line
            ) from None
        return result != negate
    m = _VERSION_RE.match(want)
    if not m:
        raise ConfigError(f"Version appears to be invalid: {want}", node.file, node.line)
    # mod_version fills missing minor and patch numbers per operator; -1 is "any".
    parts = [int(g) if g is not None else -1 for g in m.groups()]
    if op in ("=", "=="):
        result = all(p < 0 or p == h for p, h in zip(parts, have, strict=True))
    else:
        target = tuple(p if p >= 0 else (0 if op in (">=", "<") else 9999) for p in parts)
        cmp = (have > target) - (have < target)
        table = {">": cmp > 0, ">=": cmp >= 0, "<": cmp < 0, "<=": cmp <= 0}
        if op not in table:
            raise ConfigError(f"unknown <IfVersion> operator '{op}'", node.file, node.line)
        result = table[op]
    return result != negate


def default_server_root(root_file: str) -> str:
    """httpd's compiled-in ServerRoot, guessed from where the main file lives.

    `conf/httpd.conf` (RHEL, /usr/local/apache2) means the directory above `conf`;
    elsewhere (Debian's apache2.conf) the file's own directory.
    """
    parent = os.path.dirname(root_file)
    if os.path.basename(parent) == "conf":
        return os.path.dirname(parent)
    return parent


def read_envvars(path: str) -> dict[str, str]:
    """Debian's `envvars`, read as data: `export NAME=value` lines, never executed.

    Assignments inside if/else blocks apply in order, so the last branch (Debian's default
    for /etc/apache2) wins. `$NAME` and `${NAME}` expand from earlier assignments.
    """
    values: dict[str, str] = {}
    try:
        with open(path, "rb") as fh:
            text = decode(fh.read())
    except OSError:
        return values
    assign = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
    ref = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}|\$([A-Za-z_][A-Za-z0-9_]*)")
    for raw in text.splitlines():
        line = raw.strip()
        m = assign.match(line)
        if not m:
            continue
        value = m.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            quoted = value[0]
            value = value[1:-1]
            if quoted == "'":
                values[m.group(1)] = value
                continue
        values[m.group(1)] = ref.sub(lambda r: values.get(r.group(1) or r.group(2), ""), value)
    return values


def load(root: str, options: LoadOptions | None = None) -> Config:
    """Read the configuration whose main file is `root`."""
    return Loader(options or LoadOptions()).load(root)
