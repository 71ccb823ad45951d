"""Find the network addresses a pod's containers talk to, by reading their commands.

Nothing runs: this reads ``command``, ``args`` and ``env`` the way a person reviewing a
manifest would, so the lint rules (and the report) can check that every name a pod uses
is a Service, on a port the Service exposes, that policies let it reach.

What is recognised (deliberately narrow, so findings are believable):

* URLs anywhere in a word: ``scheme://[user@]host[:port][/path]``; the port defaults
  from the scheme (http 80, https 443, ...).
* ``host:port`` words (``db:5432``, ``my-service.shop:80``).
* Positional arguments of the clients people put in pod commands: ``wget``/``curl``
  (host[/path]), ``nc``/``netcat``/``telnet`` (``host port``), ``nslookup``/``dig``/
  ``host``/``ping`` (a name, no port) and ``agnhost connect host:port``.
* Environment variables whose value is a URL or ``host:port``, or a bare host when the
  variable's name says it is one (``*_HOST``, ``*_ADDR``, ``*_SERVICE``, ...).

Shell scripts (``sh -c '...'``) are split into words with :mod:`shlex`, falling back to
whitespace when quoting is unbalanced; ``;``, ``&&``, ``|`` separate commands.
"""

from __future__ import annotations

import ipaddress
import re
import shlex
from dataclasses import dataclass

from podnet.model.addresses import is_ip
from podnet.model.objects import Container, Pod

SCHEME_PORTS = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "ftp": 21,
    "redis": 6379,
    "postgres": 5432,
    "postgresql": 5432,
    "mysql": 3306,
    "mongodb": 27017,
    "amqp": 5672,
    "nats": 4222,
    "grpc": None,
    "tcp": None,
}

_URL = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*)://(?:[^@/\s]*@)?"
    r"(?P<host>\[[0-9a-fA-F:.]+\]|[^:/\s?#'\"]+)(?::(?P<port>\d{1,5}))?"
)
_HOSTPORT = re.compile(r"^(?P<host>[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?\.?):(?P<port>\d{1,5})$")
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\.?$")
_HOST_ENV = re.compile(r"(^|_)(HOST|HOSTNAME|ADDR|ADDRESS|SERVER|SERVICE|ENDPOINT|URL|URI)$")
_SEPARATORS = {";", "&&", "||", "|", "&", "(", ")", "{", "}", "then", "do", "else"}
_LOCAL = {"localhost", "localhost.localdomain", "ip6-localhost"}

# Options of the known clients that take a value (so the value is not taken as a host).
_VALUE_OPTS = {
    "wget": {"-O", "-o", "-T", "-t", "-U", "-Y", "--header", "-P", "--timeout", "-w"},
    "curl": {
        "-o",
        "-H",
        "-X",
        "-d",
        "-m",
        "-u",
        "-A",
        "-e",
        "--connect-timeout",
        "--max-time",
        "--retry",
        "-w",
        "--data",
        "--header",
        "--request",
    },
    "nc": {"-w", "-i", "-p", "-s", "-q", "-e"},
    "ping": {"-c", "-W", "-w", "-i", "-s", "-t"},
    "nslookup": {"-type", "-port", "-timeout"},
    "dig": {"-p", "-t", "-q", "-b"},
}
_TOOLS = {
    "wget",
    "curl",
    "nc",
    "netcat",
    "ncat",
    "telnet",
    "nslookup",
    "dig",
    "host",
    "ping",
    "agnhost",
}


@dataclass(frozen=True)
class HostRef:
    """One address a container refers to.

    ``field`` is the manifest path (``spec.containers[0].command``) for findings;
    ``port`` is ``None`` when nothing says which port (``ping``, ``nslookup``);
    ``protocol`` is TCP unless the client says otherwise (``nc -u``).
    """

    pod: str  # namespace/name
    container: str
    field: str
    host: str
    port: int | None
    protocol: str
    text: str  # the word it was found in, for messages

    @property
    def is_ip(self) -> bool:
        return is_ip(self.host)


def is_local(host: str) -> bool:
    """Loopback and wildcard addresses: the container talking to itself."""
    if host.lower().rstrip(".") in _LOCAL:
        return True
    if is_ip(host):
        addr = ipaddress.ip_address(host.strip("[]"))
        return addr.is_loopback or addr.is_unspecified
    return False


def _words(text: str) -> list[str]:
    text = text.replace("\n", " ; ")  # a newline ends a command, like ';'
    try:
        lex = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
        lex.whitespace_split = True
        return list(lex)
    except ValueError:
        return text.split()


_SHELLS = {"sh", "bash", "ash", "dash", "zsh", "ksh"}


def _is_shell(word: str) -> bool:
    return word.rsplit("/", 1)[-1] in _SHELLS


def _commands(argv: tuple[str, ...]) -> list[list[str]]:
    """Split an argv (expanding ``sh -c SCRIPT``) into simple commands."""
    words: list[str] = []
    for i, arg in enumerate(argv):
        if i >= 2 and _is_shell(argv[i - 2]) and argv[i - 1] in ("-c", "-ec", "-xc", "-lc"):
            words.append(";")
            words.extend(_words(arg))
        elif any(c in arg for c in ";|&\n"):
            words.extend(_words(arg))
        else:
            words.append(arg)
    out: list[list[str]] = [[]]
    for w in words:
        if w in _SEPARATORS or set(w) <= set(";&|()"):
            out.append([])
        else:
            out[-1].append(w)
    return [c for c in out if c]


