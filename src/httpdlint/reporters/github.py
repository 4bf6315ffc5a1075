"""GitHub Actions workflow commands: one annotation per finding, error and skipped rule.

The runner reads `::command key=value,key=value::data`. It splits the properties on `,` and
ends them at the first `::`, so a property value escapes `%`, CR, LF, `:` and `,`; the data
escapes `%`, CR and LF (actions/runner, ActionCommand.cs). Paths are relative to the
repository root, as the runner places annotations.
"""

from __future__ import annotations

from ._common import first_model_file, rel

LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(name: str, message: str, **properties: object) -> str:
    props = ",".join(
        f"{key}={escape_property(str(value))}"
        for key, value in properties.items()
        if value is not None and value != ""
    )
    return f"::{name}{' ' + props if props else ''}::{escape_data(message)}"


def render(report, colour: bool = False, show_source: bool = False) -> str:
    root = report.root
    out = []
    for f in report.findings:
        httpd = f" [{f.httpd_code}]" if f.httpd_code else ""
        out.append(
            command(
                LEVEL[f.severity],
                f"{f.rule} {f.message}{httpd}",
                file=rel(f.file, root),
                line=f.line,
                title=f"{f.rule} {f.name}",
            )
        )
    for error in report.errors:
        out.append(command("error", error.message, file=rel(error.file, root), line=error.line))
    fallback = first_model_file(report)
    for s in report.skipped:
        out.append(
            command(
                "notice",
                f"{s.rule} skipped: needs {s.needs}",
                file=rel(s.config or fallback, root),
                title=f"{s.rule} {s.name} skipped",
            )
        )
    return "\n".join(out) + ("\n" if out else "")
