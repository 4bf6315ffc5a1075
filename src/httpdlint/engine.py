"""The rule engine: load the catalog from rules/*.toml, run checks on a model, filter findings.

A rule file holds the rule's metadata and documentation and, when its logic is declarative, a
`[match]` table; otherwise a function of `httpdlint.checks` registered with
`@check("CODE")` (registry.py) checks it. The catalog refuses a rule without either, and a
registered function whose rule does not exist. Selection, severity overrides, per-file ignores
and the `# httpdlint: ignore=` comments are applied here, after the checks, so checks stay
simple.
"""

from __future__ import annotations

import difflib
import fnmatch
import functools
import gc
import importlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ConfigError
from .findings import RANK, SEVERITIES, Finding
from .project import TOMLDecodeError, parse_toml
from .report import Skipped
from .syntax import Directive

if TYPE_CHECKING:
    from importlib.abc import Traversable

REQUIRED = ("code", "name", "severity", "summary", "rationale", "fix", "bad", "good")
OPTIONAL = ("references", "needs", "match", "benchmarks", "policy", "params")

#: The benchmark sets a rule's `benchmarks` IDs come from, by the profile that turns on its
#: policy rules (`check --profile`): each ID starts with its set's prefix ("CIS-2.4 5.11",
#: "STIG AS24-U1-000250", "dev-sec apache-10", "mozilla-intermediate"). Lynis and lintian
#: tests are mapped too, with no profile of their own.
PROFILES = {
    "cis": ("CIS-2.4 ",),
    "stig": ("STIG ",),
    "dev-sec": ("dev-sec ",),
    "mozilla": ("mozilla-",),
}
BENCHMARK_PREFIXES = (*(p for ps in PROFILES.values() for p in ps), "lynis ", "lintian ")
CATEGORIES = ("CAP", "SEC", "TLS", "COR", "LOG", "UPG")
MATCH_KEYS = {
    "directive",
    "scope",
    "allowed",
    "forbidden",
    "forbidden_words",
    "default",
    "message",
    "modules",
    "version",
}
NEEDS = {"sizing", "filesystem", "httpd", "cryptography"}


@dataclass
class Rule:
    code: str
    name: str
    severity: str
    summary: str
    rationale: str
    fix: str
    bad: str
    good: str
    references: list[str] = field(default_factory=list)
    needs: list[str] = field(default_factory=list)
    match: dict | None = None
    #: The benchmark controls this rule answers ("CIS-2.4 5.11", "STIG AS24-U1-000250").
    benchmarks: list[str] = field(default_factory=list)
    #: A benchmark's preference rather than a defect: off unless a profile names it.
    policy: bool = False
    #: Thresholds and choices: the defaults, and per profile a table that overrides them
    #: (`[params] max = 60` and `[params.cis] max = 10`).
    params: dict = field(default_factory=dict)
    source: str = ""
    text: str = ""

    def param(self, name: str, settings: Settings | None = None):
        """A parameter as the active profile sets it, else the rule's default."""
        profile = settings.profile if settings is not None else None
        table = self.params.get(profile) if profile else None
        if isinstance(table, dict) and name in table:
            return table[name]
        return self.params[name]

    def in_profile(self, profile: str | None) -> bool:
        """Whether the profile's benchmark set names this rule."""
        prefixes = PROFILES.get(profile or "", ())
        return any(b.startswith(prefixes) for b in self.benchmarks) if prefixes else False

    def finding(
        self,
        message: str,
        at: Directive | None = None,
        *,
        model=None,
        file: str | None = None,
        line: int | None = None,
        httpd_code: str | None = None,
        severity: str | None = None,
    ) -> Finding:
        """A finding of this rule at a directive; without one, at an explicit file and line;
        without those, at the top of `model`'s main file, where what the whole tree lacks (a
        setting nobody sets, a module nobody loads) is reported."""
        section: tuple[str, ...] = ()
        source = ""
        if at is None and file is None and model is not None:
            file, line = model.config.root, 1
        if at is not None:
            file, line = at.file, at.line
            source = " ".join(f"{at.name} {at.raw}".split())
            parent = at.parent
            # The innermost FINDING_SECTION_DEPTH sections (httpd accepts any depth; whole
            # paths would make findings grow with the square of the nesting), "..." first
            # when there are more.
            labels: list[str] = []
            while parent is not None:
                if len(labels) == FINDING_SECTION_DEPTH:
                    labels.append("...")
                    break
                labels.append(" ".join(f"{parent.name[1:]} {parent.raw}".split()).rstrip(">"))
                parent = parent.parent
            section = tuple(reversed(labels))
        macro = at.macro.as_json() if at is not None and at.macro is not None else None
        return Finding(
            self.code,
            self.name,
            severity or self.severity,
            message,
            file,
            line,
            httpd_code,
            section,
            source,
            macro=macro,
        )


