"""Cleaning: the seeds against hand-written golden files, and small invented articles about other events.

The golden files (tests/streams/pipeline/golden/<seed>.json) were written by reading the
seeds, not by running the cleaner: what must be kept, what must be dropped,
and the metadata a careful reader finds in each article.
"""

from __future__ import annotations

import _markupbase
import html.parser
import json
import random
import re
import time
from datetime import date, datetime, timezone
from pathlib import Path

import pytest

from schemas.articles import RawArticle
from streams.pipeline.clean import (
    MAX_CLEAN_CHARS,
    UnusableArticle,
    clean_article,
    days_in_reporting,
    outlet_from_domain,
    split_paragraphs,
)
from streams.pipeline.clean import html as html_module
from streams.pipeline.clean.html import (
    _UNCLOSED_TAG_READS,
    _escape_tail,
    _parse_html,
    html_to_text,
)
from streams.pipeline.clean.paragraphs import Block, cta_labels, ends_sentence
from streams.pipeline.clean.rules import email_domains
from streams.pipeline.clean.wording import CTA

ROOT = Path(__file__).resolve().parents[3]
GOLDEN = sorted((Path(__file__).parent / "golden").glob("*.json"))
_QUOTES = {ord(c): "'" for c in "‘’‚‛′"} | {ord(c): '"' for c in "“”„‟″"}


def norm(text: str) -> str:
    """Compare text regardless of quote style and whitespace (cleaning may straighten curly quotes)."""
    return " ".join(text.translate(_QUOTES).split())


def clean_text(text: str, **fields):
    return clean_article(RawArticle(text=text, **fields), "t-1")


# --------------------------------------------------------------------------- seeds (golden files)


def _golden_cases():
    return [pytest.param(json.loads(path.read_text()), id=path.stem) for path in GOLDEN]


@pytest.fixture(scope="module")
def cleaned_seeds():
    out = {}
    for path in GOLDEN:
        golden = json.loads(path.read_text())
        text = (ROOT / "seeds" / golden["seed"]).read_text(encoding="utf-8")
        out[golden["seed"]] = clean_article(RawArticle(text=text), path.stem)
    return out


def test_every_seed_has_a_golden_file():
    seeds = {p.stem for p in (ROOT / "seeds").glob("*.txt")}
    assert seeds and seeds == {p.stem for p in GOLDEN}


@pytest.mark.parametrize("golden", _golden_cases())
def test_seed_keeps_reporting(golden, cleaned_seeds):
    text = norm(cleaned_seeds[golden["seed"]].text)
    missing = [s for s in golden["keep"] if norm(s) not in text]
    assert not missing, f"reporting dropped: {missing}"


@pytest.mark.parametrize("golden", _golden_cases())
def test_seed_drops_furniture(golden, cleaned_seeds):
    article = cleaned_seeds[golden["seed"]]
    text = norm(article.text)
    removed = [norm(b.text) for b in article.removed]
    still_there = [s for s in golden["drop"] if norm(s) in text]
    assert not still_there, f"furniture kept: {still_there}"
    unrecorded = [s for s in golden["drop"] if not any(norm(s) in r for r in removed)]
    assert not unrecorded, f"dropped without a RemovedBlock: {unrecorded}"
    assert all(b.reason for b in article.removed)


@pytest.mark.parametrize("golden", _golden_cases())
def test_seed_metadata(golden, cleaned_seeds):
    article = cleaned_seeds[golden["seed"]]
    published = article.published_at.replace(tzinfo=None).isoformat() if article.published_at else None
    found = {
        "title": article.title,
        "outlet": article.outlet,
        "published_at": published,
        "event_date": article.event_date.isoformat() if article.event_date else None,
        "language": article.language,
    }
    assert found == {key: golden[key] for key in found}


def test_seed_event_date_is_in_dates_seen(cleaned_seeds):
    for article in cleaned_seeds.values():
        if article.event_date:
            assert article.dates_seen[0] == article.event_date


# --------------------------------------------------------------------------- invented articles (other events)


