"""No reminder leaves after a committed payment, however the two race.

Given many overdue cases whose first SMS is being delivered by the in-process
runner (four Dramatiq worker threads, the real SMS channel and Twilio SDK, a
fake Twilio behind a little network transit, taking a little while to answer
each request), when payments for those cases are recorded from other threads
while the texts go out, then the fake never receives a text for a case after
that case's payment call returned, and no reminder reaches it twice.

The case gate is what makes this hold: a delivery holds it shared from its
re-check until Twilio answered, and recording a payment takes it exclusively,
so a payment either waits for a text already on its way or is seen by the
re-check of the next one. Without the gate a payment that lands between a
delivery's re-check and Twilio taking the request in lets that text arrive
after the payment committed; the payers below aim at exactly that moment
(with the gate switched off locally, every run of this test fails on both
backends).
"""

from __future__ import annotations

import contextlib
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from dunning.core.domain.model import Event, EventKind
from dunning.core.runtime import Runtime, build_runtime
from dunning.core.runtime.embedded import Embedded
from dunning.core.runtime.scheduler import tick
from dunning.core.settings import Settings
from dunning.core.store.schema import intents
from dunning.testing.factories import make_case
from dunning.testing.fake_twilio import FakeTwilio

POLICY = """
name: race
preset: none
segments: [{name: all, ladder: l}]
ladders:
  l:
    steps:
      - {channel: sms, template: overdue_notice, wait: 2d}
"""
#: 11:00 in Shanghai: every case may be texted now.
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
CASES = 120
WORKER_THREADS = 4
#: Twilio answers each text this late (after taking it in), so that sends and payments overlap.
TWILIO_DELAY = 0.02
#: How long a request takes to reach Twilio (network transit): a text is on its way that long.
TRANSIT = 0.01
#: Cases paid around their delivery, by CHASERS threads; the others are paid before their turn.
CHASED = CASES * 3 // 4
CHASERS = 4
#: How many places ahead in the queue a chaser starts paying a case (see ``chase``).
LEAD = (0, 1, 2, 3, 4, 5)
#: Upper bound on any wait in this test; nothing here should come close to it.
TIMEOUT = 60.0


class Transit:
    """A loopback TCP relay in front of the fake Twilio that holds each request ``delay`` seconds.

    It stands in for the network between dunning and Twilio: a text the SDK has
    sent is on its way for a while before Twilio takes it in. Answers come back at once.
    """

    def __init__(self, upstream_port: int, delay: float) -> None:
        self.upstream = ("127.0.0.1", upstream_port)
        self.delay = delay
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.stopping = threading.Event()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, name="transit", daemon=True).start()

    def _accept(self) -> None:
        while not self.stopping.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=TIMEOUT)
            self.sockets += [client, server]
            threading.Thread(target=self._pump, args=(client, server, self.delay), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, 0.0), daemon=True).start()

    def _pump(self, source: socket.socket, target: socket.socket, delay: float) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                if delay:
                    self.stopping.wait(delay)
                target.sendall(chunk)
        with contextlib.suppress(OSError):
            target.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.stopping.set()
        self.listener.close()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def runtime(tmp_path, database_url, fake_twilio: FakeTwilio) -> Iterator[Runtime]:
    (tmp_path / "p.yaml").write_text(POLICY)
    transit = Transit(fake_twilio.port, TRANSIT)
    settings = Settings(
        database_url=database_url,
        policy=str(tmp_path / "p.yaml"),
        worker_threads=WORKER_THREADS,
        **fake_twilio.settings(twilio_base_url=transit.url),
    )
    rt = build_runtime(settings, clock=lambda: NOW)
    assert not rt.dry_run and "sms" in rt.channels
    yield rt
    rt.close()
    transit.close()


def case_ids() -> list[str]:
    return [f"C-{i:03d}" for i in range(CASES)]


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {TIMEOUT}s")
        time.sleep(0.001)


def states(rt: Runtime) -> dict[str, str]:
    with rt.store.read() as conn:
        return {
            row.intent_id: row.state for row in conn.execute(select(intents.c.intent_id, intents.c.state))
        }


def taken(rt: Runtime, intent_id: str) -> bool:
    """Whether a worker has taken the intent (it is no longer waiting in the queue)."""
    with rt.store.read() as conn:
        state = conn.scalar(select(intents.c.state).where(intents.c.intent_id == intent_id))
    return state not in ("planned", "enqueued")