#: How many enclosing sections a finding names (see Rule.finding).
FINDING_SECTION_DEPTH = 32


def rules_dir() -> Traversable:
    """rules/ inside the wheel or the single-file build (a zip archive, hence a Traversable
    rather than a Path), or at the repository root for an editable install."""
    packaged = resources.files(__package__) / "rules"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "rules"


def parse_rule(path: Traversable) -> Rule:
    text = path.read_text(encoding="utf-8")
    try:
        data = parse_toml(text)
    except TOMLDecodeError as exc:
        raise ConfigError(f"invalid rule file: {exc}", str(path)) from None
    unknown = set(data) - set(REQUIRED) - set(OPTIONAL)
    if unknown:
        raise ConfigError(f"unknown key(s) in rule file: {', '.join(sorted(unknown))}", str(path))
    missing = [k for k in REQUIRED if not isinstance(data.get(k), str) or not data[k].strip()]
    if missing:
        raise ConfigError(f"rule file lacks {', '.join(missing)}", str(path))
    code = data["code"]
    if code[:3] not in CATEGORIES or len(code) != 6 or not code[3:].isdigit():
        raise ConfigError(f"bad rule code {code!r}: a category and three digits", str(path))
    if Path(path.name).stem != code:
        raise ConfigError(f"rule file name must be {code}.toml", str(path))
    if data["severity"] not in SEVERITIES:
        raise ConfigError(f"severity must be one of {', '.join(SEVERITIES)}", str(path))
    if "match" in data:
        bad = set(data["match"]) - MATCH_KEYS
        if bad or "directive" not in data["match"]:
            raise ConfigError(
                f"[match] needs `directive`; unknown key(s): {', '.join(sorted(bad))}", str(path)
            )
    for need in data.get("needs", []):
        if need not in NEEDS and not need.startswith(("module:", "version:")):
            raise ConfigError(f"unknown need {need!r}", str(path))
    _check_benchmark_keys(data, str(path))
    fields = {k: data[k] for k in REQUIRED + OPTIONAL if k in data}
    return Rule(**fields, source=str(path), text=text)


def _check_benchmark_keys(data: dict, path: str) -> None:
    ids = data.get("benchmarks", [])
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ConfigError("benchmarks must be a list of strings", path)
    for benchmark in ids:
        if not benchmark.startswith(BENCHMARK_PREFIXES) or benchmark in BENCHMARK_PREFIXES:
            raise ConfigError(
                f"benchmark ID {benchmark!r} names no known set: it starts with one of "
                + ", ".join(repr(p) for p in BENCHMARK_PREFIXES),
                path,
            )
    if not isinstance(data.get("policy", False), bool):
        raise ConfigError("policy must be true or false", path)
    if data.get("policy") and not ids:
        raise ConfigError("a policy rule names the benchmarks that want it", path)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise ConfigError("params must be a table", path)
    defaults = {k for k, v in params.items() if not isinstance(v, dict)}
    for profile, table in params.items():
        if not isinstance(table, dict):
            continue
        if profile not in PROFILES:
            raise ConfigError(
                f"[params.{profile}]: no such profile (one of {', '.join(PROFILES)})", path
            )
        extra = set(table) - defaults
        if extra:
            raise ConfigError(
                f"[params.{profile}] sets {', '.join(sorted(extra))} with no default in [params]",
                path,
            )


