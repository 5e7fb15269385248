from datetime import date, datetime, timedelta, timezone

import pytest
from rapidfuzz import fuzz

from schemas import (
    ArticleFacts,
    ArticleJoined,
    Entity,
    NumericClaim,
    Quote,
    StoryStarted,
)
from streams.story.fold import (
    advance,
    advance_by_merge,
    apply,
    fold,
    fold_log,
    merge_event,
    next_event,
    snapshot,
    state_of,
)
from streams.story.state import (
    MAX_ENTITIES,
    MAX_QUOTES,
    QUOTE_MATCH,
    RECENT_ARTICLES,
    OutOfSequence,
    StoryState,
    phrase_key,
    same_quote,
)

T0 = datetime(2023, 3, 7, 9, 0, tzinfo=timezone.utc)


def _facts(**kw) -> ArticleFacts:
    return ArticleFacts(event_date=date(2023, 3, 6), **kw)


def _append(events, article_id, outlet, facts):
    event = next_event("s1", state_of(events), article_id, outlet, T0 + timedelta(minutes=len(events)), facts, score=0.5)
    return [*events, event]


def test_first_article_starts_the_story_and_later_ones_join_it():
    events = _append([], "a1", "Harbour Times", _facts(key_phrases=["Port Authority Board"]))
    events = _append(events, "a2", "Coast Daily", _facts(key_phrases=["Port Authority Board"]))
    assert isinstance(events[0], StoryStarted) and isinstance(events[1], ArticleJoined)
    assert [e.version for e in events] == [1, 2]
    assert events[0].new_outlet and events[1].new_outlet


def test_label_is_the_most_shared_phrase_with_the_month_and_year():
    events = []
    for i, phrases in enumerate([["Port Authority Board", "Elena Vargas"], ["Port Authority Board"], ["Harbour Union"]]):
        events = _append(events, f"a{i}", f"outlet {i}", _facts(key_phrases=phrases))
    assert events[-1].label == "Port Authority Board Mar 2023"


def test_a_story_whose_articles_share_no_phrase_or_name_is_labelled_by_its_first_headline():
    """Headline-only feeds (a title in Title Case gives no names) left 214 of 394 UCI entries "Untitled story"."""
    first = "Carl Icahn Rift Hurts eBay (EBAY) as Board Fight Goes On and On"
    events = _append([], "a1", "Reuters", _facts(title=first))
    events = _append(events, "a2", "CNBC", _facts(title="eBay shares fall"))
    assert [e.label for e in events] == ["Carl Icahn Rift Hurts eBay (EBAY) as Board Fight Goes… Mar 2023"] * 2
    assert StoryState.from_json(state_of(events).to_json()).label() == events[-1].label
    untitled = _append([], "a3", "AP", _facts())
    assert untitled[0].label == "Untitled story Mar 2023"
    phrased = _append(events, "a4", "AP", _facts(key_phrases=["Icahn"]))
    assert phrased[-1].label == "Icahn Mar 2023"  # a shared phrase, once there is one, before the headline


def test_a_states_label_follows_each_article_and_merge_that_changes_it():
    """The label is made once per change of the state (an entry and its snapshot both carry it): each add and
    absorb makes it again, from the phrase's most used form, the first used among equals."""
    state = StoryState()
    state.add("a1", "Harbour Times", T0, _facts(key_phrases=["Port Authority board"]))
    assert state.label() == "Port Authority board Mar 2023"
    state.add("a2", "Coast Daily", T0, _facts(key_phrases=["Port Authority Board", "Harbour Union"]))
    assert state.label() == "Port Authority board Mar 2023"  # two forms used once each: the first one
    state.add("a3", "Bay News", T0, ArticleFacts(event_date=date(2023, 4, 2), key_phrases=["Port Authority Board"]))
    for later in ("a4", "a5"):
        state.add(later, "Bay News", T0, ArticleFacts(event_date=date(2023, 4, 2)))
    assert state.label() == "Port Authority Board Apr 2023"
    other = StoryState()
    for i in range(6):
        other.add(f"b{i}", "Wire", T0, _facts(key_phrases=["Harbour Union"]))
    state.absorb(other, "s2")
    assert state.label() == "Harbour Union Mar 2023"
    assert StoryState.from_json(state.to_json()).label() == state.label()


