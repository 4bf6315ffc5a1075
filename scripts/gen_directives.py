"""Generate src/httpdlint/data/directives.json from the httpd manual's XML module pages.

Usage: python scripts/gen_directives.py [MANUAL_DIR] [-o OUTPUT]

MANUAL_DIR holds ``2.2/mod/*.xml``, ``2.4/mod/*.xml`` and a README.md naming the commit of each
branch (default: ``../shared/httpd-manual`` beside the repository). Only facts are kept (names,
modules, contexts, override classes, defaults, syntax lines, versions); the manual's prose is
not copied. The output is deterministic, so regenerating must give a byte-identical file.
"""

from __future__ import annotations

import argparse
import html.entities
import json
import re
import sys
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MANUAL = REPO_ROOT.parent / "shared" / "httpd-manual"
DEFAULT_OUTPUT = REPO_ROOT / "src" / "httpdlint" / "data" / "directives.json"
VERSIONS = ("2.2", "2.4")
NEWEST = VERSIONS[-1]

# httpd 2.4 still accepts the 2.2 names of these two directives (prefork.c, worker.c and
# event.c register "MaxClients", mpm_common.h registers "MaxRequestsPerChild" as deprecated
# spellings), but the 2.4 manual documents only the new names, so the fact comes from the source.
ALIASES_24 = {
    "maxclients": "MaxRequestWorkers",
    "maxrequestsperchild": "MaxConnectionsPerChild",
}

# Modules every httpd build contains that the manual pages do not name by identifier or source
# file: core.xml has neither element, and http_core.c has no page at all. `httpd -l` lists both
# (server/core.c declares core_module, modules/http/http_core.c declares http_module), and
# <IfModule core.c> / <IfModule http_core.c> are legal, so they must count as known modules.
BUILTIN_MODULES: dict[str, dict[str, str]] = {
    "core": {"identifier": "core_module", "sourcefile": "core.c", "status": "Core"},
    "http_core": {"identifier": "http_module", "sourcefile": "http_core.c", "status": "Core"},
}

# The five entities XML itself defines; everything else the pages use is HTML's (&nbsp;,
# &sect;, ...) or the manual build's own (&httpd.docs; in prose), declared in a DTD we do not
# have, so they are resolved here before parsing.
_XML_ENTITIES = {"lt", "gt", "amp", "quot", "apos"}
_ENTITY = re.compile(r"&([A-Za-z][\w.-]*);")
_DOCTYPE = re.compile(r"<!DOCTYPE[^>]*>")

# A compatibility note gives the directive's (or module's) first release only when the note
# is about the thing itself: "Available in httpd 2.4.5 and later", "Version 2.4 and later",
# "2.4.10 and later", "Added in 2.4.39", "ProxySet is only available in Apache 2.2 and later".
# Notes about one argument or context ("The proxy section context is allowed in httpd 2.4.30")
# or about a library ("Available if using OpenSSL 0.9.8h") must not match.
_VER = r"\d+\.\d+(?:\.\d+)?"
_SINCE = re.compile(
    r"(?:(?:(?:this directive is |only )?available(?: for unix)?|version|added|directive supported"
    r"|(?P<subject>[\w.]+) is only available)"
    r"\s*(?:in|from|since)?\s*(?:apache http server|apache httpd|apache|httpd|versions?)?"
    r"|apache http server|apache)?"
    rf"\s*(?P<ver>{_VER})(?!\.?\d)(?!\s*and earlier)",
    re.IGNORECASE,
)
# "2.2.32 or 2.4.24 and later": a backport; each branch's manual should get its own release.
_OR_VER = re.compile(rf"\s*or ({_VER})")
# 2.2's SSLProxyMachineCertificate* pages say override "Not applicable": no override class, as
# an absent <override> says everywhere else; kept as None so it is not reported as a 2.2 change.
_NO_OVERRIDE = {"not applicable"}


def norm(text: str | None) -> str | None:
    """Collapse runs of whitespace (including the manual's &nbsp;) to one space."""
    if text is None:
        return None
    text = " ".join(text.split())
    return text or None


def elem_text(elem: ET.Element | None) -> str | None:
    return None if elem is None else norm("".join(elem.itertext()))