def test_no_text_reaches_twilio_after_its_case_payment_returned(
    runtime: Runtime, fake_twilio: FakeTwilio
) -> None:
    rt = runtime
    # Given many cases, each with its first reminder planned and handed to four workers
    with rt.store.write() as conn:
        rt.store.upsert_cases(
            conn,
            [
                make_case(case_id=case_id, debtor_id=f"D-{case_id}", phone=f"+86139{i:08d}")
                for i, case_id in enumerate(case_ids())
            ],
            NOW - timedelta(days=1),
        )
    fake_twilio.slow(TWILIO_DELAY, requests=CASES)
    runner = Embedded(rt, threads=WORKER_THREADS)
    paid_at: dict[str, float] = {}
    errors: list[BaseException] = []

    def pay(case_id: str) -> None:
        event = Event(
            EventKind.PAYMENT, NOW, case_id=case_id, amount=Decimal("3200.00"), event_id=f"pay-{case_id}"
        )
        rt.store.record_event(event, source="test", now=NOW)
        paid_at[case_id] = time.monotonic()  # the payment call returned: committed

    def chase(targets: list[tuple[str, str]]) -> None:
        """Pay each case once the delivery of the one ``lead`` places before it was taken.

        A payment's commit then lands anywhere from before to after its own case's
        re-check, whatever a commit costs on this backend: the race is as close as it gets.
        """
        try:
            for case_id, trigger in targets:
                intent_id = by_case[trigger]
                wait_until(lambda intent_id=intent_id: taken(rt, intent_id), f"delivery of {intent_id}")
                pay(case_id)
        except BaseException as exc:
            errors.append(exc)

    def pay_ahead(ids: list[str]) -> None:
        """Pay cases whose turn has not come yet, from the back of the queue."""
        try:
            for case_id in ids:
                pay(case_id)
        except BaseException as exc:
            errors.append(exc)

    runner.start()
    try:
        report = tick(rt, NOW)
        assert report.planned == CASES
        with rt.store.read() as conn:
            by_case = {
                row.case_id: row.intent_id
                for row in conn.execute(select(intents.c.case_id, intents.c.intent_id))
            }
        # When payments for every case are recorded from other threads while the texts go out
        wait_until(lambda: len(fake_twilio.messages) >= 1, "the first text")
        ids = case_ids()
        chased = ids[:CHASED]
        rng = random.Random(20261202)
        targets = [(case_id, chased[max(0, i - rng.choice(LEAD))]) for i, case_id in enumerate(chased)]
        payers = [
            threading.Thread(target=chase, args=(targets[j::CHASERS],), name=f"payer-chase-{j}")
            for j in range(CHASERS)
        ]
        payers.append(threading.Thread(target=pay_ahead, args=(ids[CHASED:][::-1],), name="payer-ahead"))
        for payer in payers:
            payer.start()
        for payer in payers:
            payer.join(TIMEOUT)
        assert not any(payer.is_alive() for payer in payers), "a payer is stuck"
        assert not errors, errors
        for queue in runner.dispatcher.queues:
            runner.broker.join(queue, timeout=int(TIMEOUT * 1000))
        runner.worker.join()
    finally:
        runner.stop()

    # Then no text was received for a case after its payment returned, none twice
    assert sorted(paid_at) == case_ids()
    texts = fake_twilio.messages
    case_of = {intent_id: case_id for case_id, intent_id in by_case.items()}
    late = [
        (case_of[text.intent_id], round(text.received - paid_at[case_of[text.intent_id]], 4))
        for text in texts
        if text.intent_id is not None and text.received >= paid_at[case_of[text.intent_id]]
    ]
    assert late == [], f"texts received after their case's payment returned (case, seconds late): {late}"
    assert all(text.intent_id in case_of for text in texts)
    assert all(fake_twilio.count_for(intent_id) <= 1 for intent_id in case_of)
    # and the store agrees: what was not sent before the payment was withdrawn.
    final = states(rt)
    sent = {intent_id for intent_id, state in final.items() if state == "sent"}
    assert sent == {t.intent_id for t in texts}
    assert set(final.values()) <= {"sent", "cancelled"}
    # The race was real: some texts went before their payment, others were stopped by it.
    assert sent and len(sent) < CASES