def test_hyphenated_names_in_either_order_are_one_phrase():
    assert phrase_key("Chile-Peru Commission") == phrase_key("Peru-Chile commission")


def test_a_quote_from_a_second_outlet_corroborates_it():
    quote = Quote(text="We will not reopen the terminal until every crane has been inspected", speaker="Elena Vargas")
    events = _append([], "a1", "Harbour Times", _facts(quotes=[quote]))
    shorter = Quote(text="we will not reopen the terminal until every crane has been inspected", speaker=None)
    events = _append(events, "a2", "Coast Daily", _facts(quotes=[shorter]))
    assert events[0].new_quotes == [quote]
    assert events[1].new_quotes == []
    assert [(c.what, c.outlets) for c in events[1].corroborations] == [("quote", 2)]


def test_two_quotes_are_the_same_exactly_when_their_partial_ratio_reaches_the_match():
    """The cutoff that lets rapidfuzz give up early changes no answer, on either side of it: a quote against
    copies of itself with more and more words changed, cut, and in another case."""
    quote = "We will not reopen the terminal until every crane has been inspected by the port authority"
    words = quote.split()
    others = [quote.upper(), quote[10:60], "Reopen the terminal? " + quote[:40]]
    for changed in range(len(words)):
        others.append(" ".join("harbour" if i < changed else w for i, w in enumerate(words)))
    answers = []
    for other in others:
        expected = fuzz.partial_ratio(quote.casefold(), other.casefold()) >= QUOTE_MATCH
        assert same_quote(quote, other) is expected and same_quote(other, quote) is expected
        answers.append(expected)
    assert True in answers and False in answers


def test_an_article_s_quotes_are_matched_once_for_its_entry_and_for_the_state_after_it():
    """A quote of the story, a new one, and the new one again: the entry and the state after it (as the desk
    keeps it) agree with folding the entry in afresh, which matches the quotes itself."""
    kept = Quote(text="We will not reopen the terminal until every crane has been inspected", speaker="Elena Vargas")
    events = _append([], "a1", "Harbour Times", _facts(quotes=[kept]))
    fresh = Quote(text="The cranes were installed in 1998 and have never been replaced since")
    again = Quote(text="the cranes were installed in 1998 and have never been replaced since", speaker="Ola Berg")
    facts = _facts(quotes=[fresh, Quote(text="we will not reopen the terminal until every crane has been inspected"), again])
    after = state_of(events)
    assert after.quote_positions(facts.quotes) == [None, 0, None]
    event = advance("s1", after, "a2", "Coast Daily", T0, facts, score=0.5)
    assert event.new_quotes == [fresh, again]  # new to the story, both
    assert [(c.what, c.text, c.outlets) for c in event.corroborations] == [("quote", kept.text, 2)]
    folded = state_of([*events, event])
    assert after.to_json() == folded.to_json()
    assert [(q.text, r.outlets, r.count) for q, r in after.quotes] == [(kept.text, ["Harbour Times", "Coast Daily"], 2), (fresh.text, ["Coast Daily"], 1)]


def test_opposite_hedges_on_the_same_figure_open_a_conflict_with_each_side_s_outlets():
    nearly = NumericClaim(subject="worker", value=40, qualifier="nearly", text="nearly 40 workers")
    more = NumericClaim(subject="worker", value=40, qualifier="more than", text="more than 40 workers")
    events = _append([], "a1", "Harbour Times", _facts(claims=[nearly]))
    events = _append(events, "a2", "Coast Daily", _facts(claims=[more]))
    events = _append(events, "a3", "Port Post", _facts(claims=[more]))
    assert events[0].conflicts == [] and len(events[1].conflicts) == 1
    conflict = fold(events).conflicts[0]
    assert conflict.about == "number of workers"
    assert {s.value: s.outlets for s in conflict.sides} == {
        "nearly 40 workers": ["Harbour Times"],
        "more than 40 workers": ["Coast Daily", "Port Post"],
    }
    assert [c.outlets for c in events[2].corroborations] == [2]


