"""A child process for the SQLite crash test: it sends until it is killed.

    python crash_child.py DB JOURNAL broadcast|sends RUN

Prints ``READY`` once open, then one ``ACK ...`` line per request the client was
told succeeded (a returned broadcast, an accepted send). The parent SIGKILLs it at
a random moment and checks the database against those acknowledgements.
"""

from __future__ import annotations

import sys

import anyio

from waport.service import Messenger, RandomIds, SystemClock
from waport_memory import SandboxProvider
from waport_sqlite import open_sqlite

HELLO = {"name": "hello_world", "language": "en_US"}


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def main(db: str, journal: str, mode: str, run: int) -> None:
    clock = SystemClock()
    async with open_sqlite(db) as store:
        sandbox = SandboxProvider(clock=clock, journal=journal, read_after=None)
        async with Messenger(
            store=store, provider=sandbox, clock=clock, ids=RandomIds()
        ) as messenger:
            say("READY")
            for round_ in range(10_000):
                if mode == "broadcast":
                    recipients = [{"to": f"2{run:03d}{round_:04d}{i:03d}"} for i in range(256)]
                    result = await messenger.broadcast(
                        {"template": HELLO, "sender_id": "sandbox-sender", "recipients": recipients}
                    )
                    say(f"ACK broadcast {result.broadcast_id} {len(result.rows)}")
                else:

                    async def one(i: int, round_: int = round_) -> None:
                        to = f"3{run:03d}{round_:04d}{i:04d}"
                        result = await messenger.send(
                            {"to": to, "sender_id": "sandbox-sender", "template": HELLO}
                        )
                        say(f"ACK send {result.message_id}")

                    async with anyio.create_task_group() as tg:
                        for i in range(1000):
                            tg.start_soon(one, i)


if __name__ == "__main__":
    anyio.run(main, sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]))
