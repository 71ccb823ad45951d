"""``podnet completion bash|zsh|fish``: a shell completion script, as kubectl's.

The scripts hold no knowledge of podnet: each asks ``podnet __complete WORDS... CURRENT``
(cobra's design, spf13/cobra completions.go) and gets candidates, one a line, then
``:DIRECTIVE`` (cobra's numbers: 4 = no file names; 0 = the shell may offer files). The
candidates come from the argparse parser itself, so verbs and flags never drift from
what podnet accepts, and pod names from the manifests the line names with -f (or, for
exec, from the running cluster).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TextIO

SHELLS = ("bash", "zsh", "fish")
# spf13/cobra completions.go, ShellCompDirective
DEFAULT = 0  # the shell may complete file names
ERROR = 1
NO_FILES = 4

# Values that name pods: POD (exec, run --shell/--follow), explain's FROM and TO.
_POD_METAVARS = ("POD", "FROM", "TO")
_FILE_METAVARS = ("PATH", "FILE", "DIR")
_KINDS = {"deploy": "Deployment", "sts": "StatefulSet", "ds": "DaemonSet", "job": "Job"}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, fish)",
        description=(
            "Print a completion script for SHELL, as kubectl completion does. It completes "
            "commands, flags and their values, and pod names from the manifests given "
            "with -f on the line being completed (exec: from the running cluster). "
            "bash: source <(podnet completion bash), or save it as "
            "~/.local/share/bash-completion/completions/podnet. zsh: podnet completion zsh "
            '> "${fpath[1]}/_podnet". fish: podnet completion fish > '
            "~/.config/fish/completions/podnet.fish."
        ),
    )
    p.add_argument("shell", choices=SHELLS, metavar="SHELL", help="bash, zsh or fish")
    p.set_defaults(func=_print_script)


def _print_script(args: argparse.Namespace) -> int:
    sys.stdout.write(script(args.shell))
    return 0


def script(shell: str) -> str:
    return {"bash": BASH, "zsh": ZSH, "fish": FISH}[shell]


def complete(
    parser: argparse.ArgumentParser, words: Sequence[str], out: TextIO | None = None
) -> int:
    """``podnet __complete WORDS... CURRENT``: print the candidates for CURRENT, given
    podnet's whole parser (main.py builds it: this module does not import main)."""
    out = out or sys.stdout
    done, current = list(words[:-1]), (words[-1] if words else "")
    try:
        found, directive = candidates(parser, done, current)
    except Exception:  # a completion must never print a traceback into the prompt
        found, directive = [], ERROR
    for c in found:
        out.write(f"{c}\n")
    out.write(f":{directive}\n")
    return 0


@dataclass
class _Line:
    """What the words before the cursor said: the parser reached, -f, -n, --cluster."""

    parser: argparse.ArgumentParser
    positionals: int = 0  # positionals given to ``parser``
    files: list[str] = field(default_factory=list)
    namespace: str | None = None
    cluster: int | None = None
    pending: argparse.Action | None = None  # an option whose value comes next
    after_dashdash: bool = False


def candidates(
    parser: argparse.ArgumentParser, done: Sequence[str], current: str
) -> tuple[list[str], int]:
    """The words that may stand at ``current`` after ``done``, and cobra's directive."""
    line = _walk(parser, done)
    if line.after_dashdash:
        return [], DEFAULT  # the command's own arguments
    if line.pending is not None:
        return _values(line.pending, current, line, prefix="")
    if current.startswith("-") and current != "-":
        if current.startswith("--") and "=" in current:
            opt, _, value = current.partition("=")
            action = _option(line.parser, opt)
            if action is None or action.nargs == 0:
                return [], NO_FILES
            return _values(action, value, line, prefix=f"{opt}=")
        return _matching(_options(line.parser), current), NO_FILES
    sub = _subparsers(line.parser)
    if sub is not None and line.positionals == 0:
        return _matching(_verbs(sub), current), NO_FILES
    action = _positional(line.parser, line.positionals)
    if action is None:
        return [], NO_FILES
    return _values(action, current, line, prefix="")


