"""The real httpd's syntax check as a rule (COR023): only under `check --pre-restart`."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator

from ..findings import Finding
from ..registry import check
from ..validate import httpd_check


@check("COR023")
def httpd_refuses(model, rule, settings) -> Iterator[Finding]:
    path, server_root, defines, httpd, pid = settings.httpd_check
    done = httpd_check(path, server_root=server_root, defines=tuple(defines), httpd=httpd, pid=pid)
    if done.ok:
        return
    binary = os.path.basename(done.command[0]) if done.command else "httpd"
    message = f"{binary} -t refuses the configuration: {done.message}"
    code = re.search(r"\bAH\d{5}\b", done.output)
    extra = {"httpd_code": code.group(0) if code else None}
    if done.file and done.line and os.path.isfile(done.file):
        at = next((n for n in model.all() if n.file == done.file and n.line == done.line), None)
        if at is not None:
            yield rule.finding(message, at, **extra)
        else:
            yield rule.finding(message, file=done.file, line=done.line, **extra)
        return
    yield rule.finding(message, model=model, **extra)
