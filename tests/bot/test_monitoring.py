"""/healthz and /metrics over real HTTP while the bot answers through the Discord double, and
the request ids on every log line of a question."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import shutil
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot import app
from bot.app import GreenroomBot
from bot.clips import ClipDraft
from bot.healthcheck import healthz_url, parse_address
from bot.logs import log_handler
from bot.monitoring import serve_monitoring
from bot.settings import Settings
from ingest.connectors.spec import SourceSpec
from tests.bot.answer_fixtures import ALWAYS_ANSWER, ALWAYS_DECLINE, ALWAYS_SUGGEST, force_tier
from tests.bot.conftest import ANSWERABLE, UNCOVERED, greenroom
from tests.discord_double import bot_kwargs, patched_discord, run_bot

REPO_ROOT = Path(__file__).resolve().parents[2]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


async def healthcheck(address: str) -> tuple[int, str]:
    """The container's HEALTHCHECK command, run as Docker would (a process of its own)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.healthcheck",
        env=os.environ | {"GREENROOM_METRICS_ADDR": address},
        cwd=REPO_ROOT,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await process.communicate()
    return process.returncode, err.decode()


async def ask(world, member, question: str):
    inter = await world.double.slash_command(
        world.guild, world.general, member, "ask", {"question": question}
    )
    return inter, await inter.wait_message(timeout=10)


def test_addresses_default_to_loopback():
    assert parse_address("9464") == ("127.0.0.1", 9464)
    assert parse_address("0.0.0.0:9464") == ("0.0.0.0", 9464)
    assert parse_address("[::1]:0") == ("::1", 0)
    assert parse_address(":9100") == ("127.0.0.1", 9100)
    for bad in ("localhost:http", "127.0.0.1:70000", "nonsense"):
        with pytest.raises(ValueError, match="HOST:PORT"):
            parse_address(bad)
    assert healthz_url("0.0.0.0:9464") == "http://127.0.0.1:9464/healthz"
    assert healthz_url("[::]:9464") == "http://127.0.0.1:9464/healthz"
    assert healthz_url("[::1]:9464") == "http://[::1]:9464/healthz"


async def test_no_address_serves_nothing(world, services):
    bot = GreenroomBot(services, **bot_kwargs())
    for unset in (None, "", "  "):
        async with serve_monitoring(bot, unset) as endpoint:
            assert endpoint is None


async def test_metrics_move_as_fans_ask_and_vote(world, services):
    async with (
        greenroom(world, services) as bot,
        serve_monitoring(bot, "127.0.0.1:0", lag_interval=0.02) as endpoint,
        httpx.AsyncClient(base_url=endpoint.url, timeout=10) as client,
    ):
        assert endpoint.host == "127.0.0.1" and endpoint.port > 0
        before = await scrape(client)
        assert value(before, "greenroom_questions_total", tier="answer", via="slash") == 0
        assert value(before, "greenroom_gateway_connected") == 1

        force_tier(services, ALWAYS_ANSWER)
        _, answer = await ask(world, world.fan, ANSWERABLE)
        force_tier(services, ALWAYS_SUGGEST)
        await ask(world, world.fan2, ANSWERABLE)
        force_tier(services, ALWAYS_DECLINE)
        await ask(world, world.fan, UNCOVERED)
        click = await world.double.click(
            world.guild, world.general, world.fan2, answer, "answer:up:1"
        )
        await click.wait_message(timeout=10)
        await asyncio.sleep(0.1)  # a few turns of the loop-lag probe
        after = await scrape(client)

    for tier in ("answer", "suggest", "decline"):
        assert value(after, "greenroom_questions_total", tier=tier, via="slash") == 1
        assert value(after, "greenroom_answer_seconds_count", tier=tier) == 1
        assert value(after, "greenroom_answer_seconds_sum", tier=tier) > 0
    # Suggest and decline are "abstained" in the question log: both are gaps to fill.
    assert value(after, "greenroom_gaps_recorded_total", outcome="abstained") == 2
    assert len(await services.questions.open_gaps(world.guild.id)) == 2
    assert value(after, "greenroom_feedback_total", vote="up") == 1
    assert value(after, "greenroom_feedback_total", vote="down") == 0
    assert value(after, "greenroom_event_loop_lag_seconds_count") >= 2
    assert value(after, "process_resident_memory_bytes") > 0


async def test_clips_by_state_and_decisions_come_from_the_database(world, services):
    guild = world.guild.id
    waiting = await services.clips.submit(guild, world.fan.id, ClipDraft(title="Moth swarm"))
    rejected = await services.clips.submit(guild, world.fan.id, ClipDraft(title="Neon rain"))
    await services.clips.reject(rejected.id, guild, world.mod.id, "The logo is melted.")
    async with (
        greenroom(world, services) as bot,
        serve_monitoring(bot, "127.0.0.1:0") as endpoint,
        httpx.AsyncClient(base_url=endpoint.url, timeout=10) as client,
    ):
        first = await scrape(client)
        assert value(first, "greenroom_clips", state="submitted") == 1
        assert value(first, "greenroom_clips", state="rejected") == 1
        assert value(first, "greenroom_clips", state="approved") == 0
        assert value(first, "greenroom_clip_decisions_total", action="reject") == 1
        assert value(first, "greenroom_clip_decisions_total", action="approve") == 0

        await services.clips.approve(waiting.id, guild, world.mod.id)
        second = await scrape(client)
    assert value(second, "greenroom_clips", state="submitted") == 0
    assert value(second, "greenroom_clips", state="approved") == 1
    assert value(second, "greenroom_clip_decisions_total", action="approve") == 1