PLAIN_NEWS = """LIMA, Peru - A magnitude 6.1 earthquake struck southern Peru early on Sunday, damaging hundreds of homes in the Arequipa region and cutting power to several towns, the national emergency agency said.

At least 14 people were injured, most of them by falling debris, according to regional health officials.

"The first shock lasted almost a minute and the walls of the school simply opened," said Rosa Quispe, a teacher in the town of Chivay.

Rescue teams worked through the night.

Residents were urged to sign up for emergency text alerts and to share information only from official channels, officials said.

About 200 homes were damaged, and the Colca Canyon road was closed by landslides.

President Dina Boluarte flew to Arequipa on Monday to inspect the damage and promised support for families who lost their homes.

The country's geophysical institute recorded more than 40 aftershocks."""


def test_plain_news_text_keeps_every_paragraph():
    article = clean_text(PLAIN_NEWS)
    paragraphs = [p for p in PLAIN_NEWS.split("\n\n")]
    assert article.text.split("\n\n") == paragraphs
    assert article.removed == []
    assert article.language == "en"
    assert article.outlet is None  # nothing names one: never guessed
    assert article.published_at is None
    assert article.event_date is None  # only weekdays, and no publication date to anchor them


def test_plain_news_with_publication_date_resolves_weekdays():
    article = clean_text(PLAIN_NEWS, published_at="2023-05-29T08:00:00Z")  # a Monday
    assert article.published_at == datetime(2023, 5, 29, 8, 0, tzinfo=timezone.utc)
    assert article.event_date == date(2023, 5, 28)  # "on Sunday" comes first, tie with "on Monday"
    assert set(article.dates_seen) == {date(2023, 5, 28), date(2023, 5, 29)}


HTML_PAGE = """<!DOCTYPE html>
<html><head>
<title>Santiago to ration water as drought deepens | Andes Ledger</title>
<meta property="og:site_name" content="Andes Ledger">
<meta property="article:published_time" content="2023-03-15T09:30:00-03:00">
<style>p { color: red }</style>
</head><body>
<nav><a href="/">Home</a> | <a href="/world">World</a> | <a href="/sports">Sports</a></nav>
<article>
<h1>Santiago to ration water as drought deepens</h1>
<p>Chile&#8217;s capital will cut tap water to parts of the city for up to 24 hours at a time, the regional governor said on Tuesday, as a 13-year drought drains the reservoirs that supply 7 million people.</p>
<figure><img src="x.jpg"><figcaption>The El Yeso reservoir at a record low. Photo: Carla Mena</figcaption></figure>
<p>&#8220;We have never seen the Maipo river this low,&#8221; Governor Claudio Orrego told reporters in Santiago.</p>
<p>The rationing plan divides the city into four zones that will take turns without water.</p>
<div class="related-stories"><h3>Related</h3><ul><li><a href="/a">Farmers dig deeper wells</a></li></ul></div>
</article>
<footer>&copy; 2023 Andes Ledger. All rights reserved. <a href="/privacy">Privacy policy</a></footer>
<script>window.analytics = {page: "article"};</script>
</body></html>"""


def test_html_page_is_stripped_to_its_reporting():
    article = clean_text(HTML_PAGE)
    assert article.title == "Santiago to ration water as drought deepens"
    assert article.outlet == "Andes Ledger"
    assert article.published_at == datetime(2023, 3, 15, 12, 30, tzinfo=timezone.utc)
    assert article.event_date == date(2023, 3, 14)  # "on Tuesday" before a Wednesday publication
    text = article.text
    assert text.startswith("Chile's capital will cut tap water")
    assert '"We have never seen the Maipo river this low," Governor Claudio Orrego told reporters' in norm(text)
    assert "The rationing plan divides the city into four zones" in text
    furniture = ("Home", "Sports", "Farmers dig deeper wells", "El Yeso", "All rights reserved", "analytics", "color")
    assert [f for f in furniture if f in text] == []
    reasons = " | ".join(b.reason for b in article.removed)
    assert "html markup" in reasons and "photo caption" in reasons and "<nav>" in reasons


def test_a_page_whose_scripts_outweigh_the_text_limit_keeps_its_article():
    """The cap on what is read applies to the page's text, not to its markup (scripts before the article)."""
    script = "<script>" + "var tracker = 'abcdefghij' + page; " * 8_000 + "</script>"
    page = HTML_PAGE.replace("<article>", script + "<article>")
    assert len(page) > MAX_CLEAN_CHARS
    assert clean_text(page).text == clean_text(HTML_PAGE).text

