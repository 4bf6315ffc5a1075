"""mod_macro as httpd 2.4.71 runs it (modules/core/mod_macro.c), followed line for line:
`<Macro>` stores its body unread, `Use` substitutes the parameters and splices the result into
the stream being read, so that sections, conditions, includes and defines in it act where it
is used, and a section may open in one expansion and close after it. `UndefMacro`,
`MacroIgnoreEmptyArgs` and `MacroIgnoreBadNesting` as httpd has them; its warnings become the
loader's notes, its refusals ConfigError at the Use line, worded as httpd words them.

`MacroReading` holds the loader's mod_macro handlers; `Loader` (loader.py) inherits them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from .errors import ConfigError
from .reading import _C_SPACE, _PRAGMA, MacroDefinition, Pragma, _Expansion, _Reader
from .syntax import (
    Directive,
    MacroOrigin,
    ascii_lower,
    getword_conf,
    logical_lines,
    walk,
)

# mod_macro reads a body line, and substitutes into one, in a buffer of MAX_STRING_LEN bytes.
MACRO_LINE_MAX = 8192


# The prefixes mod_macro expects of parameter names; `@` ones are substituted quoted.
MACRO_ARG_PREFIX = "$%@"


# mod_macro's commands, all EXEC_ON_READ | OR_ALL: anywhere in a file, inside any section.
_MACRO_EXEC = {
    "<macro": "x_macro",
    "use": "x_use",
    "undefmacro": "x_undef_macro",
    "macroignoreemptyargs": "x_macro_ignore_empty",
    "macroignorebadnesting": "x_macro_ignore_nesting",
}


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


class MacroReading:
    """The mod_macro handlers of the loader (mixed into `Loader`, whose state they use)."""

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
