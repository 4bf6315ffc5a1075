"""backends.py: httpd's FastCGI backends, and which PHP-FPM pool serves each.

httpd fragments and php-fpm configurations are written by each test into tmp_path, with the
helpers of test_fpm.py; matching uses masters built by hand (the real php-fpm master is
test_fpm.py's).
"""

from __future__ import annotations

import glob
import os
from pathlib import Path
from textwrap import dedent

import pytest
from test_fpm import fpm, line_of, two_pool_tree, write

from httpdlint.backends import (
    Backend,
    fcgi_address,
    pools_for,
    pools_from_files,
    proxied_backends,
)
from httpdlint.errors import ConfigError
from httpdlint.fpm import FpmConfig, FpmMaster
from httpdlint.model import Model, load_model

PROXY_MODULES = ("proxy_module", "proxy_fcgi_module")


# --------------------------------------------------------------------------- helpers


def httpd(tmp_path: Path, body: str, modules: tuple[str, ...] = PROXY_MODULES) -> Model:
    root = tmp_path / "httpd"
    conf = write(root / "httpd.conf", f"ServerRoot {root}\n" + dedent(body))
    return load_model(str(conf), modules=modules)


def addresses(model: Model) -> list[str]:
    return [b.address for b in proxied_backends(model)]


def backend(address: str) -> Backend:
    """A Backend not read from a configuration (for matching tests)."""
    from httpdlint.syntax import Directive

    d = Directive("SetHandler", "x", "test.conf", 1)
    return Backend(address, address, d, "test.conf", 1)


# --------------------------------------------------------------------------- httpd: backends


def test_sethandler_forms(tmp_path):
    model = httpd(
        tmp_path,
        """
        <FilesMatch ".+\\.ph(?:ar|p|tml)$">
            SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"
        </FilesMatch>
        <VirtualHost *:80>
            <FilesMatch \\.php$>
                SetHandler "proxy:unix:/run/php/other.sock|fcgi://localhost/"
            </FilesMatch>
            <Location /tcp>
                SetHandler proxy:fcgi://127.0.0.1:9000
            </Location>
            <Location /upper>
                SetHandler "proxy:UNIX:/run/php/Upper.sock|FCGI://localhost"
            </Location>
            <Location /v6>
                SetHandler proxy:fcgi://[::1]:9001/
            </Location>
        </VirtualHost>
        """,
    )
    found = proxied_backends(model)
    conf = tmp_path / "httpd" / "httpd.conf"
    assert [b.address for b in found] == [
        "unix:/run/php/php8.2-fpm.sock",
        "unix:/run/php/other.sock",
        "tcp:127.0.0.1:9000",
        "unix:/run/php/Upper.sock",  # SetHandler keeps the case of the socket path
        "tcp:[::1]:9001",
    ]
    first = found[0]
    assert first.file == str(conf)
    assert first.line == line_of(conf, "php8.2-fpm.sock")
    assert first.directive.name == "SetHandler"
    assert first.target == "unix:/run/php/php8.2-fpm.sock|fcgi://localhost"


def test_proxypass_forms(tmp_path):
    model = httpd(
        tmp_path,
        """
        ProxyPass /app fcgi://127.0.0.1:9000/var/www/app
        ProxyPass /sock "unix:/run/php.sock|fcgi://localhost/var/www"
        ProxyPassMatch ^/(.*\\.php(/.*)?)$ fcgi://127.0.0.1:9002/var/www/$1
        ProxyPass ~ ^/tilde/(.*)$ fcgi://127.0.0.1:9003/var/www/$1
        ProxyPass /noport fcgi://php.internal/var/www
        ProxyPass /excluded !
        <Location /loc>
            ProxyPass fcgi://localhost:9004/var/www/loc
        </Location>
        <LocationMatch ^/lm/>
            ProxyPassMatch "unix:/run/lm.sock|fcgi://localhost/var/www"
        </LocationMatch>
        <Location /scheme-only>
            ProxyPass "unix:/run/bare.sock|fcgi:"
        </Location>
        """,
    )
    assert addresses(model) == [
        "tcp:127.0.0.1:9000",
        "unix:/run/php.sock",
        "tcp:127.0.0.1:9002",
        "tcp:127.0.0.1:9003",
        "tcp:php.internal:8000",  # mod_proxy's default port for fcgi (proxy_util.c)
        "tcp:localhost:9004",
        "unix:/run/lm.sock",
        "unix:/run/bare.sock",
    ]


def test_other_schemes_and_per_request_addresses_are_left_out(tmp_path):
    model = httpd(
        tmp_path,
        """
        ProxyPass /http http://127.0.0.1:8080/
        ProxyPass /ajp ajp://127.0.0.1:8009/
        ProxyPass /uds-http "unix:/run/app.sock|http://localhost/"
        ProxyPassMatch ^/(\\d+)/(.*)$ fcgi://10.0.0.$1:9000/var/www/$2
        <Location /upper-prefix>
            # mod_proxy compares the "proxy:" prefix case-sensitively
            SetHandler "PROXY:fcgi://127.0.0.1:9000"
        </Location>
        <Location /expr>
            SetHandler "proxy:unix:%{ENV:SOCK}|fcgi://localhost"
        </Location>
        <Location /other>
            SetHandler server-status
        </Location>
        RewriteRule ^/(.*)$ fcgi://127.0.0.1:9000/var/www/$1
        """,
    )
    assert addresses(model) == []


