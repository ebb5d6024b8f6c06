"""``python -m waport_meta.fake --port 9100``: a FakeGraphApi as a process, for
benchmarks, harnesses in other processes and manual tests."""

from __future__ import annotations

from aiohttp import web

from waport_meta.fake import TOKEN, FakeGraphApi


def main() -> None:  # pragma: no cover - a process for benchmarks and manual tests
    """``python -m waport_meta.fake --port 9100``: serve a FakeGraphApi until interrupted."""
    import argparse

    parser = argparse.ArgumentParser(description="a fake Meta Graph API on 127.0.0.1")
    parser.add_argument("--port", type=int, default=9100)
    parser.add_argument(
        "--no-validation", action="store_true", help="skip request validation (a faster remote)"
    )
    args = parser.parse_args()
    fake = FakeGraphApi(url=f"http://127.0.0.1:{args.port}")
    if args.no_validation:
        fake.validate = False
    fake.record = False  # a long-running process keeps no history
    try:  # the lighter loop where installed: a benchmark's remote takes less of its CPU
        import uvloop

        loop = uvloop.new_event_loop()
    except ImportError:
        loop = None
    print(f"fake Graph API on {fake.url} (token: {TOKEN})", flush=True)
    web.run_app(
        fake.app(), host="127.0.0.1", port=args.port, access_log=None, print=None, loop=loop
    )
