"""The story desk in the browser: a read-only web server that follows the story topics.

`feed.py` reads the story events and duplicates topics into `live.py`, which folds the log as it arrives (the
fold `storywire stories` uses) in bounded memory; `view.py` turns what the desk holds into the JSON the API
serves and the pages render; `pages.py` renders them with the templates, `charts.py` lays out their inline SVG
charts and `formats.py` writes their times; `timeline.py` exports a story as TimelineJS JSON; `server.py`
serves it all with aiohttp.
"""
