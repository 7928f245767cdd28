"""``GET /containers/{id}/stats``: berth's samples in Docker's JSON shape (cpu_stats with
precpu_stats, memory_stats, networks, blkio_stats, pids_stats), so ``docker stats`` computes
the CPU % ``berth stats`` shows: delta container CPU over delta system CPU, times online CPUs."""

from __future__ import annotations

import json

from aiohttp import web

from . import translate
from .server import call, engine_of


async def _container_id(engine, ref: str) -> str:
    from ..errors import NotFound
    try:
        return (await call(engine.container, ref)).id
    except NotFound:
        raise NotFound(f"No such container: {ref}") from None


def stats_json(sample, prev, read_at: str, preread: str) -> dict:
    """Docker's stats object from two samples of one container (``prev`` may be None)."""
    def cpu(s) -> dict:
        if s is None:
            return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                                  "usage_in_usermode": 0}, "throttling_data": {
                "periods": 0, "throttled_periods": 0, "throttled_time": 0}}
        return {"cpu_usage": {"total_usage": s.cpu_total_ns, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0},
                "system_cpu_usage": s.system_ns, "online_cpus": s.online_cpus,
                "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    s = sample
    return {
        "read": read_at, "preread": preread, "id": s.id, "name": "/" + s.name,
        "num_procs": 0,
        "pids_stats": {"current": s.pids, **({"limit": s.pids_limit} if s.pids_limit else {})},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": 0, "minor": 0, "op": "read", "value": s.block_read},
            {"major": 0, "minor": 0, "op": "write", "value": s.block_write}],
            "io_serviced_recursive": None, "io_queue_recursive": None,
            "io_service_time_recursive": None, "io_wait_time_recursive": None,
            "io_merged_recursive": None, "io_time_recursive": None, "sectors_recursive": None},
        "cpu_stats": cpu(s), "precpu_stats": cpu(prev),
        # usage is already without the inactive file cache, so no stats.inactive_file is sent
        # (the docker CLI would subtract it a second time)
        "memory_stats": {"usage": s.memory_usage, "limit": s.memory_limit, "stats": {}},
        "networks": {"eth0": {"rx_bytes": s.net_rx, "rx_packets": s.net_rx_packets,
                              "rx_errors": 0, "rx_dropped": 0, "tx_bytes": s.net_tx,
                              "tx_packets": s.net_tx_packets, "tx_errors": 0,
                              "tx_dropped": 0}},
    }


def _now_rfc3339() -> str:
    from ..clock import now_rfc3339
    return now_rfc3339()


async def stats(request: web.Request) -> web.StreamResponse:
    engine = engine_of(request)
    cid = await _container_id(engine, request.match_info["id"])
    q = request.query
    stream = translate.boolean(q.get("stream"), True)
    one_shot = translate.boolean(q.get("one-shot"))
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    await response.prepare(request)
    ticks = engine.stats(ids=[cid], interval=1.0 if stream else 0.5)
    prev, prev_at, first = None, "0001-01-01T00:00:00Z", True
    try:
        async for samples in ticks:
            sample = next((s for s in samples if s.id == cid), None)
            if sample is None:
                break
            at = _now_rfc3339()
            if not sample.pids and not sample.cpu_total_ns:
                # not running: one reading of zeros (no CPU delta against a live reading),
                # and the stream ends
                body = stats_json(sample, None, at, "0001-01-01T00:00:00Z")
                body["cpu_stats"].pop("system_cpu_usage", None)
                await response.write(json.dumps(body).encode() + b"\n")
                break
            if first and not one_shot and not stream:
                prev, prev_at, first = sample, at, False
                continue   # one reading more, so precpu_stats means something
            body = json.dumps(stats_json(sample, prev, at, prev_at)).encode() + b"\n"
            await response.write(body)
            if not stream:
                break
            if not (await call(engine.container, cid)).running and not first:
                break
            prev, prev_at, first = sample, at, False
    finally:
        await ticks.aclose()
    await response.write_eof()
    return response
