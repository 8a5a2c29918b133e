"""The delivery ceiling: a bare Dramatiq actor making the same Twilio SDK call, with no store.

Run by bench/delivery.py through Dramatiq's own CLI (``dramatiq bare_actor``);
the broker and the fake Twilio server come from the environment.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

from dunning.channels.twilio_common import TwilioAccount

broker = RedisBroker(url=os.environ["BENCH_REDIS_URL"])
dramatiq.set_broker(broker)
_account = TwilioAccount(
    os.environ["BENCH_TWILIO_SID"],
    os.environ["BENCH_TWILIO_TOKEN"],
    base_url=os.environ["BENCH_TWILIO_URL"],
    timeout=10.0,
)


@dramatiq.actor(queue_name="bench.bare", max_retries=0)
def send_sms(to: str, body: str, intent_id: str) -> None:
    _account.client.messages.create(
        to=to,
        from_=os.environ["BENCH_TWILIO_FROM"],
        body=body,
        status_callback=f"https://dunning.example.com/webhooks/twilio/sms/status?intent_id={intent_id}",
    )
