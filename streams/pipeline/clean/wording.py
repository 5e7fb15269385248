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


# Each wording: its label, its hints (lower-case tokens, one of which every match contains) and its pattern.
# Most paragraphs contain no hint, and a set test is far cheaper than a regex scan.
CTA: list[tuple[str, frozenset[str], re.Pattern[str]]] = [
    (label, frozenset(hints.split()), re.compile(pattern, re.I))
    for label, hints, pattern in [
        (
            "site chrome: blog controls",
            "edit blog",
            r"\bedit post\b|\bfollow this blog\b|\bcreate (?:my|your|a) blog\b",
        ),
        ("call-to-action: subscribe", "subscribe subscription subscriptions", r"\bsubscribe\b|\bsubscriptions?\b"),
        (
            "call-to-action: sign up",
            "sign signup log login account",
            r"\bsign(?:\s|-)?up\b|\bsign in\b|\blog(?:\s|-)?in\b|\bcreate an account\b",
        ),
        ("call-to-action: newsletter", "newsletter newsletters mailing", r"\bnewsletters?\b|\bmailing list\b"),
        ("call-to-action: follow", "follow like", r"\bfollow (?:us|me|our)\b|\blike us on\b"),
        ("call-to-action: share", "share tweet", r"\bshare (?:this|on|via|with us|your)\b|\btweet this\b"),
        (
            "call-to-action: comment",
            "comment comments commenting leave join",
            r"\bcomment on this\b|\bleave a (?:comment|reply)\b|\bcomments?\s*\(\d+\)|\(\d+\)\s*comments?\b"
            r"|\bjoin the (?:discussion|conversation)\b|\bcommenting\b",
        ),
        (
            "call-to-action: donate",
            "donate donation donations support readers patreon become join",
            r"\bdonat(?:e|ion|ions)\b|\bsupport (?:us|our (?:work|journalism|reporting|newsroom|mission))\b"
            r"|\bsupport of (?:our )?readers\b|\breaders like you\b|\bpatreon\b"
            r"|\bbecome an? (?:patron|member|supporter|subscriber)\b|\bjoin our community\b",
        ),
        (
            "cookie/privacy notice",
            "cookie cookies privacy terms",
            r"\bcookies?\b|\bprivacy (?:policy|policies|notice|statement|settings)\b"
            r"|\bterms (?:of (?:use|service)|and conditions)\b",
        ),
        ("copyright line", "copyright © rights", r"\bcopyright\b|©|\ball rights reserved\b"),
        (
            "advertisement",
            "advertisement advertisements ad adblocker adblockers advertising sponsored",
            r"\badvertisements?\b|\bad ?blockers?\b|\badvertising revenue\b|\bsponsored\b",
        ),
        (
            "related links",
            "read click related see further recommended like",
            r"\bread more\b|\bclick here\b|\brelated (?:posts|articles|stories|content)\b|\bsee also\b"
            r"|\bfurther reading\b|\brecommended for you\b|\byou (?:may|might) also like\b",
        ),
        (
            "reuse terms",
            "reprint hyperlink permission reproduce reproduction",
            r"\breprint\b|\bhyperlink\b|\bwritten permission\b|\breproduc(?:e|tion) of\b",
        ),
        (
            "corrections notice",
            "correction corrections report",
            r"\bsuggest(?:ions)? (?:a |or )?corrections?\b|\bcorrections? (?:or|and) clarifications?\b"
            r"|\breport (?:a|an) (?:error|typo|mistake)\b",
        ),
        (
            "contact line",
            "reached contacted write contact know email",
            r"\bcan be (?:reached|contacted)\b|\bwrite to us\b|\bcontact us\b|\blet us know\b"
            r"|\bemail (?:us|protected)\b",
        ),
        ("site chrome: keyboard hint", "ctrl press", r"\bctrl\s*\+|\bpress (?:ctrl|enter)\b"),
        (
            "affiliate disclosure",
            "amazon purchases affiliate earn",
            r"\bamazon associate\b|\bqualifying purchases\b|\baffiliate (?:links?|commissions?)\b|\bwe may earn\b",
        ),
        ("call-to-action: app", "app", r"\bdownload (?:our|the) app\b|\bget the app\b"),
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