def test_balancer_members_rewrite_proxy_and_addhandler(tmp_path):
    model = httpd(
        tmp_path,
        """
        <Proxy balancer://php>
            BalancerMember fcgi://127.0.0.1:9010 loadfactor=1
            BalancerMember "unix:/run/php/member.sock|fcgi://localhost" route=a
        </Proxy>
        BalancerMember balancer://php2 fcgi://127.0.0.1:9011
        RewriteEngine On
        RewriteRule ^/(.*\\.php)$ fcgi://127.0.0.1:9012/var/www/$1 [P,L]
        RewriteRule ^/q/(.*)$ "unix:/run/rw.sock|fcgi://localhost/var/www/$1" [proxy]
        AddHandler "proxy:unix:/run/PHP/Added.sock|fcgi://localhost" .php
        """,
        modules=(*PROXY_MODULES, "proxy_balancer_module", "rewrite_module", "mime_module"),
    )
    assert addresses(model) == [
        "tcp:127.0.0.1:9010",
        "unix:/run/php/member.sock",
        "tcp:127.0.0.1:9011",
        "tcp:127.0.0.1:9012",
        "unix:/run/rw.sock",
        # mod_mime lowercases the handler it stores, socket path included
        "unix:/run/php/added.sock",
    ]


def test_load_module_lines_and_conditions(tmp_path):
    root = tmp_path / "httpd"
    write(
        root / "conf.d" / "php-fpm.conf",
        """
        <IfModule !mod_php8.c>
        <IfModule proxy_fcgi_module>
            <FilesMatch ".+\\.ph(?:ar|p|tml)$">
                SetHandler "proxy:unix:/run/php/php8.2-fpm.sock|fcgi://localhost"
            </FilesMatch>
        </IfModule>
        </IfModule>
        <IfModule mod_php8.c>
            SetHandler "proxy:fcgi://127.0.0.1:9999"
        </IfModule>
        """,
    )
    conf = write(
        root / "httpd.conf",
        f"""
        ServerRoot {root}
        LoadModule mpm_event_module modules/mod_mpm_event.so
        LoadModule proxy_module modules/mod_proxy.so
        LoadModule proxy_fcgi_module modules/mod_proxy_fcgi.so
        ProxyPass /first fcgi://127.0.0.1:9000/
        Include conf.d/*.conf
        ProxyPass /last fcgi://127.0.0.1:9001/
        """,
    )
    found = proxied_backends(load_model(str(conf)))
    # In reading order, the included file between the two ProxyPass lines.
    assert [b.address for b in found] == [
        "tcp:127.0.0.1:9000",
        "unix:/run/php/php8.2-fpm.sock",
        "tcp:127.0.0.1:9001",
    ]
    assert found[1].file == str(root / "conf.d" / "php-fpm.conf")
    assert found[1].line == 4


def test_relative_socket_is_under_default_runtime_dir(tmp_path):
    model = httpd(tmp_path, 'SetHandler "proxy:unix:php.sock|fcgi://localhost"\n')
    assert addresses(model) == [f"unix:{tmp_path}/httpd/logs/php.sock"]
    model = httpd(
        tmp_path,
        'DefaultRuntimeDir /run/apache2\nSetHandler "proxy:unix:php/x.sock|fcgi://localhost"\n',
    )
    assert addresses(model) == ["unix:/run/apache2/php/x.sock"]


@pytest.mark.parametrize(
    ("target", "address"),
    [
        ("fcgi://127.0.0.1:9000/var/www", "tcp:127.0.0.1:9000"),
        ("FCGI://LocalHost:9000", "tcp:localhost:9000"),
        ("fcgi://localhost", "tcp:localhost:8000"),
        ("fcgi://user@127.0.0.1:9000/", "tcp:127.0.0.1:9000"),
        ("fcgi://[::1]/", "tcp:[::1]:8000"),
        ("unix:/run/php/../php/x.sock|fcgi://localhost/", "unix:/run/php/x.sock"),
        ("unix:///run/x.sock|fcgi://localhost", "unix:/run/x.sock"),
        ("unix:/run/x.sock|fcgi:", "unix:/run/x.sock"),
        ("unix:/run/x.sock|http://localhost", None),
        ("unix:/run/x.sock", None),
        ("unix://host/run/x.sock|fcgi://localhost", None),
        ("fcgi://127.0.0.1:notaport/", None),
        ("fcgi://127.0.0.1:70000/", None),
        ("fcgi:///var/www", None),
        ("http://127.0.0.1:9000/", None),
        ("fcgi://127.0.0.1:$1/", None),
    ],
)
def test_fcgi_address(target, address):
    assert fcgi_address(target) == address


