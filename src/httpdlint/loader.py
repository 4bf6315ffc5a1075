"""Read a configuration tree as httpd builds it: files, includes, conditions and variables.

This mirrors httpd 2.4's `ap_build_config` (server/config.c): directives that httpd executes
while reading (EXEC_ON_READ: Include, Define, LoadModule, the <If...> conditions, ServerRoot,
mod_macro's <Macro> and Use) act at once and are not part of the tree; every other line
becomes a node with its file and line. What httpd would refuse while reading raises
ConfigError with the file and line.

mod_macro (modules/core/mod_macro.c) is followed line for line: `<Macro>` stores its body
unread, `Use` substitutes the parameters and splices the result into the stream being read,
so that sections, conditions, includes and defines in it act where it is used, and a section
may open in one expansion and close after it.
"""

from __future__ import annotations

import errno
import functools
import gc
import itertools
import os
import re
import stat
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from .errors import ConfigError
from .syntax import (
    MAX_LINE,
    Directive,
    LineTooLong,
    MacroOrigin,
    ascii_lower,
    decode,
    getword_conf,
    logical_lines,
    resolve_env,
    split_args,
    walk,
)

# httpd's own guard against include recursion (AP_MAX_INCLUDE_DEPTH in server/core.c).
MAX_INCLUDE_DEPTH = 128
# Ours on true <IfModule>/<IfDefine>/<IfVersion> inside one another: each level is a Python
# call, and 128 includes with this many conditions still stay under the recursion limit.
MAX_CONDITION_DEPTH = 100

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

# Compiled into every httpd 2.4 (mod_so loads the others; core and http_core are the server):
# a LoadModule of one of them is refused whatever the build. The rest of STATIC_MODULES is
# Debian's build; another distribution ships them as modules, so they are not refused here.
_STATIC_24 = frozenset({"core_module", "so_module", "http_module"})

# The newest release of each line, for <IfVersion> when only major.minor is known.
LATEST = {"2.2": (2, 2, 34), "2.4": (2, 4, 71)}

_MPM_SOURCES = {
    "mpm_prefork_module": "prefork.c",
    "mpm_worker_module": "worker.c",
    "mpm_event_module": "event.c",
    "core_module": "core.c",
    "http_module": "http_core.c",
}

# mod_macro reads a body line, and substitutes into one, in a buffer of MAX_STRING_LEN bytes.
MACRO_LINE_MAX = 8192
# The prefixes mod_macro expects of parameter names; `@` ones are substituted quoted.
MACRO_ARG_PREFIX = "$%@"

_PRAGMA_START = re.compile(r"#\s*httpdlint\s*:")
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


def module_identifier(name: str) -> str:
    """`ssl_module` for `mod_ssl.c` or `ssl_module`, as LoadModule names a module."""
    if name.endswith("_module"):
        return name
    for ident, src in _MPM_SOURCES.items():
        if src == name:
            return ident
    base = name[:-2] if name.endswith(".c") else name
    return (base[4:] if base.startswith("mod_") else base) + "_module"


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
    #: The module list is unknown (the tree loads none and none were named): an
    #: `<IfModule>` on a module that is not built in cannot be decided, so both branches
    #: are read and their nodes noted in Config.undecided.
    modules_unknown: bool = False


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
    #: Why the comment could not be read as a pragma (a typo such as `ignroe=`), or None.
    error: str | None = None


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
    #: Directives inside false conditions, never read by httpd: (condition, file, line,
    #: name, argument text). Rules use them to explain, e.g. a MaxClients in the block of
    #: an MPM that is not loaded.
    skipped: list[tuple[Directive, str, int, str, str]] = field(default_factory=list)
    #: (file, line) of each node read under an `<IfModule>` that could not be decided,
    #: mapped to that condition; see LoadOptions.modules_unknown.
    undecided: dict[tuple[str, int], Directive] = field(default_factory=dict)
    #: Modules named by undecided conditions: rules about them run, and say so.
    maybe_modules: set[str] = field(default_factory=set)
    #: `<IfModule>` conditions on modules the binary does not build in.
    module_conditions: int = 0
    #: Every `<Macro>` read, in reading order (a redefinition is a definition of its own).
    macros: list[MacroDefinition] = field(default_factory=list)
    #: What httpd refuses to start with but reading goes past (file, line, httpd's message):
    #: a directive read while reading (Define, LoadModule...) with arguments httpd rejects.
    refusals: list[tuple[str, int, str]] = field(default_factory=list)


@dataclass
class MacroDefinition:
    """One `<Macro>` as mod_macro keeps it: lowercase name, parameters, body lines unread."""

    name: str
    params: list[str]
    #: The body's lines as httpd stores them: logical lines, trimmed, blank ones kept,
    #: comment lines dropped (their numbers inside an expansion count as httpd's do).
    body: list[str]
    #: httpd's own words for it, `defined on line 9 of "/etc/httpd.conf"`, in every message.
    location: str
    #: The `<Macro>` line in a real file (the `Use` line when a macro defines it).
    file: str
    line: int
    ignore_empty: bool = False
    ignore_bad_nesting: bool = False
    #: How many times `Use` expanded it.
    uses: int = 0
    #: For each body line, whether no parameter occurs in it (a Use copies it as it is).
    fixed: list[bool] = field(default_factory=list)
    #: `# httpdlint: ignore=...` comments in the body: they apply to each expansion.
    pragmas: list[Pragma] = field(default_factory=list)


@dataclass
class _Expansion:
    """One `Use`: httpd's name for the text it reads (`macro 'x' (defined ...) used on line N
    of "F"`), the Use line in a real file, and the macro's definition."""

    where: str
    file: str
    line: int
    macro: MacroDefinition


