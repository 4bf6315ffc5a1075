"""A differential fuzzer: mutated configurations through `apache2 -t` and `httpdlint`, side by side.

Each case is a configuration made from a seed (a small valid tree, or a fixture of the test
suite) by a few mutations that hostile or careless input brings: look-alike characters in
names (no-break space, U+0085, U+3000, \\x1c-\\x1f, the Kelvin sign), a lost `>`, doubled or
dropped quotes and backslashes, deep nesting, `${VAR}` and Define chains, huge numbers,
regular expressions that backtrack, bytes that are not UTF-8. Both tools read it:

* `apache2 -d DIR -f FILE -t`: accepted or refused (and its message);
* `httpdlint check FILE -f json` in a subprocess with a time and memory bound: exit 2, or an
  error finding that says httpd refuses, is "refused"; anything else "accepted";
* where both accept, `-t -D DUMP_CONFIG` (mod_info) against `httpdlint dump -f json`.

Outcomes by class: `crash` (a traceback, an exit code other than 0/1/2, more than one line on
stderr with exit 2), `hang` (past the time bound), `httpd-refuses-we-accept`,
`httpd-accepts-we-refuse`, `dump-differs`, `agree`. Interesting cases are written to
`--out DIR/<class>/<hash>.conf`; `--replay DIR` runs such a corpus again.

    python3 fuzz/fuzz_httpd.py --seed 1 --minutes 30 --out /tmp/fuzz
    python3 fuzz/fuzz_httpd.py --replay /tmp/fuzz/crash
"""

from __future__ import annotations

import argparse
import collections
import hashlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests"))
from httpd_real import INFO_SO  # noqa: E402
from test_differential import httpd_nodes, our_nodes, shown  # noqa: E402

MODULES = "/usr/lib/apache2/modules"
BASE = f"""\
LoadModule mpm_event_module {MODULES}/mod_mpm_event.so
LoadModule authz_core_module {MODULES}/mod_authz_core.so
LoadModule alias_module {MODULES}/mod_alias.so
LoadModule rewrite_module {MODULES}/mod_rewrite.so
LoadModule mime_module {MODULES}/mod_mime.so
ServerName fuzz.test
Listen 127.0.0.1:8080
ErrorLog /dev/null
PidFile /dev/null
DocumentRoot /var/www
<Directory />
    Require all denied
</Directory>
<VirtualHost *:8080>
    ServerName a.test
    ServerAlias www.a.test
    <Location /x>
        Require all granted
    </Location>
    RewriteEngine On
    RewriteRule ^/old/(.*)$ /new/$1 [R=301,L]
</VirtualHost>
Define Fuzz on
<IfDefine Fuzz>
    Timeout 30
</IfDefine>
MaxRequestWorkers 150
"""
LOOKALIKE = ["\u00a0", "\u0085", "\u3000", "\x1c", "\x1d", "\x1e", "\x1f", "\u212a", "\t", "\v"]
SNIPPETS = [
    "<Directory /srv",
    "<VirtualHost *:80",
    "<Directory>\n</Directory>",
    "<IfDirective ServerName>>\nTimeout 5\n</IfDirective>",
    'LocationMatch "^/(a|aa)+$"',
    '<LocationMatch "^/(a|aa)+$">\nRequire all denied\n</LocationMatch>\n'
    + "<Location /"
    + "a" * 45
    + ">\n</Location>",
    "MaxRequestWorkers 1e3",
    "MaxRequestWorkers 4294967297",
    'Options Indexes ""',
    'SSLProtocol all ""',
    "Define a0 xx\nDefine a1 ${a0}${a0}\nDefine a2 ${a1}${a1}\nDefine a3 ${a2}${a2}",
    "Timeout ${Undefined}",
    '"  ServerAdmin " admin@example.com',
    "LoadModule>> x y",
    '<If "%{HTTP_HOST} == \'a\'">\n<If "true">\nRequire all granted\n</If>\n</If>',
    "Alias /a /srv/a\nAliasMatch ^/b(.*) /srv/b$1",
    "ServerAdmin caf\udce9@example.com",
    'Header set X-A "a\\"b"',
    "# comment \\\ncontinued",
    "Timeout 30 \\\n",
    "<Macro M $x>\nTimeout $x\n</Macro>\nUse M 5",
    "UnDefine Fuzz",
    "KeepAlive maybe",
]