# --------------------------------------------------------------------------- matching


def master_for(config: FpmConfig, pid: int = 100, workers=None) -> FpmMaster:
    return FpmMaster(pid, "php-fpm8.2", None, config.path, config, workers or {})


def test_pools_for_unix_tcp_and_unmatched(tmp_path):
    run = tmp_path / "run"
    (run / "php").mkdir(parents=True)
    (tmp_path / "var").mkdir()
    os.symlink(run, tmp_path / "var" / "run")  # /var/run -> /run, as on most systems
    config = fpm(
        tmp_path,
        f"""
        [sock]
        listen = {run}/php/sock.sock
        pm = static
        pm.max_children = 3
        [loop]
        listen = 127.0.0.1:9001
        pm = static
        pm.max_children = 2
        [any]
        listen = 9002
        pm = static
        pm.max_children = 2
        [v6any]
        listen = [::]:9003
        pm = static
        pm.max_children = 2
        """,
    )
    master = master_for(config, workers={"sock": (101, 102, 103), "loop": (104, 105)})
    wanted = [
        f"unix:{tmp_path}/var/run/php/sock.sock",  # the same socket through the symlink
        "tcp:localhost:9001",
        "tcp:[::1]:9001",
        "tcp:127.0.0.1:9002",
        "tcp:localhost:9003",
        "tcp:10.255.255.1:9002",  # not this machine: a wildcard listener does not serve it
        "tcp:127.0.0.1:9999",
        f"unix:{run}/php/other.sock",
    ]
    matches = pools_for([backend(a) for a in wanted], [master])
    assert [m.backend.address for m in matches] == wanted  # every backend, in order
    assert [m.pool.name if m.pool else None for m in matches] == [
        "sock",
        "loop",
        "loop",
        "any",
        "v6any",
        None,
        None,
        None,
    ]
    assert matches[0].workers == (101, 102, 103)
    assert matches[0].master is master and matches[0].config is config
    assert matches[3].workers == ()
    unmatched = matches[-1]
    assert not unmatched.matched and unmatched.workers == () and unmatched.master is None


def test_pools_for_skips_masters_without_config(tmp_path):
    broken = FpmMaster(7, "php-fpm8.2", None, "/nowhere.conf", None, {}, "unreadable")
    (match,) = pools_for([backend("tcp:127.0.0.1:9000")], [broken])
    assert match.pool is None


def test_httpd_to_pool_from_files(tmp_path):
    model = httpd(
        tmp_path,
        """
        <FilesMatch \\.php$>
            SetHandler "proxy:unix:/run/php/shop.sock|fcgi://localhost"
        </FilesMatch>
        ProxyPass /blog fcgi://localhost:9001/srv/blog
        ProxyPass /gone fcgi://127.0.0.1:9555/srv/gone
        """,
    )
    conf = two_pool_tree(tmp_path)
    # Pools from files: the prefix is the default (/usr), so the tree above must include by
    # absolute path here.
    text = conf.read_text().replace("include=etc/", f"include={tmp_path}/etc/")
    conf.write_text(text)
    matches = pools_from_files(proxied_backends(model), [str(tmp_path / "etc" / "php-*.conf")])
    httpd_conf = tmp_path / "httpd" / "httpd.conf"
    assert [(m.backend.line, m.pool.name if m.pool else None) for m in matches] == [
        (line_of(httpd_conf, "shop.sock"), "shop"),
        (line_of(httpd_conf, "/blog"), "blog"),
        (line_of(httpd_conf, "/gone"), None),
    ]
    assert matches[0].pool.max_children == 12
    assert matches[0].config.path == str(conf)


def test_pools_from_files_paths(tmp_path):
    with pytest.raises(ConfigError, match="failed to open"):
        pools_from_files([backend("tcp:127.0.0.1:9000")], [str(tmp_path / "none.conf")])
    # Globs that match nothing are no error.
    (match,) = pools_from_files([backend("tcp:127.0.0.1:9000")], [str(tmp_path / "*.conf")])
    assert match.pool is None


@pytest.mark.skipif(not glob.glob("/etc/php/*/fpm/php-fpm.conf"), reason="no php-fpm package")
def test_pools_from_installed_files(tmp_path):
    # Debian's own pairing: conf-available/php8.2-fpm.conf's SetHandler and pool.d/www.conf.
    (conf,) = sorted(glob.glob("/etc/php/*/fpm/php-fpm.conf"))[-1:]
    version = conf.split("/")[3]
    model = httpd(
        tmp_path,
        f'SetHandler "proxy:unix:/run/php/php{version}-fpm.sock|fcgi://localhost"\n',
    )
    (match,) = pools_from_files(proxied_backends(model))
    assert match.pool is not None and match.pool.name == "www"
    assert match.config.php_ini == f"/etc/php/{version}/fpm/php.ini"
    assert match.pool.memory_limit_source in ("php.ini", "php_admin_value", "php_value")