def test_a_void_element_of_a_furniture_class_removes_itself_not_the_rest_of_the_page():
    """`<img class="social-icon">` has no end tag: it must not hold a drop open over every later paragraph."""
    last = "<p>The rationing plan"  # what follows is shorter than what comes before: the class rules stay on
    for icon in ('<img class="social-icon" src="x.png">', '<hr class="ad-divider">', '<img class="social-icon" src="x.png"/>'):
        page = HTML_PAGE.replace(last, icon + last)
        assert clean_text(page).text == clean_text(HTML_PAGE).text, icon


@pytest.mark.parametrize(
    "openings",
    ["<a" * 3000, "</x" * 2000, "<?x" * 2000, '<a b="x>y"' * 600, "<!--x>" * 1000]
    + ["<![CDATA[x>" * 600, "<![if x>" * 600],
)
def test_markup_that_never_closes_is_read_a_bounded_number_of_times(monkeypatch, count_reads, openings):
    """html.parser read each opening that does not close (start or end tag, comment, marked section, processing
    instruction) to the end of the page, then went on from its next ">" or "<": quadratic on a page of them."""
    read = {"tags": 0}
    whole_start_tag = html.parser.HTMLParser.check_for_whole_start_tag

    def counted(self, i):
        end = whole_start_tag(self, i)
        if end < 0:
            read["tags"] += len(self.rawdata) - i
        return end

    monkeypatch.setattr(html.parser.HTMLParser, "check_for_whole_start_tag", counted)
    ends = [(html.parser, "endendtag"), (html.parser, "piclose"), (_markupbase, "_commentclose")]  # how it finds them
    ends += [(_markupbase, "_markedsectionclose"), (_markupbase, "_msmarkedsectionclose")]
    closes = [count_reads(module, name) for module, name in ends]
    page = "<html><body><p>Officials in Oslo said on Monday that the talks had ended.</p>" + openings
    text = html_to_text(page).text
    assert "Officials in Oslo said on Monday that the talks had ended." in text
    parses = 2  # html_to_text may parse a page twice (with and without the class rules)
    assert read["tags"] <= parses * (_UNCLOSED_TAG_READS + 1) * len(page)
    assert sum(c.read for c in closes) <= parses * len(page)


def test_text_after_the_last_tag_is_text_as_before(monkeypatch):
    """Escaping the "<"s after the page's last ">" (where nothing can close) changes nothing html.parser gives."""
    head = "<html><body><p>Officials said.</p><nav>Home</nav><h1>Talks &amp; more"
    tails = ["<a", " <a b='x", " < 3 &lt <b", "<!-- x", "</p", "<?php", "<!x", "<![CDATA[", "&amp<a&#60;<", "<"]
    tails += ["<script>a<b</x", "<nav><script>a</b <a"]
    escaped = {tail: _parse_html(head + tail, use_classes=True) for tail in tails}
    monkeypatch.setattr(html_module, "_escape_tail", lambda markup: markup)
    for tail in tails:
        assert _escape_tail(head + tail) != head + tail
        assert _parse_html(head + tail, use_classes=True) == escaped[tail], tail


POSTED_ON = """Rift Valley Courier

Posted on August 16 2022, 10:15pm

Kenya's electoral commission declared William Ruto the winner of the presidential election on Monday, after a tense count that split the commission itself.

Ruto won 50.5% of the vote against 48.8% for Raila Odinga, commission chairman Wafula Chebukati said at the national tallying centre in Nairobi on August 15.

Four of the seven commissioners refused to endorse the result, saying the final tally had been handled in an "opaque" manner.

Odinga's campaign said it would study its legal options.

Sign up for our morning briefing

Copyright © 2022 Rift Valley Courier. All rights reserved."""


def test_posted_on_line_gives_publication_date_and_weekdays_resolve():
    article = clean_text(POSTED_ON)
    assert article.published_at == datetime(2022, 8, 16, 22, 15, tzinfo=timezone.utc)
    assert article.event_date == date(2022, 8, 15)  # "on Monday" and "on August 15"
    assert article.dates_seen == [date(2022, 8, 15)]
    assert article.outlet == "Rift Valley Courier"
    assert article.title is None  # a name line is not a headline
    assert article.text.startswith("Kenya's electoral commission declared")
    assert "Odinga's campaign said it would study its legal options." in article.text
    assert "Sign up" not in article.text and "Copyright" not in article.text
    reasons = {b.text: b.reason for b in article.removed}
    assert reasons["Posted on August 16 2022, 10:15pm"] == "date line"
    assert reasons["Sign up for our morning briefing"].startswith("call-to-action")