def test_a_state_s_conflicts_change_when_an_article_or_a_merge_changes_it():
    """Conflicts are found once per state and kept (the state after one article is the state before the next)."""
    nearly = NumericClaim(subject="worker", value=40, qualifier="nearly", text="nearly 40 workers")
    more = NumericClaim(subject="worker", value=40, qualifier="more than", text="more than 40 workers")
    state = StoryState()
    state.add("a1", "Harbour Times", T0, _facts(claims=[nearly]))
    assert state.conflicts() == []
    state.add("a2", "Coast Daily", T0, _facts(claims=[more]))
    assert [c.about for c in state.conflicts()] == ["number of workers"]
    state.add("a3", "Port Post", T0, _facts(claims=[more]))
    assert [s.outlets for s in state.conflicts()[0].sides] == [["Coast Daily", "Port Post"], ["Harbour Times"]]
    other = StoryState()
    other.add("b1", "Lima Herald", T0, _facts(claims=[nearly], weekday_mentions={"Lima": "Friday"}))
    other.add("b2", "Andes Wire", T0, _facts(weekday_mentions={"Lima": "Thursday"}))
    state.absorb(other, "s2")
    assert [c.about for c in state.conflicts()] == ["number of workers", "day of Lima"]
    assert [s.outlets for s in state.conflicts()[0].sides][1] == ["Harbour Times", "Lima Herald"]


def test_an_article_without_claims_or_weekdays_keeps_the_conflicts_found_and_one_with_a_weekday_finds_them_again(monkeypatch):
    """Conflicts are among claims and weekdays alone: an article with neither leaves them as they were found."""
    state = StoryState()
    state.add("a1", "Harbour Times", T0, _facts(weekday_mentions={"Lima": "Friday"}))
    found = []
    finding = StoryState._find_conflicts
    monkeypatch.setattr(StoryState, "_find_conflicts", lambda self: found.append(self) or finding(self))
    assert state.conflicts() == [] and len(found) == 1
    quote = Quote(text="we will rebuild the harbour wall this year", speaker="Elena Vargas")
    state.add("a2", "Coast Daily", T0, _facts(quotes=[quote], key_phrases=["Harbour Board"], entities=[Entity(name="Lima", kind="place")]))
    assert state.conflicts() == [] and len(found) == 1
    state.add("a3", "Andes Wire", T0, _facts(weekday_mentions={"Lima": "Thursday"}))
    assert [c.about for c in state.conflicts()] == ["day of Lima"] and len(found) == 2
    assert [s.outlets for s in state.conflicts()[0].sides] == [["Harbour Times"], ["Andes Wire"]]


def test_counted_nouns_are_shown_in_the_plural():
    from streams.story.state import claim_text

    assert claim_text(NumericClaim(subject="troop", value=100000, qualifier="nearly", text="")) == "nearly 100,000 troops"
    assert claim_text(NumericClaim(subject="hour", value=1, text="")) == "1 hour"


def test_about_is_compatible_with_any_hedge():
    about = NumericClaim(subject="hours", value=3, qualifier="about", text="about three hours")
    nearly = NumericClaim(subject="hours", value=3, qualifier="nearly", text="nearly three hours")
    events = _append([], "a1", "A", _facts(claims=[about]))
    events = _append(events, "a2", "B", _facts(claims=[nearly]))
    assert fold(events).conflicts == []


def test_compatible_hedges_agree_and_opposite_ones_conflict():
    from streams.story.state import claims_conflict

    def claim(value: float, qualifier: str, subject: str = "hour") -> NumericClaim:
        return NumericClaim(subject=subject, value=value, qualifier=qualifier, text="")

    assert not claims_conflict(claim(4, "exact"), claim(4, "about"))  # "4 hours" and "about 4 hours" agree
    assert not claims_conflict(claim(4, "more than"), claim(4, "at least"))  # the same direction
    assert claims_conflict(claim(100_000, "nearly", "troop"), claim(100_000, "more than", "troop"))
    assert not claims_conflict(claim(4, "nearly"), claim(5, "more than"))  # not the same figure
    assert not claims_conflict(claim(4, "nearly"), claim(4, "more than", "day"))  # not the same thing counted