@dataclass
class _Reader:
    """Lines of one open file, shared by the nested builders reading it."""

    path: str
    lines: Iterator[tuple[int, str]]
    pending: list[Pragma] = field(default_factory=list)
    #: ASCII without the control characters Python's str.split() takes for spaces, so
    #: str.split() cuts words exactly where httpd's C isspace() does.
    plain: bool = False
    #: `lines` leaves blank lines and comments out (`_reader`'s fast path). A macro body
    #: keeps its blank lines, which httpd counts: `physical` reads them back.
    sparse: bool = False
    #: The `Use` whose expansion is being read (None: the file itself), and the sources each
    #: expansion interrupted, innermost last. Like mod_macro's array_getstr, an expansion
    #: is read in place of the rest of the file until it runs out, then the file goes on.
    expansion: _Expansion | None = None
    outer: list[tuple[str, Iterator[tuple[int, str]], bool, _Expansion | None]] = field(
        default_factory=list
    )
    _physical: list[str] | None = None

    def __iter__(self) -> Iterator[tuple[int, str]]:
        return self.stream()

    def stream(self) -> Iterator[tuple[int, str]]:
        """Every line to the end of the file, through expansions (for soak and macro bodies:
        the builder's hot loop reads `lines` itself). A plain for loop, not `yield from`:
        closing this generator must not close the file's own."""
        while True:
            for item in self.lines:  # noqa: UP028 (see above: not `yield from`)
                yield item
            if not self.outer:
                return
            self.pop()

    def push(self, expansion: _Expansion, lines: Iterator[tuple[int, str]], plain: bool) -> None:
        self.outer.append((self.path, self.lines, self.plain, self.expansion))
        self.path = expansion.where
        self.lines = lines
        self.plain = plain
        self.expansion = expansion

    def pop(self) -> None:
        self.path, self.lines, self.plain, self.expansion = self.outer.pop()

    def physical(self) -> list[str]:
        """The file's physical lines, read again (while the file itself is being read): only
        a file that defines a macro pays for them."""
        if self._physical is None:
            try:
                with open(self.path, "rb") as fh:
                    self._physical = decode(fh.read()).split("\n")
            except OSError:
                self._physical = []
        return self._physical


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
            ident = module_identifier(name)
            src = name if name.endswith(".c") else module_source(ident)
            self._add_module(ident, src, None)
        self.files: list[str] = []
        self._seen_files: set[str] = set()
        # (device and inode, including file, line) of each file being read
        self.stack: list[tuple[tuple[int, int], str, int]] = []
        self.undefined: list[tuple[str, str, int]] = []
        self.exec_directives: list[Directive] = []
        self.notes: list[tuple[str, int, str]] = []
        self.refusals: list[tuple[str, int, str]] = []
        self.pragmas: list[Pragma] = []
        self.bytes_read = 0
        self.skipped: list[tuple[Directive, str, int, str, str]] = []
        self.undecided: dict[tuple[str, int], Directive] = {}
        self.maybe_modules: set[str] = set()
        self.module_conditions = 0
        self.static_names = {n for pair in STATIC_MODULES[self.version] for n in pair}
        self.nesting = 0  # true <If...> sections being read, one inside the other
        self.server_root = ""
        self.server_root_forced = options.server_root is not None
        # mod_macro's state: its table of macros (None until the first <Macro>, as httpd's
        # lazily made hash: "no macro defined before Use"), its two global switches, every
        # definition read, and each expansion by the name httpd gives it.
        self.macros: dict[str, MacroDefinition] | None = None
        self.macro_definitions: list[MacroDefinition] = []
        self.macro_ignore_empty = False
        self.macro_ignore_bad_nesting = False
        self.expansions: dict[str, _Expansion] = {}
        # The first mod_macro directive read while macro_module is not loaded: httpd refuses
        # it once the whole tree is read (an unknown command fails in ap_walk_config, after
        # every error of reading).
        self.macro_refused: Directive | None = None
        self.loaded_any = False  # whether a LoadModule line has loaded a module yet

    # -- entry point -------------------------------------------------------------------

    def load(self, root: str) -> Config:
        root = os.path.abspath(root)
        if self.opt.server_root is not None:
            self.server_root = os.path.abspath(self.opt.server_root)
        else:
            self.server_root = default_server_root(root)
        collecting = gc.isenabled()
        gc.disable()  # a tree is all live objects: collector passes over it are pure cost
        try:
            try:
                tree = self.read_file(root, None, 0)
            except ConfigError as exc:
                raise self.located(exc) from None
            if self.macro_refused is not None:
                node = self.macro_refused
                raise self.located(
                    ConfigError(
                        f"Invalid command '{node.name}', perhaps misspelled or defined by a "
                        "module not included in the server configuration",
                        node.file,
                        node.line,
                    )
                )
            if self.expansions:
                self._settle_expansions(tree)
            for macro in self.macro_definitions:
                if not macro.uses:
                    # httpd says nothing of a macro it never expands; its body is never read
                    # as configuration, so nothing in it is checked either.
                    self.notes.append(
                        (
                            macro.file,
                            macro.line,
                            f"macro '{macro.name}' ({macro.location}) is never used: "
                            "its body is not checked",
                        )
                    )
        finally:
            if collecting:
                gc.enable()
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
            refusals=self.refusals,
            pragmas=self.pragmas,
            bytes_read=self.bytes_read,
            skipped=self.skipped,
            undecided=self.undecided,
            maybe_modules=self.maybe_modules,
            module_conditions=self.module_conditions,
            macros=self.macro_definitions,
        )

    # -- files -------------------------------------------------------------------------

    def read_file(self, path: str, origin: Directive | None, depth: int) -> list[Directive]:
        where = (origin.file, origin.line) if origin else (path, None)
        try:
            st = os.stat(path)
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            message = f"Could not open configuration file {path}: {reason}"
            raise ConfigError(message, *where) if origin else ConfigError(message) from None
        # A file is itself by device and inode, whatever path or link names it.
        identity = (st.st_dev, st.st_ino)
        for k, (seen, _, _) in enumerate(self.stack):
            if seen == identity:
                # The Include lines from the first reading of this file to this one.
                steps = [f"{f}:{n}" for _, f, n in self.stack[k + 1 :]]
                if origin is not None:
                    steps.append(f"{origin.file}:{origin.line}")
                chain = " -> ".join([*steps, path])
                raise ConfigError(f"Include cycle: {chain}", *where)
        if len(self.stack) > MAX_INCLUDE_DEPTH:
            raise ConfigError(f"Exceeded maximum include depth of {MAX_INCLUDE_DEPTH}", *where)
        # httpd refuses anything but a regular file or /dev/null (AH00554), before it would
        # block on a FIFO or read a device without end.
        if path != "/dev/null" and not stat.S_ISREG(st.st_mode):
            raise ConfigError(
                f"Access to file {path} denied by server: not a regular file",
                *(where if origin else (None, None)),
            )
        if self.bytes_read + st.st_size > self.opt.max_bytes:
            raise ConfigError(f"configuration exceeds {self.opt.max_bytes} bytes", path)
        try:
            with open(path, "rb", buffering=0) as fh:
                data = fh.readall()
        except OSError as exc:
            reason = os.strerror(exc.errno) if exc.errno else str(exc)
            message = f"Could not open configuration file {path}: {reason}"
            raise ConfigError(message, *where) if origin else ConfigError(message) from None
        self.bytes_read += len(data)
        if self.bytes_read > self.opt.max_bytes:
            raise ConfigError(f"configuration exceeds {self.opt.max_bytes} bytes", path)
        if path not in self._seen_files:
            self._seen_files.add(path)
            self.files.append(path)
            if len(self.files) > self.opt.max_files:
                raise ConfigError(f"configuration exceeds {self.opt.max_files} files", path)
        self.stack.append((identity, origin.file if origin else "", origin.line if origin else 0))
        try:
            reader = _reader(path, decode(data))
            try:
                return self.build(reader, None)
            except LineTooLong as exc:
                raise ConfigError(str(exc), path, exc.line) from None
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
        exec_names = _EXEC_NAMES
        first_word = _FIRST_WORD
        pending = reader.pending
        parent: Directive | None = None  # the innermost open section
        target = nodes  # where the next node goes: nodes, or parent.children
        while True:
            # The source being read: the file, or a macro expansion spliced into it. A `Use`
            # switches it, and so may a nested builder that read an expansion to its end;
            # either happens only in _execute, so the hot loop looks after that call alone.
            lines = reader.lines
            path = reader.path
            plain = reader.plain
            # The hot loop: a large tree has hundreds of thousands of lines. In plain text the
            # first word is cut with str.split(); otherwise a regex, or getword_conf for quotes.
            for lineno, line in lines:
                c0 = line[:1]
                if not c0:
                    continue
                if c0 == "#":
                    # A comment in an expansion comes from a substitution, never from a file.
                    if "httpdlint" in line and reader.expansion is None:
                        self._pragma(reader, lineno, line)
                    continue
                if close and not open_sections and ascii_lower(line) == close:
                    return nodes
                if pending:
                    for pragma in pending:
                        pragma.target = lineno
                    pending.clear()
                fast = plain
                if "${" in line:
                    line, missing = resolve_env(line, self._lookup)
                    for name in missing:
                        self.undefined.append((name, path, lineno))
                    if not line:
                        continue
                    fast = False  # a value may bring any character
                    c0 = line[0]
                if c0 == '"' or c0 == "'":
                    name, pos = getword_conf(line)
                    raw = line[pos:]
                    fast = False
                elif fast:
                    words = line.split(None, 1)
                    name = words[0]
                    raw = words[1] if len(words) > 1 else ""
                else:
                    m = first_word(line)
                    name = m.group(1)
                    raw = line[m.end() :]
                if "\\" in name:
                    name = name.replace("\\\\", "\\")
                if not name:
                    continue  # `""` or a variable that expands to nothing: httpd skips the line
                if name[0] != "<":
                    if name[-1] == ">" and name[1:2] != "/":
                        name = name[:-1]
                    lname = name.lower() if fast else ascii_lower(name)
                    if lname in exec_names:
                        sub = self._execute(reader, name, raw, path, lineno, lname, parent)
                        if sub is not None:
                            target.extend(sub)
                            if reader.lines is not lines:
                                break
                            continue
                    target.append(Directive(name, raw, path, lineno, None, None, parent, lname))
                    continue
                # Sections: `<Name args>` opens, `</Name>` closes; <If...> act while reading.
                if name[1:2] != "/":
                    if name[-1] == ">":
                        name = name[:-1]
                    if not raw:
                        raw = ">"
                lname = name.lower() if fast else ascii_lower(name)
                if lname in exec_names:
                    sub = self._execute(reader, name, raw, path, lineno, lname, parent)
                    if sub is not None:
                        target.extend(sub)
                        if reader.lines is not lines:
                            break
                        continue
                if name[1:2] != "/":
                    node = Directive(name, raw, path, lineno, None, [], parent, lname)
                    target.append(node)
                    open_sections.append(node)
                    parent = node
                    target = node.children  # type: ignore[assignment]
                    continue
                if not open_sections:
                    raise ConfigError(f"{name} without matching <{name[2:]} section", path, lineno)
                if not name.endswith(">"):
                    raise ConfigError(f"{name}> directive missing closing '>'", path, lineno)
                current = open_sections[-1]
                if lname[2:-1] != current.lname[1:]:
                    raise ConfigError(
                        f"Expected </{_spelled(current.name)[1:]}> but saw {name}", path, lineno
                    )
                open_sections.pop()
                parent = open_sections[-1] if open_sections else None
                target = parent.children if parent is not None else nodes  # type: ignore[assignment]
            else:
                if reader.outer:  # an expansion ran out: the text it interrupted goes on
                    reader.pop()
                    continue
                break
        if open_sections and container is None:
            first = open_sections[0]
            innermost = open_sections[-1]
            extra = (
                ""
                if first is innermost
                else f" (inside {_spelled(first.name)}> of line {first.line})"
            )
            # The section's own file: a macro expansion may have opened it.
            raise ConfigError(
                f"{_spelled(innermost.name)}> was not closed{extra}.",
                innermost.file,
                innermost.line,
            )
        if container is not None:
            self.notes.append(
                (
                    reader.path,
                    0,
                    f"<{container}> is not closed before the end of the file; httpd accepts it",
                )
            )
        return nodes

    def _execute(
        self,
        reader: _Reader,
        name: str,
        raw: str,
        path: str,
        lineno: int,
        lname: str,
        parent: Directive | None,
    ) -> list[Directive] | None:
        """Run a directive httpd executes while reading; what it yields (an Include's tree,
        a true condition's contents) goes where the directive stood, under `parent`. None
        when httpd would not execute it here (its module is not loaded, or not in 2.2)."""
        if lname in _MACRO_EXEC:
            handler = self._macro_handler(name, path, lineno, lname, parent)
        else:
            handler = self._exec_handler(lname)
        if handler is None:
            return None
        node = Directive(name, raw, path, lineno, lname=lname)
        self.exec_directives.append(node)
        sub = handler(reader, node) or []
        for child in sub:
            child.parent = parent
        return sub

    def _pragma(self, reader: _Reader, lineno: int, line: str) -> None:
        m = _PRAGMA.match(line)
        if not m:
            if _PRAGMA_START.match(line):
                self.pragmas.append(
                    Pragma(
                        reader.path, lineno, (), None, True,
                        error="unreadable httpdlint comment: expected "
                        "`# httpdlint: ignore=CODE[,CODE] -- reason` or `ignore-file=CODE`",
                    )
                )  # fmt: skip
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
        if node is not None:
            self.loaded_any = True

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

    def _macro_handler(
        self, name: str, path: str, lineno: int, lname: str, parent: Directive | None
    ):
        """The handler of a mod_macro directive, or None where httpd would not run it."""
        perl = _in_perl(parent)
        if perl and "perl_module" in self.modules:
            return None  # mod_perl reads a <Perl> body as Perl: `use strict;` is no Use
        if "macro_module" in self.modules or not (self.loaded_any or self.opt.modules):
            # Loaded; or a tree that has loaded no module yet and was told of none (a
            # fragment, whose modules live elsewhere): its macros are read as httpd would
            # read them with mod_macro, the only reading under which they mean anything.
            return getattr(self, _MACRO_EXEC[lname])
        if self.macro_refused is None and not perl:
            self.macro_refused = Directive(name, "", path, lineno, lname=lname)
        return None

    def _one_arg(self, node: Directive) -> str:
        # TAKE1 in invoke_cmd: an empty word ("") is no argument.
        if len(node.args) != 1 or not node.args[0]:
            raise ConfigError(f"{_spelled(node.name)} takes one argument", node.file, node.line)
        return node.args[0]

    def _refuse(self, node: Directive, message: str | None = None) -> list[Directive]:
        """httpd refuses this directive (it would not start), but what follows can still be
        read as httpd would read it: an error finding (COR019), not the end of the run.
        Without `message`, httpd's word-count refusal with the directive's help text."""
        if message is None:
            from .arguments import problems

            refused = [p for p in problems(node.name, node.raw, self.version) if p.code]
            message = refused[0].message if refused else f"{_spelled(node.name)}: bad arguments"
        self.refusals.append((node.file, node.line, message))
        return []

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
        if not fnmatch_test(path):
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
        if not fnmatch_test(head):
            path = os.path.join(base, head)
            if not rest:
                return self._no_glob(path, optional, node, 0)
            return self._glob(path, rest, optional, node)
        try:
            with os.scandir(base) as it:
                # Inside the path only directories go on; the type is the directory entry's
                # (readdir's d_type), so a symbolic link to a directory is skipped as httpd does.
                entries = [(e.name, e.is_dir(follow_symlinks=False), e.is_symlink()) for e in it]
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
        plain_files = set()  # neither a directory nor a link: no need to stat them again
        for name, is_dir, is_link in entries:
            if rest and not is_dir:
                continue
            if fnmatch(head, name):
                full = os.path.join(base, name)
                matches.append(full)
                if not is_dir and not is_link:
                    plain_files.add(full)
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
            elif full in plain_files:
                out.append(full)
            else:
                out.extend(self._no_glob(full, optional, node, 0))
        return out

    def root_relative(self, path: str) -> str:
        return os.path.normpath(os.path.join(self.server_root, path))

    def x_define(self, reader: _Reader, node: Directive) -> list[Directive]:
        # TAKE12 in invoke_cmd: an empty first word is an error, an empty value is no value.
        if not 1 <= len(node.args) <= 2 or not node.args[0]:
            return self._refuse(node)
        name = node.args[0]
        if ":" in name:
            return self._refuse(node, "Variable name must not contain ':'")
        if name not in self.defines:
            self.defines.append(name)
        if len(node.args) == 2 and node.args[1]:
            self.variables[name] = node.args[1]
        return []

    def x_undefine(self, reader: _Reader, node: Directive) -> list[Directive]:
        if len(node.args) != 1 or not node.args[0]:
            return self._refuse(node)
        name = node.args[0]
        if ":" in name:
            return self._refuse(node, "Variable name must not contain ':'")
        if name in self.defines:
            self.defines.remove(name)
        self.variables.pop(name, None)
        return []

    def x_server_root(self, reader: _Reader, node: Directive) -> list[Directive]:
        if len(node.args) != 1 or not node.args[0]:
            return self._refuse(node)
        root = node.args[0]
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
        if len(node.args) != 2 or not all(node.args):
            return self._refuse(node)
        ident, so = node.args
        if self.version == "2.4" and ident in _STATIC_24:
            # mod_so's load_module: a module compiled into the binary cannot be loaded again.
            return self._refuse(node, f"module {ident} is built-in and can't be loaded")
        if ident in self.modules and self.modules[ident] is not None:
            # httpd 2.4 skips a second LoadModule of the same module with a warning (AH01574).
            self.notes.append((node.file, node.line, f"module {ident} is already loaded, skipping"))
            return []
        src = _known_source(ident) or module_source(ident, so)
        self._add_module(ident, src, node)
        return []

    def x_ignore(self, reader: _Reader, node: Directive) -> list[Directive]:
        return []

    # -- mod_macro ---------------------------------------------------------------------

    def _warn(self, file: str, line: int, message: str) -> None:
        """A warning httpd logs while reading (mod_macro's AH numbers in the text)."""
        self.notes.append((file, line, message))

    def _non_blank(self, what: str, rest: str, file: str, line: int) -> None:
        """mod_macro's warn_if_non_blank: text after a closing `>` that is not a comment."""
        for ch in rest:
            if ch == "#":
                return
            if ch != " " and ch != "\t":
                self._warn(file, line, f"AH02989: {what} on line {line} of {file}: {rest}")
                return

    def real_location(self, file: str, line: int) -> tuple[str, int]:
        """A file and line in a real file: inside an expansion, the `Use` line that made it
        (the outermost one, when expansions nest)."""
        expansion = self.expansions.get(file)
        if expansion is None:
            return file, line
        return expansion.file, expansion.line

    def located(self, exc: ConfigError) -> ConfigError:
        """An error inside an expansion at its `Use` line in a real file, with httpd's own
        place for it (`on line 2 of macro 'x' (defined ...) used on line 9 of "F"`)."""
        if exc.file is None or exc.file not in self.expansions:
            return exc
        file, line = self.real_location(exc.file, exc.line or 0)
        return ConfigError(f"{exc.message} (on line {exc.line} of {exc.file})", file, line)

    def x_macro(self, reader: _Reader, node: Directive) -> list[Directive]:
        """`<Macro name [params]>`: mod_macro's macro_section. The body is stored unread."""
        if self.macros is None:
            self.macros = {}
        arg = node.raw
        end = arg.rfind(">")
        if end < 0:
            raise ConfigError("<Macro> directive missing closing '>'", node.file, node.line)
        if end == 0:
            raise ConfigError("<Macro macro definition: empty name", node.file, node.line)
        self._non_blank(
            "AH02801: non blank chars found after <Macro closing '>'",
            arg[end + 1 :],
            node.file,
            node.line,
        )
        name, pos = getword_conf(arg[:end])
        if not name:
            raise ConfigError("<Macro macro definition: name not found", node.file, node.line)
        name = ascii_lower(name)
        rest = arg[pos:end]
        previous = self.macros.get(name)
        location = f'defined on line {node.line} of "{node.file}"'
        if previous is not None:
            self._warn(
                node.file,
                node.line,
                f"AH02802: macro '{name}' multiply defined: {previous.location}, "
                f'redefined on line {node.line} of "{node.file}"',
            )
        where = f"macro '{name}' ({location})"
        if name[0] in MACRO_ARG_PREFIX:
            self._warn(
                node.file,
                node.line,
                f"AH02803: {where} better prefix a macro name with any of '{MACRO_ARG_PREFIX}'",
            )
        # httpd reuses the macro's structure when it is redefined: flags once set stay set.
        ignore_empty = previous.ignore_empty if previous else False
        ignore_nesting = previous.ignore_bad_nesting if previous else False
        i, n = 0, len(rest)
        while i < n and rest[i] == "/":  # the flags loop of macro_section, step for step
            if ascii_lower(rest[i : i + 16]) == "/ignoreemptyargs":
                ignore_empty = True
                i += 16
                if i >= n:
                    break
            if ascii_lower(rest[i : i + 17]) == "/ignorebadnesting":
                ignore_nesting = True
                i += 17
                if i >= n:
                    break
            if rest[i] != " ":
                space = rest.find(" ", i)
                flag = rest[i:space] if space >= 0 else rest[i:]
                self._warn(node.file, node.line, f"AH02804: {where}: unknown flag '{flag}'")
                if space >= 0:
                    i = space
            i += 1
        params = _get_arguments(rest[i:])
        self._check_params(name, location, params, node)
        file, line = self.real_location(node.file, node.line)
        macro = MacroDefinition(
            name, params, [], location, file, line, ignore_empty, ignore_nesting
        )
        body = self._read_body(
            reader, node, where, self.macro_ignore_bad_nesting or ignore_nesting, macro
        )
        if body is None:
            # httpd's message holds a newline and a tab, which its log prints escaped.
            raise ConfigError(
                f"{where}\\n\\tcontents error: expected token not found: </Macro>",
                node.file,
                node.line,
            )
        macro.body = body
        macro.fixed = [not any(p in text for p in params) for text in body]
        if not body:
            self._warn(node.file, node.line, f"AH02799: {where}: empty contents!")
        else:
            used = [False] * len(params)
            for text in body:
                _substitute(text, params, params, used)
            for k, param in enumerate(params):
                if not used[k]:
                    self._warn(
                        node.file,
                        node.line,
                        f"AH02800: {where}: argument '{param}' (#{k + 1}) never used",
                    )
        self.macros[name] = macro
        self.macro_definitions.append(macro)
        return []

    def _check_params(self, name: str, location: str, params: list[str], node: Directive):
        """mod_macro's check_macro_arguments: errors and warnings in that order."""
        where = f"macro '{name}' ({location})"
        for i, param in enumerate(params):
            if not param:
                raise ConfigError(f"{where}: empty argument #{i + 1} name", node.file, node.line)
            if param[0] not in MACRO_ARG_PREFIX:
                self._warn(
                    node.file,
                    node.line,
                    f"AH02796: {where} argument name '{param}' (#{i + 1}) without expected "
                    f"prefix, better prefix argument names with one of '{MACRO_ARG_PREFIX}'.",
                )
            if param.startswith("${"):
                self._warn(
                    node.file,
                    node.line,
                    f"AH02805: {where} argument name '{param}' (#{i + 1}) clashes with "
                    "'Define' syntax '${...}', better use '$(...)'.",
                )
            for j in range(i + 1, len(params)):
                other = params[j]
                if param == other:
                    raise ConfigError(
                        f"argument name conflict in macro '{name}' ({location}): argument "
                        f"'{param}': #{i + 1} and #{j + 1}, change argument names!",
                        node.file,
                        node.line,
                    )
                if other and (param.startswith(other) or other.startswith(param)):
                    self._warn(
                        node.file,
                        node.line,
                        f"AH02797: {where}: argument name prefix conflict ({param} #{i + 1} "
                        f"and {other} #{j + 1}), be careful about your macro definition!",
                    )

    def _read_body(
        self,
        reader: _Reader,
        node: Directive,
        where: str,
        ignore_nesting: bool,
        macro: MacroDefinition,
    ) -> list[str] | None:
        """mod_macro's get_lines_till_end_token: lines up to the `</Macro>` that closes this
        one (`<Macro>` inside counts), comments dropped; None when the text runs out first
        or a line does not fit mod_macro's buffer."""
        body: list[str] = []
        macro_nesting = any_nesting = 1
        previous = node.line
        limit = MACRO_LINE_MAX - 1
        for lineno, line in reader.stream():
            if reader.sparse and reader.expansion is None:
                # The fast reader left blank lines and comments out; httpd keeps the blank
                # ones, and counts them in the lines of an expansion.
                # A line of mod_macro's buffer's size or more ends its reading (ENOSPC): the
                # physical line counts, with its indentation.
                physical = reader.physical()
                for raw in physical[previous : lineno - 1]:
                    if len(raw) >= limit:
                        return None
                    if not raw.strip(" \t\n\v\f\r"):
                        body.append("")
                previous = lineno
                if len(physical[lineno - 1] if lineno <= len(physical) else line) >= limit:
                    return None
            elif len(line) >= limit:
                return None
            if line[:1] == "#":
                if "httpdlint" in line:
                    self._body_pragma(reader, lineno, line, macro)
                continue
            first, _ = getword_conf(line)
            if first[:2] == "</":
                any_nesting -= 1
                if not ignore_nesting and any_nesting < 0:
                    self._warn(
                        node.file,
                        node.line,
                        f"AH02793: bad (negative) nesting on line {lineno - node.line} of {where}",
                    )
            elif first[:1] == "<":
                any_nesting += 1
            lfirst = ascii_lower(first)
            if lfirst == "</macro>":
                self._non_blank(
                    "AH02794: non blank chars found after directive closing",
                    line[line.rfind(">") + 1 :],
                    reader.path,
                    lineno,
                )
                macro_nesting -= 1
                if not macro_nesting:
                    if not ignore_nesting and any_nesting:
                        self._warn(
                            node.file,
                            node.line,
                            f"AH02795: bad cumulated nesting ({any_nesting:+d}) in {where}",
                        )
                    return body
            elif lfirst == "<macro":
                macro_nesting += 1
            body.append(line)
        return None

    def _body_pragma(self, reader: _Reader, lineno: int, line: str, macro: MacroDefinition):
        """A `# httpdlint:` comment in a macro body. httpd drops comments from the body, and
        what the body yields is found at each `Use` line: an ignore there applies to every
        expansion. Unreadable ones, and ignore-file, stay where they are written."""
        m = _PRAGMA.match(line)
        if m is None or m.group(1) == "ignore-file":
            self._pragma(reader, lineno, line)
            return
        codes = tuple(c.strip().upper() for c in m.group(2).replace(",", " ").split() if c.strip())
        macro.pragmas.append(Pragma(reader.path, lineno, codes, m.group(3), False))

    def x_use(self, reader: _Reader, node: Directive) -> list[Directive]:
        """`Use name [values]`: mod_macro's use_macro. The substituted body is read next, in
        place of the rest of the text being read, and its directives land where they would
        in httpd: under the sections open here, or in those the body opens."""
        if self.macros is None:
            raise ConfigError("no macro defined before Use", node.file, node.line)
        name, pos = getword_conf(node.raw)
        name = ascii_lower(name)
        if not name:
            raise ConfigError("no macro name specified with Use", node.file, node.line)
        macro = self.macros.get(name)
        if macro is None:
            raise ConfigError(f"macro '{name}' undefined", node.file, node.line)
        # httpd's recursion test, a hack it owns to: the name of the text being read holds
        # `macro 'x'` for every expansion it is inside.
        if f"macro '{macro.name}'" in node.file:
            raise ConfigError(
                f"recursive use of macro '{macro.name}' is invalid", node.file, node.line
            )
        values = _get_arguments(node.raw[pos:])
        if len(values) != len(macro.params):
            raise ConfigError(
                f"macro '{macro.name}' ({macro.location}) used with {len(values)} arguments "
                f"instead of {len(macro.params)}",
                node.file,
                node.line,
            )
        where = (
            f"macro '{macro.name}' ({macro.location}) used on line {node.line} of \"{node.file}\""
        )
        if not (self.macro_ignore_empty or macro.ignore_empty):
            for i, value in enumerate(values):
                if not value:
                    self._warn(node.file, node.line, f"AH02798: {where}: empty argument #{i + 1}")
        lines = []
        params = macro.params
        for number, text in enumerate(macro.body, 1):
            out = text if macro.fixed[number - 1] else _substitute(text, params, values, None)
            if out is None:
                raise ConfigError(
                    f"{where} error while substituting: while processing line {number} of "
                    f"macro '{macro.name}' ({macro.location}) cannot substitute, buffer size "
                    "too small",
                    node.file,
                    node.line,
                )
            lines.append(out)
        text = "\n".join(lines)
        self.bytes_read += len(text)  # a macro used inside macros can multiply the text
        if self.bytes_read > self.opt.max_bytes:
            raise ConfigError(
                f"configuration exceeds {self.opt.max_bytes} bytes", node.file, node.line
            )
        macro.uses += 1
        file, line = self.real_location(node.file, node.line)
        expansion = _Expansion(where, file, line, macro)
        self.expansions[where] = expansion
        for pragma in macro.pragmas:
            self.pragmas.append(Pragma(file, line, pragma.codes, pragma.reason, False, target=line))
        if "\\" in text and any(out.endswith(("\\", "\\\r")) for out in lines):
            # A value ending in a backslash continues the line onto the next one, as httpd
            # reads the expansion with ap_cfg_getline like a file.
            numbered: Iterator[tuple[int, str]] = logical_lines(text + "\n")
        else:
            numbered = iter([(k, out.strip(_C_SPACE)) for k, out in enumerate(lines, 1)])
        plain = text.isascii() and not any(c in text for c in "\x1c\x1d\x1e\x1f")
        reader.push(expansion, numbered, plain)
        return []

    def x_undef_macro(self, reader: _Reader, node: Directive) -> list[Directive]:
        """`UndefMacro name`: a TAKE1 directive, then mod_macro's undef_macro."""
        word, pos = getword_conf(node.raw)
        if not word or pos < len(node.raw):
            raise ConfigError(
                "UndefMacro takes one argument, Remove a macro definition.",
                node.file,
                node.line,
            )
        if self.macros is None:
            raise ConfigError("no macro defined before UndefMacro", node.file, node.line)
        name = ascii_lower(word)
        if name not in self.macros:
            raise ConfigError(f"cannot remove undefined macro '{name}'", node.file, node.line)
        del self.macros[name]
        return []

    def x_macro_ignore_empty(self, reader: _Reader, node: Directive) -> list[Directive]:
        # NO_ARGS, yet httpd 2.4 takes words after it without a word of complaint.
        self.macro_ignore_empty = True
        return []

    def x_macro_ignore_nesting(self, reader: _Reader, node: Directive) -> list[Directive]:
        self.macro_ignore_bad_nesting = True
        return []

    def _settle_expansions(self, tree: list[Directive]) -> None:
        """Put what expansions yielded at their `Use` line in a real file, keeping httpd's
        own file and line for it in `macro` (what DUMP_CONFIG prints)."""
        expansions = self.expansions

        get = expansions.get
        for node in itertools.chain(walk(tree), self.exec_directives):
            expansion = get(node.file)
            if expansion is not None:
                macro = expansion.macro
                node.macro = MacroOrigin(macro.name, macro.file, macro.line, node.file, node.line)
                node.file = expansion.file
                node.line = expansion.line
        real = self.real_location
        self.skipped = [(cond, *real(f, n), name, raw) for cond, f, n, name, raw in self.skipped]
        undecided: dict[tuple[str, int], Directive] = {}
        for (f, n), cond in self.undecided.items():
            undecided.setdefault(real(f, n), cond)
        self.undecided = undecided
        self.notes = [(*real(f, n), message) for f, n, message in self.notes]
        self.undefined = [(name, *real(f, n)) for name, f, n in self.undefined]
        for pragma in self.pragmas:
            if pragma.file in expansions:
                pragma.file, pragma.line = real(pragma.file, pragma.line)
                pragma.target = pragma.line if pragma.target is not None else None

    def x_cond(self, reader: _Reader, node: Directive) -> list[Directive]:
        raw = node.raw
        end = raw.rfind(">")
        if end < 0:
            raise ConfigError(
                f"{_spelled(node.name)}> directive missing closing '>'", node.file, node.line
            )
        arg = raw[:end]
        negate = arg[:1] == "!"
        if negate:
            arg = arg[1:]
        word, _ = getword_conf(arg)
        if not word:
            raise ConfigError(
                f"{_spelled(node.name)}> directive requires additional arguments",
                node.file,
                node.line,
            )
        kind = node.lname
        if kind == "<ifmodule":
            result = word in self.modules or word in self.module_sources
            if word not in self.static_names:
                self.module_conditions += 1
                if self.opt.modules_unknown and not result:
                    return self._undecided(reader, node, word)
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
            return self._true_branch(reader, kind[1:], node)
        self.soak(reader, _spelled(node.name), node.line, node)
        return []

    def _undecided(self, reader: _Reader, node: Directive, module: str) -> list[Directive]:
        """Both branches of an `<IfModule>` nobody can decide: read the body as if true and
        note every node in it, so findings there can say that the branch may not apply."""
        sub = self._true_branch(reader, "ifmodule", node)
        self.maybe_modules.add(module_identifier(module))
        for child in sub:
            for d in child.walk():
                self.undecided.setdefault((d.file, d.line), node)
        return sub

    def x_ifversion(self, reader: _Reader, node: Directive) -> list[Directive]:
        """`<IfVersion [[!]op] version>` as mod_version's start_ifversion reads its words."""
        words = split_args(node.raw)
        if not 1 <= len(words) <= 3:
            raise ConfigError(
                f"{_spelled(node.name)} takes 1-3 arguments, a comparison operator, a version "
                "(and a delimiter)",
                node.file,
                node.line,
            )
        op, want, delim = (*words, None, None)[:3]
        if want is None:  # one word: an equality test
            op, want = "=", op
        if delim is None and want == ">":  # a quoted version without operator: "2.4" >
            op, want, delim = "=", op, ">"
        if not want or (delim != ">" and not want.endswith(">")):
            raise ConfigError(
                f"{_spelled(node.name)}> directive missing closing '>'", node.file, node.line
            )
        if delim != ">":
            want = want[:-1]
        if _match_version(op, want, self.version_tuple(), node):
            return self._true_branch(reader, "ifversion", node)
        self.soak(reader, _spelled(node.name), node.line, node)
        return []

    def version_tuple(self) -> tuple[int, int, int]:
        return LATEST[self.version]

    def soak(self, reader: _Reader, name: str, start: int, cond: Directive | None = None) -> None:
        """Skip to the matching close tag, as `ap_soak_end_container` (no variables, no tree).

        httpd recurses for each nested section; a stack of names does the same to any depth.
        `start` is the line of the condition that is false; httpd reports an unclosed one there.
        What is skipped is noted in `skipped`, against `cond`.
        """
        names = [name]
        for lineno, line in reader.stream():
            word, pos = getword_conf(line)
            if word[:1] != "<":
                if line[:1] == "#":
                    if "httpdlint" in line and reader.expansion is None:
                        self._pragma(reader, lineno, line)
                elif cond is not None and word:
                    self.skipped.append((cond, reader.path, lineno, word, line[pos:]))
                continue
            if word[1:2] == "/":
                if ascii_lower(word[2:-1]) != ascii_lower(names[-1][1:]):
                    raise ConfigError(
                        f"Expected </{names[-1][1:]}> but saw {word[:-1]}>", reader.path, lineno
                    )
                names.pop()
                if not names:
                    return
                continue
            if pos >= len(line) and word.endswith(">"):
                word = word[:-1]
            names.append(word)
        raise ConfigError(
            f"Expected </{names[-1][1:]}> before end of configuration",
            cond.file if cond is not None else reader.path,
            start,
        )

    def _true_branch(self, reader: _Reader, container: str, node: Directive) -> list[Directive]:
        """Read a true condition's body; each nesting level costs Python stack, so bound it."""
        if self.nesting >= MAX_CONDITION_DEPTH:
            raise ConfigError(
                f"conditional sections nest more than {MAX_CONDITION_DEPTH} deep; "
                "httpdlint stops here (httpd would read on)",
                node.file,
                node.line,
            )
        self.nesting += 1
        try:
            return self.build(reader, container)
        finally:
            self.nesting -= 1