REPUBLISHED = """Mon, 05 Dec 2022

Voters in the Philippine province of Maguindanao approved splitting it into two provinces in the March 3 plebiscite, the elections commission said.

Turnout was high, officials said on Wednesday, with more than 80% of registered voters casting ballots.

The split, first proposed in 2021, creates Maguindanao del Norte and Maguindanao del Sur, each with its own governor.

"This is a victory for local self-rule," provincial board member Datu Sharifudin Mastura said after the results of March 3 were announced.

The Manila Dispatch"""


def test_republished_article_keeps_event_date_before_crawl_date():
    article = clean_text(REPUBLISHED)
    assert article.published_at == datetime(2022, 12, 5, tzinfo=timezone.utc)
    assert article.event_date == date(2022, 3, 3)
    # "Wednesday" is not resolved against a crawl date nine months after the event.
    assert article.dates_seen == [date(2022, 3, 3)]
    assert "Mon, 05 Dec 2022" not in article.text


def test_wire_dateline_and_contact_domain_name_the_outlet():
    contact = "Manuel Soto can be reached at msoto@springfieldherald.com."
    article = clean_text(PLAIN_NEWS + "\n\n" + contact)
    assert article.outlet == "Springfield Herald"
    assert contact not in article.text
    assert outlet_from_domain("mail.example-webmail.gmail.com") is None
    assert outlet_from_domain("rferl.org") == "rferl.org"  # no readable words: the domain itself


def test_contact_addresses_are_found_as_a_word_boundary_pattern_finds_them():
    """email_domains starts only where a run of address characters starts (`\\b[\\w.+-]+@` started at every word
    boundary in a run and read to its end: quadratic in "1.1.1..."), and finds the same domains, glued ones too."""
    word_boundary = re.compile(r"\b[\w.+-]+@((?:[\w-]+\.)+[a-z]{2,})\b", re.I)
    rng = random.Random(3)
    pieces = ["a", "Z", "1", "_", "é", ".", "+", "-", "@", " ", "x.com", "@a.bc", "org.", "..", "ſ"]
    texts = ["a@x.com.b@y.org", "msoto@springfieldherald.com.", "-.+@x.com", ".a@x.com", "1." * 500 + "1@x.com"]
    texts += ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 20))) for _ in range(3000)]
    for text in texts:
        assert list(email_domains(text)) == [m.group(1) for m in word_boundary.finditer(text)], text
    article = clean_text(PLAIN_NEWS + "\n\n" + "Contact us at " + "a.b." * 2000 + "x")
    assert "Contact us at" not in article.text


def test_url_domain_is_the_fallback_outlet():
    article = clean_text(PLAIN_NEWS, url="https://www.springfieldherald.com/world/peru-quake")
    assert article.outlet == "Springfield Herald"
    assert article.url == "https://www.springfieldherald.com/world/peru-quake"
    assert clean_text(PLAIN_NEWS, source="Peru Wire", url="https://x.example.org/a").outlet == "Peru Wire"


def test_title_only_article():
    article = clean_article(RawArticle(title="Earthquake of magnitude 6.1 strikes southern Peru"), "t-2")
    assert article.title == "Earthquake of magnitude 6.1 strikes southern Peru"
    assert article.text == ""
    assert article.removed == []


def test_given_title_printed_in_the_text_is_removed_once():
    title = "Earthquake of magnitude 6.1 strikes southern Peru"
    article = clean_text(f"{title}\n\n{PLAIN_NEWS}", title=title)
    assert article.title == title
    assert title not in article.text
    assert [b.reason for b in article.removed] == ["repeated headline"]



