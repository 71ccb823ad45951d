"""Debian's nginx made to behave like the ``nginx`` image inside one container.

The generated config keeps every file nginx writes (pid, temp dirs) in the container's
own state directory, logs to stdout/stderr as the official image does (its Dockerfile
links ``/var/log/nginx/access.log`` to ``/dev/stdout`` and ``error.log`` to
``/dev/stderr``), listens on port 80 (configurable for tests on the host loopback) and
serves ``/usr/share/nginx/html``, whose ``index.html`` is the "Welcome to nginx!" page.

``daemon off;`` comes from the image's CMD (``-g "daemon off;"``); the preparer adds it
when a user's own command omits it, since a daemonising main process would look like an
exited container. The ``user`` directive is only valid as root (nginx ignores it with a
warning otherwise), so it is written only when podnet runs as root.
"""

from __future__ import annotations

import os
from pathlib import Path

from podnet.dataplane.images.image import Prepare, PrepareContext

HTML_ROOTS = ("/usr/share/nginx/html", "/var/www/html")


def html_root() -> str:
    for root in HTML_ROOTS:
        if os.path.exists(os.path.join(root, "index.html")):
            return root
    return HTML_ROOTS[0]


def single_id_userns() -> bool:
    """Whether podnet runs rootless: a user namespace that maps one id, where
    setgroups(2) is denied (user_namespaces(7))."""
    try:
        with open("/proc/self/uid_map") as f:
            return sum(int(r.split()[2]) for r in f if r.strip()) <= 1
    except (OSError, ValueError, IndexError):
        return False


def render_config(prefix: Path, port: int, *, root_user: bool, rootless: bool = False) -> str:
    """The nginx.conf for one container (pure).

    Rootless, nginx runs without a master process: a worker started as root calls
    initgroups(3), which fails where setgroups is denied, and exits."""
    temp = {n: prefix / n for n in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")}
    lines = [
        *(["user root;"] if root_user else []),
        *(["master_process off;"] if rootless else []),
        "worker_processes 1;",
        f"pid {prefix / 'nginx.pid'};",
        "error_log stderr notice;",
        "events { worker_connections 1024; }",
        "http {",
        "    include /etc/nginx/mime.types;",
        "    default_type application/octet-stream;",
        "    access_log /dev/stdout;",
        *(f"    {name}_temp_path {path};" for name, path in temp.items()),
        "    server {",
        f"        listen {port};",
        "        server_name localhost;",
        "        location / {",
        f"            root {html_root()};",
        "            index index.html index.htm index.nginx-debian.html;",
        "        }",
        "    }",
        "}",
    ]
    return "\n".join(lines) + "\n"


def preparer(nginx: str, port: int) -> Prepare:
    """The :data:`Prepare` hook of the nginx image for program path ``nginx``."""

    def prepare(ctx: PrepareContext, argv: list[str]) -> tuple[list[str], dict[str, str]]:
        if not argv or argv[0] != nginx:
            return argv, {}
        prefix = ctx.state_dir / "nginx"
        for sub in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (prefix / sub).mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        root = os.geteuid() == 0
        conf.write_text(render_config(prefix, port, root_user=root, rootless=single_id_userns()))
        rest = argv[1:]
        has_daemon = any(
            a == "-g" and i + 1 < len(rest) and "daemon" in rest[i + 1] for i, a in enumerate(rest)
        )
        extra = [] if has_daemon else ["-g", "daemon off;"]
        # -e: the error log before the config is read (nginx >= 1.19.5), else it tries
        # /var/log/nginx/error.log, which a container must not need.
        return [nginx, "-e", "stderr", "-p", str(prefix), "-c", str(conf), *rest, *extra], {}

    return prepare
