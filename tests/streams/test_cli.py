"""The command line's own behaviour, without a broker."""

import os
import subprocess
import sys


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, timeout=60, env=os.environ)


def test_help_names_every_command():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("broker", "worker", "replay", "subscribe", "stories", "demo", "web"):
        assert command in result.stdout


def test_an_unreachable_broker_is_a_message_and_exit_code_2_not_a_traceback():
    result = _cli("--broker", "127.0.0.1:9", "stories")
    assert result.returncode == 2
    assert "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr
    assert "(waited 10s; check --broker or STORYWIRE_BROKER)" in result.stderr


def test_the_local_broker_not_running_says_how_to_start_it():
    env = {k: v for k, v in os.environ.items() if k != "STORYWIRE_BROKER"}
    result = subprocess.run(
        [sys.executable, "-m", "streams.cli", "stories"], capture_output=True, text=True, timeout=60, env={**env, "STORYWIRE_LOCAL_PORT": "9"}
    )
    assert result.returncode == 2 and "cannot reach Kafka at 127.0.0.1:9" in result.stderr
    assert "start it with `storywire broker up`" in result.stderr


def test_a_broker_address_that_is_not_host_port_is_an_invalid_setting():
    result = _cli("--broker", "kafka.example:abc", "stories")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "STORYWIRE_BROKER: 'kafka.example:abc' is not HOST:PORT" in result.stderr


def test_replaying_a_missing_path_names_it():
    result = _cli("--broker", "127.0.0.1:9", "replay", "no/such/feed.jsonl")
    assert result.returncode == 2
    assert "no/such/feed.jsonl" in result.stderr and "Traceback" not in result.stderr


def test_follow_takes_only_http_feed_urls_and_says_which_is_not():
    result = _cli("--broker", "127.0.0.1:9", "follow", "https://courier.example/rss", "feeds/local.xml")
    assert result.returncode == 2
    assert "feeds/local.xml: not an http:// or https:// feed URL" in result.stderr and "Traceback" not in result.stderr
    assert "follow" in _cli("--help").stdout


def _cli_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, timeout=60, env={**os.environ, **env})


SECRET = {"STORYWIRE_SASL_PASSWORD": "pw-9f3k-never-shown"}


def test_settings_that_cannot_work_are_one_message_that_never_shows_the_password():
    result = _cli_with({**SECRET, "STORYWIRE_SECURITY_PROTOCOL": "SASL_SSL"}, "stories")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("storywire: invalid settings:") and "STORYWIRE_SASL_USERNAME" in result.stderr
    assert SECRET["STORYWIRE_SASL_PASSWORD"] not in result.stdout + result.stderr


def test_a_table_store_the_worker_cannot_write_is_refused_by_name():
    """The place stage writes RocksDB (rocksdict) as one batch and memory:// as objects; no third store is written."""
    result = _cli_with({"STORYWIRE_STORE": "aerospike://"}, "stories")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("storywire: invalid settings:") and "STORYWIRE_STORE" in result.stderr


def test_help_shows_the_security_settings_by_name_never_a_value():
    for args in (["--help"], ["worker", "--help"], ["broker", "--help"]):
        result = _cli_with({**SECRET, "STORYWIRE_SASL_USERNAME": "app"}, *args)
        assert result.returncode == 0 and SECRET["STORYWIRE_SASL_PASSWORD"] not in result.stdout + result.stderr
    assert "STORYWIRE_SASL_PASSWORD" in _cli_with({}, "--help").stdout
    assert "--nodes" in _cli_with({}, "broker", "--help").stdout


def test_the_broker_may_also_follow_the_command_name():
    from streams.cli import _parser

    parse = _parser().parse_args
    assert parse(["--broker", "a:1", "stories"]).broker == "a:1"
    assert parse(["stories", "--broker", "b:2"]).broker == "b:2"
    assert parse(["--broker", "a:1", "stories", "--broker", "b:2"]).broker == "b:2"
    assert parse(["stories"]).broker is None
    result = _cli("stories", "--broker", "127.0.0.1:9")
    assert result.returncode == 2
    assert "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_numbers_out_of_range_are_refused_with_the_argument_named():
    for args, named in (
        (["bench", "--articles", "0"], "--articles: 0: must be a whole number above 0"),
        (["bench", "--rate", "-5"], "--rate: -5: must be a finite number above 0"),
        (["replay", "feed.jsonl", "--rate", "0"], "--rate: 0: must be a finite number above 0"),
        (["soak", "--days", "0"], "--days: 0: must be a finite number above 0"),
        (["soak", "--days", "inf"], "--days: inf: must be a finite number above 0"),
        (["soak", "--articles", "many"], "--articles: many: must be a whole number above 0"),
        (["web", "--port", "70000"], "--port: 70000: must be a port, from 1 to 65535"),
        (["demo", "--timeout", "nan"], "--timeout: nan: must be a finite number above 0"),
    ):
        result = _cli(*args)
        assert result.returncode == 2, args
        assert named in result.stderr and "Traceback" not in result.stderr, (args, result.stderr)


def test_demo_names_a_missing_path_before_it_starts_a_broker(tmp_path):
    result = _cli_with({"STORYWIRE_HOME": str(tmp_path)}, "demo", "no/such/feed.jsonl")
    assert result.returncode == 2
    assert "no/such/feed.jsonl" in result.stderr and "Traceback" not in result.stderr
    assert "starting a local Kafka broker" not in result.stderr and list(tmp_path.iterdir()) == []