def test_two_weekdays_for_the_same_meeting_are_a_conflict():
    events = _append([], "a1", "A", _facts(weekday_mentions={"Lima": "Thursday"}))
    events = _append(events, "a2", "B", _facts(weekday_mentions={"Lima": "Friday"}))
    (conflict,) = events[1].conflicts
    assert conflict.about == "day of Lima"
    assert {s.value: s.outlets for s in conflict.sides} == {"Friday": ["B"], "Thursday": ["A"]}


def test_fold_is_a_pure_function_of_the_events():
    events = []
    for i in range(4):
        facts = _facts(
            key_phrases=["Port Authority Board"],
            entities=[Entity(name="Elena Vargas", kind="person", role="port director"), Entity(name="Valparaiso", kind="place")],
        )
        events = _append(events, f"a{i}", f"outlet {i % 2}", facts)
    first, second = fold(events), fold(list(events))
    assert first == second
    assert first.version == 4 and first.recent_article_ids == ["a0", "a1", "a2", "a3"] and first.articles == 4
    assert first.outlets == ["outlet 0", "outlet 1"] and first.outlet_count == 2
    assert first.people[0].role == "port director" and first.places == ["Valparaiso"]
    assert first.event_date == date(2023, 3, 6)


def test_a_copied_state_changes_without_touching_its_original():
    events = _append([], "a1", "A", _facts(quotes=[Quote(text="we will rebuild the harbour wall this year", speaker="X")]))
    original = state_of(events)
    twin = original.copy()
    twin.add("a2", "B", T0, _facts(quotes=[Quote(text="we will rebuild the harbour wall this year")], key_phrases=["Harbour Board"]))
    assert list(original.outlets) == ["A"] and original.quotes[0][1].outlets == ["A"] and not original.phrases
    assert list(twin.outlets) == ["A", "B"] and twin.quotes[0][1].outlets == ["A", "B"]


def test_next_event_leaves_its_state_as_it_is_and_advance_folds_the_entry_in_as_apply_does():
    """The desk advances each live story's state in place; `next_event` and `merge_event` stay pure."""
    quote = Quote(text="we will rebuild the harbour wall this year", speaker="Elena Vargas")
    claim = NumericClaim(subject="crane", value=3, qualifier="nearly", text="nearly 3 cranes")
    events = _append([], "a1", "Harbour Times", _facts(quotes=[quote], claims=[claim], key_phrases=["Harbour Board"]))
    facts = _facts(
        quotes=[quote], claims=[NumericClaim(subject="crane", value=3, qualifier="more than", text="more than 3 cranes")],
        entities=[Entity(name="Elena Vargas", kind="person")], key_phrases=["Harbour Board"], weekday_mentions={"meeting": "Monday"},
    )
    state = state_of(events)
    before = state.to_json()
    pure = next_event("s1", state, "a2", "Coast Daily", T0, facts, score=0.5, position=2)
    assert state.to_json() == before
    advanced = advance("s1", state, "a2", "Coast Daily", T0, facts, score=0.5, position=2)
    assert advanced == pure and (advanced.new_outlet, len(advanced.corroborations), len(advanced.conflicts)) == (True, 1, 1)
    assert advanced.new_entities == ["Elena Vargas"] and [c.text for c in advanced.new_claims] == ["more than 3 cranes"]
    folded = state_of([*events, advanced])
    assert state.to_json() == folded.to_json() and state.version == 2
    assert state.conflicts() == folded.conflicts() and state.label() == folded.label()

    other_events = [next_event("s2", StoryState(), "b1", "Port News", T0, _facts(key_phrases=["Port Board"]))]
    absorbed, survivor = state_of(other_events), state_of([*events, advanced])
    absorbed_before, survivor_before = absorbed.to_json(), survivor.to_json()
    merge = merge_event("s1", survivor, "s2", absorbed, T0, position=3)
    assert (survivor.to_json(), absorbed.to_json()) == (survivor_before, absorbed_before)
    assert advance_by_merge("s1", survivor, "s2", absorbed, T0, position=3) == merge
    assert absorbed.to_json() == absorbed_before
    assert survivor.to_json() == fold_log([*events, advanced, *other_events, merge])["s1"].to_json()