@pytest.mark.parametrize("page_line", ["Don't miss out on our best stories", "Thanks for reading our coverage", "Updated 4: 08 p. m. ET"])
def test_a_line_that_shares_no_word_with_the_body_is_not_its_headline(page_line):
    """The page's lines above an article (a newsletter's call, a time stamp the date rules do not read) are
    headline-shaped; what a headline says, the body reports."""
    headline = "Quake damages hundreds of homes in southern Peru"
    assert clean_text(f"{page_line}\n\n{PLAIN_NEWS}").title is None
    assert clean_text(f"{headline}\n\n{page_line}\n\n{PLAIN_NEWS}").title == headline

@pytest.mark.parametrize("fields", [{}, {"text": ""}, {"text": "   \n\t  \n"}, {"title": "  ", "text": " "}])
def test_empty_article_is_unusable(fields):
    with pytest.raises(UnusableArticle) as error:
        clean_article(RawArticle(**fields), "t-3")
    assert "empty" in error.value.reason


def test_binary_junk_is_unusable():
    junk = random.Random(7).randbytes(4000)
    for text in (junk.decode("latin-1"), junk.decode("utf-8", errors="replace"), "\x00\x01\x02\x03" * 500):
        with pytest.raises(UnusableArticle) as error:
            clean_text(text)
        assert "binary" in error.value.reason


def test_symbol_soup_is_unusable():
    with pytest.raises(UnusableArticle, match="no readable words"):
        clean_text("%%%% #### 1234 5678 $$$$ ---- **** //// 9999 ==== ++++" * 10)


def test_a_title_without_a_word_does_not_make_symbol_soup_an_article():
    """Each such article would fingerprint no words, the same as every other: a copy of the first."""
    for title, text in (("!!!", "…"), ("???", "…!"), ("***", "")):
        with pytest.raises(UnusableArticle, match="no title has a word|no readable words"):
            clean_article(RawArticle(title=title, text=text), "a1")
    assert clean_article(RawArticle(title="Storm hits the coast", text=""), "a2").title == "Storm hits the coast"


def test_all_furniture_and_no_title_is_unusable():
    with pytest.raises(UnusableArticle, match="site furniture"):
        clean_text("Subscribe to our newsletter\n\nPrivacy policy\n\nCopyright © 2023 Example Media. All rights reserved")


def test_mojibake_is_repaired():
    original = "The mayor of Valparaíso said the port’s cranes would restart on Friday — a week after the fire."
    broken = original.encode("utf-8").decode("cp1252")
    assert "Ã" in broken
    article = clean_text(broken)
    assert "Valparaíso" in article.text and "port's cranes" in norm(article.text) and "—" in article.text


def test_unknown_fields_are_kept_in_extra():
    article = clean_article(RawArticle(text=PLAIN_NEWS, feed="rss-12", tags=["quake", "peru"]), "t-4")
    assert article.extra == {"feed": "rss-12", "tags": ["quake", "peru"]}


def test_copyright_year_is_not_a_publication_date():
    article = clean_text("Copyright © 2024\n\n" + PLAIN_NEWS)
    assert article.published_at is None
    assert article.removed[0].reason == "copyright line"


def test_single_newline_paragraphs_and_hard_wrapped_prose():
    one_per_line = "First paragraph of reporting, which ends here.\nSecond paragraph, also complete.\nThird one."
    assert split_paragraphs(one_per_line) == one_per_line.split("\n")
    wrapped = (
        "Officials in Quito said on Thursday that the new metro line would\n"
        "open to passengers in December, two years later than planned, after\n"
        "tests found faults in the signalling system installed by the builder.\n"
    )
    assert split_paragraphs(wrapped) == [" ".join(wrapped.split())]
    broken = "The minister told lawmakers that the budget had\n\nbeen cut by a third since 2019, officials said."
    assert split_paragraphs(broken) == [" ".join(broken.split())]


def test_a_sentence_ends_where_the_regex_it_replaced_says():
    terminal = re.compile(r"[.!?…][\"'”’»)\]]*$")  # what `ends_sentence` replaced
    rng = random.Random(3)
    alphabet = list("ab .!?…\"'”’»)]\n“(")
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 8))) for _ in range(50_000)]
    for text in texts + ["Talks ended.", 'He said "no."', "No stop", "Done.)\n", "Done.\n\n", ""]:
        assert ends_sentence(text) == bool(terminal.search(text)), repr(text)
    assert ends_sentence('It ended."') and not ends_sentence("Done.\n\n")

