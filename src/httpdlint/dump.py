"""`httpdlint dump`: the evaluated configuration, as `httpd -t -D DUMP_CONFIG` prints it."""

from __future__ import annotations

import json

from .syntax import Directive, walk


def dump_text(tree: list[Directive]) -> str:
    """mod_info's layout: a `# In file:` line on each change of file, `# NNN:` before each
    directive, two spaces of indent per nesting level, and the close tags."""
    out: list[str] = []
    state = {"file": None}

    def header(node: Directive) -> None:
        if node.file != state["file"]:
            out.append(f"# In file: {node.file}")
            state["file"] = node.file

    def emit(nodes: list[Directive], level: int) -> None:
        pad = "  " * level
        for node in nodes:
            header(node)
            out.append(f"{pad}#{node.line:>4}:")
            out.append(f"{pad}{node.name} {node.raw}")
            if node.children:
                emit(node.children, level + 1)
                out.append(f"{pad}</{node.name[1:]}>")

    emit(tree, 0)
    return "\n".join(out) + ("\n" if out else "")


def dump_json(config) -> str:
    directives = [
        {
            "file": d.file,
            "line": d.line,
            "name": d.name,
            "args": d.args,
            "section": d.section_path(),
        }
        for d in walk(config.tree)
    ]
    doc = {"schema": 1, "files": config.files, "directives": directives}
    return json.dumps(doc, indent=1) + "\n"