@functools.cache
def catalog() -> dict[str, Rule]:
    """Every rule, by code, validated, each bound to its logic: a `[match]` table or exactly
    one registered check function (and every registered function to a rule)."""
    import pkgutil

    from . import checks
    from .registry import CHECKS

    for module in pkgutil.iter_modules(checks.__path__):
        importlib.import_module(f"{checks.__name__}.{module.name}")
    rules: dict[str, Rule] = {}
    names: set[str] = set()
    files = (entry for entry in rules_dir().iterdir() if entry.name.endswith(".toml"))
    for path in sorted(files, key=lambda entry: entry.name):
        rule = parse_rule(path)
        if rule.name in names:
            raise ConfigError(f"duplicate rule name {rule.name}", str(path))
        if (rule.code in CHECKS) == (rule.match is not None):
            raise ConfigError(
                f"{rule.code} needs either a [match] table or a check function registered "
                "with @check, not both and not neither",
                str(path),
            )
        names.add(rule.name)
        rules[rule.code] = rule
    orphans = sorted(set(CHECKS) - set(rules))
    if orphans:
        function = CHECKS[orphans[0]]
        raise ConfigError(
            f"check function {function.__module__}.{function.__name__} is registered for "
            f"{', '.join(orphans)}, which no rule file defines"
        )
    return rules


def lookup(code: str) -> Rule:
    rules = catalog()
    key = code.upper()
    if key in rules:
        return rules[key]
    for rule in rules.values():
        if rule.name == code.lower():
            return rule
    raise ConfigError(f"no rule {code!r} (see `httpdlint rules`)")


def check_codes(patterns: Iterable[str], where: str, *, exact: bool = False) -> None:
    """Raise ConfigError for a pattern that names no rule (a code, or a prefix of codes: `SEC`,
    `SEC0`); with `exact`, only whole codes. `where` says which option or key it came from.
    Strict like ruff: a typo must not select nothing and pass."""
    codes = catalog()
    for pattern in patterns:
        p = pattern.upper()
        known = p in codes if exact else any(c.startswith(p) for c in codes)
        if not known:
            hint = _did_you_mean(p) or " (see `httpdlint rules`)"
            raise ConfigError(f"{where}: unknown rule code {pattern!r}{hint}")