def test_captions_and_reader_notices_are_dropped_reporting_with_quotes_is_not():
    text = "\n\n".join(
        [
            PLAIN_NEWS,
            "Rescuers search the rubble in Chivay. Juan Perez/Pool/AFP via Getty Images",
            '"We need tents and water," said Mayor Luis Ccama, who urged people to donate to the Red Cross '
            "and follow official updates.",
            "We rely on readers like you. Become a member today and support our journalism.",
            "Related Posts",
            "Aftershocks rattle Arequipa",
        ]
    )
    article = clean_text(text)
    assert '"We need tents and water," said Mayor Luis Ccama' in norm(article.text)
    reasons = {b.text: b.reason for b in article.removed}
    assert reasons["Rescuers search the rubble in Chivay. Juan Perez/Pool/AFP via Getty Images"] == "photo caption"
    assert reasons["We rely on readers like you. Become a member today and support our journalism."].startswith(
        "call-to-action"
    )
    assert "Aftershocks rattle Arequipa" in reasons


def test_year_less_dates_take_the_year_closest_before_publication():
    assert days_in_reporting(["The vote on December 30 was close."], date(2023, 1, 4))[0] == [date(2022, 12, 30)]
    assert days_in_reporting(["Talks resume on January 9."], date(2023, 1, 4))[0] == [date(2023, 1, 9)]
    assert days_in_reporting(["The vote on December 30 was close."], None)[0] == []
    assert days_in_reporting(["He spoke on Good Friday and on Tuesday."], date(2023, 4, 7))[0] == [date(2023, 4, 4)]


def test_language_is_absent_when_too_short_and_found_otherwise():
    assert clean_article(RawArticle(title="Peru quake"), "t-5").language is None
    french = (
        "Le gouvernement chilien a annoncé mardi un plan de rationnement de l'eau pour la capitale, "
        "alors que la sécheresse vide les réservoirs qui alimentent sept millions d'habitants."
    )
    assert clean_text(french).language == "fr"


def test_huge_input_is_capped_and_stays_fast():
    paragraph = "Council member {i} said on Tuesday that item {i} of the budget would be reviewed again next month."
    text = "\n\n".join(paragraph.format(i=i) for i in range(60_000))  # about 6 MB
    start = time.perf_counter()
    article = clean_text(text)
    assert time.perf_counter() - start < 20
    assert len(article.text) <= 200_000
    assert any(b.reason.startswith("beyond the first") for b in article.removed)


def test_reporting_that_looks_like_furniture_is_kept():
    paragraphs = [
        "NAIROBI - Kenya's electoral commission published the results from all 290 constituencies on Monday, "
        "ending a week of counting that kept the country on edge.",
        "The report was based on interviews with 300 polling clerks, the commission said.",
        "Copyright lawyers said the ruling would force broadcasters to renegotiate their licences.",
        "Research by the University of Nairobi found that turnout fell in 12 counties, researchers said.",
        '"Subscribe to nothing but the truth," the opposition leader told a rally in Mombasa.',
        "The commission listed three problems:",
        "• 27 polling stations opened late",
        "• 4 ballot boxes were missing seals",
        "• results forms in two counties were unsigned",
        "Observers from the African Union said the vote was largely peaceful and that the count was transparent.",
        "He did not elaborate.",
    ]
    article = clean_text("\n\n".join(paragraphs))
    assert article.text.split("\n\n") == paragraphs
    assert article.removed == []


BLOG_POST = """Coastal Notes
A blog about the Pacific Northwest

Menu

Ferry service cut as crews call in sick

Posted by admin on March 3, 2021

Washington State Ferries cancelled 14 sailings on the Seattle-Bainbridge route on Tuesday after dozens of crew members called in sick, the agency said.

The cancellations left hundreds of commuters stranded at Colman Dock during the evening rush.

"We apologize to riders and are working to restore service as quickly as possible," spokesperson Ian Sterling said in a statement.

Share this:
Twitter
Facebook

Tags: ferries, transport, Seattle

Previous Post
Next Post

Leave a Reply Cancel reply

Your email address will not be published. Required fields are marked *

Name *
Email *"""


