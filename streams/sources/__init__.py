"""Readers of what newsrooms have: text files, JSONL feeds, web pages, RSS/Atom feeds and web archives (WARC).

Each reader turns its input into raw-article dicts (the RawArticle fields, plus extras such as a feed item's
`guid` or a WARC record's `crawled_at`) that carry the input's own metadata: a page's title, date, site name,
author and canonical URL, a feed item's link, GUID, date and author. The cleaner lets those fields win over
what it would guess from the text. What cannot be read is yielded as `Skipped` (where and why), and what is
no article by nature (a WARC request record, an image) as `PassedOver`, so a caller reports both and goes on.

`files` reads paths for `storywire replay` (which publishes them: streams/kafka/replay.py); `follow` polls feeds
over HTTP for `storywire follow` and publishes their new items with the replay's sender.
"""

from streams.sources.files import InputError, input_files, read_inputs
from streams.sources.reading import PassedOver, Skipped

__all__ = ["InputError", "PassedOver", "Skipped", "input_files", "read_inputs"]
