"""The SQLite file's server lock: one holder at a time, and no file left once it stops.

Threads stand for processes here: a flock belongs to each ``open`` of the file,
so two opens in one process exclude each other as two processes would.
"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from ocpp_core.db.server_lock import ServerLockError, only_server
from servers import ocpp_core_server, until_up

ROUNDS = 400


def test_the_holder_removes_the_file_and_each_lock_has_one_holder(tmp_path: Path) -> None:
    """Many take the lock and stop, again and again; the ones that open the file just before
    its holder removes it must never hold it alongside whoever locks the new file."""
    url = f"sqlite:///{tmp_path / 'one.sqlite'}"
    inside = tmp_path / "inside"  # created by a holder alone: O_EXCL fails for a second one
    held = [0] * 4
    overlaps: list[int] = []

    def contend(number: int) -> None:
        for _ in range(ROUNDS):
            try:
                with only_server(url):
                    try:
                        os.close(os.open(inside, os.O_CREAT | os.O_EXCL))
                    except FileExistsError:
                        overlaps.append(number)
                        continue
                    held[number] += 1
                    os.unlink(inside)
            except ServerLockError:
                pass

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(len(held))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert overlaps == [], f"two holders at once, {len(overlaps)} times; held: {held}"
    assert min(held) > 0, f"the lock never went round: {held}"
    assert not (tmp_path / "one.sqlite.server-lock").exists()


async def test_a_stopped_server_leaves_no_lock_file(tmp_path: Path) -> None:
    database = tmp_path / "one.sqlite"
    async with ocpp_core_server(f"sqlite:///{database}", tmp_path / "server.log") as first:
        await until_up(f"{first.http_url}/health")
        assert (tmp_path / "one.sqlite.server-lock").read_text() == f"{first.process.pid}\n"
        # Ctrl-C: whether it reaches uvicorn's handlers (the instant after the start) or the
        # command's, it stops the server cleanly, with no drain.
        first.process.send_signal(signal.SIGINT)
        assert await first.process.wait() == 0

    assert not (tmp_path / "one.sqlite.server-lock").exists()
