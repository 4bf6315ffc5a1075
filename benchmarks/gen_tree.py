"""Generate an N-virtual-host configuration tree that the real apache2 accepts with -t.

Two layouts: `single` puts every host in one file; `split` gives each host its own file,
pulled in by IncludeOptional. About 20 lines per host, so 10,000 hosts are ~200,000 lines.

    python benchmarks/gen_tree.py 10000 --layout split --out benchmarks/out/split
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

MODULES = "/usr/lib/apache2/modules"
HEAD = """\
ServerRoot "{root}"
ServerName bench.example
Listen 127.0.0.1:8080
PidFile {root}/httpd.pid
ErrorLog {root}/error.log
LoadModule mpm_event_module {mods}/mod_mpm_event.so
LoadModule authz_core_module {mods}/mod_authz_core.so
LoadModule alias_module {mods}/mod_alias.so
LoadModule dir_module {mods}/mod_dir.so
LoadModule mime_module {mods}/mod_mime.so
LoadModule rewrite_module {mods}/mod_rewrite.so
LoadModule headers_module {mods}/mod_headers.so
<IfModule mpm_event_module>
    StartServers 2
    MaxRequestWorkers 150
    MaxConnectionsPerChild 10000
</IfModule>
ServerTokens Prod
TraceEnable Off
LogFormat "%h %l %u %t \\"%r\\" %>s %b" common
"""
HOST = """\
<VirtualHost 127.0.0.1:8080>
    ServerName site{i}.example.com
    ServerAlias www.site{i}.example.com
    DocumentRoot "{root}/htdocs"
    ErrorLog "{root}/logs/site{i}_error.log"
    CustomLog "{root}/logs/site{i}_access.log" common
    DirectoryIndex index.html
    <Directory "{root}/htdocs">
        Options FollowSymLinks
        AllowOverride None
        Require all granted
    </Directory>
    RewriteEngine On
    RewriteRule "^/old/(.*)$" "/new/$1" [R=301,L]
    Header always set X-Site "site{i}"
    Alias /static/ "{root}/htdocs/"
    <Location "/private">
        Require all denied
    </Location>
    AddType text/plain .log
</VirtualHost>
"""


def generate(n: int, layout: str, out: Path) -> Path:
    """Write the tree under `out` (emptied first); return its main file."""
    if out.exists():
        shutil.rmtree(out)
    (out / "htdocs").mkdir(parents=True)
    (out / "logs").mkdir()
    root = out.resolve()
    main = out / "httpd.conf"
    head = HEAD.format(root=root, mods=MODULES)
    if layout == "single":
        with main.open("w") as fh:
            fh.write(head)
            for i in range(n):
                fh.write(HOST.format(i=i, root=root))
    else:
        sites = out / "sites"
        sites.mkdir()
        for i in range(n):
            (sites / f"site{i:06d}.conf").write_text(HOST.format(i=i, root=root))
        main.write_text(head + f'IncludeOptional "{root}/sites/*.conf"\n')
    return main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("hosts", type=int)
    ap.add_argument("--layout", choices=("single", "split"), default="single")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/out/tree"))
    args = ap.parse_args()
    print(generate(args.hosts, args.layout, args.out))


if __name__ == "__main__":
    main()
