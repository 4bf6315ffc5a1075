"""`httpdlint dump`: the evaluated configuration, as `httpd -t -D DUMP_CONFIG` prints it."""

from __future__ import annotations

from .output import json_text
from .syntax import Directive, walk


def httpd_place(node: Directive) -> tuple[str, int]:
    """The file and line httpd records for a node: for a directive a macro expansion gave,
    the expansion's own name (`macro 'x' (defined on line 3 of "F") used on line 9 of "F"`)
    and the line inside it, as DUMP_CONFIG prints them; otherwise the node's file and line."""
    macro = node.macro
    if macro is not None:
        return macro.httpd_file, macro.httpd_line
    return node.file, node.line


#: mod_info indents two spaces a level without end (mod_info_indent), so its output grows
#: with the square of the nesting; past this many levels the indent stays (the only place
#: dump departs from DUMP_CONFIG, on trees no one writes) and the output stays linear.
INDENT_LEVELS = 128


def dump_text(tree: list[Directive]) -> str:
    """mod_info's layout: a `# In file:` line on each change of file, `# NNN:` before each
    directive, two spaces of indent per nesting level, and the close tags (mod_info names
    the section's file again before its close tag when its last child came from another).

    Without recursion (httpd accepts sections nested deeper than Python's call stack): the
    stack holds, per open section, its children still to print and its close tag.
    """
    out: list[str] = []
    current: str | None = None
    # (nodes, next index, level, the enclosing section's close: (file, pad, tag) or None)
    stack: list[tuple[list[Directive], int, int, tuple[str, str, str] | None]] = [
        (tree, 0, 0, None)
    ]
    while stack:
        nodes, i, level, close = stack.pop()
        if i >= len(nodes):
            if close is not None:
                file, pad, tag = close
                if file != current:
                    out.append(f"# In file: {file}")
                    current = file
                out.append(f"{pad}{tag}")
            continue
        node = nodes[i]
        stack.append((nodes, i + 1, level, close))
        pad = "  " * min(level, INDENT_LEVELS)
        file, line = httpd_place(node)
        if file != current:
            out.append(f"# In file: {file}")
            current = file
        out.append(f"{pad}#{line:>4}:")
        out.append(f"{pad}{node.name} {node.raw}")
        if node.children:
            stack.append((node.children, 0, level + 1, (file, pad, f"</{node.name[1:]}>")))
    return "\n".join(out) + ("\n" if out else "")


#: `section`, the labels of the sections around a directive, is given while the path is at
#: most this deep and this long; deeper (httpd accepts any depth) it is null, and `parent`
#: leads there: repeating whole paths would make the output grow with the square of the
#: nesting (5,000 nested <If>: 188 MB).
SECTION_PATH_DEPTH = 32
SECTION_PATH_CHARS = 4096


def dump_json(config) -> str:
    """Each directive at the file and line httpd records for it; one from a macro expansion
    also names the macro (`name`, `file`, `line` of its definition) and its `Use` line.

    `parent` is the index in `directives` of the section a directive is in (null at the top
    level); `section` the labels of the sections around it, outermost first, or null past
    SECTION_PATH_DEPTH levels or SECTION_PATH_CHARS characters. The output is linear in the
    tree however deep it nests, and written without recursion.
    """
    directives = []
    index: dict[int, int] = {}
    # Per section: its path (None once too deep or long) and that path's length in chars.
    paths: dict[int, tuple[list[str] | None, int]] = {}
    for d in walk(config.tree):
        file, line = httpd_place(d)
        parent = d.parent
        if parent is None:
            path: list[str] | None = []
            size = 0
        else:
            above, size = paths[id(parent)]
            path = None
            if above is not None and len(above) < SECTION_PATH_DEPTH:
                label = parent.section_label()
                size += len(label)
                if size <= SECTION_PATH_CHARS:
                    path = [*above, label]
        item = {"file": file, "line": line, "name": d.name, "args": d.args}
        item["section"] = path
        item["parent"] = None if parent is None else index[id(parent)]
        if d.macro is not None:
            item["macro"] = {**d.macro.as_json(), "use": {"file": d.file, "line": d.line}}
        if d.children is not None:
            index[id(d)] = len(directives)
            paths[id(d)] = (path, size)
        directives.append(item)
    doc = {"schema": 1, "files": config.files, "directives": directives}
    # The document is three levels deep whatever the configuration (the tree is flattened
    # above), so its writer does not recurse with the nesting.
    return json_text(doc, indent=1)
