"""`fera analyze` on Dask distributed: one task per source, on a scheduler you run (``--cluster ADDRESS``) or on
a local cluster of N worker processes (``--workers N``).

Each task is ``fera.analyze.run.analyze_source``: the worker opens the source by its path, analyses it with the
models its process loaded once (``run.engine``) and writes the source's part file itself, atomically, so only
a small summary travels back. A worker that dies (killed, out of memory, a decoder that crashes) loses only the
source it was on: the scheduler gives that task to another worker (up to Dask's ``allowed-failures``, 3 by
default, after which the source is reported as skipped), and because a part appears only when complete and
under one name per source, a source done twice is still in the table once. Tasks are submitted a few at a time
(twice the workers' threads), so the client's memory stays bounded whatever the number of sources.
Importing this module imports Dask (the ``cluster`` extra).
"""
from __future__ import annotations

import contextlib
import logging
import uuid
import warnings
from itertools import islice
from typing import Iterator

from distributed import CancelledError, Client, LocalCluster, as_completed
from distributed.scheduler import KilledWorker

from fera.errors import FeraError, first_line


def _worker_version() -> str:
    import fera

    return fera.__version__


@contextlib.contextmanager
def connect(address: str | None = None, workers: int | None = None, timeout: float = 60.0) -> Iterator[Client]:
    """A client of the scheduler at ``address``, or of a new local cluster of ``workers`` processes (one task at a
    time each); closed (and the local cluster stopped) on leaving."""
    cluster = None
    try:
        if address:
            try:
                client = Client(address, timeout=f"{timeout:g}s")
            except (OSError, TimeoutError) as e:
                raise FeraError(f"cannot reach the Dask scheduler at {address}: {first_line(e)}") from None
        else:
            with warnings.catch_warnings():  # "Port 8787 is already in use ... on port N instead": nothing to do
                warnings.filterwarnings("ignore", message=".*already in use", category=UserWarning)
                cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                       dashboard_address=None, silence_logs=logging.ERROR)
            client = Client(cluster)
    except FeraError:
        raise
    except Exception as e:  # noqa: BLE001  (Dask's own start-up errors)
        if cluster is not None:
            cluster.close()
        raise FeraError(f"cannot start a local Dask cluster of {workers} workers: {first_line(e)}") from None
    try:
        _check_workers(client, address, timeout)
        yield client
    finally:
        with contextlib.suppress(Exception):
            client.close(timeout=30)
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close(timeout=30)


def _check_workers(client: Client, address: str | None, timeout: float) -> None:
    import fera

    try:
        client.wait_for_workers(1, timeout=timeout)
    except TimeoutError:
        raise FeraError(f"the Dask scheduler at {address} has no worker after {timeout:g} s") from None
    try:
        versions = client.run(_worker_version)
    except Exception as e:  # noqa: BLE001  (a worker without fera cannot even unpickle the check)
        raise FeraError(f"a Dask worker cannot run fera ({first_line(e)}): install fera[cluster] on every "
                        "worker") from None
    other = {w: v for w, v in versions.items() if v != fera.__version__}
    if other:
        w, v = next(iter(other.items()))
        raise FeraError(f"the Dask worker {w} has fera {v}, this computer {fera.__version__}: install the same "
                        "version everywhere")


def run(client: Client, tasks, settings) -> Iterator[dict]:
    """Analyse ``tasks`` (an iterable of ``run.Task``) on the cluster; yields (task, its result) as each finishes."""
    from fera.analyze.run import analyze_source

    tasks = iter(tasks)
    window = 2 * max(1, sum(client.nthreads().values())) + 2
    futures = as_completed()
    waiting: dict[str, object] = {}

    def submit(task) -> None:
        f = client.submit(analyze_source, task, settings, pure=False,
                          key=f"fera-analyze-{task.source.key[:12]}-{uuid.uuid4().hex[:8]}")
        waiting[f.key] = task
        futures.add(f)

    for t in islice(tasks, window):
        submit(t)
    for f in futures:
        task = waiting.pop(f.key)
        try:
            r = f.result()
        except KilledWorker:
            r = _skipped(task, "every worker that tried it died (a file that crashes the decoder?)")
        except CancelledError:
            raise FeraError("the Dask scheduler went away; what was finished is kept: rerun with --resume") from None
        except Exception as e:  # noqa: BLE001  (a task that failed in an unexpected way: named, not fatal)
            r = _skipped(task, first_line(e))
        f.release()
        yield task, r
        nxt = next(tasks, None)
        if nxt is not None:
            submit(nxt)


def _skipped(task, reason: str) -> dict:
    s = task.source
    return {"source": s.path, "kind": s.kind, "status": "skipped", "reason": reason, "frames": 0, "rows": 0,
            "faces": 0, "notices": []}
