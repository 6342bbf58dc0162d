"""Street-address heuristics: a street line, then whatever postal block follows it.

A *street line* is a run of name words and numbers on one line (``6750 Koskikatu 25``, ``90 Whitchurch Road``,
``Via Tasso 129``, ``26 rue des Lilas``). A run with a leading building number is accepted when it also has a
house number after the name, a second leading number, a street-type word (Road, Rue, -straat, ...), a unit
(Apt., Suite) or a postal block after it. A run without a leading number (``Sludevej 13``) needs a unit, a postal
block, a street-type word, or an address phrase before it (``lives at``, ``send it to``, ``address``). Fixed
forms are matched directly: PO boxes, US military addresses (``PSC 1234, Box 5678 / APO AE 12345``), ``the corner
of A and B``, and ``<Name> Street`` / ``<Name> St.``.

From the end of a street line the postal block is taken in: units, ``, City``, ``, ST 12345``, and following
lines that hold only place names, a state, a unit or a postcode. The block ends at the first line that is
anything else, or right after a postcode (and the place names on its line).

Capitals carry much of the evidence, so an all-lower-case (or all-upper-case) text is held to stricter rules.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["find_addresses", "find_zip_codes"]

_L = r"[^\W\d_]"
_NUM = r"\d{1,6}[A-Za-z]?(?:[/-]\d{1,4}[A-Za-z]?)?"
_TOKEN = re.compile(
    rf"(?P<long>\d{{7,}}\w*)|(?P<glued>\d{{1,6}}(?::\d+)+|\d{{1,6}}{_L}{{2,}}\w*)|(?P<num>{_NUM})(?![\w/-])"
    rf"|(?P<word>[A-Z]/|{_L}[\w'’]*(?:[-/.]{_L}[\w'’]*)*\.?)|(?P<sp>[ \t]{{1,2}})|(?P<other>\S|\s)",
)

_STOP = frozenset(
    """a an and or but nor for in into after before to the of is are was were be been being please my your his her
    their our its it it's i i'm i'd i'll i've we we're you you're he she they them him me us with on at by from this
    that these those when where while if so as then than there here what which who whom how not no yes can could
    would will shall should may might must does did done have has had get got just also only very too more most
    some any all each every other another same such own thanks thank hello hi dear sir madam ok okay times plus minus
    divided x equal equals between until through am pm""".split()
)
_MONTHS = frozenset(
    """january february march april may june july august september october november december jan feb mar apr jun jul
    aug sep sept oct nov dec monday tuesday wednesday thursday friday saturday sunday mon tue wed thu fri sat sun
    today tomorrow yesterday""".split()
)
_PARTICLES = frozenset(
    "a de do da dos das del della dei degli des du la le les di van von der den het y e el los las am an zu zum zur "
    "och i sur sul en op aan ter te u v nad pod na bei im upon ob pri ad d' s".split()
)
_PREFIXES = frozenset(
    """rue rua rúa via viale vicolo viela avenida avda avda. av. avenue calle callejón carrer carrera plaza praça
    praca largo travessa strada corso piazza piazzale rotonda contrada borgo canale ul. ul ulica al. aleja plac pl.
    boulevard bd bd. blvd chemin allée allee impasse quai route paseo pasaje camino carretera cañada ronda glorieta
    calçada estrada alameda rambla ladeira rodovia vereda λ. λεωφ. οδός odos str. rruga sokak cadde caddesi jalan jl.
    avinguda r r.""".split()
)
# Street types of the English-speaking world (the en_US list of the Faker library, which the Presidio set uses).
_TYPES = frozenset(
    """street st st. str str. road rd rd. avenue ave ave. av lane ln ln. drive dr dr. court ct ct. boulevard blvd
    way place pl pl. square sq sq. terrace crescent close parade highway hwy parkway pkwy alley bypass causeway
    circle cir circus creek crest crossing crossroad expressway extension extensions freeway gardens garden gateway
    glen glens grove groves harbor harbors harbour heights hill hills hollow junction junctions lanes loop mall manor
    manors meadow meadows mews motorway orchard oval pass passage path pike plaza promenade quay ridge ridges route
    spur spurs stravenue throughway trail tunnel turnpike underpass viaduct vista walk walks wharf rapids rapid flats
    flat fort isle forges forge parks park courts falls fall fields field estates estate knolls knoll landing shores
    shore springs spring summit trace track villages village ville branch bridge brook brooks burg burgs camp canyon
    cape center centers circles cliff cliffs club common commons corner corners course cove coves creek dale dam
    divide drives ferry ford fords forest fork forks gateway green greens haven inlet island islands key keys lake
    lakes land light lights loaf lock locks lodge mill mills mission mount mountain mountains neck pine pines plain
    plains point points port ports prairie radial ramp ranch rest river roads row run shoal shoals skyway squares
    station stream streets trafficway trailer union unions valley valleys view views wall ways well wells gate glade
    courtyard nook""".split()
)
_CORE_TYPES = frozenset(
    """street st st. str str. road rd rd. avenue ave ave. lane ln drive dr court ct boulevard blvd way place square
    terrace crescent close parade highway parkway alley""".split()
)
_MORPH = re.compile(
    r"(?:stra(?:ss|ß)e|str\.?|gasse|weg|platz|allee|damm|ufer|vej|gade|stræti|gata|gatan|vägen|väg|veien|vegen|vei|"
    r"katu|tie|kuja|polku|straat|laan|plein|gracht|kade|dijk|wei|steeg|utca|útja|út|tér|u\.|köz|körút|rkp\.|"
    r"sétány|ulica|ovej|gränd|stig|torget|backe|rinne|kaari|puistikko)$",
    re.IGNORECASE,
)
_SECONDARY = frozenset("apt apt. apartment suite ste ste. unit flat floor fl fl. room rm rm. bldg building #".split())

_POSTCODE = (
    r"(?:\d{4,6}(?:-\d{3,4})?|\d{3} \d{2}|\d{2}-\d{3}|[A-Z]-\d{4}|\d{4} ?[A-Z]{2}(?!\w)"
    r"|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|[A-Z]\d[A-Z] ?\d[A-Z]\d)(?![\w-])(?![ \t]?\d)"
)
_PLACE_WORD = r"(?:\([^\W\d_][^)\n]{0,30}\)|[^\W\d_][^\s,;:!?()\[\]{}<>\".]*(?:\.[^\W\d_][^\s,;:!?()\[\]{}<>\".]*)*)"
_SEC_UNIT = (
    r"(?:(?i:apt|apartment|suite|ste|unit|flat|floor|fl|room|rm|bldg|building)\.?\s*#?\s*[\w-]*\d[\w-]*|#\s*\d+)"
)

_MILITARY = re.compile(
    r"(?i:\b(?:(?:PSC|CMR|Unit)\s+\d{3,5},?\s+Box\s+\d{3,5}|(?:USNS|USNV|USS|USCGC)\s+[^\W\d_][\w'’-]*"
    r"(?:\s[^\W\d_][\w'’-]*)?)\s*\n?[ \t>]*(?:APO|FPO|DPO)\s+(?:AA|AE|AP)\s+\d{5}\b)"
)
_PO_BOX = re.compile(r"(?i:\b(?:P\.?\s?O\.?\s?Box|Post\s+Office\s+Box|Postbox|Postfach)\s+\d{1,6}\b)")
_CORNER = re.compile(r"(?i:\b(?:the\s+)?corner\s+of\s+)")
_CORNER_WORD = rf"(?:{_L}[\w'’]*(?:[-/.]{_L}[\w'’]*)*\.?|{_NUM}\.?)"
_CORNER_SIDE = re.compile(rf"(?!(?i:and)\b){_CORNER_WORD}(?:[ \t]+(?!(?i:and)\b){_CORNER_WORD}){{0,6}}")
_CORNER_AND = re.compile(r"[ \t]+(?i:and)[ \t]+")
_STREET_AFTER = re.compile(r"[ \t]+(?i:street|st\.)(?!\w)")
_NAMED_STREET = re.compile(rf"(?<![\w-])((?:{_L}[\w'’-]*\.?[ \t]){{1,4}})(?:[Ss]treet\b|St\.(?![ \t]*[A-Z]))")
_COMMA_HOUSE = re.compile(
    rf",[ \t]*{_NUM}(?=[ \t]*(?:$|[\n,.?!;]|[ \t](?i:apt|apartment|suite|ste|unit|flat|floor|piano|appartamento)\b))"
)
_HOUSE_BEFORE = re.compile(rf"(?:\d{{1,6}}[ \t]+)?{_NUM},[ \t]*$")
_AND_BEFORE = re.compile(rf"(?:^|[:?!.\n]|\b(?:to|at|is|on|in)\b)[ \t>]*({_L}[\w'’-]*) and $", re.MULTILINE)
_ZIP_AFTER_PLACE = re.compile(
    rf"\b(?i:in)[ \t]+((?:{_L}[\w'’.-]*[ \t]+){{1,4}})"
    r"(\d{4,5}(?:-\d{3,4})?|\d{3} \d{2}|\d{2}-\d{3}|[A-Z]-\d{4}|\d{4} ?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}"
    r"|[A-Z]\d[A-Z] \d[A-Z]\d)(?![\w-])"
)
_CUE = re.compile(
    r"(?i:\b(?:address(?:es)?|lives?\s+(?:at|on|in)|living\s+(?:at|on|in)|lived\s+(?:at|on|in)|reside[sd]?|located|"
    r"deliver(?:ed|y)?\s+to|ship(?:ped|ping)?\s+to|mail(?:ed)?\s+to|post(?:ed)?\s+to|sen[dt](?:\s+\w+)?\s+to|"
    r"return(?:ed)?\s+to|meet(?:\s+\w+)?\s+at|move[ds]?\s+to|moving\s+to|taxi\s+to|drops?\s+\w+\s+off\s+at|"
    r"stop\s+at|enter\s+on|side\s+of|corner\s+of|is\s+at|is\s+on|refers\s+to)\b)"
)


class _Case:
    """Case conventions of one text: in an all-lower or all-upper text capitals say nothing."""

    def __init__(self, text: str) -> None:
        self.cased = any(ch.isupper() for ch in text) and any(ch.islower() for ch in text)
        flags = 0 if self.cased else re.IGNORECASE
        self.postcode = re.compile(_POSTCODE, flags)
        self.state = re.compile(r"(?:[A-Z]{2,3}|nan)(?![\w-])" if self.cased else r"[^\W\d_]{2,3}(?![\w-])")
        self.line_code = re.compile(
            rf"[^\n:@\d]{{1,60}}?[ \t]+{_POSTCODE}[ \t.?!]*(?=\n|$)",
            flags,
        )

    def strong(self, word: str) -> bool:
        """A word that may start a street name: capitalised (in cased text), a street prefix, a unit, a particle."""
        low = word.lower()
        if low in _PARTICLES or low in _PREFIXES or low in _SECONDARY:
            return True
        if low in _STOP or low in _MONTHS:
            return False
        return word[0].isupper() or not self.cased or word.endswith("/")

    def place(self, word: str) -> bool:
        """A word of a place name: capitalised in cased text, or a particle ("Mora de Rubielos")."""
        low = word.lower()
        if low in _PARTICLES or low == "nan":
            return True
        if low in _STOP or low in _MONTHS or low in _SECONDARY:
            return False
        return not self.cased or word[0].isupper() or word[0] == "("

    def weak(self, word: str) -> bool:
        """A word that may continue a street name ("Erzsébet tér 19.", "568 May Landing")."""
        low = word.lower()
        if low in _PARTICLES:
            return True
        if low in _MONTHS:
            return self.cased and word[0].isupper()
        return low not in _STOP


def _is_type(word: str) -> bool:
    low = word.lower()
    return low in _TYPES or low in _PREFIXES or bool(_MORPH.search(low))


def _is_core_type(word: str) -> bool:
    low = word.lower()
    return low in _CORE_TYPES or low in _PREFIXES or bool(_MORPH.search(low))


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # long, glued, num, word, sp, other
    start: int
    end: int
    text: str


def _runs(text: str, case: _Case) -> list[list[_Tok]]:
    """Runs of number and name tokens separated by single spaces, one line at a time."""
    runs: list[list[_Tok]] = []
    current: list[_Tok] = []
    pending_space = False
    for m in _TOKEN.finditer(text):
        tok = _Tok(m.lastgroup or "other", m.start(), m.end(), m.group())
        if tok.kind == "sp":
            pending_space = bool(current)
            continue
        fits = tok.kind == "num" or (
            tok.kind == "word" and (case.strong(tok.text) or (bool(current) and case.weak(tok.text)))
        )
        if fits and (not current or pending_space):
            current.append(tok)
        else:
            if current:
                runs.append(current)
            current = [tok] if fits else []
        pending_space = False
    if current:
        runs.append(current)
    return runs


def _trim(run: list[_Tok], case: _Case) -> list[_Tok]:
    # A trailing lowercase word ("... 1636 street in") stays only when it names a street type.
    while run and run[-1].kind == "word" and not case.strong(run[-1].text) and not _is_type(run[-1].text):
        run = run[:-1]
    while run and run[-1].kind == "word" and run[-1].text.lower() in _PARTICLES:
        run = run[:-1]
    # Leading words before a unit keyword are a name, not part of the street ("Mrs Ann Lee Apt. 5 ...").
    for i, tok in enumerate(run):
        if tok.kind == "num":
            break
        if tok.text.lower() in _SECONDARY and i > 0:
            if len(run) > i + 2:  # more street after "Apt. 5"; else "rue de Pages Apt. 211" is street + unit
                run = run[i:]
            break
    # After a street name, a unit keyword starts the postal block, which the continuation reads
    # (but "33104 Flat 51j Bradley Station" is a unit inside the street line).
    named = False
    for i, tok in enumerate(run):
        if tok.kind == "word" and tok.text.lower() not in _SECONDARY:
            named = True
        elif named and tok.text.lower() in _SECONDARY:
            run = run[:i]
            break
    # A street line does not start with a lower-case word, nor with a lower-case particle, in cased text.
    while (
        run and run[0].kind == "word" and (not case.strong(run[0].text) or (case.cased and run[0].text in _PARTICLES))
    ):
        run = run[1:]
    return run


def _has_date(run: list[_Tok]) -> bool:
    """A month name next to a day or a year ("29 March 2017", "March 5")."""
    for i, tok in enumerate(run):
        if tok.kind == "word" and tok.text.lower() in _MONTHS:
            before = run[i - 1] if i else None
            after = run[i + 1] if i + 1 < len(run) else None
            if before is not None and before.kind == "num" and len(before.text) <= 2:
                return True
            if (
                after is not None
                and after.kind == "num"
                and (len(after.text) <= 2 or re.fullmatch(r"(?:19|20)\d\d", after.text))
            ):
                return True
    return False


def _accept(run: list[_Tok], text: str, case: _Case, continued: bool, house_after: bool) -> bool:
    kinds = [t.kind for t in run]
    if "word" not in kinds:
        return False
    lead = 0
    while lead < len(kinds) and kinds[lead] == "num":
        lead += 1
    words = [t.text for t in run if t.kind == "word"]
    if lead and words[0] in _PARTICLES:
        return False  # "at 9 en route"
    if _has_date(run):
        return False
    unit = any(
        a.kind == "word" and a.text.lower() in _SECONDARY and b.kind == "num"
        for a, b in zip(run, run[1:], strict=False)
    )
    # Lower-case chat text ("split it 7 ways") only trusts the unambiguous street types.
    typed = any((_is_type if case.cased else _is_core_type)(w) for w in words)
    num_after_name = house_after or any(k == "num" for k in kinds[lead + 1 :])

    def cue() -> bool:
        line_start = text.rfind("\n", 0, run[0].start) + 1
        return bool(_CUE.search(text, max(line_start, run[0].start - 64), run[0].start))

    if lead:
        shaped = lead >= 2 or num_after_name or typed or unit or continued or (len(words) >= 2 and cue())
        # Lower-case chat text ("what is 13 times 57") needs more than a shape.
        return shaped and (case.cased or typed or continued or cue())
    # Name first: "Sludevej 13". Needs a unit, a postal block, a street-type word, or an address cue.
    if not num_after_name:
        return False
    if unit or continued or (case.cased and any(_is_core_type(w) for w in words)):
        return True
    return cue()


class _Continuation:
    """Consumes the postal block after a street line: units, localities, states and postcodes."""

    _unit = re.compile(rf"\.?[ \t]*,?[ \t]*{_SEC_UNIT}")
    _word = re.compile(_PLACE_WORD)
    _sep = re.compile(r",?[ \t]+|,")
    _gap = re.compile(r"[ \t]+")
    _comma = re.compile(r",[ \t]*")
    _small = re.compile(r"\d{1,3}[ \t]+")
    _newline = re.compile(r"\.?[ \t]*\n(?:[ \t>?•*]*\n)?[ \t>?•*]*,?[ \t]*")
    _clean = re.compile(r"[ \t]*(?:[,\n]|[.?!]*[ \t]*$|[.?!][ \t])")
    _eol = re.compile(r"[ \t]*(?:\n|$)")

    def __init__(self, case: _Case) -> None:
        self.case = case

    def _places(self, text: str, pos: int) -> int:
        end = cursor = pos
        for _ in range(8):
            m = self._word.match(text, cursor)
            if m and self.case.place(m.group()):
                end = m.end()
            elif end > pos and (s := self.case.state.match(text, cursor)):
                end = s.end()
            else:
                break
            sep = self._sep.match(text, end)
            if not sep:
                break
            cursor = sep.end()
        return end

    def locality(self, text: str, pos: int) -> tuple[int, bool]:
        """Place words, state codes and a postcode from ``pos`` on one line: (end, whether it has a postcode)."""
        end = cursor = pos
        for _ in range(12):
            if c := self.case.postcode.match(text, cursor):
                # "72504 Kalmar", "15055, Pontecurone (AL)": places after the code, when they end the line.
                sep = self._sep.match(text, c.end())
                tail = self._places(text, sep.end()) if sep else c.end()
                if sep and tail > sep.end() and (self.case.cased or self._clean.match(text, tail)):
                    return tail, True
                return c.end(), True
            m = self._word.match(text, cursor)
            if m and self.case.place(m.group()):
                end = m.end()
            elif s := self.case.state.match(text, cursor):
                end = s.end()
            elif (n := self._small.match(text, cursor)) and self.case.postcode.match(text, n.end()):
                cursor = n.end()
                continue
            else:
                break
            sep = self._sep.match(text, end)
            if not sep:
                break
            cursor = sep.end()
        return end, False

    def house_number(self, text: str, end: int) -> int:
        """End of a house number written after a comma (``Rua Pimenta, 12``), or ``end``."""
        m = _COMMA_HOUSE.match(text, end)
        return m.end() if m else end

    def _after_unit(self, text: str, end: int) -> tuple[int, bool]:
        """A locality on the same line after a unit ("Apt. 678 Velenje"): (end, whether it had a postcode)."""
        gap = self._gap.match(text, end)
        if not gap:
            return end, False
        tail, coded = self.locality(text, gap.end())
        if tail > gap.end() and (coded or self.case.cased or self._clean.match(text, tail)):
            return tail, coded
        return end, False

    def _postal_line(self, text: str, start: int) -> tuple[int, bool] | None:
        """A whole postal line from ``start`` (after the newline): (end, whether it had a postcode), or None."""
        after, coded = self.locality(text, start)
        if not coded and not (after > start and self._clean.match(text, after)):
            # "South Georgia and the South Sandwich Islands 43028": a whole line of place and code.
            whole = self.case.line_code.match(text, start)
            if not whole or len(whole.group().split()) > 9:
                return None
            after, coded = whole.end(), True
        if after == start or not (coded or self._clean.match(text, after)):
            return None
        if coded and self.case.postcode.fullmatch(text, start, after) and (n := self._newline.match(text, after)):
            # "6703BU\nMaasdijk": a town on the line after a lone postcode.
            town = self._places(text, n.end())
            if town > n.end() and self._clean.match(text, town):
                after = town
        return after, coded

    def extend(self, text: str, end: int) -> tuple[int, bool]:
        """The end of the postal block that starts at ``end``, and whether it held a unit or a postal line."""
        taken = False
        for _ in range(10):
            if m := self._unit.match(text, end):
                taken = True
                end, coded = self._after_unit(text, m.end())
                if coded:
                    break
                continue
            if comma := self._comma.match(text, end):
                after, coded = self.locality(text, comma.end())
                if after > comma.end():
                    end = after
                    if coded or not self._clean.match(text, end):
                        break
                    continue
            if m := self._newline.match(text, end):
                if u := self._unit.match(text, m.end()):
                    end, taken = u.end(), True
                    continue
                line = self._postal_line(text, m.end())
                if line is None:
                    break  # not a postal line
                (end, coded), taken = line, True
                if coded or not self._eol.match(text, end):
                    break
                continue
            break
        return end, taken


def _street_lines(text: str, case: _Case, cont: _Continuation) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    for raw in _runs(text, case):
        run = _trim(raw, case)
        if not run:
            continue
        start = run[0].start
        # "4, avenue Jeannine" / "Rua Pimenta, 12": house numbers written with a comma.
        house_before = None
        if run[0].kind == "word" and run[0].text.lower() in _PREFIXES:
            house_before = _HOUSE_BEFORE.search(text, max(0, start - 24), start)
        run_end = run[-1].end
        if run[-1].kind == "word" and any(t.kind == "num" or t.text.lower() in _PREFIXES for t in run):
            run_end = cont.house_number(text, run_end)
        end, block = cont.extend(text, run_end)
        # "... 1636 street" / "... 25 St." right after the run also says "street".
        street_word = _STREET_AFTER.match(text, run_end) is not None
        if house_before:
            start = house_before.start()
        if not _accept(run, text, case, block or street_word, house_before is not None or run_end > run[-1].end):
            continue
        # A quirk of the Presidio generator that also occurs in real text: "<Name> and <street>".
        if before := _AND_BEFORE.search(text, max(0, start - 60), start):
            start = before.start(1)
        spans.append((start, end))
    return spans


def _corners(text: str, case: _Case) -> list[tuple[int, int]]:
    """``the corner of A and B``: each side a few name words and numbers, B may end in ``St.``."""
    spans: list[tuple[int, int]] = []
    for m in _CORNER.finditer(text):
        pos, sides = m.end(), 0
        end = pos
        for _ in range(2):
            side = _CORNER_SIDE.match(text, pos)
            if not side:
                break
            # The side ends at the first word that cannot be part of a street name ("... Glen. It serves").
            kept = 0
            for w in side.group().split():
                if w[0].isalpha() and not case.weak(w):
                    break
                kept += 1
            if not kept:
                break
            sides += 1
            end = pos + len(" ".join(side.group().split()[:kept])) if kept < len(side.group().split()) else side.end()
            joint = _CORNER_AND.match(text, end)
            if not joint:
                break
            pos = joint.end()
        if sides == 2:
            spans.append((m.start(), end))
    return spans


def _named_streets(text: str, case: _Case) -> list[tuple[int, int]]:
    """``Marina Fort Street``, ``Inna Loop St.``: capitalised names before Street / St. (cased text only)."""
    if not case.cased:
        return []
    spans: list[tuple[int, int]] = []
    for m in _NAMED_STREET.finditer(text):
        words = m.group(1).split()
        # Keep the capitalised tail: "shows on Marina Fort Street" -> "Marina Fort Street".
        keep = len(words)
        while keep and (words[keep - 1][0].isupper() or words[keep - 1].lower() in _PARTICLES | _PREFIXES):
            keep -= 1
        named = words[keep:]
        if named and named[0][0].isupper() and all(case.strong(w) for w in named):
            spans.append((m.start(1) + m.group(1).index(" ".join(named)), m.end()))
    return spans


def find_addresses(text: str) -> list[tuple[int, int]]:
    """Character spans of street addresses (with their postal blocks) in ``text``, sorted and merged."""
    case = _Case(text)
    cont = _Continuation(case)
    spans: list[tuple[int, int]] = [(m.start(), m.end()) for m in _MILITARY.finditer(text)]
    for m in _PO_BOX.finditer(text):
        spans.append((m.start(), cont.extend(text, m.end())[0]))
    spans.extend(_corners(text, case))
    spans.extend(_named_streets(text, case))
    if any(ch.isdigit() for ch in text):
        spans.extend(_street_lines(text, case, cont))
    return _merge(spans)


def find_zip_codes(text: str) -> list[tuple[int, int]]:
    """Postcodes right after a place name introduced by "in" (``... in Barra de Carrasco 15000 ...``)."""
    case = _Case(text)
    spans: list[tuple[int, int]] = []
    for m in _ZIP_AFTER_PLACE.finditer(text):
        words = m.group(1).split()
        if re.fullmatch(r"(?:19|20)\d{2}", m.group(2)) or not case.strong(words[0]):
            continue
        if all(case.place(w) for w in words):
            spans.append((m.start(2), m.end(2)))
    return spans


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
