"""Filesystem checks: a DocumentRoot or <Directory> that does not exist on the machine that
serves the tree (run only there: `--filesystem`)."""

from __future__ import annotations

import os
from collections.abc import Iterator

from ..facts import SYNTAX_ERROR
from ..findings import Finding
from ..registry import check
from ..scopes import RAW, context_pass, nodes_named, unique
from ..syntax import section_args, split_args


def _resolve(model, path: str) -> str:
    return os.path.normpath(os.path.join(model.config.server_root, path))


def _checkable(path: str) -> bool:
    return bool(path) and "${" not in path and not any(c in path for c in "*?[")


@unique
@check("COR007")
def document_root_missing(model, rule, settings) -> Iterator[Finding]:
    ctx = context_pass(model)
    nodes = ctx.by_name.get("documentroot", [])
    exists: dict[str, tuple[str, bool]] = {}  # by the raw argument text
    for raw in set(map(RAW, nodes)):
        args = split_args(raw)
        path = args[0] if args else ""
        full = _resolve(model, path)
        exists[raw] = (full, not _checkable(path) or os.path.isdir(full))
    if all(ok for _, ok in exists.values()):
        return
    for node in nodes:
        full, ok = exists[node.raw]
        if ok:
            continue
        where = ctx.where(node)
        if where.cls not in ("top", "vhost"):
            continue
        if where.cls == "vhost":
            yield rule.finding(
                f'DocumentRoot {full} does not exist: httpd warns "DocumentRoot [{full}] does '
                'not exist" and this virtual host answers every request with 404',
                node,
                httpd_code="AH00112",
                severity="warning",
            )
        else:
            yield rule.finding(
                f"DocumentRoot '{full}' is not a directory, or is not readable: httpd refuses "
                "to start",
                node,
                httpd_code=SYNTAX_ERROR,
            )


@unique
@check("COR008")
def directory_path_missing(model, rule, settings) -> Iterator[Finding]:
    nodes = nodes_named(model, "<Directory")
    fine: dict[str, bool] = {}  # by the raw argument text
    for raw in set(map(RAW, nodes)):
        args = section_args(raw)
        path = args[0] if args else "~"
        fine[raw] = (
            path == "~" or not _checkable(path) or not path.startswith("/") or os.path.exists(path)
        )
    if all(fine.values()):
        return
    for node in nodes:
        if fine[node.raw]:
            continue
        path = node.args[0]
        yield rule.finding(
            f"<Directory {path}> names a path that does not exist here: the section applies "
            "to nothing (a typo, or a path on another machine?)",
            node,
        )


# Files httpd opens while it reads the configuration and refuses to start without, with the
# words it says then (mod_so's load_module; mod_ssl's ssl_cmd_check_file).
_SSL_FILES = ("sslcertificatefile", "sslcertificatekeyfile", "sslcacertificatefile")


@unique
@check("COR024")
def startup_file_missing(model, rule, settings) -> Iterator[Finding]:
    # LoadModule lines are read (and kept) by the loader, not left in the tree.
    for node in model.config.modules.values():
        if node is None or len(node.args) != 2 or not _checkable(node.args[1]):
            continue
        full = _resolve(model, node.args[1])
        if not os.path.isfile(full):
            yield rule.finding(
                f"Cannot load {full} into server: no such file here; httpd refuses to start",
                node,
                httpd_code=SYNTAX_ERROR,
            )
    if not model.has_module("ssl_module"):
        return
    for name in _SSL_FILES:
        for node in nodes_named(model, name):
            if not node.args or not _checkable(node.args[0]):
                continue
            full = _resolve(model, node.args[0])
            if not (os.path.isfile(full) and os.path.getsize(full) > 0):
                yield rule.finding(
                    f"{node.name}: file '{full}' does not exist or is empty; httpd refuses to "
                    "start",
                    node,
                    httpd_code=SYNTAX_ERROR,
                )