def test_an_article_naming_only_a_weekday_takes_the_story_date_when_the_weekday_matches():
    dated = _facts()  # 2023-03-06, a Monday
    monday_only = ArticleFacts(event_weekday="Monday")
    friday_only = ArticleFacts(event_weekday="Friday")
    events = _append([], "a1", "A", dated)
    events = _append(events, "a2", "B", monday_only)
    events = _append(events, "a3", "C", friday_only)
    assert [e.event_date for e in events] == [date(2023, 3, 6), date(2023, 3, 6), None]
    assert fold(events).article_event_dates == {"a1": date(2023, 3, 6), "a2": date(2023, 3, 6), "a3": None}


def test_the_snapshot_dates_an_early_weekday_only_article_once_the_story_date_is_known():
    events = _append([], "a1", "A", ArticleFacts(event_weekday="Monday"))
    assert events[0].event_date is None
    events = _append(events, "a2", "B", _facts())
    assert fold(events).article_event_dates["a1"] == date(2023, 3, 6)


def test_a_person_named_in_full_and_by_surname_is_one_person_with_the_fullest_name():
    events = _append([], "a1", "A", _facts(entities=[Entity(name="Moreno", kind="person")]))
    events = _append(events, "a2", "B", _facts(entities=[Entity(name="Lenin Moreno", kind="person", role="President")]))
    assert events[1].new_entities == []
    (person,) = fold(events).people
    assert (person.name, person.role) == ("Lenin Moreno", "President")


def test_an_event_that_is_not_the_next_of_its_story_is_refused():
    events = _append(_append([], "a1", "Harbour Times", _facts()), "a2", "Coast Daily", _facts())
    state = StoryState()
    with pytest.raises(OutOfSequence):
        apply(state, events[1])  # version 2 cannot start a story
    apply(state, events[0])
    with pytest.raises(OutOfSequence):
        apply(state, events[0])  # applied twice: would rewrite version 1
    apply(state, events[1])
    assert state.version == 2
    with pytest.raises(OutOfSequence):
        fold([events[0], events[0]])


def test_a_story_opens_with_its_start_and_only_there():
    started, joined = _append(_append([], "a1", "Harbour Times", _facts()), "a2", "Coast Daily", _facts())
    with pytest.raises(OutOfSequence, match="a joined entry cannot be version 1"):
        apply(StoryState(), joined.model_copy(update={"version": 1}))
    state = StoryState()
    apply(state, started)
    with pytest.raises(OutOfSequence, match="a started entry cannot be version 2"):
        apply(state, started.model_copy(update={"version": 2}))
    apply(state, joined)
    assert state.version == 2


def _big_story(articles: int) -> list:
    """A story whose every article brings new names, quotes and claims from a new outlet."""
    events = []
    state = StoryState()
    for i in range(articles):
        facts = _facts(
            entities=[Entity(name=f"Person{i} Surname{i}", kind="person")],
            quotes=[Quote(text=f"statement number {i} about the harbour wall and its repair costs", speaker=None)],
            claims=[NumericClaim(subject="crane", value=i + 2, text=f"{i + 2} cranes")],
            key_phrases=[f"Harbour Board {i % 7}"],
        )
        event = next_event("s1", state, f"a{i}", f"outlet {i}", T0 + timedelta(minutes=i), facts, score=0.5)
        apply(state, event)
        events.append(event)
    return events


