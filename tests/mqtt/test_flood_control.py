"""The flood-control parts on their own: per-topic queues, the coalesced job, the hold-off."""

from __future__ import annotations

import asyncio

import aiomqtt
import pytest

from appliance.mqtt.connection import fair_queue
from appliance.mqtt.tasks import Coalesced, HoldOff, TopicQueues
from tests.mqtt.helpers import wait_until

TIMEOUT_S = 5.0


def test_topics_take_turns_and_a_full_topic_drops_its_oldest() -> None:
    queues = TopicQueues[str](per_topic=3)
    kept = [queues.put("say", f"s{i}") for i in range(5)]
    assert kept == [True, True, True, False, False]
    assert queues.put("mute", "m0")
    assert queues.put("say", "s5") is False
    assert len(queues) == 4
    assert list(queues) == ["s3", "s4", "s5", "m0"]
    assert [queues.pop() for _ in range(4)] == ["s3", "m0", "s4", "s5"]
    assert len(queues) == 0
    with pytest.raises(IndexError):
        queues.pop()


def _message(topic: str, payload: bytes) -> aiomqtt.Message:
    return aiomqtt.Message(topic, payload, qos=0, retain=False, mid=0, properties=None)


async def test_the_incoming_queue_serves_a_late_topic_next_and_reports_drops() -> None:
    dropped: list[str] = []
    queue = fair_queue(4, dropped.append)(maxsize=256)
    for i in range(100):
        queue.put_nowait(_message("a/say", str(i).encode()))
    queue.put_nowait(_message("a/mute/set", b"ON"))
    assert queue.qsize() == 5
    assert dropped == ["a/say"] * 96
    first, second = queue.get_nowait(), await asyncio.wait_for(queue.get(), TIMEOUT_S)
    assert (str(first.topic), first.payload) == ("a/say", b"96")
    assert (str(second.topic), second.payload) == ("a/mute/set", b"ON")
    assert [m.payload for m in (queue.get_nowait() for _ in range(3))] == [b"97", b"98", b"99"]
    assert queue.empty()


async def test_a_burst_of_requests_runs_the_job_once() -> None:
    runs: list[int] = []
    done = asyncio.Event()

    async def job() -> None:
        runs.append(len(runs))
        done.set()

    coalesced = Coalesced(job, settle_s=0.05, name="test-job")
    try:
        started = [coalesced.request() for _ in range(1000)]
        assert started.count(True) == 1
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
        assert runs == [0]
        done.clear()
        # Once that run is over, a new burst runs it again.
        await wait_until(coalesced.request, "a second run accepted")
        await asyncio.wait_for(done.wait(), TIMEOUT_S)
        assert runs == [0, 1]
    finally:
        await coalesced.close()


async def test_closing_cancels_a_job_still_waiting() -> None:
    runs: list[str] = []

    async def job() -> None:
        runs.append("ran")

    coalesced = Coalesced(job, settle_s=60.0, name="test-job")
    assert coalesced.request()
    await asyncio.wait_for(coalesced.close(), TIMEOUT_S)
    assert runs == []
    assert coalesced.request()  # usable again on the next connection
    await asyncio.wait_for(coalesced.close(), TIMEOUT_S)


def test_hold_off_allows_one_start_per_interval() -> None:
    hold = HoldOff(1.0)
    assert [hold.allow(t) for t in (10.0, 10.1, 10.99)] == [True, False, False]
    assert hold.allow(11.0)
    assert not hold.allow(11.5)
    assert hold.allow(20.0)
