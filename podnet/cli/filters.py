"""kubectl's ``-n NAMESPACE``, ``-A/--all-namespaces`` and ``-l SELECTOR``, shared by the verbs.

Semantics follow ``kubectl get``: ``-n`` keeps the objects of one namespace, ``-A`` all
of them (and wins over ``-n``, as kubectl's ``--all-namespaces`` does:
staging/src/k8s.io/kubectl/pkg/cmd/get/get.go), ``-l`` keeps the objects whose own labels
match the selector (apimachinery ``labels.Parse`` syntax: ``k=v``, ``k==v``, ``k!=v``,
``k in (a,b)``, ``k notin (a,b)``, ``k``, ``!k``; parsed by the API server's own parser,
:func:`podnet.apiserver.selectors.parse_labels`). Reading manifests, neither ``-n`` nor
``-A`` means every namespace, as before.

The dest names (``namespace``, ``all_namespaces``, ``selector``) are those of
:func:`podnet.cli.common.add_cluster_args`, so a verb may register both: the flags one
of them already added are not added again.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from podnet.apiserver.errors import ApiError
from podnet.apiserver.selectors import LabelRequirement, parse_labels
from podnet.errors import PodnetError
from podnet.model.objects import Pod

P = TypeVar("P", bound=Pod)


class SelectorError(PodnetError):
    """A ``-l`` selector that does not parse (a usage error: exit 2)."""


@dataclass(frozen=True)
class Selection:
    """Which objects a verb shows: a namespace (None: all) and label requirements (all hold)."""

    namespace: str | None = None
    selector: str = ""  # as given, for messages
    requirements: tuple[LabelRequirement, ...] = ()

    @property
    def active(self) -> bool:
        """Whether anything is filtered out at all."""
        return self.namespace is not None or bool(self.requirements)

    def matches(self, namespace: str | None, labels: Mapping[str, str]) -> bool:
        """An object of ``namespace`` (None: cluster-scoped, never filtered by ``-n``, as
        kubectl ignores ``-n`` for cluster-scoped kinds) with ``labels``."""
        if self.namespace is not None and namespace is not None and namespace != self.namespace:
            return False
        return all(r.matches(labels) for r in self.requirements)

    def pod(self, pod: Pod) -> bool:
        return self.matches(pod.namespace, pod.labels)

    def pods(self, pods: Iterable[P]) -> list[P]:
        """The selected pods, in their order."""
        return [p for p in pods if self.pod(p)]

    def describe(self) -> str:
        """``namespace shop, labels app=web`` (for "nothing selected" messages)."""
        parts = []
        if self.namespace is not None:
            parts.append(f"namespace {self.namespace}")
        if self.selector:
            parts.append(f"labels {self.selector}")
        return ", ".join(parts) or "all pods"


ALL = Selection()


def parse_selection(namespace: str | None, all_namespaces: bool, selector: str | None) -> Selection:
    """A :class:`Selection`; :class:`SelectorError` when ``selector`` does not parse."""
    reqs: tuple[LabelRequirement, ...] = ()
    if selector:
        try:
            reqs = tuple(parse_labels(selector))
        except ApiError as e:
            raise SelectorError(f"-l {selector!r}: {e.message}") from e
    return Selection(None if all_namespaces else namespace, selector or "", reqs)


def add_filter_flags(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    *,
    namespaces: bool = True,
    labels: bool = True,
    selector_help: str = "only pods whose labels match",
) -> None:
    """Register ``-n/--namespace``, ``-A/--all-namespaces`` and ``-l/--selector``.

    Flags the parser already has (``add_cluster_args`` adds ``-n``/``-A`` with the same
    dests) are skipped, so the order of the two calls does not matter. ``namespaces=False``
    where ``-n`` means something else already."""
    have = set(_option_strings(parser))
    if namespaces and "-n" not in have and "--namespace" not in have:
        parser.add_argument(
            "-n",
            "--namespace",
            default=None,
            metavar="NAMESPACE",
            help="only pods of this namespace (default: all namespaces)",
        )
    if namespaces and "-A" not in have and "--all-namespaces" not in have:
        parser.add_argument(
            "-A",
            "--all-namespaces",
            action="store_true",
            help="pods of every namespace (the default; wins over -n, as in kubectl)",
        )
    if labels and "-l" not in have and "--selector" not in have:
        parser.add_argument(
            "-l",
            "--selector",
            default=None,
            type=_checked_selector,
            metavar="SELECTOR",
            help=f"{selector_help}, kubectl syntax: "
            "'app=web,tier!=db', 'env in (a,b)', 'team', '!canary'",
        )


def _checked_selector(text: str) -> str:
    """argparse ``type``: a selector that does not parse is a usage error (exit 2)."""
    try:
        parse_selection(None, False, text)
    except SelectorError as e:
        raise argparse.ArgumentTypeError(str(e)) from e
    return text


def _option_strings(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> list[str]:
    # an argument group shares its parser's table of option strings
    return list(parser._option_string_actions)


def selection(args: argparse.Namespace) -> Selection:
    """The :class:`Selection` the parsed flags ask for (missing flags select everything)."""
    return parse_selection(
        getattr(args, "namespace", None),
        bool(getattr(args, "all_namespaces", False)),
        getattr(args, "selector", None),
    )


def select_pods(pods: Iterable[P], args: argparse.Namespace) -> list[P]:
    """The pods of ``pods`` the flags in ``args`` select."""
    return selection(args).pods(pods)