async def test_healthz_reports_gateway_store_and_last_sync(world, services, tmp_path: Path):
    kb = str(world.guild.id)
    gone = tmp_path / "unmounted"
    gone.mkdir()
    (gone / "gear.md").write_text("# Gear\nThe stream deck is an XL.\n", encoding="utf-8")
    bot = GreenroomBot(services, **bot_kwargs())
    async with (
        run_bot(world.double, bot, error_loggers=("bot", "knowledge")) as running,
        serve_monitoring(bot, "127.0.0.1:0") as endpoint,
        httpx.AsyncClient(base_url=endpoint.url, timeout=10) as client,
    ):
        healthy = await client.get("/healthz")
        assert healthy.status_code == 200
        body = healthy.json()
        assert body["status"] == "ok"
        assert body["gateway"]["connected"] is True
        assert body["store"] == {"reachable": True}
        assert body["database"] == {"reachable": True}
        assert body["last_sync"] is None
        assert await healthcheck(f"127.0.0.1:{endpoint.port}") == (0, "")

        await services.sources.add(kb, SourceSpec("folder", str(gone)))
        last = (await client.get("/healthz")).json()["last_sync"]
        assert (last["kb"], last["key"], last["status"]) == (kb, f"folder:{gone}", "ok")
        assert last["seconds"] > 0 and last["age_s"] >= 0

        shutil.rmtree(gone)  # an unmounted folder: the sync fails, the bot stays healthy
        await services.sources.sync(kb, f"folder:{gone}")
        response = await client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["last_sync"]["status"] == "failed"
        assert "cannot be read" in response.json()["last_sync"]["message"]
        samples = await scrape(client)
        assert value(samples, "greenroom_source_syncs_total", kind="folder", status="ok") == 1
        assert value(samples, "greenroom_source_syncs_total", kind="folder", status="failed") == 1
        assert value(samples, "greenroom_source_sync_seconds_count", kind="folder") == 2

        vectors = services.library.vectors.client
        original = vectors.heartbeat

        def store_down() -> int:
            raise ConnectionError("chroma is down")

        vectors.heartbeat = store_down
        try:
            down = await client.get("/healthz")
        finally:
            vectors.heartbeat = original
        assert down.status_code == 503
        assert down.json()["store"] == {"reachable": False, "error": "ConnectionError"}

        await running.stop()  # the gateway goes away: unhealthy, and /metrics says so
        closed = await client.get("/healthz")
        assert closed.status_code == 503
        assert closed.json()["gateway"] == {"connected": False, "latency_ms": None}
        assert value(await scrape(client), "greenroom_gateway_connected") == 0
        code, err = await healthcheck(f"127.0.0.1:{endpoint.port}")
        assert code == 1 and "unhealthy (503)" in err and '"connected": false' in err
    code, err = await healthcheck(f"127.0.0.1:{endpoint.port}")  # the endpoint is gone
    assert code == 1 and "no answer from" in err


async def test_request_lines_carry_guild_and_interaction_ids(world, services):
    stream = io.StringIO()
    handler = log_handler("json", stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        async with greenroom(world, services) as bot:
            stream.truncate(0)
            stream.seek(0)
            inter, _ = await ask(world, world.fan, ANSWERABLE)
            mark = world.double.mark()
            mention = await world.double.send_message(
                world.guild, world.general, world.fan, f"<@{bot.user.id}> {UNCOVERED}"
            )
            await world.double.wait_for_message(world.general, after=mark, timeout=10)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line]
    answered = [line for line in lines if line["message"].startswith("question answered")]
    assert len(answered) == 2
    guild = str(world.guild.id)
    assert answered[0]["guild_id"] == guild and answered[0]["interaction_id"] == str(inter.id)
    assert answered[1]["guild_id"] == guild and answered[1]["message_id"] == str(mention.id)
    for line in lines:
        assert {"time", "level", "logger", "message"} <= line.keys()
        # No message text at INFO: neither question appears on any line.
        assert "neon intro" not in json.dumps(line) and "pizza" not in json.dumps(line)
        if line["logger"].startswith(("bot.", "knowledge.")):
            assert line.get("guild_id") == guild, line


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_greenroom_run_serves_the_endpoint_it_is_configured_with(
    world, services, monkeypatch
):
    """The real start path (`greenroom run`): settings in, endpoint up while the bot runs,
    everything closed on SIGTERM."""
    port = free_port()
    settings = Settings(
        data_dir=services.settings.data_dir,
        discord_token="test-token",
        metrics_addr=f"127.0.0.1:{port}",
    )

    async def shared_services(_settings):
        return services  # the fixture's, with the session's model

    async def keep_open():
        pass

    monkeypatch.setattr(app, "build_services", shared_services)
    monkeypatch.setattr(services, "close", keep_open)  # the fixture closes them
    with patched_discord(world.double):
        running = asyncio.create_task(app._run(settings))
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                for _ in range(200):
                    try:
                        health = await client.get("/healthz")
                    except httpx.ConnectError:
                        health = None
                    if health is not None and health.status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                assert health is not None and health.status_code == 200, health
                assert health.json()["gateway"]["connected"] is True
                assert value(await scrape(client), "greenroom_gateway_connected") == 1
                # `docker stop` sends SIGTERM: the bot and the endpoint close cleanly.
                os.kill(os.getpid(), signal.SIGTERM)
                await asyncio.wait([running], timeout=15)
                assert running.cancelled()  # run_bot reports it and returns 0
        finally:
            running.cancel()
            await asyncio.gather(running, return_exceptions=True)
    with pytest.raises(httpx.ConnectError):  # the endpoint closed with the bot
        async with httpx.AsyncClient(timeout=5) as client:
            await client.get(f"http://127.0.0.1:{port}/healthz")
