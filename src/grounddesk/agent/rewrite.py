"""Follow-up questions rewritten into standalone retrieval queries, deterministically.

"And how much is it?" means nothing to a search engine; after "Do you ship to Canada?" it means
"how much is shipping to Canada". Without a language model we cannot paraphrase, but retrieval does not
need grammar: adding the salient content words of the earlier customer turns to a follow-up gives the
search what it lacks. A question that already stands alone is returned unchanged.

Example:
    >>> rewrite_followup("what about Canada?", [("user", "How much is express shipping to the UK?")])
    'what about Canada? express shipping'
    >>> rewrite_followup("Do you ship to Canada?", [("user", "How much is express shipping to the UK?")])
    'Do you ship to Canada?'
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["content_words", "is_followup", "rewrite_followup"]

_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’\-]*[A-Za-z0-9]|[A-Za-z0-9]")
_USER = frozenset({"user", "customer", "human", "client"})

# Function words plus the verbs and fillers of asking ("can you tell me", "I want to know") that carry no topic.
_STOP = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been before being
    below between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during
    each either else etc even ever every few for from further get gets getting got had hadn't has hasn't have
    haven't having he he's her here here's hers herself him himself his how how's however i i'd i'll i'm i've if
    in into is isn't it it's its itself just let let's like many may maybe me might mine more most much must
    mustn't my myself need needs neither no nor not now of off on once one ones only or other others otherwise
    ought our ours ourselves out over own per please rather really same say says shall shan't she she'd she'll
    she's should shouldn't since so some such than that that's the their theirs them themselves then there
    there's these they they'd they'll they're they've thing things this those though through thus to too under
    until up upon us very via want wants was wasn't way we we'd we'll we're we've were weren't what what's
    whatever when when's where where's whether which while who who's whom whose why why's will with within
    without won't would wouldn't yes yet you you'd you'll you're you've your yours yourself yourselves
    ok okay oh hi hello hey thanks thank well sure right actually anyway else instead still already though
    tell know think mean meant wondering wonder ask asking help explain find give show see look
    great good cool perfect awesome nice fine alright bye goodbye cheers gotcha understood
    also just lot lots kind sort bit something anything everything nothing someone anyone
    """.split()
)

# Words that point back to something said before.
_ANAPHORA = frozenset(
    """
    it its it's itself this that these those they them their theirs he him his she her hers there such
    one ones same other others former latter above previous
    """.split()
)

# Openers of elliptical follow-ups: "and for Canada?", "what about returns?", "how about the UK?".
_OPENERS = re.compile(
    r"^\s*(?:and|or|but|also|so|then|plus|what about|how about|what if|same for|what else|anything else|"
    r"why not|how come|i mean|i meant|you mean)\b",
    re.IGNORECASE,
)

_QUESTION_STARTS = frozenset(
    """
    what where when why how which who whom whose is are am was were do does did can could will would should shall
    may might have has had i i'm i've my we our please
    """.split()
)

# Openers that swap one thing of the previous question for another: "what about Canada?" after "... to the UK?".
_SUBSTITUTION = re.compile(r"^\s*(?:and\s+)?(?:what about|how about|what if|same for|and for|and in|and to)\b", re.I)

_MAX_STANDALONE_CONTENT = 2  # a question with at most this many content words rarely stands alone
_MAX_ANAPHORIC_CONTENT = 6  # a pronoun in a question this short points back
_MAX_TURNS = 2  # earlier customer turns mined for words, newest first: older ones have often changed topic
_MAX_ADDED = 6  # more words drown the follow-up's own


def _tokens(text: str) -> list[str]:
    return [t.replace("’", "'") for t in _WORD.findall(text)]


def _is_name(token: str, position: int) -> bool:
    """A capitalised word that does not start its turn, or an acronym: probably a name."""
    return (token.isupper() and len(token) > 1) or (position > 0 and token[:1].isupper())


def content_words(text: str) -> list[str]:
    """The words of ``text`` that carry its topic, in order, without repeats (case-insensitive)."""
    return [token for token, _ in _content(text)]


def _content(text: str) -> list[tuple[str, bool]]:
    seen: set[str] = set()
    words: list[tuple[str, bool]] = []
    for position, token in enumerate(_tokens(text)):
        low = token.lower()
        if low in _STOP or low in seen or (len(low) < 2 and not low.isdigit()):
            continue
        seen.add(low)
        words.append((token, _is_name(token, position)))
    return words


def is_followup(question: str) -> bool:
    """Whether ``question`` leans on the conversation: very short, elliptical, or pointing back with a pronoun."""
    tokens = [t.lower() for t in _tokens(question)]
    if not tokens:
        return False
    content = content_words(question)
    if _OPENERS.match(question):
        return True
    if len(content) <= _MAX_ANAPHORIC_CONTENT and any(t in _ANAPHORA for t in tokens):
        return True
    if not content and tokens[0] not in _QUESTION_STARTS and "?" not in question:
        return False  # "thanks", "ok great": an acknowledgement, not a question
    if len(content) > _MAX_STANDALONE_CONTENT:
        return False
    # "Regional differences", "How can I apply?", "How do I do the migration?" lean on what came before;
    # "Do you ship to Canada?" and "Do you price match?" are whole questions that name their topic.
    if tokens[0] not in _QUESTION_STARTS:
        return True
    names_topic = any(is_name for _, is_name in _content(question))
    return not names_topic and (len(content) < _MAX_STANDALONE_CONTENT or "the" in tokens)


def rewrite_followup(question: str, history: Sequence[tuple[str, str]]) -> str:
    """A standalone retrieval query for ``question`` given the conversation so far.

    A follow-up gets up to six content words of the last two customer turns, newest first, that it does not
    already contain; when it swaps in a name of its own ("what about Canada?"), the names of the earlier turns
    are left out. A standalone question, or one with no earlier customer turn, comes back unchanged.

    Args:
        question: The customer's latest message.
        history: ``(speaker, text)`` pairs, oldest first; speakers ``user``/``customer`` are the customer's
            turns, anything else (``agent``, ``assistant``) the other side's.

    Returns:
        The query to search with.
    """
    question = question.strip()
    earlier = [text for speaker, text in history if speaker.lower() in _USER and text.strip()]
    if not earlier or not is_followup(question):
        return question
    swaps_name = bool(_SUBSTITUTION.match(question)) and any(is_name for _, is_name in _content(question))
    have = {w.lower() for w in _tokens(question)}
    added: list[str] = []
    for turn in reversed(earlier[-_MAX_TURNS:]):
        for word, is_name in _content(turn):
            if word.lower() not in have and not (swaps_name and is_name):
                have.add(word.lower())
                added.append(word)
    if not added:
        return question
    return f"{question} {' '.join(added[:_MAX_ADDED])}"