def _did_you_mean(code: str) -> str:
    """`; did you mean CAP009?` for a code close to one of the catalog's, else ""."""
    close = difflib.get_close_matches(code, sorted(catalog()), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def matches(code: str, patterns: Iterable[str]) -> bool:
    """Whether a code is named by any pattern: a full code or a prefix (`SEC`, `SEC2`)."""
    return any(code.startswith(p.upper()) for p in patterns)


@dataclass
class Settings:
    """What to check and how to report, from the command line and project settings."""

    select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    severity: dict[str, str] = field(default_factory=dict)
    #: The sizing of the model being checked (inputs.gather), None when it cannot be sized,
    #: and then why not.
    sizing: object | None = None
    sizing_missing: str = "--ram and --child-size, or a running httpd to measure"
    filesystem: bool = False
    #: --no-filesystem given: the filesystem rules are off by choice, not skipped.
    filesystem_off: bool = False
    #: A rule that cannot run fails the run (--fail-on-skipped).
    fail_on_skipped: bool = False
    #: Run the real httpd's syntax check (--pre-restart): (PATH or None for the running
    #: server's tree, ServerRoot, -D defines, the binary or None, the running server's PID
    #: or None). None: httpd is not run.
    httpd_check: tuple | None = None
    #: --profile: a benchmark set whose policy rules run and whose thresholds apply.
    profile: str | None = None


def selected(rules: Iterable[Rule], settings: Settings) -> list[Rule]:
    out = []
    for rule in rules:
        # A policy rule runs under its profile, or when selected by its whole code.
        chosen = rule.code in (p.upper() for p in settings.select)
        if rule.policy and not (rule.in_profile(settings.profile) or chosen):
            continue
        if settings.select and not matches(rule.code, settings.select):
            continue
        if settings.ignore and matches(rule.code, settings.ignore):
            continue
        out.append(rule)
    return out


def needs_met(rule: Rule, model, settings: Settings) -> bool:
    """Whether the rule applies (its modules, its version) and can run (its inputs)."""
    if not applies(rule, model):
        return False
    if "filesystem" in rule.needs and not settings.filesystem:
        return False
    if "httpd" in rule.needs and settings.httpd_check is None:
        return False  # httpd loads the tree's modules: run only when asked (--pre-restart)
    return missing(rule, settings) is None


def applies(rule: Rule, model) -> bool:
    """A rule for a module the tree does not load, or another version, has nothing to find."""
    for need in rule.needs:
        if need.startswith("module:") and not model.has_module(need[7:]):
            return False
        if need.startswith("version:") and model.version != need[8:]:
            return False
    return True


def missing(rule: Rule, settings: Settings) -> str | None:
    """What a rule that applies lacks to run, or None: such a rule is reported as skipped."""
    for need in rule.needs:
        if need == "sizing" and settings.sizing is None:
            return settings.sizing_missing
        if need == "filesystem" and not settings.filesystem and not settings.filesystem_off:
            return "the tree on the machine that serves it (--filesystem; --no-filesystem: off)"
        if need == "cryptography" and not _importable("cryptography"):
            return "the Python package cryptography (pip install 'httpdlint[certs]')"
    return None


@functools.cache
def _importable(name: str) -> bool:
    """Whether a package can be imported, without importing it (a certificate rule imports
    cryptography only when it runs)."""
    import importlib.util

    return importlib.util.find_spec(name) is not None


_SKIPS = "engine.skipped"


def record_skip(model, rule: Rule, needs: str) -> None:
    """A rule that ran but could not judge part of the tree (a certificate it cannot read):
    reported with the skipped rules, once per rule and reason."""
    skips = model.cache.setdefault(_SKIPS, {})
    skips.setdefault((rule.code, needs), Skipped(rule.code, rule.name, needs, model.config.root))


def skipped(model, settings: Settings) -> list[Skipped]:
    """The selected rules that apply to `model` but cannot run, with what each needs."""
    out = []
    for rule in selected(catalog().values(), settings):
        if applies(rule, model):
            need = missing(rule, settings)
            if need is not None:
                out.append(Skipped(rule.code, rule.name, need, model.config.root))
    out.extend(model.cache.get(_SKIPS, {}).values())
    return out


def run(model, settings: Settings | None = None) -> list[Finding]:
    """All findings for the model after selection, overrides and suppressions."""
    settings = settings or Settings()
    findings: list[Finding] = []
    seen: set[tuple] = set()
    collecting = gc.isenabled()
    gc.disable()  # checks make small objects next to a large live tree: see Loader.load
    try:
        for rule in selected(catalog().values(), settings):
            if not needs_met(rule, model, settings):
                continue
            for f in _run_rule(rule, model, settings):
                # A file included by several virtual hosts is one set of lines to fix.
                key = (f.rule, f.file, f.line, f.message)
                if key not in seen:
                    seen.add(key)
                    findings.append(f)
    finally:
        if collecting:
            gc.enable()
    findings = _suppress(findings, model, settings)
    undecided = model.config.undecided
    if undecided:
        for f in findings:
            cond = undecided.get((f.file or "", f.line or 0))
            if cond is not None:
                f.message += (
                    f" (inside <IfModule {cond.raw.rstrip('>').strip()}> at line {cond.line}, "
                    "which cannot be decided: the tree loads no modules; name them with "
                    "--module)"
                )
    for f in findings:
        if f.rule in settings.severity:
            f.severity = settings.severity[f.rule]
    findings.sort(key=Finding.sort_key)
    return findings


def _run_rule(rule: Rule, model, settings: Settings) -> Iterator[Finding]:
    from .registry import CHECKS

    function = CHECKS.get(rule.code)
    if function is not None:
        yield from function(model, rule, settings)
    else:
        from .checks.declarative import evaluate

        yield from evaluate(model, rule, rule.match or {})


UNUSED_SUPPRESSION = "COR099"
INVALID_SUPPRESSION = "COR098"


def _suppress(findings: list[Finding], model, settings: Settings) -> list[Finding]:
    config = model.config
    by_target: dict[tuple[str, int], list] = {}
    by_file: dict[str, list] = {}
    for pragma in config.pragmas:
        if pragma.whole_file:
            by_file.setdefault(pragma.file, []).append(pragma)
        elif pragma.target is not None:
            by_target.setdefault((pragma.file, pragma.target), []).append(pragma)
    kept = _invalid_pragmas(config.pragmas, settings)
    for f in findings:
        if f.file and _file_ignored(f, settings, config.server_root):
            continue
        hit = False
        for pragma in by_file.get(f.file or "", []) + by_target.get(
            (f.file or "", f.line or 0), []
        ):
            if matches(f.rule, pragma.codes):
                pragma.used = True
                hit = True
        if not hit:
            kept.append(f)
    rule = catalog().get(UNUSED_SUPPRESSION)
    if rule is not None and selected_code(UNUSED_SUPPRESSION, settings):
        known = catalog()
        for pragma in config.pragmas:
            codes = [c for c in pragma.codes if any(k.startswith(c) for k in known)]
            if not pragma.used and any(selected_code(c, settings) for c in codes):
                kept.append(
                    rule.finding(
                        f"suppression of {', '.join(pragma.codes)} matches no finding",
                        file=pragma.file,
                        line=pragma.line,
                    )
                )
    return kept


def _invalid_pragmas(pragmas, settings: Settings) -> list[Finding]:
    """A pragma httpdlint cannot read, or one naming no rule, is an error at its line: a typo
    there would otherwise suppress nothing, or everything, without a word. Reported whatever
    --select says (a pragma is input to httpdlint itself); only --ignore silences it."""
    rule = catalog().get(INVALID_SUPPRESSION)
    if rule is None or matches(INVALID_SUPPRESSION, settings.ignore):
        return []
    out = []
    codes = catalog()
    for pragma in pragmas:
        if pragma.error:
            out.append(rule.finding(pragma.error, file=pragma.file, line=pragma.line))
            continue
        for code in pragma.codes:
            if not any(c.startswith(code) for c in codes):
                out.append(
                    rule.finding(
                        f"suppression names no rule: {code}{_did_you_mean(code)}",
                        file=pragma.file,
                        line=pragma.line,
                    )
                )
    return out


def selected_code(code: str, settings: Settings) -> bool:
    if settings.select and not any(
        code.startswith(p) or p.startswith(code) for p in settings.select
    ):
        return False
    return not (settings.ignore and matches(code, settings.ignore))


def _file_ignored(f: Finding, settings: Settings, server_root: str) -> bool:
    for pattern, codes in settings.per_file_ignores.items():
        path = f.file or ""
        rel = path[len(server_root) + 1 :] if path.startswith(server_root + "/") else path
        if (fnmatch.fnmatch(path, pattern) or fnmatch.fnmatch(rel, pattern)) and matches(
            f.rule, codes
        ):
            return True
    return False


def worst(findings: Iterable[Finding]) -> int:
    """The rank of the most severe finding, -1 when there is none."""
    return max((RANK[f.severity] for f in findings), default=-1)
