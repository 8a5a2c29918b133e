"""Fixtures: a real SMTP server (aiosmtpd) on 127.0.0.1, and the channel pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from dunning_email.channel import EmailChannel
from dunning_email.fake_smtp import FakeSmtp


@pytest.fixture
def smtp() -> Iterator[FakeSmtp]:
    with FakeSmtp() as server:
        yield server


@pytest.fixture
def channel(smtp: FakeSmtp) -> EmailChannel:
    built = EmailChannel.from_settings(smtp.settings(email_unsubscribe_secret="s3cret"))
    assert built is not None
    return built
