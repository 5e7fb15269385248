"""The one list of storywire's topics: names, partitions and configs. Every client takes names from here.

Each name is prefixed with the deployment's topic prefix (`Settings.topic`), so
several deployments, or test runs, share a cluster without seeing each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from streams.settings import Settings

# Raw articles as published (schemas.RawArticle), keyed by article id; STORYWIRE_PARTITIONS partitions.
ARTICLES = "articles"
# Cleaned articles' metadata (not their text) with facts, clustering terms and fingerprints (schemas.PreparedArticle),
# keyed by article id. One partition: placing an article in a story needs a view across all stories.
PREPARED = "prepared"
# What the place stage decided, for the story stage (schemas.placing), keyed by story id; STORYWIRE_PARTITIONS
# partitions: folding an article into its story needs that story alone. The story stage's handovers go here too.
STORY_PLACEMENTS = "story-placements"
# Payloads that could not be used (schemas.DeadLetter), keyed by article id when known.
DEAD_LETTERS = "dead-letters"
# Duplicate verdicts (schemas.DuplicateVerdict), keyed by article id.
DUPLICATES = "duplicates"
# Each changelog entry as it is appended (schemas.StoryEvent), keyed by story id.
STORY_EVENTS = "story-events"
# Each story's bounded state (schemas.StorySnapshot), keyed by story id, compacted (see `snapshots_due`).
STORY_SNAPSHOTS = "story-snapshots"

# Where every article ends up: one message on one of these per article.
OUTCOMES = (STORY_EVENTS, DUPLICATES, DEAD_LETTERS)


@dataclass(frozen=True)
class TopicSpec:
    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def replication_config(settings: Settings) -> dict[str, str]:
    """What every topic storywire creates gets, the worker's table changelogs included (their replication
    factor is the settings' too: `ensure_topics`, and faust's `topic_replication_factor`)."""
    return {"min.insync.replicas": str(settings.min_insync_replicas)}


def changelog_spec(settings: Settings, table: str, partitions: int = 1) -> TopicSpec:
    """A worker table's changelog topic, as faust names and configures it (compacted; one partition, or its
    source topic's), so the worker can create it before faust starts: a topic faust creates itself on a
    multi-broker cluster was once used before its partitions were known, which failed the table's writes."""
    return TopicSpec(f"{settings.topic_prefix}-{table}-changelog", partitions, {"cleanup.policy": "compact", **replication_config(settings)})


def story_rows_changelog_spec(settings: Settings, table: str) -> TopicSpec:
    """The story stage's table's changelog: partitioned as the story placements topic, and taking its message
    limit, since a message a story holds is a row of its own, as large as its placement (streams/story/shelf.py)."""
    spec = changelog_spec(settings, table, settings.partitions)
    return TopicSpec(spec.name, spec.partitions, {**spec.config, "max.message.bytes": str(settings.max_prepared_bytes)})


def topic_specs(settings: Settings) -> dict[str, TopicSpec]:
    """Every topic the worker reads or writes, by unprefixed name, as it should be created."""

    def spec(name: str, partitions: int = 1, **config: str) -> TopicSpec:
        return TopicSpec(settings.topic(name), partitions, {**replication_config(settings), **config})

    return {
        # A message limit above the article limit, so an oversized article gets through to be dead-lettered
        # with a reason (the broker default of 1 MB would refuse it at the producer).
        ARTICLES: spec(ARTICLES, settings.partitions, **{"max.message.bytes": str(settings.max_message_bytes)}),
        PREPARED: spec(PREPARED, **{"max.message.bytes": str(settings.max_prepared_bytes)}),
        # A placement is smaller than the prepared article it places (the terms and the 684-character signature
        # make way for a header of about 130 bytes), and a handover carries a story's bounded state: the prepared
        # topic's limit fits both, and a cluster that caps message sizes needs no setting of its own for them.
        STORY_PLACEMENTS: spec(STORY_PLACEMENTS, settings.partitions, **{"max.message.bytes": str(settings.max_prepared_bytes)}),
        DEAD_LETTERS: spec(DEAD_LETTERS),
        # The log and the verdicts are kept for good: no table holds a story's history, so a fold of the topic
        # (`storywire stories`, `web`, a subscriber from the beginning) needs every entry since the first.
        DUPLICATES: spec(DUPLICATES, **{"retention.ms": "-1"}),
        STORY_EVENTS: spec(STORY_EVENTS, **{"retention.ms": "-1"}),
        STORY_SNAPSHOTS: spec(STORY_SNAPSHOTS, **{"cleanup.policy": "compact"}),
    }
