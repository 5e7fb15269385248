"""The command line's own behaviour, without a broker."""

import os
import subprocess
import sys


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, timeout=60, env=os.environ)


def test_help_names_every_command():
    result = _cli("--help")
    assert result.returncode == 0
    for command in ("broker", "worker", "replay", "subscribe", "stories", "demo"):
        assert command in result.stdout


def test_an_unreachable_broker_is_a_message_and_exit_code_2_not_a_traceback():
    result = _cli("--broker", "127.0.0.1:9", "stories")
    assert result.returncode == 2
    assert "127.0.0.1:9" in result.stderr and "Traceback" not in result.stderr


def test_replaying_a_missing_path_names_it():
    result = _cli("--broker", "127.0.0.1:9", "replay", "no/such/feed.jsonl")
    assert result.returncode == 2
    assert "no/such/feed.jsonl" in result.stderr and "Traceback" not in result.stderr


def test_follow_takes_only_http_feed_urls_and_says_which_is_not():
    result = _cli("--broker", "127.0.0.1:9", "follow", "https://courier.example/rss", "feeds/local.xml")
    assert result.returncode == 2
    assert "feeds/local.xml: not an http:// or https:// feed URL" in result.stderr and "Traceback" not in result.stderr
    assert "follow" in _cli("--help").stdout
