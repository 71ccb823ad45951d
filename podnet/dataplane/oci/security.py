"""A container's ``securityContext``, merged with its pod's, as kubelet applies it (pure).

Container fields override the pod's (``PodSecurityContext`` runAsUser, runAsGroup,
runAsNonRoot; core/v1 types.go: "If set in both SecurityContext and
PodSecurityContext, the value specified in SecurityContext takes precedence").
``runAsNonRoot`` with uid 0 (or an image user that is not numeric) is refused before
the container starts, as kubelet's ``verifyRunAsNonRoot``
(pkg/kubelet/kuberuntime/security_context_others.go) does, which shows as
``CreateContainerConfigError``. ``allowPrivilegeEscalation: false`` sets
no-new-privileges; so does its default (true only when privileged or with
CAP_SYS_ADMIN, kubelet ``AddNoNewPrivileges``, but containerd and Docker set it on
for every container by default; podnet keeps it on unless asked otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from podnet.errors import PodRuntimeError
from podnet.model.objects import SecurityContext


class CreateContainerConfigError(PodRuntimeError):
    """kubelet's reason for a container whose config cannot be made."""


Security = SecurityContext


def merge(pod: SecurityContext | None, container: SecurityContext | None) -> SecurityContext:
    """The container's context over the pod's: user, group and runAsNonRoot are
    inherited when the container leaves them unset; supplementalGroups and fsGroup are
    pod-level, and the processes get fsGroup first, then supplementalGroups (kubelet's
    determineEffectiveSecurityContext, pkg/kubelet/kuberuntime/security_context.go)."""
    c = container or SecurityContext()
    if pod is None:
        return c
    return replace(
        c,
        run_as_user=c.run_as_user if c.run_as_user is not None else pod.run_as_user,
        run_as_group=c.run_as_group if c.run_as_group is not None else pod.run_as_group,
        run_as_non_root=(
            c.run_as_non_root if c.run_as_non_root is not None else pod.run_as_non_root
        ),
        supplemental_groups=(
            ((pod.fs_group,) if pod.fs_group is not None else ()) + pod.supplemental_groups
        ),
        fs_group=pod.fs_group,
    )


@dataclass(frozen=True)
class Resolved:
    uid: int
    gid: int
    groups: tuple[int, ...]
    privileged: bool
    read_only_root: bool
    no_new_privileges: bool
    caps_add: tuple[str, ...]
    caps_drop: tuple[str, ...]


def parse_image_user(user: str | None) -> tuple[int | None, int | None]:
    """An image's ``User`` (``"1000"``, ``"1000:1000"``); names are not looked up."""
    if not user:
        return None, None
    name, _, group = user.partition(":")
    uid = int(name) if name.isdigit() else None
    gid = int(group) if group.isdigit() else None
    return uid, gid


def resolve(sec: Security, image_user: str | None = None) -> Resolved:
    """The user and privileges a container runs with; raises
    :class:`CreateContainerConfigError` where kubelet would."""
    img_uid, img_gid = parse_image_user(image_user)
    uid = sec.run_as_user if sec.run_as_user is not None else (img_uid or 0)
    if sec.run_as_non_root:
        if sec.run_as_user is None and image_user and img_uid is None:
            raise CreateContainerConfigError(
                f"container has runAsNonRoot and image has non-numeric user ({image_user}), "
                "cannot verify user is non-root"
            )
        if uid == 0:
            raise CreateContainerConfigError(
                "container has runAsNonRoot and image will run as root "
                "(pod: runAsUser is 0 or unset)"
            )
    gid = sec.run_as_group if sec.run_as_group is not None else (img_gid or 0)
    nnp = (
        not sec.privileged
        if sec.allow_privilege_escalation is None
        else (not sec.allow_privilege_escalation)
    )
    return Resolved(
        uid=uid,
        gid=gid,
        groups=sec.supplemental_groups,
        privileged=sec.privileged,
        read_only_root=sec.read_only_root_filesystem,
        no_new_privileges=nnp,
        caps_add=sec.caps_add,
        caps_drop=sec.caps_drop,
    )
