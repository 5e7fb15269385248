"""The language of a cleaned article: plainly English text by a cheap test, the rest by py3langid."""

from __future__ import annotations

from functools import lru_cache

from wordfreq import top_n_list

from streams.pipeline.english import letter_words


@lru_cache(maxsize=1)
def language_identifier():
    """py3langid's model with normalised probabilities (loaded once: it takes half a second, which a worker
    spends before its first article, not on the first article that is not plainly English)."""
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of `text`, or None when it is too short or too mixed to tell."""
    sample = text[:600]  # a few sentences identify a language; py3langid's cost grows with the text
    words = letter_words(sample)
    letters = _letter_count(words)
    if len(words) < 4 or letters < 20:
        return None
    if _evidently_english(sample, words, letters):
        return "en"
    language, probability = language_identifier().classify(sample)
    return language if probability >= 0.5 else None


# py3langid takes most of a millisecond per article, and most articles are plainly English. On tens of
# thousands of English, foreign and mixed-language samples it said "en" for every one that passes
# `_evidently_english`; it disagreed on some mixed samples with fewer words or fewer common ones.
_ENGLISH_MIN_WORDS = 40
_ENGLISH_COMMON_SHARE = 0.8
_ENGLISH_LETTER_SHARE = 0.9


@lru_cache(maxsize=1)
def _common_english_words() -> frozenset[str]:
    """The 5,000 commonest English words (wordfreq's list)."""
    return frozenset(top_n_list("en", 5000))


def _evidently_english(sample: str, words: list[str], letters: int) -> bool:
    """Enough words, all in ASCII letters, nearly all among the commonest English words, and few digits or
    symbols (tables of figures are left to py3langid)."""
    if len(words) < _ENGLISH_MIN_WORDS or not "".join(words).isascii():
        return False
    visible = sum(map(len, sample.split()))
    common = sum(map(_common_english_words().__contains__, map(str.lower, words)))
    return letters >= _ENGLISH_LETTER_SHARE * visible and common >= _ENGLISH_COMMON_SHARE * len(words)


def _letter_count(words: list[str]) -> int:
    """Letters in the `letter_words` of a text, which hold all its letters: their characters but the apostrophes."""
    joined = "".join(words)
    return len(joined) - joined.count("'") - joined.count("’")
