"""The three things warroom needs from DBOS (3.4, in uv.lock) that its public API lacks.

Everything else goes through `dbos`'s public names (`DBOS`, `DBOSClient`, `dbos.error`). Each
function below reaches into DBOS internals for one missing capability, says which, and is the
only place that does: when DBOS offers a public call, only this module changes.
"""

from __future__ import annotations

import asyncio
import importlib
import random
from typing import Any


def recover_pending(executor_ids: list[str]) -> int:
    """Hand the PENDING workflows of dead executors back to the queues; return how many.

    Missing: a public call to recover another executor's workflows. DBOS documents it only
    as the admin server's `/dbos-workflow-recovery` endpoint (gone from the Python library's
    admin server) and Conductor; `DBOS.resume_workflow` is no substitute, as it moves a
    workflow to an internal queue and loses its queue and partition (one action per
    namespace at a time).
    """
    # lazy: cold import cost (python -X importtime): dbos ~1200 ms; kept off the module's import
    # path
    from dbos import DBOS

    handles: list[Any] = DBOS._recover_pending_workflows(executor_ids)
    return len(handles)


def stop_dequeuing_and_cancel(timeout: float = 5.0) -> None:
    """Stop DBOS taking new work, then cancel the workflows running in this process.

    Missing: a public "drain without waiting". `DBOS.destroy` stops the pollers and the event
    loop but never cancels the workflows in flight (it can only wait for them to finish), so
    their database sessions would be abandoned open; a cancelled workflow stays PENDING and
    resumes on the next launch, exactly as after a crash (`DBOS.cancel_workflow` would end
    it for good instead).
    """
    # lazy: cold import cost (python -X importtime): dbos ~1200 ms; kept off the module's import
    # path
    from dbos import _dbos

    instance = _dbos._dbos_global_instance
    if instance is None:
        return
    # stop dequeuing first and let the pollers finish, so no workflow is handed to the
    # event loop while it is being stopped
    for stop in instance.background_thread_stop_events:
        stop.set()
    for thread in list(instance._background_threads):
        if "queue_thread" in thread.name:  # unnamed threads are named after their target
            thread.join(timeout=timeout)
    _cancel(list(instance._workflow_tasks), timeout)


def _cancel(tasks: list[asyncio.Task[Any]], timeout: float) -> None:
    if not tasks:
        return
    loop = tasks[0].get_loop()
    if not loop.is_running():
        return

    async def cancel() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(cancel(), loop).result(timeout)
    except TimeoutError:
        pass


def private_jitter() -> None:
    """Give DBOS's background pollers their own random generator.

    Missing: a way to hand DBOS a random generator. Its pollers draw jitter from the
    process-wide `random` state, which belongs to the application (and to test tools that
    check nobody else touched it); a private generator changes nothing about the jitter and
    leaves the global state alone.
    """
    for name in ("dbos._queue", "dbos._sys_db", "dbos._scheduler", "dbos._workflow_commands"):
        module = importlib.import_module(name)
        if getattr(module, "random", None) is random:
            module.random = random.Random()  # type: ignore[attr-defined]
