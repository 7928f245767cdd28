"""The Docker Engine API on a unix socket (``berth system service``).

Nothing here is imported by ``import engine``: aiohttp loads only in the service process. The
server lives in ``server``; one module per resource turns Docker's requests into Engine calls.
"""
