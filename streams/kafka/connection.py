"""How every Kafka client of storywire connects: bootstrap servers and security, from Settings, in one place.

The worker (through faust), replay, subscribe, stories, demo, bench, evaluate, topic creation and the
broker probe all take their options from here, so a cluster that wants SASL or TLS gets it from each.
"""

from __future__ import annotations

import ssl

from aiokafka.helpers import create_ssl_context

from streams.kafka.compression import keep_zstd_contexts
from streams.settings import Settings

# The settings a child process (a worker the tools start) needs to connect as its parent does.
CONNECTION_SETTINGS = (
    "broker",
    "security_protocol",
    "sasl_mechanism",
    "sasl_username",
    "sasl_password",
    "ssl_cafile",
    "ssl_certfile",
    "ssl_keyfile",
    "ssl_key_password",
    "ssl_check_hostname",
)


class ConnectionSettingsError(ValueError):
    """The TLS files the settings name cannot be used; the message says which setting, never a secret."""


def security_options(settings: Settings) -> dict:
    """aiokafka keyword arguments for the security protocol, SASL and TLS (everything but the servers)."""
    protocol = settings.security_protocol
    options: dict = {"security_protocol": protocol}
    if protocol.startswith("SASL_"):
        options["sasl_mechanism"] = settings.sasl_mechanism
        options["sasl_plain_username"] = settings.sasl_username
        options["sasl_plain_password"] = settings.sasl_password.get_secret_value() if settings.sasl_password else None
    if protocol in ("SSL", "SASL_SSL"):
        options["ssl_context"] = ssl_context(settings)
    return options


def client_options(settings: Settings) -> dict:
    """aiokafka keyword arguments for a producer, consumer or admin client of this deployment (whose zstd batches
    it compresses and reads with kept contexts: streams/kafka/compression.py)."""
    keep_zstd_contexts()
    return {"bootstrap_servers": settings.bootstrap, **security_options(settings)}


def ssl_context(settings: Settings) -> ssl.SSLContext:
    """The TLS context: the CA file (else the system's CAs), the client certificate if any, the hostname check."""
    password = settings.ssl_key_password.get_secret_value() if settings.ssl_key_password else None
    try:
        context = create_ssl_context(
            cafile=settings.ssl_cafile, certfile=settings.ssl_certfile, keyfile=settings.ssl_keyfile, password=password
        )
    except (ssl.SSLError, OSError) as error:
        raise ConnectionSettingsError(
            "cannot use the TLS files of STORYWIRE_SSL_CAFILE, STORYWIRE_SSL_CERTFILE and STORYWIRE_SSL_KEYFILE "
            f"(a certificate, key or key password that does not fit?): {error}"
        ) from None
    context.check_hostname = settings.ssl_check_hostname
    return context


def connection_env(settings: Settings) -> dict[str, str]:
    """The STORYWIRE_* variables that make a child process connect as these settings do (set ones only)."""
    env = {}
    for name in CONNECTION_SETTINGS:
        value = getattr(settings, name)
        if value is None:
            continue
        if hasattr(value, "get_secret_value"):
            value = value.get_secret_value()
        env[f"STORYWIRE_{name.upper()}"] = str(value)
    return env