def test_blog_post_with_posted_by_line_tags_and_comment_form():
    article = clean_text(BLOG_POST)
    assert article.title == "Ferry service cut as crews call in sick"  # nearest the body, not the tagline
    assert article.published_at == datetime(2021, 3, 3, tzinfo=timezone.utc)
    assert article.event_date == date(2021, 3, 2)  # "on Tuesday" before a Wednesday post
    assert article.outlet is None  # a blog name printed once is not enough to name an outlet
    assert article.text.split("\n\n") == BLOG_POST.split("\n\n")[4:7]  # the three reporting paragraphs
    assert {"date line", "site chrome: tags/categories", "comment section"} <= {b.reason for b in article.removed}


WIRE_STORY = """Skip to main content
World
Business

Ghana's central bank raises rates to record high to tame inflation

By Kwame Mensah and Ama Owusu

ACCRA, Nov 24 (Reuters) - Ghana's central bank raised its main interest rate by 250 basis points to 27% on Thursday, its highest on record, as it battles inflation that hit a 21-year high last month.

Governor Ernest Addison told a news conference that the committee saw further risks to the inflation outlook.

Advertisement

Read more: Ghana seeks IMF bailout as debt costs soar

Inflation rose to 40.4% in October, driven by a sharp fall in the cedi.

Sign up for our Africa newsletter to get the latest news delivered to your inbox.

Reporting by Kwame Mensah; Editing by Alexander Winning

Share this article"""


def test_wire_story_outlet_from_dateline_and_furniture_inside_the_body():
    article = clean_text(WIRE_STORY)
    assert article.outlet == "Reuters"
    assert article.title == "Ghana's central bank raises rates to record high to tame inflation"
    assert article.text.split("\n\n") == [
        p for p in WIRE_STORY.split("\n\n") if p.startswith(("ACCRA", "Governor", "Inflation"))
    ]
    reasons = {b.text: b.reason for b in article.removed}
    assert reasons["By Kwame Mensah and Ama Owusu"] == "byline"
    assert reasons["Read more: Ghana seeks IMF bailout as debt costs soar"] == "related links"
    assert reasons["Reporting by Kwame Mensah; Editing by Alexander Winning"] == "credit line"


def test_weekdays_in_reporting_are_counted_but_not_next_week_or_holidays():
    paragraphs = [
        "Ministers met in Quito on Tuesday. Tuesday's talks ran late, officials said.",
        "A follow-up is planned for next Friday, after the Good Friday holiday, and a vote on Thursday.",
    ]
    assert days_in_reporting(paragraphs, None)[1] == ["Tuesday", "Thursday"]


def test_web_furniture_wordings_are_found_in_list_order():
    text = "Subscribe to our newsletter, follow us on X and leave a comment below. Share this story."
    assert Block.of(text).cta == [
        "call-to-action: subscribe",
        "call-to-action: newsletter",
        "call-to-action: follow",
        "call-to-action: share",
        "call-to-action: comment",
    ]
    # Hints with no phrasing of theirs: "read" and "join" open no call to action here.
    assert Block.of("Officials read the statement and said they would join the talks on Monday.").cta == []


# Every phrasing of every wording, as a page writes it.
FURNITURE = {
    "site chrome: blog controls": ["Edit post", "Follow this blog", "Create your blog"],
    "call-to-action: subscribe": ["Subscribe today", "Manage subscriptions"],
    "call-to-action: sign up": ["Sign up", "Signup", "Sign-up", "Sign in", "Log in", "Login", "Log-in", "Create an account"],
    "call-to-action: newsletter": ["Get our newsletters", "Join the mailing list"],
    "call-to-action: follow": ["Follow us on X", "Like us on Facebook"],
    "call-to-action: share": ["Share this story", "Tweet this"],
    "call-to-action: comment": [
        "Comment on this", "Leave a reply", "Comments (12)", "(12) comments", "Join the conversation", "Commenting is closed",
    ],
    "call-to-action: donate": [
        "Donate now", "Support our journalism", "With the support of our readers", "Readers like you", "On Patreon",
        "Become a member", "Join our community",
    ],
    "cookie/privacy notice": ["We use cookies", "Privacy policy", "Terms of use"],
    "copyright line": ["Copyright 2024", "© 2024 Example Media", "All rights reserved"],
    "advertisement": ["Advertisement", "Please disable your ad blocker", "Adblockers", "Advertising revenue", "Sponsored"],
    "related links": [
        "Read more", "Click here", "Related articles", "See also", "Further reading", "Recommended for you",
        "You might also like",
    ],
    "reuse terms": ["Reprint", "Hyperlink", "Without written permission", "Reproduction of"],
    "corrections notice": ["Suggest a correction", "Corrections and clarifications", "Report an error"],
    "contact line": ["She can be reached at", "Write to us", "Contact us", "Let us know", "Email us"],
    "site chrome: keyboard hint": ["Ctrl + F", "Press Enter"],
    "affiliate disclosure": ["As an Amazon Associate", "Qualifying purchases", "Affiliate links", "We may earn"],
    "call-to-action: app": ["Download our app", "Get the app"],
}  # fmt: skip