def test_a_story_s_state_and_snapshot_stay_bounded_however_many_articles_it_has():
    sizes = {}
    for articles in (60, 600):
        events = _big_story(articles)
        state = state_of(events)
        shot = snapshot("s1", state)
        sizes[articles] = len(shot.to_bytes()), len(str(state.to_json()))
        assert shot.articles == articles and shot.outlet_count == articles
        assert len(shot.recent_article_ids) == RECENT_ARTICLES and shot.recent_article_ids[-1] == f"a{articles - 1}"
        assert len(shot.people) <= MAX_ENTITIES and len(shot.quotes) <= MAX_QUOTES
    # Ten times the articles, the same size (within a few digits more per count).
    assert sizes[600][0] < sizes[60][0] * 1.1 and sizes[600][1] < sizes[60][1] * 1.1


def test_a_stored_state_comes_back_equal_and_decides_the_same_next_entry():
    events = _big_story(30)
    state = state_of(events)
    back = StoryState.from_json(state.to_json())
    assert back.to_json() == state.to_json()
    facts = _facts(quotes=[Quote(text="statement number 29 about the harbour wall and its repair costs")])
    assert next_event("s1", back, "n", "Late Outlet", T0, facts) == next_event("s1", state, "n", "Late Outlet", T0, facts)


def test_a_merge_folds_the_absorbed_story_into_the_survivor_and_closes_it():
    survivor_events = _append(_append([], "a1", "Harbour Times", _facts(key_phrases=["Harbour Board"])), "a2", "Coast Daily", _facts())
    absorbed_events = [next_event("s2", StoryState(), "b1", "Port News", T0, _facts(claims=[NumericClaim(subject="crane", value=3, text="3 cranes")]))]
    merge = merge_event("s1", state_of(survivor_events), "s2", state_of(absorbed_events), T0, position=9)
    assert (merge.version, merge.absorbed_story_id, merge.absorbed_version, merge.articles) == (3, "s2", 1, 3)
    states = fold_log([*survivor_events, *absorbed_events, merge])
    assert states["s1"].articles == 3 and "Port News" in states["s1"].outlets and states["s1"].absorbed == ["s2"]
    assert snapshot("s2", states["s2"]).merged_into == "s1"
    late = next_event("s2", states["s2"], "b2", "Port News", T0, _facts())
    with pytest.raises(OutOfSequence):
        apply(states["s2"], late)  # an absorbed story takes no more entries


def test_a_merge_the_log_cannot_have_made_is_refused():
    """The fold checks the absorbed story as it checks a story's own next entry: known, open, at its version."""
    one = [next_event("s1", StoryState(), "a1", "Harbour Times", T0, _facts())]
    two = [next_event("s2", StoryState(), "b1", "Port News", T0, _facts())]
    three = [next_event("s3", StoryState(), "c1", "Coast Daily", T0, _facts())]
    merge = merge_event("s1", state_of(one), "s2", state_of(two), T0, position=5)
    assert fold_log([*one, *two, merge])["s2"].merged_into == "s1"
    with pytest.raises(OutOfSequence, match="no entry of"):
        fold_log([*one, merge])  # s2 never started
    with pytest.raises(OutOfSequence, match="v1, which the log has at v2"):
        fold_log([*one, *_append_to("s2", two, "b2"), merge])  # s2 moved on after the merge was made
    again = merge_event("s3", state_of(three), "s2", state_of(two), T0, position=6)
    with pytest.raises(OutOfSequence, match="merged into s1 already"):
        fold_log([*one, *two, *three, merge, again])  # absorbed twice: its articles would count twice


def _append_to(story_id: str, events: list, article_id: str) -> list:
    return [*events, next_event(story_id, state_of(events), article_id, "Port News", T0, _facts())]


def test_a_merge_counts_the_absorbed_story_s_outlets_beyond_those_it_names():
    many = StoryState()
    for i in range(100):
        many.add(f"m{i}", f"outlet {i}", T0, _facts())
    assert many.outlet_count == 100 and len(many.outlets) < 100  # the names are bounded, the count is not
    few = StoryState()
    for outlet in ("outlet 99", "Harbour Times"):  # one it names, one it does not
        few.add(outlet, outlet, T0, _facts())
    few.absorb(many, "s-many")
    assert few.outlet_count == 101
