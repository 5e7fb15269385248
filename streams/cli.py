"""The `storywire` command line."""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import signal
import sys
from pathlib import Path

import orjson

EPILOG = """\
The broker address comes from --broker or STORYWIRE_BROKER; without either,
the local broker that `storywire broker up` starts (127.0.0.1:19092).
Every setting has an environment variable: see streams/settings.py or README.md.
On a secured cluster: STORYWIRE_SECURITY_PROTOCOL, STORYWIRE_SASL_MECHANISM,
STORYWIRE_SASL_USERNAME, STORYWIRE_SASL_PASSWORD, STORYWIRE_SSL_CAFILE (README:
"Deploying on your cluster").
"""


BROKER_WAIT_S = 10  # how long a command waits for the broker to answer before it says it cannot reach it


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="storywire",
        description="Event-sourced news stream processor: clean, deduplicate and cluster articles into stories, "
        "and publish each story's changelog.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--broker", metavar="HOST:PORT", help="Kafka bootstrap servers (default: the local broker)")
    # Also after the name of a command that talks to a broker (`storywire stories --broker X`); left out there, it
    # keeps the value given before the name.
    after_name = argparse.ArgumentParser(add_help=False)
    after_name.add_argument("--broker", metavar="HOST:PORT", default=argparse.SUPPRESS, help="Kafka bootstrap servers")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, **kwargs) -> argparse.ArgumentParser:
        return commands.add_parser(name, parents=[after_name], **kwargs)

    broker = commands.add_parser("broker", help="start, stop or inspect the local Kafka (one node, or a small cluster)")
    broker.add_argument("action", choices=["up", "down", "status"], help="up: start it (fetching Kafka on first use)")
    broker.add_argument(
        "--nodes",
        type=int,
        default=1,
        metavar="N",
        help="up: a cluster of N KRaft nodes on 127.0.0.1, ports from STORYWIRE_LOCAL_PORT up, two per node (default 1)",
    )
    broker.add_argument("--json", action="store_true", help='status: {"nodes": [{"id", "address", "pid", "running"}]}')

    worker = command(
        "worker",
        help="run the long-lived worker (Ctrl-C or SIGTERM stops it cleanly)",
        description="Runs the stream agents: prepares every raw article (cleaning, facts, fingerprints; in "
        "STORYWIRE_PREPARE_PROCESSES child processes), then places it: duplicate, or an entry of a story, published "
        "on the story events topic. Its state is in tables under STORYWIRE_HOME, backed by changelog topics; "
        "workers on one group share the raw topic's partitions. Serves /metrics and /health "
        "(STORYWIRE_METRICS_PORT). Ctrl-C or SIGTERM stops it cleanly.",
    )
    worker.add_argument(
        "--loglevel", default="info", choices=["debug", "info", "warning", "error"], help="least severe log lines shown (default info)"
    )
    worker.add_argument(
        "--log-format",
        choices=["text", "json"],
        help="text (default), or one JSON object per line with the counters as fields (STORYWIRE_LOG_FORMAT)",
    )

    replay = command(
        "replay",
        help="publish files and directories: .txt, .jsonl, web pages, RSS/Atom feeds, WARC archives",
        description="Publishes every article in the PATHs to the raw topic. Formats, by content or name: .txt (one "
        "article), .jsonl or .ndjson (one per line), .json (an article or an array of them), web pages (.html, .htm, "
        ".xhtml), RSS/Atom feeds (.xml, .rss, .atom; one article per item), WARC archives (.warc, .warc.gz; one per "
        "HTML response); any of them gzipped (.jsonl.gz). Directories may mix them: their files of no known format "
        "and WARC records that are no pages are counted, hidden files are not read. What cannot be read is listed "
        "with the reason, and the exit code is then 1.",
    )
    replay.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="a file, or a directory (read with its subdirectories)")
    replay.add_argument("--rate", type=_positive_number, metavar="N", help="at most N articles per second (default: as fast as possible)")

    follow = command(
        "follow",
        help="poll RSS/Atom feeds over HTTP and publish their new items (long-lived)",
        description="Polls each feed URL every --interval seconds with conditional requests (ETag, Last-Modified) "
        "and publishes the items it has not published before, remembered across restarts under STORYWIRE_HOME. A "
        "feed that fails is polled less often (doubling, up to STORYWIRE_FOLLOW_MAX_BACKOFF; Retry-After honoured); "
        "no feed stops the others. Ctrl-C or SIGTERM stops it.",
    )
    follow.add_argument("urls", nargs="+", metavar="URL", help="http:// or https:// URL of an RSS or Atom feed")
    follow.add_argument(
        "--interval",
        type=_positive_number,
        metavar="S",
        help="seconds between two polls of a feed (default: STORYWIRE_FOLLOW_INTERVAL, 300)",
    )

    subscribe = command(
        "subscribe",
        help="print story events as they are appended",
        description="Follows the story events topic and prints each entry as it is appended: a story started, an "
        "article joined (what it added, corroborated or contradicted), two stories merged. Ctrl-C stops it.",
    )
    subscribe.add_argument("--story", metavar="ID", help="only this story's events")
    subscribe.add_argument("--from-beginning", action="store_true", help="start from the first event, not from now")
    subscribe.add_argument("--json", action="store_true", help="one JSON object per line")

    clean = commands.add_parser(
        "clean",
        help="show how the cleaner reads articles in files: what it keeps, what it removes and why (no broker)",
        description="Reads the files and directories as `replay` does and cleans each article as the worker would, "
        "without a broker: prints its title, what was kept (paragraphs, words, the outlet, dates and language "
        "found) and every block removed with the reason; an article that cannot be cleaned, with the dead "
        "letter's reason; an input that gives no article, as skipped, with the reason (exit code 1, as replay's). "
        "For auditing the cleaner on a feed or page before replaying it: the prepared topic carries none of this.",
    )
    clean.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or directories, as for replay")
    clean.add_argument(
        "--json", action="store_true",
        help='one JSON object per line: {"cleaned": …} (a clean article, with its text), {"dead_letter": …} or {"skipped": …}',
    )

    stories = command(
        "stories",
        help="print the current stories, duplicates and dead letters",
        description="Reads the topics from their beginning and prints every story with its changelog, then the "
        "duplicates and the dead letters (with their reasons). Needs no worker.",
    )
    stories.add_argument("--json", action="store_true", help="one JSON object")

    web = command(
        "web",
        help="serve the story desk in the browser: live stories, timelines, conflicts (read-only)",
        description="Follows the story events and duplicates topics from their beginning (like any consumer; no "
        "worker tables needed) and serves the stories page, a page per story, a JSON API and TimelineJS exports. "
        "Read-only; bound to 127.0.0.1 unless --host says otherwise. Ctrl-C or SIGTERM stops it.",
    )
    web.add_argument("--port", type=_port, default=8080, help="port to listen on (default 8080)")
    web.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")

    demo = command(
        "demo",
        help="run everything once: local broker, worker, replay, print the stories, shut down",
        description="Starts a local Kafka (unless --broker is given), runs a worker on fresh topics, replays PATHs "
        "(default: the bundled seed articles), waits until every article is processed, prints the stories "
        "with their changelogs, and shuts everything down.",
    )
    demo.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    demo.add_argument("--json", action="store_true", help="print the result as one JSON object")
    demo.add_argument("--timeout", type=_positive_number, default=180.0, metavar="S", help="seconds to wait for the worker (default 180)")
    demo.add_argument(
        "--web",
        action="store_true",
        help="then leave the story desk up on 127.0.0.1 (with the broker and worker) until Ctrl-C",
    )
    demo.add_argument("--port", type=_port, default=8080, help="port of the story desk with --web (default 8080)")

    bench = command(
        "bench",
        help="measure throughput, latency, ceilings and clustering cost on a synthetic stream",
        description="Runs the real worker on a real broker (the local one unless --broker is given) over a "
        "synthetic stream generated from --seed, after untimed runs that warm the broker up until its JIT compilers "
        "are quiet and one untimed rehearsal of the end-to-end run, and prints end-to-end throughput, publish-to-story-event "
        "latency at --rate articles/s, the I/O and compute ceilings, the global (place) stage's rate in a worker "
        "and in one process, each worker and the desk with --history articles behind them, preparing's rate, per-article "
        "clustering cost with 1k, 10k and 100k live stories, and memory per 1,000 live stories. Each figure is "
        "explained in the README, under Performance. Takes about four minutes on a quick two-core host with the "
        "defaults, most of it the four workers placing their histories: longer on a slower host or with a longer --history.",
    )
    bench.add_argument("--articles", type=_positive_count, default=3000, metavar="N", help="articles in the throughput stream (default 3000)")
    bench.add_argument("--seed", type=int, default=7, metavar="N", help="seed of the synthetic stream (default 7)")
    bench.add_argument("--rate", type=_positive_number, default=100.0, metavar="N", help="replay rate of the latency run (default 100/s)")
    bench.add_argument(
        "--history", type=_positive_count, default=20_000, metavar="N",
        help="articles each timed worker, and the desk of the in-process figures, have placed before the timing, so "
        "that they are a long-lived worker's (default 20000)",
    )
    bench.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    soak = commands.add_parser(
        "soak",
        help="measure a long-lived worker's memory, restart time and writes per article over a long stream",
        description="Runs the place stage's real per-article work (no broker needed), with its tables in RocksDB, over "
        "a synthetic stream of --articles articles spread over --days days of event time, with long-running stories "
        "of thousands of articles and near duplicates. Prints, at each quarter of the stream, resident memory and "
        "the time to rebuild the worker's state from its tables; and bytes written per appended article for small "
        "(<= 10 articles) and large (>= 1,000) stories, and the largest message or table value.",
    )
    soak.add_argument("--articles", type=_positive_count, default=200_000, metavar="N", help="articles in the stream (default 200000)")
    soak.add_argument("--days", type=_positive_number, default=60.0, metavar="D", help="days of event time they span (default 60)")
    soak.add_argument("--seed", type=int, default=7, metavar="N", help="seed of the synthetic stream (default 7)")
    soak.add_argument("--json", action="store_true", help="print the figures as one JSON object")

    evaluate = command(
        "evaluate",
        help="score the real pipeline's stories on labelled feeds (B-cubed and pairwise precision/recall/F1)",
        description="For each FEED GOLD pair: runs the real worker on fresh topics (on the local broker unless "
        "--broker is given), replays FEED, waits until every article is processed, maps each article to its story "
        "(a duplicate to the story of the article it copies, a dead letter to a cluster of its own) and compares "
        "that with GOLD, a file of 'article id<TAB>story id' lines. Only articles in GOLD are scored. Several pairs "
        "are scored one after the other, each on its own topics, and reported per data set (named after FEED).",
    )
    evaluate.add_argument(
        "pairs", type=Path, nargs="+", metavar="FEED GOLD", help="a feed in any format replay reads (a file or a directory) and its gold file"
    )
    evaluate.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    evaluate.add_argument("--timeout", type=_positive_number, default=900.0, metavar="S", help="seconds to wait for the worker (default 900)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from pydantic import ValidationError

    from streams.settings import Settings

    try:
        settings = Settings(broker=args.broker) if args.broker else Settings()
    except ValidationError as error:  # inputs are never shown: they may hold a password
        problems = [
            (f"STORYWIRE_{'_'.join(map(str, e['loc'])).upper()}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
            for e in error.errors(include_input=False, include_url=False)
        ]
        print(f"storywire: invalid settings: {'; '.join(problems)}", file=sys.stderr)
        return 2
    handler = {
        "broker": _broker,
        "worker": _worker,
        "replay": _replay,
        "subscribe": _subscribe,
        "stories": _stories,
        "demo": _demo,
        "web": _web,
        "bench": _bench,
        "evaluate": _evaluate,
        "soak": _soak,
        "follow": _follow,
        "clean": _clean,
    }[args.command]
    try:
        return handler(args, settings) or 0
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # noqa: BLE001 - the CLI's last line: a message, not a traceback
        from streams.kafka.admin import TopicsRefused
        from streams.kafka.connection import ConnectionSettingsError
        from streams.sources import InputError
        from streams.tools.broker import BrokerError, BrokerUnavailable
        from streams.tools.harness import RunFailed

        known = (BrokerError, BrokerUnavailable, RunFailed, InputError, ConnectionSettingsError, TopicsRefused)
        if isinstance(error, known):
            print(f"storywire: {error}", file=sys.stderr)
            return 2
        raise


def _progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _argument(kind: type, wanted: str, valid):
    """An argparse type: `kind` of the text, refused unless `valid`, with one message saying what is wanted."""

    def parse(value: str):
        try:
            parsed = kind(value)
        except ValueError:
            parsed = None
        if parsed is None or not valid(parsed):
            raise argparse.ArgumentTypeError(f"{value}: must be {wanted}")
        return parsed

    parse.__name__ = wanted  # what argparse names in its own messages
    return parse


_positive_number = _argument(float, "a finite number above 0", lambda number: 0 < number < math.inf)  # not nan
_positive_count = _argument(int, "a whole number above 0", lambda count: count >= 1)
_port = _argument(int, "a port, from 1 to 65535", lambda port: 1 <= port <= 65535)


def _require_broker(settings) -> None:
    """Wait up to BROKER_WAIT_S for the broker; the local one, not there, is one command away: say which."""
    from streams.kafka.connection import security_options
    from streams.tools.broker import BrokerRefused, BrokerUnavailable, wait_for_broker

    try:
        asyncio.run(wait_for_broker(settings.bootstrap, BROKER_WAIT_S, security_options(settings)))
    except BrokerRefused:
        raise
    except BrokerUnavailable as error:
        hint = "start it with `storywire broker up`" if settings.broker is None else "check --broker or STORYWIRE_BROKER"
        raise BrokerUnavailable(error.bootstrap, f"{error.reason} (waited {BROKER_WAIT_S:g}s; {hint})") from None


def _broker(args, settings) -> int:
    from streams.tools.broker import BrokerError, local_kafka
    from streams.tools.cluster import local_cluster, made_cluster

    kafka, cluster = local_kafka(settings), made_cluster(settings)
    if args.action == "up":
        if args.nodes < 1:
            raise BrokerError(f"--nodes {args.nodes}: a cluster needs at least one node")
        print((local_cluster(settings, args.nodes) if args.nodes > 1 else kafka).up(progress=_progress))
    elif args.action == "down":
        stopped = [kafka.down(), cluster is not None and cluster.down()]
        print("stopped" if any(stopped) else "no local broker was running")
    else:
        # The single node if it runs or no cluster was made, else the local cluster's nodes.
        nodes = [kafka] if cluster is None or kafka.node_status()["running"] else cluster.nodes
        if args.json:
            status = {"nodes": [node.node_status() for node in nodes]}
        else:
            status = kafka.status() if nodes == [kafka] else {"nodes": [n.node_status() | n.status() for n in nodes]}
        print(orjson.dumps(status, default=str, option=orjson.OPT_INDENT_2).decode())
        return 0 if all(node.node_status()["running"] for node in nodes) else 1
    return 0


def _worker(args, settings) -> int:
    _require_broker(settings)
    from streams.worker.run import run_worker

    run_worker(settings, args.loglevel, args.log_format or settings.log_format)
    return 0


def _replay(args, settings) -> int:
    from streams.kafka.replay import replay
    from streams.kafka.topics import ARTICLES
    from streams.sources import input_files

    input_files(args.paths)  # a missing path is reported before any connection is tried
    _require_broker(settings)
    summary = asyncio.run(replay(args.paths, settings, args.rate, _progress))
    if summary.passed_over:
        kinds = ", ".join(f"{kind}: {count:,}" for kind, count in summary.passed_over.most_common())
        _progress(f"passed over {summary.passed_over.total():,} inputs that hold no article ({kinds})")
    _progress(
        f"replayed {summary.sent:,} articles to {settings.topic(ARTICLES)} in {summary.seconds:.1f}s"
        + (f"; skipped {len(summary.skipped)} (listed above)" if summary.skipped else "")
    )
    return 1 if summary.skipped else 0


def _clean(args, settings) -> int:
    from streams.sources import Skipped
    from streams.tools.cleaning import as_json, cleaned_inputs, describe

    skipped = 0
    for outcome in cleaned_inputs(args.paths, settings.max_article_bytes):
        skipped += isinstance(outcome, Skipped)
        if args.json:
            sys.stdout.buffer.write(as_json(outcome) + b"\n")
        else:
            print(describe(outcome), end="\n\n")
    return 1 if skipped else 0  # as replay's: an input that gave no article


def _follow(args, settings) -> int:
    from streams.sources.follow import feed_urls, follow

    urls = feed_urls(args.urls)  # a bad URL is reported before any connection is tried
    _require_broker(settings)

    async def run() -> None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        await follow(urls, settings, args.interval, _progress, stop)

    asyncio.run(run())
    return 0


def _subscribe(args, settings) -> int:
    from streams.kafka.read import subscribe
    from streams.kafka.topics import STORY_EVENTS

    _require_broker(settings)

    def following() -> None:  # a user waiting to see events knows which appended ones will show
        where = "from its first event" if args.from_beginning else "from now on"
        _progress(f"following {settings.topic(STORY_EVENTS)} {where} (Ctrl-C stops)")

    async def run() -> None:
        async for event in subscribe(settings, args.story, args.from_beginning, on_ready=following):
            if args.json:
                print(event.model_dump_json(exclude={"facts"}), flush=True)
            else:
                print(_describe_event(event), flush=True)

    asyncio.run(run())
    return 0


def _stories(args, settings) -> int:
    from streams.kafka.read import current_state

    _require_broker(settings)
    state = asyncio.run(current_state(settings))
    _print_state(state, args.json)
    return 0


def _demo(args, settings) -> int:
    from streams.sources import input_files
    from streams.tools.demo import run_demo

    if args.paths:
        input_files(args.paths)  # a missing path is reported before a broker or worker is started
    if not args.web:
        state = asyncio.run(run_demo(settings, args.paths, _progress, args.timeout))
        _print_state(state, args.json)
        return 0

    from streams.web.server import CannotListen, serve

    async def then_serve(state: dict, demo_settings) -> None:
        _print_state(state, args.json)
        _progress(
            f"add articles: STORYWIRE_TOPIC_PREFIX={demo_settings.topic_prefix} "
            f"storywire --broker {demo_settings.bootstrap} replay PATH"
        )
        await serve(demo_settings, "127.0.0.1", args.port, _progress)

    try:
        asyncio.run(run_demo(settings, args.paths, _progress, args.timeout, then_serve))
    except CannotListen as error:
        print(f"storywire: {error}", file=sys.stderr)
        return 2
    return 0


def _web(args, settings) -> int:
    from streams.web.server import CannotListen, serve

    _require_broker(settings)
    try:
        asyncio.run(serve(settings, args.host, args.port, _progress))
    except CannotListen as error:
        print(f"storywire: {error}", file=sys.stderr)
        return 2
    return 0


def _bench(args, settings) -> int:
    from streams.tools.bench import format_bench, run_bench

    figures = asyncio.run(run_bench(settings, args.articles, args.seed, args.rate, args.history, _progress))
    print(orjson.dumps(figures).decode() if args.json else format_bench(figures))
    return 0


def _soak(args, settings) -> int:
    from streams.tools.soak import format_soak, run_soak

    figures = run_soak(settings, args.articles, args.days, args.seed, _progress)
    print(orjson.dumps(figures).decode() if args.json else format_soak(figures))
    return 0


def _evaluate(args, settings) -> int:
    from streams.sources import input_files
    from streams.tools.evaluate import evaluate, format_report, read_gold

    if len(args.pairs) % 2:
        print("storywire: evaluate takes FEED GOLD pairs: a gold file for each feed", file=sys.stderr)
        return 2
    pairs = list(zip(args.pairs[::2], args.pairs[1::2]))
    golds = []
    for feed, gold_path in pairs:  # every path is checked before any connection is tried
        input_files([feed])
        try:
            golds.append(read_gold(gold_path))
        except (OSError, ValueError) as error:
            print(f"storywire: gold file {gold_path}: {error}", file=sys.stderr)
            return 2
    names = [feed.stem for feed, _ in pairs]
    if len(set(names)) < len(names):  # dev.jsonl in two folders: name each data set by its path
        names = [str(feed) for feed, _ in pairs]
    datasets = {}
    for name, (feed, _), gold in zip(names, pairs, golds):
        _progress(f"evaluating {feed}")
        datasets[name] = asyncio.run(evaluate(feed, gold, settings, _progress, args.timeout))
    if args.json:
        print(orjson.dumps({"datasets": datasets}).decode())
    else:
        print("\n\n".join(f"== {name}\n{format_report(figures)}" for name, figures in datasets.items()))
    return 0


def _print_state(state: dict, as_json: bool) -> None:
    if as_json:
        sys.stdout.write(orjson.dumps(state, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    for story in state["stories"]:
        print(f"\n== {story['label']}  ({story['story_id']})")
        print(f"   {len(story['article_ids'])} articles from {', '.join(story['outlets'])}")
        for entry in story["changelog"]:
            where = f"{entry['article_id']} [{entry['outlet'] or 'outlet unknown'}]" if "article_id" in entry else "merge"
            print(f"   v{entry['version']} {where} {_changes(entry)}")
        for conflict in story["conflicts"]:
            sides = "; ".join(f"{s['value']} ({', '.join(s['outlets'])})" for s in conflict["sides"])
            print(f"   conflict on {conflict['about']}: {sides}")
    if state["duplicates"]:
        print("\nduplicates:")
        for dup in state["duplicates"]:
            print(f"   {dup['article_id']} = {dup['duplicate_of']} ({dup['kind']}, similarity {dup['similarity']:.2f})")
    if state["dead_letters"]:
        print("\ndead letters:")
        for letter in state["dead_letters"]:
            print(f"   {letter['article_id'] or '(no id)'}: {letter['reason']}")


def _changes(entry: dict) -> str:
    """One line naming what a changelog entry added, corroborated or contradicted."""
    from schemas import NumericClaim
    from streams.story.state import claim_text
    from streams.web.view import clip

    if entry["kind"] == "merged":
        return f"absorbed {entry['absorbed_story_id']} (its v1-v{entry['absorbed_version']}): {entry['articles']} articles now"
    parts = ["started the story" if entry["kind"] == "started" else f"joined (score {entry['score']:.2f})"]
    if entry["new_outlet"]:
        parts.append("new outlet")
    if entry["new_entities"]:
        parts.append("new names: " + _some(entry["new_entities"]))
    if entry["new_quotes"]:
        parts.append(f"{len(entry['new_quotes'])} new quotes (" + _some([q["speaker"] or "unattributed" for q in entry["new_quotes"]]) + ")")
    if entry["new_claims"]:
        parts.append("new figures: " + _some([claim_text(NumericClaim(**c)) for c in entry["new_claims"]]))
    if entry["corroborations"]:
        parts.append("corroborates: " + _some([f"{clip(c['text'], 48)} ({c['outlets']} outlets)" for c in entry["corroborations"]]))
    if entry["conflicts"]:
        parts.append("conflict: " + ", ".join(c["about"] for c in entry["conflicts"]))
    return "; ".join(parts)


def _some(items: list[str], shown: int = 4) -> str:
    unique = list(dict.fromkeys(items))
    more = f" +{len(unique) - shown} more" if len(unique) > shown else ""
    return ", ".join(unique[:shown]) + more


def _describe_event(event) -> str:
    return f"{event.story_id} v{event.version} {event.label}: {_changes(event.model_dump(mode='json'))}"


if __name__ == "__main__":
    sys.exit(main())