def _reader(path: str, text: str) -> _Reader:
    """The lines of a file for the builder.

    Without continuations or NULs (nearly every file) each physical line is a logical one,
    and blank lines and comments (but httpdlint's own) are dropped here, in one pass.
    """
    # Substring tests run at memchr speed; a regex scan of a large file costs 20 ms more.
    plain = text.isascii() and not any(c in text for c in "\x1c\x1d\x1e\x1f")
    joined = "\\" in text and ("\\\n" in text or "\\\r\n" in text)
    if joined or "\0" in text or len(text) > MAX_LINE:
        return _Reader(path, logical_lines(text), plain=plain)
    physical = text.split("\n")
    if plain:
        # Python's whitespace is C's here (no \x1c-\x1f, no non-ASCII): the C-level strip.
        stripped = map(str.strip, physical)
    else:
        stripped = (raw.strip(" \t\n\v\f\r") for raw in physical)
    kept = [
        (number, line)
        for number, line in enumerate(stripped, 1)
        if line and (line[0] != "#" or "httpdlint" in line)
    ]
    return _Reader(path, iter(kept), plain=plain, sparse=True)


_C_SPACE = " \t\n\v\f\r"  # apr_isspace
# The first word of a line when it is not quoted: up to C whitespace.
_FIRST_WORD = re.compile("([^ \t\n\v\f\r]+)[ \t\n\v\f\r]*").match

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
# mod_macro's commands, all EXEC_ON_READ | OR_ALL: anywhere in a file, inside any section.
_MACRO_EXEC = {
    "<macro": "x_macro",
    "use": "x_use",
    "undefmacro": "x_undef_macro",
    "macroignoreemptyargs": "x_macro_ignore_empty",
    "macroignorebadnesting": "x_macro_ignore_nesting",
}
_EXEC_NAMES = frozenset(_CORE_EXEC) | frozenset(_MODULE_EXEC) | frozenset(_MACRO_EXEC)
#: The directives httpd executes while it reads (EXEC_ON_READ): the loader judges their
#: arguments itself, so the argument rule leaves them alone.
EXEC_ON_READ = _EXEC_NAMES


