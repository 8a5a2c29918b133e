"""What a debtor's mail program and an operator see of the e-mail channel, against a real SMTP server."""

from __future__ import annotations

import datetime as dt
import ssl
from pathlib import Path

import pytest
from dunning_email.channel import EmailChannel
from dunning_email.fake_smtp import ACCEPTED, UNKNOWN, FakeSmtp
from dunning_email.unsubscribe import sign

from dunning.core.content.lint import sample_case
from dunning.core.content.templating import render_context
from dunning.core.errors import (
    AmbiguousDeliveryError,
    ConfigError,
    PermanentDeliveryError,
    TransientDeliveryError,
)
from dunning.core.outcome import StatusOutcome
from dunning.core.plugins import make_registry
from dunning.core.settings import load_settings
from dunning.testing.contract import outbound

NOW = dt.datetime(2026, 11, 28, 2, 0, tzinfo=dt.UTC)


def reminder(locale: str, intent_id: str = "I-1", **fields: str):
    """A reminder rendered from the plugin's own template, as the runtime renders it."""
    case = sample_case(locale)
    if "name" in fields:
        case = case.__class__(**{**case.__dict__, "name": fields["name"]})
    library = make_registry().templates()
    context = render_context(
        case, amount=case.amount_due, now=NOW, contact={"phone": "95555", "name": "Anxin"}
    )
    rendered = library.render("email", "overdue_notice", locale, context, EmailChannel.template_parts)
    return outbound(
        EmailChannel, ACCEPTED, intent_id, parts=dict(rendered.parts), locale=locale, case_id=case.case_id
    )


def test_given_a_chinese_reminder_then_the_debtor_gets_text_and_html_alternatives_in_chinese(smtp, channel):
    receipt = channel.send(reminder("zh-CN"))
    [mail] = smtp.messages
    # Then one message, multipart/alternative: plain text first, HTML second
    assert mail.get_content_type() == "multipart/alternative"
    text, html = (part.get_content() for part in mail.iter_parts())
    assert "张伟您好" in text and "<p>张伟您好：</p>" in html
    assert "【Anxin】您的账户****7890已逾期" in str(mail["Subject"])
    assert mail["Content-Language"] == "zh-CN" and mail["Auto-Submitted"] == "auto-generated"
    assert receipt.provider_id == mail["Message-ID"] and mail["X-Dunning-Intent"] == "I-1"


def test_the_html_part_escapes_what_the_debtor_record_holds(smtp, channel):
    channel.send(reminder("en", name='<script>alert("x")</script>'))
    text, html = (part.get_content() for part in smtp.messages[0].iter_parts())
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert '<script>alert("x")</script>' in text  # plain text is shown as text, never run


def test_every_reminder_offers_one_click_unsubscribe_signed_for_its_case_and_reminder(smtp, channel):
    message = reminder("en", intent_id="I-42")
    channel.send(message)
    mail = smtp.messages[0]
    link, mailto = (target.strip(" <>") for target in str(mail["List-Unsubscribe"]).split(","))
    signature = sign("s3cret", message.case_id, "I-42")
    assert link == (
        f"https://dunning.example.com/webhooks/email/unsubscribe?case={message.case_id}&intent=I-42&sig={signature}"
    )
    assert mailto == "mailto:reminders@anxin.example?subject=unsubscribe%20I-42"
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_without_a_signing_secret_the_header_offers_mailto_only(smtp):
    channel = EmailChannel.from_settings(smtp.settings(email_unsubscribe_mailto="stop@anxin.example"))
    assert channel is not None
    channel.send(reminder("en"))
    mail = smtp.messages[0]
    assert mail["List-Unsubscribe"] == "<mailto:stop@anxin.example?subject=unsubscribe%20I-1>"
    assert mail["List-Unsubscribe-Post"] is None


def test_an_unknown_mailbox_is_permanent_and_makes_the_address_unusable_for_email(smtp, channel):
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(outbound(EmailChannel, UNKNOWN, "I-x"))
    assert caught.value.code == "5.1.1" and caught.value.invalidates == "channel"


