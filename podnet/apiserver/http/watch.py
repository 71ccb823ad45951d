"""A watch as a chunked HTTP stream: one JSON ``{"type", "object"}`` line per event.

As kube-apiserver's ``endpoints/handlers/watch.go`` serves it: 200 and the stream; the
events the registry delivers (already filtered by the selectors), each object turned
into a one-row Table when the client accepted one (``kubectl get -w``); BOOKMARK events
when ``allowWatchBookmarks`` (here every :data:`BOOKMARK_EVERY` seconds, upstream about
once a minute); the end at ``timeoutSeconds``; a watch the store ends (too slow, or
started from a resourceVersion the log no longer holds) sends an ERROR event with the
410 Expired Status and ends, which is what clients resume from by relisting.

No polling: the store's ``on_ready`` wakes the event loop through
``call_soon_threadsafe``. The store watch is closed however the stream ends, the client
going away included (the server cancels the handler).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiohttp import web

from podnet import jsonbytes
from podnet.apiserver import errors
from podnet.apiserver.registry import RegistryWatch, WatchEvent
from podnet.apiserver.store.base import Obj

BOOKMARK_EVERY = 5.0

Encoder = Callable[[str, Obj], Any]  # (event type, object) -> the object sent


def _line(type_: str, obj: Any) -> bytes:
    return jsonbytes.dumps({"type": type_, "object": obj}) + b"\n"


def error_event(err: errors.ApiError) -> bytes:
    return _line("ERROR", err.status())


class Stopper:
    """Ends every open watch when the server stops, so shutdown never waits on one."""

    def __init__(self) -> None:
        self.watches: set[Callable[[], None]] = set()

    def stop_all(self) -> None:
        for stop in list(self.watches):
            stop()


async def serve(
    request: web.Request,
    rwatch: RegistryWatch,
    *,
    content_type: str,
    encode: Encoder,
    bookmarks: bool,
    timeout: float,
    stopper: Stopper,
) -> web.StreamResponse:
    """Stream ``rwatch`` to the client until ``timeout``, the store's end, the client's
    departure or the server's stop; always closes ``rwatch``.

    The registry watch hands out the initial events (and the initial-events-end
    BOOKMARK of a ``sendInitialEvents`` watch) first, and an ERROR event when the store
    ended it; ``bookmarks`` adds a BOOKMARK at the watch's resourceVersion every
    :data:`BOOKMARK_EVERY` seconds.
    """
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    stopping = False

    def stop() -> None:
        nonlocal stopping
        stopping = True
        wake.set()

    # One wake-up in flight at a time: a burst of writes (a thousand pods' statuses)
    # schedules one callback, not one per event (each a write to the loop's self-pipe
    # and a wake of its thread); the loop polls every queued event once woken.
    scheduled = False

    def fire() -> None:
        nonlocal scheduled
        scheduled = False  # before the poll that follows: a later event schedules again
        wake.set()

    def ready() -> None:
        # from the writer's thread; the loop may already be closed at shutdown
        nonlocal scheduled
        if scheduled:
            return
        scheduled = True
        try:
            loop.call_soon_threadsafe(fire)
        except RuntimeError:
            scheduled = False

    stopper.watches.add(stop)
    resp = web.StreamResponse(status=200)
    resp.headers["Content-Type"] = content_type
    resp.headers["Cache-Control"] = "no-cache, private"
    resp.enable_chunked_encoding()
    try:
        await resp.prepare(request)
        rwatch.on_ready = ready
        deadline = loop.time() + timeout
        next_bookmark = loop.time() + BOOKMARK_EVERY
        while not stopping:
            wake.clear()
            events: list[WatchEvent] = rwatch.poll()
            if bookmarks and loop.time() >= next_bookmark:
                events.append(rwatch.bookmark())
                next_bookmark = loop.time() + BOOKMARK_EVERY
            if events:
                await resp.write(b"".join(_line(e.type, encode(e.type, e.object)) for e in events))
            if rwatch.closed:
                break
            now = loop.time()
            if now >= deadline:
                break
            wait = deadline - now
            if bookmarks:
                wait = min(wait, max(0.0, next_bookmark - now))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=wait)
        rwatch.on_ready = None
        rwatch.close()  # before the end of the stream, which the client may act on
        await resp.write_eof()
    except ConnectionError:
        pass  # the client went away mid-write
    finally:
        rwatch.on_ready = None
        rwatch.close()
        stopper.watches.discard(stop)
    return resp