def _in_perl(node: Directive | None) -> bool:
    while node is not None:
        if node.lname == "<perl":
            return True
        node = node.parent
    return False


def _get_arguments(text: str) -> list[str]:
    """mod_macro's get_arguments: words as ap_getword_conf cuts them, after trimming only
    spaces and tabs (so a lone form feed is one empty word, as in httpd)."""
    words: list[str] = []
    i, n = 0, len(text)
    while i < n and text[i] in " \t":
        i += 1
    while i < n:
        word, i = getword_conf(text, i)
        words.append(word)
        while i < n and text[i] in " \t":
            i += 1
    return words


def _substitute(
    line: str, params: list[str], values: list[str], used: list[bool] | None
) -> str | None:
    """One body line with parameters replaced, as mod_macro's substitute_macro_args.

    From left to right, the earliest parameter found (the longest of those found at the
    same place) is replaced; `@` ones by their value in double quotes, `"` and backslash
    escaped. The search goes on after as many characters as the value has, which for a
    quoted value is inside it. A value equal to its name is left as it is. None when the
    result does not fit mod_macro's buffer (the line and its newline, 8192 bytes).
    """
    pos = 0
    while True:
        chosen = -1
        which = 0
        length = 0
        for k, param in enumerate(params):
            found = line.find(param, pos)
            if found >= 0 and (
                chosen < 0 or found < chosen or (found == chosen and length < len(param))
            ):
                chosen, length, which = found, len(param), k
        if chosen < 0:
            return line
        name = params[which]
        value = values[which]
        if name != value:
            if name[0] == "@":
                value_text = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
            else:
                value_text = value
            line = line[:chosen] + value_text + line[chosen + len(name) :]
            if len(line) + 1 >= MACRO_LINE_MAX:
                return None
        pos = chosen + len(value)
        if used is not None:
            used[which] = True