def parse_since(note: str | None, branch: str, subject: str) -> str | None:
    """The release a compatibility note says the thing first appeared in, or None."""
    if not note:
        return None
    m = _SINCE.match(note)
    if m is None:
        return None
    if m.group("subject") and m.group("subject").lower() != subject.lower():
        return None
    candidates = [m.group("ver")]
    rest = note[m.end() :]
    while (o := _OR_VER.match(rest)) is not None:
        candidates.append(o.group(1))
        rest = rest[o.end() :]
    for ver in candidates:
        if ver == branch or ver.startswith(branch + "."):
            return ver
    return candidates[0]


def read_xml(path: Path) -> ET.Element:
    text = path.read_text(encoding="utf-8")
    text = _DOCTYPE.sub("", text, count=1)

    def entity(m: re.Match[str]) -> str:
        name = m.group(1)
        if name in _XML_ENTITIES:
            return m.group(0)
        if name in html.entities.name2codepoint:
            return chr(html.entities.name2codepoint[name])
        # Manual-build entities such as &httpd.docs; only occur in prose we drop anyway.
        return name

    return ET.fromstring(_ENTITY.sub(entity, text))


@dataclass
class Branch:
    """What one branch's manual says: module facts and directive definitions."""

    version: str
    files: int = 0
    pages: list[str] = field(default_factory=list)
    modules: dict[str, dict[str, Any]] = field(default_factory=dict)
    directives: dict[str, dict[str, Any]] = field(default_factory=dict)


def read_branch(mod_dir: Path, version: str) -> Branch:
    branch = Branch(version)
    for path in sorted(mod_dir.glob("*.xml")):
        root = read_xml(path)
        branch.files += 1
        if root.tag != "modulesynopsis":
            # Index pages (directives.xml, quickreference.xml, ...) repeat facts, define none.
            continue
        branch.pages.append(path.name)
        read_module(root, branch)
    check_module_list(mod_dir, branch)
    return branch


def check_module_list(mod_dir: Path, branch: Branch) -> None:
    """Every page allmodules.xml lists must have been read as a module page."""
    listing = mod_dir / "allmodules.xml"
    if not listing.exists():
        return
    listed = {elem_text(e) for e in read_xml(listing).iter("modulefile")}
    missing = listed - set(branch.pages)
    if missing:
        raise SystemExit(f"{mod_dir}: listed in allmodules.xml but not read: {sorted(missing)}")


def read_module(root: ET.Element, branch: Branch) -> None:
    name = elem_text(root.find("name"))
    if name is None:
        raise SystemExit(f"{branch.version}: a module page without <name>")
    builtin = BUILTIN_MODULES.get(name, {})
    status = elem_text(root.find("status"))
    branch.modules[name] = {
        "identifier": elem_text(root.find("identifier")) or builtin.get("identifier"),
        "sourcefile": elem_text(root.find("sourcefile")) or builtin.get("sourcefile"),
        "status": status,
        "since": parse_since(elem_text(root.find("compatibility")), branch.version, name),
    }
    for syn in root.findall("directivesynopsis"):
        if "location" in syn.attrib:
            # A pointer to the page that defines the directive (prefork.xml -> mpm_common).
            continue
        entry = read_directive(syn, name, status, branch.version)
        key = entry["name"].lower()
        previous = branch.directives.get(key)
        if previous is None:
            branch.directives[key] = entry
        else:
            # Two pages define the same directive (2.4 HeartbeatStorage: mod_heartmonitor and
            # mod_lbmethod_heartbeat); pages are read in sorted order, so the first one stays.
            previous.setdefault("also_in", []).append(name)


