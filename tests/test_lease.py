"""Writer leases on SQLite always, and on PostgreSQL when TIMEBRIDGE_TEST_POSTGRES_URL is set: one writer per
scope across threads and processes, waiting, expiry of a crashed holder, heartbeat and loss."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from models.lease import LEASES, LeaseHeldError, LeaseLostError, writer_lease
from models.store import open_store, utcnow
from tests.test_store import BACKENDS, ROOT, database_url

HOLDER = "push-awork-times flow run 'brave-otter' (pid 123 on host h)"


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> Iterator[str]:
    with database_url(request.param, tmp_path) as url:
        open_store(url)  # migrated once, here: the processes below only connect
        yield url


@pytest.fixture
def engine(url) -> Engine:
    return open_store(url).engine


def leases(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return list(connection.execute(select(LEASES.c.label)).scalars())


def python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", code, *args], cwd=ROOT, text=True, **kwargs)


def test_a_second_writer_waits_then_is_told_who_holds_the_scope(engine):
    with writer_lease(engine, "push-awork-times", HOLDER, wait_seconds=0, ttl_seconds=5):
        started = time.monotonic()
        with (
            pytest.raises(LeaseHeldError) as held,
            writer_lease(engine, "push-awork-times", "second", wait_seconds=0.3, ttl_seconds=5, poll_seconds=0.1),
        ):
            pytest.fail("the second writer must not get the lease")
        assert time.monotonic() - started >= 0.3
    message = str(held.value)
    assert message.startswith(f"push-awork-times is already being written by {HOLDER} since ")
    assert (
        " UTC (lease until " in message and "this run waited 0.3 s and stops: try again when it has finished" in message
    )
    assert held.value.expires_at > held.value.acquired_at
    assert str(pickle.loads(pickle.dumps(held.value))) == message  # Prefect keeps a failed run's exception
    assert leases(engine) == []


def test_a_waiting_writer_gets_the_scope_when_the_holder_finishes(engine):
    holding, release = threading.Event(), threading.Event()

    def first() -> None:
        with writer_lease(engine, "push", "first", wait_seconds=0, ttl_seconds=5):
            holding.set()
            release.wait(5)

    thread = threading.Thread(target=first)
    thread.start()
    holding.wait(5)
    threading.Timer(0.3, release.set).start()
    started = time.monotonic()
    with writer_lease(engine, "push", "second", wait_seconds=5, ttl_seconds=5, poll_seconds=0.05) as lease:
        assert 0.25 < time.monotonic() - started < 4
        assert leases(engine) == ["second"] and not lease.lost
    thread.join()


def test_an_expired_lease_is_taken_over_at_once(engine):
    past = utcnow() - timedelta(seconds=5)
    with engine.begin() as connection:
        connection.execute(
            LEASES.insert().values(
                scope="push", holder="gone", label="crashed run", acquired_at=past, heartbeat_at=past, expires_at=past
            )
        )
    with writer_lease(engine, "push", "next run", wait_seconds=0, ttl_seconds=5):
        assert leases(engine) == ["next run"]


def test_the_lease_of_a_killed_holder_expires_after_its_ttl(url, engine):
    holder = python(
        "import sys, time\n"
        "from models.lease import writer_lease\n"
        "from models.store import engine_for\n"
        "with writer_lease(engine_for(sys.argv[1]), 'push', 'killed run', wait_seconds=0, ttl_seconds=1):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n",
        url,
        stdout=subprocess.PIPE,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    started = time.monotonic()
    with writer_lease(engine, "push", "next run", wait_seconds=5, ttl_seconds=1, poll_seconds=0.1):
        assert leases(engine) == ["next run"]
    assert time.monotonic() - started < 2


def test_the_heartbeat_keeps_a_lease_beyond_its_ttl(engine):
    with writer_lease(engine, "push", "long run", wait_seconds=0, ttl_seconds=0.6) as lease:
        time.sleep(1.5)
        with pytest.raises(LeaseHeldError), writer_lease(engine, "push", "second", wait_seconds=0, ttl_seconds=0.6):
            pass
        assert not lease.lost
    assert leases(engine) == []


def test_a_lease_taken_over_is_lost_and_its_run_told(engine):
    with (
        pytest.raises(LeaseLostError),
        writer_lease(engine, "push", "slow run", wait_seconds=0, ttl_seconds=0.6) as lease,
    ):
        with engine.begin() as connection:
            connection.execute(update(LEASES).values(holder="other", label="other run"))
        deadline = time.monotonic() + 2
        while not lease.lost and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lease.lost
        with pytest.raises(LeaseLostError):
            lease.check()
    assert leases(engine) == ["other run"]  # the new holder's row stays


def test_processes_racing_for_a_scope_hold_it_one_at_a_time(url, tmp_path):
    racer = (
        "import sys, time\n"
        "from models.lease import writer_lease\n"
        "from models.store import engine_for\n"
        "engine = engine_for(sys.argv[1])\n"
        "for turn in range(3):\n"
        "    with writer_lease(engine, 'push', sys.argv[2], wait_seconds=30, ttl_seconds=2, poll_seconds=0.02):\n"
        "        entered = time.time()\n"
        "        time.sleep(0.05)\n"
        "        print(entered, time.time(), flush=True)\n"
    )
    racers = [python(racer, url, f"racer {i}", stdout=subprocess.PIPE) for i in range(3)]
    outputs = [racer.communicate(timeout=60)[0] for racer in racers]
    assert [racer.returncode for racer in racers] == [0, 0, 0]
    intervals = sorted(tuple(map(float, line.split())) for output in outputs for line in output.splitlines())
    assert len(intervals) == 9
    assert all(left[1] <= right[0] for left, right in zip(intervals, intervals[1:], strict=False))


def test_a_long_label_is_shortened_to_fit(engine):
    with writer_lease(engine, "push", "x" * 400, wait_seconds=0, ttl_seconds=5) as lease:
        assert leases(engine) == [lease.label] == ["x" * 300]