def _walk(parser: argparse.ArgumentParser, done: Sequence[str]) -> _Line:
    line = _Line(parser)
    for word in done:
        if line.after_dashdash:
            continue
        if line.pending is not None:
            _record(line, line.pending, word)
            line.pending = None
        elif word == "--":
            line.after_dashdash = True
        elif word.startswith("-") and word != "-":
            opt, eq, value = word.partition("=")
            action = _option(line.parser, opt)
            if action is None and not opt.startswith("--") and len(opt) > 2:
                # -it (flags together) or -fFILE (a short option with its value)
                action = _option(line.parser, opt[:2])
                if action is not None and action.nargs != 0:
                    eq, value = "=", opt[2:]
            if action is None or action.nargs == 0:
                continue
            if eq:
                _record(line, action, value)
            else:
                line.pending = action
        else:
            sub = _subparsers(line.parser)
            if sub is not None and line.positionals == 0 and word in sub.choices:
                line.parser, line.positionals = sub.choices[word], 0
            else:
                line.positionals += 1
    return line


def _record(line: _Line, action: argparse.Action, value: str) -> None:
    if action.dest == "files":
        line.files.append(value)
    elif action.dest == "namespace":
        line.namespace = value
    elif action.dest == "cluster":
        with contextlib.suppress(ValueError):
            line.cluster = int(value)


def _subparsers(
    parser: argparse.ArgumentParser,
) -> argparse._SubParsersAction[argparse.ArgumentParser] | None:
    for a in parser._actions:
        if isinstance(a, argparse._SubParsersAction):
            return a
    return None


