"""When is a ``podnet run`` done: the first exit of every client container.

Fed with the runtime's :class:`~podnet.dataplane.runtime.state.PodStatus` events. A
container counts as finished at its first exit, whether or not its restartPolicy will
start it again (kubelet would; ``podnet run`` reports the first run). A client pod that
fails before its app containers run (an init container exits non-zero under
``restartPolicy: Never``, phase Failed) finishes all of its containers with the init
container's exit code. Pure bookkeeping: no clock, no I/O except the ``on_done`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from podnet.dataplane.runtime.state import FAILED, TERMINATED, PodStatus
from podnet.model.objects import Pod

DoneHook = Callable[[str, int], None]  # ("ns/pod/container", exit code)


@dataclass
class Completion:
    """First exit code of each client container."""

    on_done: DoneHook | None = None
    waiting: dict[str, set[str]] = field(default_factory=dict)  # pod key -> containers
    exit_codes: dict[str, int] = field(default_factory=dict)  # "ns/pod/container" -> code

    def expect(self, pods: Iterable[Pod]) -> None:
        for pod in pods:
            self.waiting[pod.key] = {c.name for c in pod.containers}

    def observe(self, status: PodStatus) -> None:
        waiting = self.waiting.get(status.key)
        if not waiting:
            return
        for c in status.containers:
            finished = c.state == TERMINATED or c.restart_count > 0 or c.will_restart
            if c.name in waiting and finished and c.exit_code is not None:
                self._finish(status.key, c.name, c.exit_code)
        if status.phase == FAILED and waiting:
            codes = [c.exit_code for c in status.init_containers if c.exit_code]
            for name in sorted(waiting):
                self._finish(status.key, name, codes[0] if codes else 1)

    def _finish(self, key: str, container: str, code: int) -> None:
        self.waiting[key].discard(container)
        name = f"{key}/{container}"
        self.exit_codes[name] = code
        if self.on_done is not None:
            self.on_done(name, code)

    def finished(self) -> bool:
        return all(not w for w in self.waiting.values())

    def running(self) -> list[str]:
        return sorted(k for k, w in self.waiting.items() if w)

    def failed(self) -> dict[str, int]:
        return {k: v for k, v in sorted(self.exit_codes.items()) if v != 0}
