"""The ``pytest11`` entry point: fixtures for testing dunning channels and deployments.

Installed with dunning, so a third-party channel's tests get, with no
conftest: ``fake_twilio`` and ``fake_fcm`` (started fakes, stopped after the
test), ``fcm_service_account`` (a key file the fake FCM trusts), and the
contract suite, :class:`dunning.testing.contract.ChannelContract`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from dunning.testing.fake_fcm import FakeFcm
    from dunning.testing.fake_twilio import FakeTwilio

__all__ = ["fake_fcm", "fake_twilio", "fcm_service_account"]


def pytest_configure(config: pytest.Config) -> None:
    # Plain asserts of the shipped contract suite report their values, as in a test file.
    pytest.register_assert_rewrite("dunning.testing.contract")
    config.addinivalue_line("markers", "channel_contract: a test of the dunning channel contract suite")


@pytest.fixture
def fake_twilio() -> Iterator[FakeTwilio]:
    """A fake Twilio API on 127.0.0.1; its ``settings()`` point dunning's Twilio channels at it."""
    from dunning.testing.fake_twilio import FakeTwilio

    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def fake_fcm() -> Iterator[FakeFcm]:
    """A fake FCM (with its OAuth token endpoint) on 127.0.0.1."""
    from dunning.testing.fake_fcm import FakeFcm

    with FakeFcm() as fake:
        yield fake


@pytest.fixture
def fcm_service_account(fake_fcm: FakeFcm, tmp_path: Path) -> Path:
    """A service-account JSON with a fresh key, whose ``token_uri`` is ``fake_fcm``'s."""
    return fake_fcm.write_service_account(tmp_path)