def fnmatch_test(pattern: str) -> bool:
    """Whether a path is a wildcard pattern, as `apr_fnmatch_test` decides.

    `*` and `?` are wildcards; `[` only with a `]` after it; a backslash hides the next
    character. Anything else is a plain path, read as it is.
    """
    nesting = False
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*" or c == "?":
            return True
        if c == "\\":
            i += 1
            if i >= n:
                return False
        elif c == "[":
            nesting = True
        elif c == "]" and nesting:
            return True
        i += 1
    return False


def fnmatch(pattern: str, name: str) -> bool:
    """`apr_fnmatch(pattern, name, APR_FNM_PERIOD)` for one path component.

    Differs from Python's fnmatch: a backslash escapes the next character, `[^...]` negates
    like `[!...]`, a `[` without its `]` is an ordinary character, and a leading dot in the
    name must be matched by a literal dot (`*`, `?` and `[.]` do not match it).
    """
    if name[:1] == ".":
        if pattern[:1] == ".":
            pattern = pattern[1:]
        elif pattern[:2] == "\\.":
            pattern = pattern[2:]
        else:
            return False
        name = name[1:]
    return _fnmatch_regex(pattern).fullmatch(name) is not None


@functools.lru_cache(maxsize=256)
def _fnmatch_regex(pattern: str) -> re.Pattern[str]:
    out: list[str] = []
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "*":
            out.append(".*")
            i += 1
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[":
            cls, end = _bracket(pattern, i + 1)
            if cls is None:
                out.append(re.escape("["))
                i += 1
            else:
                out.append(cls)
                i = end
        elif c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(c))
            i += 1
    return re.compile("".join(out), re.DOTALL)


