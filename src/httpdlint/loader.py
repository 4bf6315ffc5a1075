"""Read a configuration tree as httpd builds it: files, includes, conditions and variables.

This mirrors httpd 2.4's `ap_build_config` (server/config.c): directives that httpd executes
while reading (EXEC_ON_READ: Include, Define, LoadModule, the <If...> conditions, ServerRoot,
mod_macro's <Macro> and Use) act at once and are not part of the tree; every other line
becomes a node with its file and line. What httpd would refuse while reading and a reader
cannot go past (a syntax error, a failing include, a macro) raises ConfigError with the file
and line; what it can go past (Define or LoadModule arguments) is kept in `refusals`.

The lines come through reading.py; mod_macro's handlers are in macro.py (MacroReading).
"""

from __future__ import annotations

import gc
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field

from . import confregex
from .errors import ConfigError
from .knowledge import module_identifier, module_source
from .macro import _MACRO_EXEC, MacroReading
from .pathmatch import MAX_INCLUDE_DEPTH, fnmatch_test, include_files
from .reading import (
    _PRAGMA,
    _PRAGMA_START,
    MAX_EXPANDED_LINE,
    MAX_EXPANDED_TOTAL,
    MacroDefinition,
    Pragma,
    _Expansion,
    _Reader,
    _reader,
    authz_depth,
    expansion_error,
)
from .reading import AUTHZ_SECTIONS as _AUTHZ_SECTIONS
from .redact import foreign_message, is_foreign
from .syntax import (
    Directive,
    ExpansionTooLong,
    LineTooLong,
    ascii_lower,
    decode,
    getword_conf,
    resolve_env,
    split_args,
)

# Ours on true <IfModule>/<IfDefine>/<IfVersion> inside one another: each level is a Python
# call, and 128 includes with this many conditions still stay under the recursion limit.
MAX_CONDITION_DEPTH = 100

# The file name httpd gives the directives of its -C and -c options (config.c).
COMMAND_LINE_SOURCE = "-c/-C directives"

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
    #: --confine DIR: a confine.Confinement every file read must lie in.
    confine: object | None = None
    #: httpd's -C and -c lines: directives read before and after the main file.
    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    #: httpd's -d (or its compiled HTTPD_ROOT): the ServerRoot until a ServerRoot directive
    #: sets another, where `server_root` (--server-root) overrides every directive.
    default_root: str | None = None


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
    #: (file, line, message): what httpd logs while reading, its AH code first, and where
    #: httpdlint reads less than httpd (a macro never used); COR021 reports them.
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
    #: Every Include/IncludeOptional path as httpd resolved it (a glob or a plain path), in
    #: reading order: what else httpd would read if a file appeared there.
    includes: list[str] = field(default_factory=list)
    #: The Include/IncludeOptional line behind each entry of `includes` (same order): where
    #: a file its wildcard leaves unread is reported (COR030).
    include_nodes: list[Directive] = field(default_factory=list)
    #: --confine DIR's confine.Confinement: what reads the filesystem later asks it first.
    confine: object | None = None


class Loader(MacroReading):
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
        self.includes: list[str] = []
        self.include_nodes: list[Directive] = []
        self.pragmas: list[Pragma] = []
        self.bytes_read = 0
        #: Characters ${VAR} expansion has added to lines so far (MAX_EXPANDED_TOTAL).
        self.expanded = 0
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
        if self.opt.confine is not None:
            root = self.opt.confine.check(root)
        if self.opt.server_root is not None:
            self.server_root = os.path.abspath(self.opt.server_root)
        elif self.opt.default_root is not None:
            self.server_root = os.path.abspath(self.opt.default_root)
        else:
            self.server_root = default_server_root(root)
        collecting = gc.isenabled()
        gc.disable()  # a tree is all live objects: collector passes over it are pure cost
        try:
            try:
                tree = self.command_lines(self.opt.before)
                tree += self.read_file(root, None, 0)
                tree += self.command_lines(self.opt.after)
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
            includes=self.includes,
            include_nodes=self.include_nodes,
            confine=self.opt.confine,
        )

    def command_lines(self, lines: tuple[str, ...]) -> list[Directive]:
        """Directives from httpd's command line (-C before the main file, -c after it), read
        as httpd reads them: as one more configuration source, under its pseudo-file name."""
        if not lines:
            return []
        return self.build(_reader(COMMAND_LINE_SOURCE, "\n".join(lines)), None)

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
        text = decode(data)
        if origin is not None and is_foreign(text):  # an Include of a key, shadow, htpasswd
            self.refusals.append((origin.file, origin.line, foreign_message(path)))
            return []
        try:
            reader = _reader(path, text)
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
                    line, missing = self._expand(line, path, lineno)
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
                    if ">" not in raw:
                        # Without a `>` (the last one ends the arguments; what follows it is
                        # ignored, COR020) every section's handler refuses the line (AH00526).
                        raise ConfigError(
                            f"{_spelled(name)}> directive missing closing '>'", path, lineno
                        )
                    if lname in _AUTHZ_SECTIONS:
                        authz_depth(parent, path, lineno)
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

    def _expand(self, line: str, path: str, lineno: int) -> tuple[str, list[str]]:
        """`resolve_env` within the bounds in reading.py (a line, and all lines together)."""
        before = len(line)
        try:
            line, missing = resolve_env(line, self._lookup, MAX_EXPANDED_LINE)
        except ExpansionTooLong:
            raise ConfigError(expansion_error(), path, lineno) from None
        self.expanded += len(line) - before
        if self.expanded > MAX_EXPANDED_TOTAL:
            raise ConfigError(expansion_error(total=True), path, lineno)
        return line, missing

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
        self.includes.append(path)
        self.include_nodes.append(node)
        confine = self.opt.confine
        if confine is not None:  # the part before any wildcard, before it is looked at
            fixed = path.split("/")
            cut = next((i for i, c in enumerate(fixed) if fnmatch_test(c)), len(fixed))
            confine.check("/".join(fixed[:cut]) or "/", node.file, node.line)
        out: list[Directive] = []
        for match in include_files(path, optional, node.file, node.line):
            if confine is not None:
                match = confine.check(match, node.file, node.line)
            out.extend(self.read_file(match, node, len(self.stack)))
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
        # httpd stops when ServerRoot is not a directory; a tree read away from its home (a
        # repository in CI) keeps the main file's directory, which is routine, not a finding.
        if os.path.isdir(root):
            self.server_root = root
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
            self.notes.append(
                (node.file, node.line, f"AH01574: module {ident} is already loaded, skipping")
            )
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
            match = confregex.search(pattern, text) is not None
        except confregex.Invalid:
            raise ConfigError(
                "Unable to compile regular expression", node.file, node.line
            ) from None
        except confregex.Undecided:
            match = False  # util_pcre.c: over PCRE2's match limit is no match
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


def load(root: str, options: LoadOptions | None = None) -> Config:
    """Read the configuration whose main file is `root`."""
    return Loader(options or LoadOptions()).load(root)