def test_furniture_is_found_as_a_case_insensitive_scan_of_every_phrasing_finds_it():
    """The phrasings run on the folded text, and only where a hint is among its tokens: what they find is what
    each pattern finds with re.IGNORECASE on the text itself, letters that fold unusually included."""
    tricky = ["ſubscribe now", "SİGN UP today", "Sign\u00a0up", "©2024 Example Media", "CTRL+F", "LOG-IN", "(3)comments", "sign_up"]
    examples = [e for group in FURNITURE.values() for e in group]
    for text in [*tricky, *examples, *map(str.upper, examples), *map(str.lower, examples)]:
        block = Block.of(text)
        scanned = [label for label, phrasings in CTA if any(re.search(p.pattern, block.core, re.I) for _, p in phrasings)]
        assert block.cta == scanned, text
        assert cta_labels(text.lower(), set()) == []  # no hint among the tokens: nothing is scanned


@pytest.mark.parametrize("label", [label for label, _ in CTA])
def test_every_phrasing_of_a_wording_is_found_by_its_own_hints_in_any_case(label):
    """A paragraph is scanned only for the phrasings its tokens hint at, so a phrasing whose hints its matches
    can lack would go unseen: each is found, in the case a page writes it, in capitals and in lower case."""
    examples, phrasings = FURNITURE[label], dict(CTA)[label]
    for _, pattern in phrasings:
        assert any(pattern.search(example.lower()) for example in examples), f"no example of {pattern.pattern}"
    for example in examples:
        for text in (example, example.upper(), example.lower(), f"Officials met on Monday. {example}."):
            assert label in Block.of(text).cta, text


def test_a_marked_section_of_a_keyword_html_has_not_is_skipped_not_raised():
    """html.parser raises AssertionError on "<![x]>"; a browser skips it as a bogus comment."""
    page = html_to_text("<html><body><p>Officials met in Oslo on Monday.</p><![x]><p>They met again on Tuesday.</p></body></html>")
    assert page.text.split() == "Officials met in Oslo on Monday. They met again on Tuesday.".split()


def test_dates_and_weekdays_are_found_where_their_regexs_finditer_finds_them():
    """`_date_matches` and `_weekday_matches` try their patterns only where a word opens (`word_starts`): they find
    what the patterns' finditer finds, on random texts of dates, weekdays and their edges, and on the seeds."""
    from streams.pipeline.clean import dates

    pieces = [
        "January", "JAN", "Sept", "Dec.", "OCTOBER", "May 5", "MAY", "APR 3", "Feb", "Aug", "Nov", "Mar", "12", "1st",
        "2022", "2022-01-12", "of", "Monday", "Sunday",
        "Friday's", "last", "coming", "this", "xMonday", "Monday2", "٣", "١٢", "M", "J", " ", "  ", ",", ".", "-",
        "\n", "a", "Mondays", "_",
    ]  # fmt: skip
    rng = random.Random(8)
    texts = ["".join(rng.choice(pieces) + rng.choice(["", " "]) for _ in range(rng.randint(0, 12))) for _ in range(20_000)]
    texts += [path.read_text() for path in sorted((ROOT / "seeds").glob("*.txt"))]
    found = 0
    for text in texts:
        spans = [m.span() for m in dates._DATE.finditer(text)]
        assert [m.span() for m in dates._date_matches(text)] == spans, repr(text)
        weekdays = [m.span() for m in dates._WEEKDAY.finditer(text)]
        assert [m.span() for m in dates._weekday_matches(text)] == weekdays, repr(text)
        found += len(spans) + len(weekdays)
    assert found > 3_000