def _bracket(p: str, j: int) -> tuple[str | None, int]:
    """A `[...]` expression from just after its `[` (apr's fnmatch_ch): (regex, end), or
    (None, 0) when it is not closed and the `[` is an ordinary character."""
    n = len(p)
    negate = j < n and p[j] in "!^"
    if negate:
        j += 1
    items: list[str] = []
    lead = j < n and p[j] == "]"  # a `]` right after `[` or `[!` is an ordinary character
    while j < n:
        if not lead:
            if p[j] == "]":
                if not items:
                    return ("." if negate else "(?!)"), j + 1
                return "[" + ("^" if negate else "") + "".join(items) + "]", j + 1
            if p[j] == "\\":
                j += 1
                if j >= n:
                    break
        lead = False
        lo = p[j]
        if j + 1 < n and p[j + 1] == "-" and (j + 2 >= n or p[j + 2] != "]"):
            j += 3 if j + 2 < n and p[j + 2] == "\\" else 2
            if j >= n:
                break
            hi = p[j]
            if lo <= hi:
                items.append(re.escape(lo) + "-" + re.escape(hi))
            j += 1
            continue
        items.append(re.escape(lo))
        j += 1
    return None, 0


def _spelled(name: str) -> str:
    """A known directive's name as httpd spells it in messages (`<Directory`), else as given."""
    try:
        from . import knowledge

        entry = knowledge.directive(name)
    except Exception:  # the table is optional for reading; never fail a load on it
        return name
    if entry and ascii_lower(entry["name"]) == ascii_lower(name):
        return entry["name"]
    return name


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


