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


def dump_text(tree: list[Directive]) -> str:
    """mod_info's layout: a `# In file:` line on each change of file, `# NNN:` before each
    directive, two spaces of indent per nesting level, and the close tags (mod_info names
    the section's file again before its close tag when its last child came from another)."""
    out: list[str] = []
    state = {"file": None}

    def header(file: str) -> None:
        if file != state["file"]:
            out.append(f"# In file: {file}")
            state["file"] = file

    def emit(nodes: list[Directive], level: int) -> None:
        pad = "  " * level
        for node in nodes:
            file, line = httpd_place(node)
            header(file)
            out.append(f"{pad}#{line:>4}:")
            out.append(f"{pad}{node.name} {node.raw}")
            if node.children:
                emit(node.children, level + 1)
                header(file)
                out.append(f"{pad}</{node.name[1:]}>")

    emit(tree, 0)
    return "\n".join(out) + ("\n" if out else "")


def dump_json(config) -> str:
    """Each directive at the file and line httpd records for it; one from a macro expansion
    also names the macro (`name`, `file`, `line` of its definition) and its `Use` line."""
    directives = []
    for d in walk(config.tree):
        file, line = httpd_place(d)
        item = {"file": file, "line": line, "name": d.name, "args": d.args}
        item["section"] = d.section_path()
        if d.macro is not None:
            item["macro"] = {**d.macro.as_json(), "use": {"file": d.file, "line": d.line}}
        directives.append(item)
    doc = {"schema": 1, "files": config.files, "directives": directives}
    return json_text(doc, indent=1)
