"""Every client's connection options come from the settings, secrets included, and secrets are never shown."""

from __future__ import annotations

import ssl

import pytest
from pydantic import ValidationError

from streams.kafka.connection import (
    ConnectionSettingsError,
    client_options,
    connection_env,
    security_options,
)
from streams.settings import Settings

PASSWORD = "s3cret-never-shown"


def test_plain_text_needs_nothing_but_the_servers():
    assert client_options(Settings(broker="k1:9092,k2:9092")) == {"bootstrap_servers": "k1:9092,k2:9092", "security_protocol": "PLAINTEXT"}


def test_sasl_over_tls_carries_the_mechanism_the_credentials_and_a_verifying_context(certificates):
    settings = Settings(
        broker="k1:9093", security_protocol="sasl_ssl", sasl_mechanism="scram-sha-512", sasl_username="app",
        sasl_password=PASSWORD, ssl_cafile=certificates["ca"],
    )  # fmt: skip
    options = client_options(settings)
    assert options["security_protocol"] == "SASL_SSL" and options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("app", PASSWORD)
    context = options["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert [c["subject"] for c in context.get_ca_certs()] == [((("commonName", "storywire test CA"),),)]
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings)


def test_the_hostname_check_can_be_turned_off_for_brokers_reached_by_address(certificates):
    settings = Settings(security_protocol="SSL", ssl_cafile=certificates["ca"], ssl_check_hostname=False)
    options = security_options(settings)
    assert "sasl_mechanism" not in options and options["ssl_context"].check_hostname is False


def test_sasl_without_credentials_is_refused_without_showing_what_was_given():
    with pytest.raises(ValidationError) as refused:
        Settings(security_protocol="SASL_PLAINTEXT", sasl_password=PASSWORD)
    assert "STORYWIRE_SASL_USERNAME" in str(refused.value) and PASSWORD not in str(refused.value)


def test_more_in_sync_replicas_than_replicas_is_refused():
    with pytest.raises(ValidationError, match="min_insync_replicas"):
        Settings(replication_factor=1, min_insync_replicas=2)


def test_a_file_that_is_no_certificate_is_a_clear_error(tmp_path):
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    with pytest.raises(ConnectionSettingsError, match="STORYWIRE_SSL_CAFILE"):
        security_options(Settings(security_protocol="SSL", ssl_cafile=bogus))


def test_a_child_process_gets_the_same_connection(certificates, monkeypatch):
    settings = Settings(
        broker="k1:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-256", sasl_username="app",
        sasl_password=PASSWORD, ssl_cafile=certificates["ca"], ssl_check_hostname=False,
    )  # fmt: skip
    for name, value in connection_env(settings).items():
        monkeypatch.setenv(name, value)
    child = Settings()
    assert security_options(child).keys() == security_options(settings).keys()
    assert {k: v for k, v in security_options(child).items() if k != "ssl_context"} == {
        k: v for k, v in security_options(settings).items() if k != "ssl_context"
    }
    assert (child.bootstrap, child.ssl_cafile, child.ssl_check_hostname) == (settings.bootstrap, settings.ssl_cafile, False)