# mod_version's compare_version: a number, then up to two more, each possibly empty (0).
_VERSION_RE = re.compile(r"\d+(?:\.\d*){0,2}")


def _match_version(op: str, want: str, have: tuple[int, int, int], node: Directive) -> bool:
    """<IfVersion> as mod_version decides it: `=`/`==`, `<`, `<=`, `>`, `>=` compare
    major.minor.patch with missing parts as 0 (so `> 2.4` is true for 2.4.1); `~ regex` and
    `= /regex/` search "x.y.z"; a leading `!` reverses any of them."""
    reverse = op[:1] == "!"
    if reverse and len(op) > 1:
        op = op[1:]
    c, rest = op[:1], op[1:]
    if not (rest == "" or (rest == "=" and c != "~")) or c not in "=~<>" or not c:
        raise ConfigError(f"unrecognized operator '{op}'", node.file, node.line)
    text = ".".join(map(str, have))
    pattern = None
    if c == "~":
        pattern = want
    elif c == "=" and want[:1] == "/":
        if len(want) < 2 or want[-1] != "/":
            raise ConfigError("Missing delimiting / of regular expression.", node.file, node.line)
        pattern = want[1:-1]
    if pattern is not None:
        try:
            match = re.search(pattern, text) is not None
        except re.error:
            raise ConfigError(
                "Unable to compile regular expression", node.file, node.line
            ) from None
        return match != reverse
    if not _VERSION_RE.fullmatch(want):
        raise ConfigError(
            "Version appears to be invalid. It must have the format major[.minor[.patch]] "
            "where major, minor and patch are numbers.",
            node.file,
            node.line,
        )
    parts = [int(p) if p else 0 for p in want.split(".")]
    target = (*parts, 0, 0)[:3]
    cmp = (have > target) - (have < target)
    if c == "=":
        match = cmp == 0
    elif c == "<":
        match = cmp < 0 or (rest == "=" and cmp == 0)
    else:
        match = cmp > 0 or (rest == "=" and cmp == 0)
    return match != reverse


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
