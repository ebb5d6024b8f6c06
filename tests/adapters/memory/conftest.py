"""These adapters need no aiohttp: their tests run on asyncio and on trio."""

from tests.conftest import BOTH_BACKENDS, backend

anyio_backend = BOTH_BACKENDS(backend)