def read_directive(syn: ET.Element, module: str, module_status: str | None, version: str) -> dict:
    bare = elem_text(syn.find("name"))
    if bare is None:
        raise SystemExit(f"{version} {module}: a directivesynopsis without <name>")
    section = syn.get("type") == "section"
    name = "<" + bare if section else bare
    override = elem_text(syn.find("override"))
    if override is not None and override.lower() in _NO_OVERRIDE:
        override = None
    implementers = [t for e in syn.findall("modulelist/module") if (t := elem_text(e))]
    mpms = sorted(implementers) if module == "mpm_common" else None
    also_in = sorted(m for m in implementers if m != module) if module != "mpm_common" else []
    entry: dict[str, Any] = {
        "name": name,
        "module": module,
        "section": section,
        "contexts": [t for e in syn.findall("contextlist/context") if (t := elem_text(e))],
        "override": override,
        "default": elem_text(syn.find("default")),
        "syntax": elem_text(syn.find("syntax")),
        "since": parse_since(elem_text(syn.find("compatibility")), version, bare),
        "mpms": mpms,
        "status": elem_text(syn.find("status")) or module_status,
    }
    if also_in:
        # mod_cgi's ScriptLog* are implemented by mod_cgid too (whose page only points here).
        entry["also_in"] = also_in
    return entry


def merge(branches: dict[str, Branch]) -> tuple[dict, dict]:
    """One entry per name: the newest branch's facts on top, older differing ones beside."""
    modules = merge_entries({v: b.modules for v, b in branches.items()})
    directives = merge_entries({v: b.directives for v, b in branches.items()})
    for entry in directives.values():
        by_version = {v: entry["module"] for v in entry["versions"]}
        old = entry.get("v22", {})
        if "module" in old:
            by_version["2.2"] = old["module"]
        entry["modules_by_version"] = by_version
    for name, facts in BUILTIN_MODULES.items():
        modules.setdefault(name, {**facts, "since": None, "versions": list(VERSIONS)})
    return modules, directives


def merge_entries(per_version: dict[str, dict[str, dict]]) -> dict[str, dict]:
    merged: dict[str, dict] = {}
    keys = sorted(set().union(*per_version.values()))
    for key in keys:
        present = [v for v in VERSIONS if key in per_version[v]]
        top = dict(per_version[present[-1]][key])
        top["versions"] = present
        if "2.2" in present and present[-1] != "2.2":
            old = per_version["2.2"][key]
            fields = sorted(set(old) | set(top) - {"versions"})
            diff = {f: old.get(f) for f in fields if old.get(f) != top.get(f)}
            if diff:
                top["v22"] = diff
        merged[key] = top
    return merged


def read_commits(manual: Path) -> dict[str, str]:
    readme = (manual / "README.md").read_text(encoding="utf-8")
    commits = dict(re.findall(r"`(\d\.\d)/`.*?commit ([0-9a-f]{40})", readme))
    missing = [v for v in VERSIONS if v not in commits]
    if missing:
        raise SystemExit(f"{manual}/README.md: no commit given for {missing}")
    return {v: commits[v] for v in VERSIONS}


def dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def render(table: dict[str, Any]) -> str:
    """Sorted JSON with one module or directive per line, so regenerations diff line by line."""
    parts = []
    for key in sorted(table):
        value = table[key]
        if key in ("directives", "modules"):
            rows = ",\n".join(f"{dumps(k)}:{dumps(value[k])}" for k in sorted(value))
            parts.append(f"{dumps(key)}:{{\n{rows}\n}}")
        else:
            parts.append(f"{dumps(key)}:{dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


def build(manual: Path) -> tuple[dict[str, Any], dict[str, Branch]]:
    branches = {v: read_branch(manual / v / "mod", v) for v in VERSIONS}
    modules, directives = merge(branches)
    table = {
        "generated_from": read_commits(manual),
        "aliases": dict(sorted(ALIASES_24.items())),
        "modules": modules,
        "directives": directives,
    }
    return table, branches


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("manual", nargs="?", type=Path, default=DEFAULT_MANUAL)
    parser.add_argument("-o", "--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    if not (args.manual / NEWEST / "mod").is_dir():
        parser.error(f"{args.manual}: not a manual directory (no {NEWEST}/mod/)")
    table, branches = build(args.manual)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render(table), encoding="utf-8", newline="\n")
    for v, b in branches.items():
        print(
            f"{v}: {b.files} files read, {len(b.pages)} module pages, "
            f"{len(b.modules)} modules, {len(b.directives)} directives",
            file=sys.stderr,
        )
    print(
        f"wrote {args.output}: {len(table['modules'])} modules, "
        f"{len(table['directives'])} directives",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
