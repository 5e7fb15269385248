"""Repairing a scraped text before anything reads it, and refusing what cannot be repaired.

Caps the text's length, rejects binary data and symbol soup (`UnusableArticle`), fixes mojibake with
ftfy, removes control characters and normalises line endings and spaces.
"""

from __future__ import annotations

import re
import string
import unicodedata
from itertools import groupby

import ftfy

from schemas.articles import RemovedBlock
from streams.pipeline.english import NON_ASCII, chars_between, count_chars, letter_words

# Share of control / undecodable characters above which a text is binary data.
_BINARY_SHARE = 0.10


class UnusableArticle(ValueError):
    """Nothing in the article can be kept; `reason` tells a person what to look at."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# ASCII control characters but tab, newline, form feed and return (which repair makes line breaks): what a text
# of binary data is full of.
_ASCII_CONTROL_CHARS = chars_between("\x00", "\x08") + "\x0b" + chars_between("\x0e", "\x1f") + "\x7f"
# Those, the C1 controls and invisible characters (zero-width spaces and joiners, byte order marks), removed;
# spaces other than " ", made " ". Each is found by `count_chars` first: most texts have none, and it tells that in a
# fraction of the time of the regex that removes or replaces them.
_CONTROL_CHARS = _ASCII_CONTROL_CHARS + chars_between("\x80", "\x9f")
_CONTROL_CHARS += chars_between("\u200b", "\u200d") + "\u2060\ufeff"
_UNUSUAL_SPACES = "\t\u00a0\u1680" + chars_between("\u2000", "\u200a") + "\u202f\u205f\u3000"
_CONTROL = re.compile(f"[{re.escape(_CONTROL_CHARS)}]")
_SPACES = re.compile(f"[ {re.escape(_UNUSUAL_SPACES)}]+")
_SPACES_AROUND_NEWLINE = re.compile(r" *\n *")
_EXTRA_BLANK_LINES = re.compile(r"\n{3,}")


def cap_text(text: str, max_chars: int) -> tuple[str, list[RemovedBlock]]:
    """The first `max_chars` characters (cut at a paragraph end when one is near), so work stays bounded."""
    if len(text) <= max_chars:
        return text, []
    cut = text.rfind("\n\n", max_chars // 2, max_chars)
    cut = cut if cut > 0 else max_chars
    tail = text[cut:]
    block = RemovedBlock(
        text=tail[:200].strip() + " …",
        reason=f"beyond the first {max_chars:,} characters: not read ({len(tail):,} chars)",
    )
    return text[:cut], [block]


def check_not_binary(text: str) -> None:
    """Raise for binary data: control and undecodable characters are rare in any real text."""
    sample = text[:20_000]
    if not sample:
        return
    # ASCII control characters counted in one scan; the per-character category check only for the (few) non-ASCII ones.
    non_ascii = () if sample.isascii() else NON_ASCII.findall(sample)
    bad = count_chars(sample, _ASCII_CONTROL_CHARS) + sum(1 for ch in non_ascii if ch == "\ufffd" or _is_binary_char(ch))
    if bad / len(sample) > _BINARY_SHARE:
        raise UnusableArticle(
            f"text looks like binary data: {bad / len(sample):.0%} of its first {len(sample):,} characters "
            "are control or undecodable characters (check the feed's encoding and content type)"
        )


_LETTER = re.compile(r"[^\W\d_]")
_SPACE = re.compile(r"\s")
_ASCII_LETTERS = string.ascii_letters.encode()
# A text with fewer letters than this share of its visible characters is symbol soup.
_MIN_LETTER_SHARE = 0.4


def _is_binary_char(ch: str) -> bool:
    return ch not in "\n\r\t\f" and unicodedata.category(ch) in ("Cc", "Co", "Cs", "Cn")


def check_readable(text: str, title: str | None) -> None:
    """Raise when the text has no words and there is no title with a word: symbol soup is not an article (and
    every such article would have the same fingerprint, of no words: each a copy of the first)."""
    if title and letter_words(title, 1):
        return
    sample = text[:20_000]
    if _plainly_readable(sample):
        return
    visible = len(sample) - len(_SPACE.findall(sample))
    letters = len(_LETTER.findall(sample))
    if visible == 0:
        raise UnusableArticle("empty article: the text is only whitespace or markup, and no title has a word")
    if letters / visible < _MIN_LETTER_SHARE:
        raise UnusableArticle(
            f"text has no readable words ({letters / visible:.0%} letters): binary or encoded data, not an article"
        )
    if not _has_two_words(sample):
        raise UnusableArticle("text has fewer than two words, and no title has a word")


def _plainly_readable(sample: str) -> bool:
    """ASCII letters alone make up the share of letters `check_readable` asks for, and there are words:
    a cheap test that passes nearly every article (counting all letters by regex is slow)."""
    data = sample.encode("utf-8", "replace")
    ascii_letters = len(data) - len(data.translate(None, _ASCII_LETTERS))
    return ascii_letters >= _MIN_LETTER_SHARE * len(sample) and _has_two_words(sample)


def _has_two_words(text: str) -> bool:
    """At least two words (stops looking after the second)."""
    return len(letter_words(text, 2)) == 2


def repair_text(text: str) -> str:
    """Mojibake repaired, control characters removed, line endings and spaces normalised.

    Plain ASCII without entities has nothing for ftfy to fix (it is slow on many short lines).
    """
    if not text.isascii() or "&" in text:
        text = _fix_mojibake(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u2028", "\n").replace("\u2029", "\n\n")
    text = text.replace("\f", "\n\n").replace("\u0085", "\n")
    # Each substitution only where it changes something: most texts have no control characters and are single-spaced.
    if count_chars(text, _CONTROL_CHARS, 1):
        text = _CONTROL.sub("", text)
    if "  " in text or count_chars(text, _UNUSUAL_SPACES, 1):
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _SPACES_AROUND_NEWLINE.sub("\n", text)
    if "\n\n\n" in text:
        text = _EXTRA_BLANK_LINES.sub("\n\n", text)
    return text.strip()


# ftfy fixes text line by line, each line with its "\n".
_FTFY_LINE = re.compile(r"[^\n]*\n|[^\n]+")


def _fix_mojibake(text: str) -> str:
    """ftfy.fix_text, run only on the lines that can need it: a plain ASCII line has nothing to fix.

    Like ftfy, it stops unescaping HTML entities after the first line with a "<" in it.
    """
    out = []
    markup_seen = False
    for needs_fix, lines in groupby(_FTFY_LINE.findall(text), key=_needs_ftfy):
        chunk = "".join(lines)
        out.append(ftfy.fix_text(chunk, unescape_html=False if markup_seen else "auto") if needs_fix else chunk)
        markup_seen = markup_seen or "<" in chunk
    return "".join(out)


def _needs_ftfy(line: str) -> bool:
    """Non-ASCII text, an HTML entity, or a terminal escape sequence: what ftfy fixes beyond control characters
    and line breaks (which `repair_text` normalises the same way)."""
    return not line.isascii() or "&" in line or "\x1b" in line


def repair_line(text: str) -> str | None:
    """A one-line field (title, source) repaired and on one line; None when empty."""
    line = " ".join(repair_text(text).split())
    return line or None
