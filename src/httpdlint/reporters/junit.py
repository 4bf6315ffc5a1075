"""JUnit XML, valid against both schemas CI systems use: Jenkins' junit-10.xsd and the
Windy Road JUnit.xsd (Ant's format, which GitLab, Azure and most readers follow).

One suite, `httpdlint`: a passing case for each configuration read, a failing case for each
finding, an error case for each input error (a run that read nothing fails as an error, not as
an empty pass), and a skipped case for each rule that could not run. Where the two schemas
differ the document takes the stricter: `<testsuites>` has no attributes, every suite has
`package`, `id`, `timestamp` (no zone), `hostname`, `time`, a `<properties>` element and
`<system-out>`/`<system-err>` after its cases, and every case has `classname` and `time`.
Built with xml.etree, so every value is escaped by the library, never by hand.
"""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from datetime import datetime, timezone

from .. import __version__
from ._common import clean, rel, summary_line, unique_skipped


def _case(suite: ET.Element, classname: str, name: str) -> ET.Element:
    # httpdlint does not time each rule: a duration would be invented.
    return ET.SubElement(suite, "testcase", name=clean(name), classname=classname, time="0")


def _where(path: str | None, line: int | None, root: str) -> str:
    shown = rel(path, root) or "-"
    return f"{shown}:{line}" if line else shown


def _host() -> str:
    try:
        return socket.gethostname() or "localhost"
    except OSError:
        return "localhost"


def document(report) -> ET.Element:
    root = report.root
    skipped = unique_skipped(report)
    cases = len(report.models) + len(report.findings) + len(report.errors) + len(skipped)
    top = ET.Element("testsuites")
    suite = ET.SubElement(
        top,
        "testsuite",
        name="httpdlint",
        package="httpdlint",
        id="0",
        tests=str(cases),
        failures=str(len(report.findings)),
        errors=str(len(report.errors)),
        skipped=str(len(skipped)),
        time="0",
        timestamp=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
        hostname=_host(),
    )
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="httpdlint.version", value=__version__)
    for model in report.models:
        ET.SubElement(properties, "property", name="config", value=clean(model.config.root))

    for model in report.models:
        _case(suite, "httpdlint", f"read {_where(model.config.root, None, root)}")
    for f in report.findings:
        where = _where(f.file, f.line, root)
        case = _case(suite, f"httpdlint.{f.rule}", f"{f.rule} {f.name} {where}")
        httpd = f" [{f.httpd_code}]" if f.httpd_code else ""
        body = [f"{where}: {f.severity} {f.rule} {f.message}{httpd}"]
        if f.section:
            body.append("in " + " > ".join(f"<{s}>" for s in f.section))
        if f.source:
            body.append(f.source)
        failure = ET.SubElement(case, "failure", type=f.severity, message=clean(f.message))
        failure.text = clean("\n".join(body))
    for error in report.errors:
        case = _case(suite, "httpdlint", f"read {_where(error.file, error.line, root)}")
        element = ET.SubElement(case, "error", type="ConfigError", message=clean(error.message))
        element.text = clean(str(error))
    several = len(report.models) > 1
    for s in skipped:
        config = f" {_where(s.config, None, root)}" if several and s.config else ""
        case = _case(suite, f"httpdlint.{s.rule}", f"{s.rule} {s.name}{config}")
        ET.SubElement(case, "skipped", message=clean(f"needs {s.needs}"))

    ET.SubElement(suite, "system-out").text = clean(summary_line(report))
    ET.SubElement(suite, "system-err").text = clean("\n".join(str(e) for e in report.errors))
    return top


def render(report, colour: bool = False, show_source: bool = False) -> str:
    top = document(report)
    ET.indent(top)
    body = ET.tostring(top, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"