def mutate(text: str, rng: random.Random) -> str:
    lines = text.split("\n")
    for _ in range(rng.randint(1, 4)):
        op = rng.randrange(9)
        i = rng.randrange(len(lines))
        line = lines[i]
        if op == 0 and line:  # a look-alike character somewhere in the line
            j = rng.randrange(len(line) + 1)
            lines[i] = line[:j] + rng.choice(LOOKALIKE) + line[j:]
        elif op == 1:
            lines.insert(i, rng.choice(SNIPPETS))
        elif op == 2 and line:  # drop a character
            j = rng.randrange(len(line))
            lines[i] = line[:j] + line[j + 1 :]
        elif op == 3:
            lines.insert(i, line)
        elif op == 4 and line:  # a quote, a backslash or a bracket
            j = rng.randrange(len(line) + 1)
            lines[i] = line[:j] + rng.choice(['"', "'", "\\", ">", "<", "#", "$", "{"]) + line[j:]
        elif op == 5:  # nesting
            depth = rng.choice([2, 10, 50, 200])
            lines.insert(i, "<IfModule mime_module>\n" * depth + "</IfModule>\n" * depth)
        elif op == 6 and line.strip():
            lines[i] = line.upper() if rng.random() < 0.5 else line.lower()
        elif op == 7 and line:
            lines[i] = line[: rng.randrange(len(line))]
        elif op == 8:
            del lines[i]
            if not lines:
                lines = [""]
    return "\n".join(lines) + "\n"


def seeds() -> list[str]:
    out = [BASE]
    for path in sorted((REPO / "tests" / "fixtures" / "rules").glob("*/*.conf"))[::7]:
        text = path.read_text(encoding="utf-8", errors="surrogateescape")
        out.append(BASE + "\n" + text)
    return out


def _limit() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


def run(cmd: list[str], timeout: float, env: dict | None = None) -> tuple[int | None, str, str]:
    try:
        done = subprocess.run(
            cmd,
            capture_output=True,
            text=True,
            errors="surrogateescape",
            timeout=timeout,
            env=env,
            preexec_fn=_limit,
        )
    except subprocess.TimeoutExpired:
        return None, "", ""
    return done.returncode, done.stdout, done.stderr


# Rules whose error findings are what `httpd -t` refuses: an invalid command, arguments it
# refuses, no MPM, its own -t (not COR017: without Listen, -t passes and the start fails).
REFUSING = {"COR001", "COR019", "CAP011", "COR023"}


def _refuses(doc: dict) -> bool:
    return any(
        f["severity"] == "error"
        and (f["rule"] in REFUSING or ("refuse" in f["message"] and f["rule"] != "COR017"))
        for f in doc.get("findings", [])
    )


def _first_refusal(out: str) -> str:
    doc = json.loads(out) if out else {}
    found = [f["message"] for f in doc.get("findings", []) if f["severity"] == "error"]
    return found[0] if found else ""