def _verbs(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> list[str]:
    """The verbs --help lists (a parser added without help= is hidden)."""
    return sorted(a.dest for a in sub._choices_actions)


def _option(parser: argparse.ArgumentParser, opt: str) -> argparse.Action | None:
    return parser._option_string_actions.get(opt)


def _options(parser: argparse.ArgumentParser) -> list[str]:
    return [
        s
        for a in parser._actions
        if a.option_strings and a.help != argparse.SUPPRESS
        for s in a.option_strings
    ]


def _positional(parser: argparse.ArgumentParser, index: int) -> argparse.Action | None:
    """The positional action that takes the ``index``-th positional word."""
    positionals = [a for a in parser._actions if not a.option_strings]
    for a in positionals:
        if a.nargs in (argparse.ONE_OR_MORE, argparse.ZERO_OR_MORE, argparse.REMAINDER):
            return a
        width = a.nargs if isinstance(a.nargs, int) else 1
        if index < width:
            return a
        index -= width
    return None


def _values(
    action: argparse.Action, current: str, line: _Line, *, prefix: str
) -> tuple[list[str], int]:
    """Candidates for an option's or positional's value, each with ``prefix``."""
    metavar = action.metavar if isinstance(action.metavar, str) else ""
    if action.choices is not None:
        words = [str(c) for c in action.choices]
    elif any(m in metavar.split() for m in _POD_METAVARS) or action.dest == "pod":
        words = _pods(line, current)
    elif action.dest == "namespace" or metavar in ("NAMESPACE", "NS"):
        words = _namespaces(line)
    elif action.dest == "files" or any(m in metavar for m in _FILE_METAVARS):
        return [], DEFAULT
    else:
        return [], NO_FILES
    return [prefix + w for w in _matching(words, current)], NO_FILES


def _matching(words: Iterable[str], current: str) -> list[str]:
    return [w for w in dict.fromkeys(words) if w.startswith(current)]


def _pods(line: _Line, current: str) -> list[str]:
    """Pod names as podnet takes them: NAME in the -n namespace (default "default");
    without -n also NAMESPACE/NAME of the other namespaces' pods; once the word has a
    slash, NAMESPACE/NAME, pod/NAME and KIND/NAME of the workloads (deploy/web)."""
    keys, owners = _pod_keys(line)
    namespace = line.namespace or "default"
    names = sorted(k.split("/", 1)[1] for k in keys if k.split("/", 1)[0] == namespace)
    if "/" not in current:
        others = [] if line.namespace else sorted(k for k in keys if not k.startswith("default/"))
        return names + others
    workloads = []
    for key, owner in owners.items():
        kind, _, name = owner.partition("/")
        short = next((s for s, k in _KINDS.items() if k == kind), None)
        if kind == "ReplicaSet" and name.count("-"):  # a Deployment's: NAME-<hash>
            short, name = "deploy", name.rsplit("-", 1)[0]
        if key.split("/", 1)[0] == namespace and short is not None:
            workloads.append(f"{short}/{name}")
    return sorted(keys) + [f"pod/{n}" for n in names] + sorted(set(workloads))


def _pod_keys(line: _Line) -> tuple[list[str], dict[str, str]]:
    """``ns/name`` of each pod, and its owner: from the line's -f manifests, else (exec)
    from the running cluster. Nothing on any error: completion stays quiet."""
    files = [f for f in line.files if f != "-" and not f.startswith(("http://", "https://"))]
    if files:
        from podnet.errors import PodnetError
        from podnet.manifests import load_paths

        try:
            manifests = load_paths(files)
        except (PodnetError, OSError):
            return [], {}
        pods = [*manifests.pods, *manifests.daemonsets]
        return [p.key for p in pods], {p.key: p.owner for p in pods if p.owner}
    if line.parser.prog.endswith(" exec"):
        return _cluster_pods(line.cluster)
    return [], {}


def _cluster_pods(cluster: int | None) -> tuple[list[str], dict[str, str]]:
    from podnet.errors import PodnetError
    from podnet.live.registry import describe_cluster, running_clusters

    pids = [cluster] if cluster is not None else running_clusters()
    if len(pids) != 1:
        return [], {}
    try:
        doc = describe_cluster(pids[0], timeout=1.0)
    except PodnetError:
        return [], {}
    return sorted(doc.get("pods", {})), dict(doc.get("owners", {}))


def _namespaces(line: _Line) -> list[str]:
    keys, _ = _pod_keys(line)
    return sorted({k.split("/", 1)[0] for k in keys})


# The scripts. Each passes the words before the cursor and the word at it, unquoted as
# the shell has them, and falls back to file names when the directive allows.

BASH = r"""# bash completion for podnet (podnet completion bash)
# Use: source <(podnet completion bash)
_podnet_complete() {
    # COMP_WORDS splits at = and : (COMP_WORDBREAKS); podnet wants whole words, so the
    # line up to the cursor is split again at blanks only.
    local line=${COMP_LINE:0:COMP_POINT}
    local -a words
    read -ra words <<< "$line"
    local full=""
    if [[ ${#words[@]} -gt 0 && $line != *[[:space:]] ]]; then
        full=${words[${#words[@]}-1]}
        unset 'words[${#words[@]}-1]'
    fi
    local out
    out=$("${words[0]}" __complete "${words[@]:1}" "$full" 2>/dev/null) || return 0
    local -a lines
    mapfile -t lines <<< "$out"
    local directive=${lines[${#lines[@]}-1]#:}
    unset 'lines[${#lines[@]}-1]'
    # bash replaces only its own current word (after the last = or :): drop what comes
    # before it from each candidate.
    local cur=${COMP_WORDS[COMP_CWORD]}
    local prefix=${full%"$cur"}
    [[ $prefix$cur == "$full" ]] || prefix=""
    COMPREPLY=()
    local c
    for c in "${lines[@]}"; do
        [[ -n $c ]] && COMPREPLY+=("${c#"$prefix"}")
    done
    if [[ ${#COMPREPLY[@]} -eq 0 && $(( directive & 4 )) -eq 0 ]]; then
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
    fi
    return 0
}
complete -F _podnet_complete podnet
"""

ZSH = r"""#compdef podnet
# zsh completion for podnet (podnet completion zsh)
# Use: podnet completion zsh > "${fpath[1]}/_podnet"  (or: source <(podnet completion zsh))
_podnet() {
    local out directive
    local -a lines cands
    out=$("${words[1]}" __complete "${(@)words[2,CURRENT-1]}" "${words[CURRENT]}" \
        2>/dev/null) || return 1
    lines=("${(@f)out}")
    directive=${lines[-1]#:}
    cands=("${(@)lines[1,-2]}")
    if (( ${#cands} )); then
        compadd -- "${(@)cands}"
    elif (( (directive & 4) == 0 )); then
        _files
    fi
}
if [[ "${funcstack[1]}" == _podnet ]]; then
    _podnet "$@"
else
    compdef _podnet podnet
fi
"""

FISH = r"""# fish completion for podnet (podnet completion fish)
# Use: podnet completion fish > ~/.config/fish/completions/podnet.fish
function __podnet_complete
    set -l args (commandline -opc)
    set -l cur (commandline -ct)
    set -l out ($args[1] __complete $args[2..-1] $cur 2>/dev/null)
    or return
    set -l directive (string replace -r '^:' '' -- $out[-1])
    set -e out[-1]
    if test (count $out) -eq 0; and test (math "bitand($directive, 4)") -eq 0
        __fish_complete_path $cur
        return
    end
    printf '%s\n' $out
end
complete -c podnet -f -a '(__podnet_complete)'
"""
