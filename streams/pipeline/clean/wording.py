"""The English wording cleaning reads: function words, reporting verbs, words addressing the reader, web
furniture phrases, navigation words, webmail domains.

Kept apart from the logic, as spaCy keeps a language's word lists in data modules, so that a list can be
read, argued with and extended without reading the rules that use it.
"""

from __future__ import annotations

import re

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her here
    hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or other
    our ours out over own same she should so some such than that the their theirs them then there these they this
    those through to too under until up very was we were what when where which while who whom why will with would
    you your yours also said says after before since though although however may might must shall""".split()
)
REPORTING_VERBS = frozenset(
    """said says say told tells added adds stated stressed noted warned announced tweeted wrote explained insisted
    argued claimed confirmed denied reported asked replied urged reiterated accused""".split()
)
# Words addressing the reader ("you're", "you'll" count once, as "you").
READER_WORDS = frozenset({"you", "your", "yours", "yourself", "please"})


# Each wording: its label and its phrasings, each a pattern with its hints (lower-case tokens, one of which
# every match of the pattern contains). Most paragraphs contain no hint, and a set test is far cheaper than a
# regex scan; a paragraph with a hint is scanned only for the phrasings that hint points to. The patterns are
# matched against a text folded to lower case as re.IGNORECASE compares letters (`paragraphs._fold`), so they
# are written in lower case and compiled without it: a case-sensitive scan is the quicker.
CTA: list[tuple[str, list[tuple[frozenset[str], re.Pattern[str]]]]] = [
    (label, [(frozenset(hints.split()), re.compile(pattern)) for hints, pattern in phrasings])
    for label, phrasings in [
        ("site chrome: blog controls", [("edit", r"\bedit post\b"), ("blog", r"\bfollow this blog\b|\bcreate (?:my|your|a) blog\b")]),
        ("call-to-action: subscribe", [("subscribe subscription subscriptions", r"\bsubscribe\b|\bsubscriptions?\b")]),
        (
            "call-to-action: sign up",
            [("sign signup", r"\bsign(?:\s|-)?up\b|\bsign in\b"), ("log login", r"\blog(?:\s|-)?in\b"), ("account", r"\bcreate an account\b")],
        ),
        ("call-to-action: newsletter", [("newsletter newsletters", r"\bnewsletters?\b"), ("mailing", r"\bmailing list\b")]),
        ("call-to-action: follow", [("follow", r"\bfollow (?:us|me|our)\b"), ("like", r"\blike us on\b")]),
        ("call-to-action: share", [("share", r"\bshare (?:this|on|via|with us|your)\b"), ("tweet", r"\btweet this\b")]),
        (
            "call-to-action: comment",
            [
                ("comment", r"\bcomment on this\b"),
                ("leave", r"\bleave a (?:comment|reply)\b"),
                ("comment comments", r"\bcomments?\s*\(\d+\)|\(\d+\)\s*comments?\b"),
                ("join", r"\bjoin the (?:discussion|conversation)\b"),
                ("commenting", r"\bcommenting\b"),
            ],
        ),
        (
            "call-to-action: donate",
            [
                ("donate donation donations", r"\bdonat(?:e|ion|ions)\b"),
                ("support", r"\bsupport (?:us|our (?:work|journalism|reporting|newsroom|mission))\b|\bsupport of (?:our )?readers\b"),
                ("readers", r"\breaders like you\b"),
                ("patreon", r"\bpatreon\b"),
                ("become", r"\bbecome an? (?:patron|member|supporter|subscriber)\b"),
                ("join", r"\bjoin our community\b"),
            ],
        ),
        (
            "cookie/privacy notice",
            [
                ("cookie cookies", r"\bcookies?\b"),
                ("privacy", r"\bprivacy (?:policy|policies|notice|statement|settings)\b"),
                ("terms", r"\bterms (?:of (?:use|service)|and conditions)\b"),
            ],
        ),
        ("copyright line", [("copyright", r"\bcopyright\b"), ("©", r"©"), ("rights", r"\ball rights reserved\b")]),
        (
            "advertisement",
            [
                ("advertisement advertisements", r"\badvertisements?\b"),
                ("ad adblocker adblockers", r"\bad ?blockers?\b"),
                ("advertising", r"\badvertising revenue\b"),
                ("sponsored", r"\bsponsored\b"),
            ],
        ),
        (
            "related links",
            [
                ("read", r"\bread more\b"),
                ("click", r"\bclick here\b"),
                ("related", r"\brelated (?:posts|articles|stories|content)\b"),
                ("see", r"\bsee also\b"),
                ("further", r"\bfurther reading\b"),
                ("recommended", r"\brecommended for you\b"),
                ("like", r"\byou (?:may|might) also like\b"),
            ],
        ),
        (
            "reuse terms",
            [
                ("reprint", r"\breprint\b"),
                ("hyperlink", r"\bhyperlink\b"),
                ("permission", r"\bwritten permission\b"),
                ("reproduce reproduction", r"\breproduc(?:e|tion) of\b"),
            ],
        ),
        (
            "corrections notice",
            [
                ("correction corrections", r"\bsuggest(?:ions)? (?:a |or )?corrections?\b|\bcorrections? (?:or|and) clarifications?\b"),
                ("report", r"\breport (?:a|an) (?:error|typo|mistake)\b"),
            ],
        ),
        (
            "contact line",
            [
                ("reached contacted", r"\bcan be (?:reached|contacted)\b"),
                ("write", r"\bwrite to us\b"),
                ("contact", r"\bcontact us\b"),
                ("know", r"\blet us know\b"),
                ("email", r"\bemail (?:us|protected)\b"),
            ],
        ),
        ("site chrome: keyboard hint", [("ctrl", r"\bctrl\s*\+"), ("press", r"\bpress (?:ctrl|enter)\b")]),
        (
            "affiliate disclosure",
            [
                ("amazon", r"\bamazon associate\b"),
                ("purchases", r"\bqualifying purchases\b"),
                ("affiliate", r"\baffiliate (?:links?|commissions?)\b"),
                ("earn", r"\bwe may earn\b"),
            ],
        ),
        ("call-to-action: app", [("app", r"\bdownload (?:our|the) app\b|\bget the app\b")]),
    ]
]

# First words of navigation links ("Share", "Back to top", "Load more").
NAV_FIRST = {
    "more", "menu", "home", "share", "print", "email", "next", "previous", "back", "skip", "search", "login",
    "load", "show", "view", "tweet", "pin", "top",
}  # fmt: skip

# Mail services: an address there names no outlet.
WEBMAIL = {
    "gmail", "googlemail", "yahoo", "hotmail", "outlook", "live", "msn", "aol", "icloud", "me", "mac",
    "protonmail", "proton", "gmx", "yandex", "mail", "zoho", "fastmail",
}  # fmt: skip