def judge(apache: str, text: str, work: Path, timeout: float) -> tuple[str, str]:
    """(class, detail) of one case."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    conf = work / "httpd.conf"
    conf.write_bytes(text.encode("utf-8", "surrogateescape"))
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    code, _, said = run([apache, "-d", str(work), "-f", str(conf), "-t"], timeout, env)
    if code is None:
        return "httpd-hang", ""
    httpd_ok = code == 0
    said = " ".join(said.split())[:200]
    lint = [sys.executable, "-m", "httpdlint"]
    check = [*lint, "check", str(conf), "-f", "json", "--exit-zero", "--filesystem"]
    code, out, err = run(check, timeout)
    if code is None:
        return "hang", "check"
    # Lines end at "\n" only: str.splitlines() also splits at \x1c-\x1e and U+0085, which a
    # message quoting a hostile name may hold.
    if "Traceback" in err or code not in (0, 1, 2) or (code == 2 and err.count("\n") > 1):
        return "crash", err[-400:]
    if code == 2 and "httpdlint stops here" in err:
        return "httpdlint-limit", err.strip()[:200]  # a documented limit, not a verdict
    ours_ok = code != 2 and not _refuses(json.loads(out) if out else {})
    if httpd_ok and not ours_ok:
        return "httpd-accepts-we-refuse", (err.strip() or _first_refusal(out))[:200]
    if not httpd_ok and ours_ok:
        return "httpd-refuses-we-accept", said
    if not httpd_ok:
        return "agree", "both refuse"
    dump = [*lint, "dump", str(conf), "-f", "json", "--module", "info_module"]
    code, out, err = run(dump, timeout)
    if code is None:
        return "hang", "dump"
    if "Traceback" in err or code != 0:
        return "crash", err[-400:]
    pre = ["-C", f"LoadModule info_module {INFO_SO}"]
    code, stdout, _ = run(
        [apache, "-d", str(work), "-f", str(conf), *pre, "-t", "-D", "DUMP_CONFIG"], timeout, env
    )
    if code != 0:
        return "agree", "DUMP_CONFIG refused"
    try:
        same = shown(httpd_nodes(stdout)) == our_nodes(json.loads(out))
    except (ValueError, KeyError, IndexError) as exc:
        return "dump-differs", f"unreadable: {exc}"
    return ("agree", "") if same else ("dump-differs", "")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cases", type=int, default=0, help="stop after N cases (0: no limit)")
    ap.add_argument("--minutes", type=float, default=1.0, help="stop after this long")
    ap.add_argument("--timeout", type=float, default=20.0, help="per tool and case")
    ap.add_argument("--out", type=Path, help="write interesting cases under OUT/<class>/")
    ap.add_argument("--replay", type=Path, help="run the .conf files under this directory")
    ap.add_argument("--json", action="store_true", help="print the tally as JSON")
    args = ap.parse_args(argv)
    apache = shutil.which("apache2") or "/usr/sbin/apache2"
    rng = random.Random(args.seed)
    pool = seeds()
    tally: collections.Counter[str] = collections.Counter()
    examples: dict[str, list[str]] = collections.defaultdict(list)
    deadline = time.monotonic() + args.minutes * 60
    replay = sorted(args.replay.rglob("*.conf")) if args.replay else []
    with tempfile.TemporaryDirectory(prefix="httpdlint-fuzz-") as tmp:
        n = 0
        while True:
            if replay:
                if n >= len(replay):
                    break
                text = replay[n].read_bytes().decode("utf-8", "surrogateescape")
            else:
                if (args.cases and n >= args.cases) or time.monotonic() > deadline:
                    break
                text = mutate(rng.choice(pool), rng)
            n += 1
            cls, detail = judge(apache, text, Path(tmp) / "case", args.timeout)
            tally[cls] += 1
            if cls != "agree":
                digest = hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:12]
                examples[cls].append(f"{digest}: {detail[:160]}")
                if args.out:
                    where = args.out / cls
                    where.mkdir(parents=True, exist_ok=True)
                    (where / f"{digest}.conf").write_bytes(text.encode("utf-8", "surrogateescape"))
    if args.json:
        print(json.dumps({"cases": n, "tally": tally, "examples": examples}, indent=1))
    else:
        print(f"{n} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
        for cls, items in sorted(examples.items()):
            for item in items[:5]:
                print(f"  {cls}: {item}")
    return 1 if tally["crash"] or tally["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