def test_a_policy_refusal_is_permanent_but_blames_no_address(smtp, channel):
    smtp.refuse(ACCEPTED, "550 5.7.1 relaying denied")
    with pytest.raises(PermanentDeliveryError) as caught:
        channel.send(outbound(EmailChannel, ACCEPTED, "I-p"))
    assert caught.value.code == "5.7.1" and caught.value.invalidates is None


def test_a_temporary_refusal_after_data_is_transient_and_nothing_was_kept(smtp, channel):
    smtp.defer("451 4.3.0 mail system busy")
    with pytest.raises(TransientDeliveryError) as caught:
        channel.send(outbound(EmailChannel, ACCEPTED, "I-t"))
    assert caught.value.code == "4.3.0" and smtp.count_for("I-t") == 0
    # And the retry goes through, once
    channel.send(outbound(EmailChannel, ACCEPTED, "I-t"))
    assert smtp.count_for("I-t") == 1


def test_a_connection_dropped_after_data_is_ambiguous_and_the_server_has_it_once(smtp, channel):
    smtp.drop_after_data()
    with pytest.raises(AmbiguousDeliveryError):
        channel.send(outbound(EmailChannel, ACCEPTED, "I-a"))
    assert smtp.count_for("I-a") == 1


def test_it_is_configured_by_its_own_variables_and_refuses_a_bad_one_by_name(smtp, monkeypatch):
    assert EmailChannel.from_settings(load_settings()) is None
    for key, value in smtp.env().items():
        monkeypatch.setenv(key, value)
    assert EmailChannel.from_settings(load_settings()) is not None
    monkeypatch.setenv("DUNNING_EMAIL_PORT", "70000")
    with pytest.raises(ConfigError, match="DUNNING_EMAIL_PORT"):
        EmailChannel.from_settings(load_settings())


def test_starttls_and_login_protect_the_password(tmp_path: Path):
    # Given a relay that requires STARTTLS, then a login, with a certificate from a private CA
    cert, key = _self_signed(tmp_path)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    tls.load_cert_chain(cert, key)
    with FakeSmtp(tls=tls, logins={"dunning": "pa55"}) as smtp:
        # When the password is wrong, Then the relay refuses the session: permanent, the address blameless
        wrong = EmailChannel.from_settings(smtp.settings(**{**_tls(cert), "email_password": "nope"}))
        assert wrong is not None
        with pytest.raises(PermanentDeliveryError) as caught:
            wrong.send(outbound(EmailChannel, ACCEPTED, "I-w"))
        assert caught.value.invalidates is None
        # And with the right one the reminder goes, over TLS
        right = EmailChannel.from_settings(smtp.settings(**{**_tls(cert), "email_password": "pa55"}))
        assert right is not None
        right.send(outbound(EmailChannel, ACCEPTED, "I-tls"))
        assert smtp.count_for("I-tls") == 1


def test_starttls_required_but_not_offered_is_permanent(smtp):
    channel = EmailChannel.from_settings(smtp.settings(email_starttls="true"))
    assert channel is not None
    with pytest.raises(PermanentDeliveryError, match="STARTTLS"):
        channel.send(outbound(EmailChannel, ACCEPTED, "I-s"))


@pytest.mark.parametrize(
    ("action", "code", "outcome", "error"),
    [
        ("delivered", None, StatusOutcome.DELIVERED, None),
        ("delayed", "4.4.1", StatusOutcome.ACCEPTED, None),
        ("failed", "5.1.1", StatusOutcome.FAILED, ("PermanentDeliveryError", "channel")),
        ("failed", "5.7.1", StatusOutcome.FAILED, ("PermanentDeliveryError", None)),
        ("failed", "4.2.2", StatusOutcome.FAILED, ("TransientDeliveryError", None)),
        ("bounced", None, StatusOutcome.UNKNOWN, None),
    ],
)
def test_a_delivery_status_notification_means_what_rfc_3464_says(channel, action, code, outcome, error):
    assert EmailChannel.outcome_of(action) is outcome
    typed = channel.status_error(code, action)
    assert (None if typed is None else (type(typed).__name__, typed.invalidates)) == error


def _tls(cert: Path) -> dict[str, str]:
    return {"email_starttls": "true", "email_ca_file": str(cert), "email_user": "dunning"}


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1, signed by itself (the client trusts it through DUNNING_EMAIL_CA_FILE)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path