def _split_hostport(word: str) -> tuple[str, int | None] | None:
    """``host``, ``host:port`` or ``host/path`` -> (host, port), else None."""
    word = word.split("/", 1)[0]
    m = _HOSTPORT.match(word)
    if m:
        return m.group("host"), int(m.group("port"))
    if is_ip(word) or (_HOSTNAME.match(word) and not word.replace(".", "").isdigit()):
        return word, None
    return None


def _tool_refs(cmd: list[str]) -> list[tuple[str, int | None, str, str]]:
    """(host, port, protocol, word) for the positional args of a known client."""
    tool = cmd[0].rsplit("/", 1)[-1]
    if tool not in _TOOLS:
        return []
    base = "nc" if tool in ("netcat", "ncat") else tool
    value_opts = _VALUE_OPTS.get(base, set())
    protocol = "UDP" if any(w in ("-u", "--udp") for w in cmd[1:]) else "TCP"
    pos: list[str] = []
    skip = False
    for w in cmd[1:]:
        if skip:
            skip = False
        elif w.startswith("-"):
            skip = w in value_opts
        else:
            pos.append(w)
    refs: list[tuple[str, int | None, str, str]] = []
    if base == "agnhost":
        if len(pos) >= 2 and pos[0] == "connect":
            hp = _split_hostport(pos[1])
            if hp:
                refs.append((hp[0], hp[1], protocol, pos[1]))
        return refs
    if base in ("nc", "telnet"):
        listening = any(w.startswith("-") and "l" in w.lstrip("-") and len(w) <= 4 for w in cmd[1:])
        if pos and not listening:
            hp = _split_hostport(pos[0])
            port = int(pos[1]) if len(pos) > 1 and pos[1].isdigit() else None
            if hp:
                refs.append((hp[0], hp[1] or port, protocol, " ".join(pos[:2])))
        return refs
    if base in ("nslookup", "dig", "host", "ping"):
        names = [p for p in pos if not p.startswith("@")][:1]
        return [(n.rstrip("."), None, "UDP", n) for n in names if _split_hostport(n)]
    for w in pos:  # wget / curl: every positional arg is a URL-ish
        if "://" in w:
            continue  # handled by the URL scan
        hp = _split_hostport(w)
        if hp:
            refs.append((hp[0], hp[1] or 80, "TCP", w))
    return refs


def _scan_word(word: str) -> list[tuple[str, int | None, str, str]]:
    refs: list[tuple[str, int | None, str, str]] = []
    for m in _URL.finditer(word):
        scheme = m.group("scheme").lower()
        port = int(m.group("port")) if m.group("port") else SCHEME_PORTS.get(scheme)
        refs.append((m.group("host").strip("[]"), port, "TCP", m.group(0)))
    if not refs:
        m2 = _HOSTPORT.match(word)
        if m2 and (not word[0].isdigit() or is_ip(m2.group("host"))):
            refs.append((m2.group("host"), int(m2.group("port")), "TCP", word))
    return refs


def _argv_refs(argv: tuple[str, ...]) -> list[tuple[str, int | None, str, str]]:
    found: list[tuple[str, int | None, str, str]] = []
    for cmd in _commands(argv):
        found.extend(_tool_refs(cmd))
        for w in cmd:
            found.extend(_scan_word(w))
    return found


def _env_refs(name: str, value: str) -> list[tuple[str, int | None, str, str]]:
    refs = _scan_word(value)
    named_host = _HOST_ENV.search(name.upper()) and _HOSTNAME.match(value)
    if not refs and named_host and not value.isdigit():
        refs.append((value.rstrip("."), None, "TCP", value))
    return refs


def container_refs(pod: Pod, index: int, container: Container, kind: str) -> list[HostRef]:
    """Every address ``container`` (``kind``: containers/initContainers) refers to."""
    out: list[HostRef] = []
    seen: set[tuple[str, str, int | None, str]] = set()
    base = f"spec.{kind}[{index}]"
    sources: list[tuple[str, list[tuple[str, int | None, str, str]]]] = [
        (f"{base}.command", _argv_refs(container.command + container.args))
        if container.command
        else (f"{base}.args", _argv_refs(container.args)),
    ]
    for i, (name, value) in enumerate(container.env):
        sources.append((f"{base}.env[{i}].value", _env_refs(name, value)))
    for fld, refs in sources:
        for host, port, proto, text in refs:
            host = host.rstrip(".") if not is_ip(host) else host
            key = (fld, host.lower(), port, proto)
            if key in seen or is_local(host) or not host or host.startswith("$"):
                continue
            seen.add(key)
            out.append(HostRef(pod.key, container.name, fld, host, port, proto, text))
    return out


def pod_refs(pod: Pod) -> list[HostRef]:
    """Every address any container of ``pod`` refers to, in manifest order."""
    out: list[HostRef] = []
    for i, c in enumerate(pod.init_containers):
        out.extend(container_refs(pod, i, c, "initContainers"))
    for i, c in enumerate(pod.containers):
        out.extend(container_refs(pod, i, c, "containers"))
    return out
