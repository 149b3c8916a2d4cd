"""Replies as SMS and WhatsApp text: GSM-7 transliteration, segment arithmetic, and rendering within a
budget that keeps the facts (status, carrier and tracking number, date) when room runs out. Pure: no I/O.

Both renderers fall back the same way when the full text is too long: every part's short form, with the
optional parts (tracking links) added back in order while they fit; then the words between the facts are
shortened with "..." (the longest run first, an order answer's status line last), so numbers and dates
stay whole; if that is not enough, the lines that fit and then "..."; a last resort cuts on a word
boundary. Quick replies are for the web widget and are not shown here.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from anyascii import anyascii

from lumen_bot.domain.messages import Reply, ReplyKind, clean_text

# The GSM 03.38 default alphabet in code order (0x00-0x7F). 0x1B is the escape into the extension table,
# not a character of its own.
_GSM7_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
_BASIC = frozenset(_GSM7_TABLE) - {"\x1b"}
# The extension table without its form feed: a page break means nothing on a phone.
_EXTENSION = frozenset("^{}\\[~]|€")
_GSM7 = _BASIC | _EXTENSION

_SINGLE_SEGMENT = 160
# A concatenated message spends 7 septets of every segment on the header that lets phones reassemble it.
_CONCATENATED_SEGMENT = 153

_INVISIBLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})
_REGIONAL_INDICATORS = range(0x1F1E6, 0x1F200)
# anyascii spells emoji as shortcodes (":thumbsup:"), which read as noise in a text message.
_EMOJI_NAME = re.compile(r":[a-z0-9_+-]+:")
_SPACES = re.compile(r" {2,}")
_BLANK_LINES = re.compile(r"\n{3,}")

_ELLIPSIS = "..."
_CLAUSE_END = (":", ",", ".", ";", "!", "?")
# A date the way short forms write it is one fact: cutting "Dec" would leave a bare number. The languages'
# short dates: "Tue Dec 1", "mar 1 dic", "Di., 1. Dez.", "mar. 01/12", "ter., 01/12".
_WORD = re.compile(
    r"(?<!\S)[A-Z][a-z]{2} [A-Z][a-z]{2} \d{1,2}\b\S*"
    r"|(?<!\S)[^\W\d_]{2,4}\.?,? \d{1,2}\.? [^\W\d_]{3,4}\b\S*"
    r"|(?<!\S)[^\W\d_]{2,4}\.?,? \d{2}/\d{2}\b\S*"
    r"|\S+"
)

# WhatsApp has no escape character. A word joiner on each side of a markup character takes it off the
# word boundary where WhatsApp looks for markup, is invisible, and (unlike a zero-width space) adds no
# break opportunity, so the data reads and wraps as before.
_WORD_JOINER = "\u2060"
_MARKUP = re.compile(r"[*_~`]")
# Links are left as they are: an invisible character inside a URL would break the link.
_URL = re.compile(r"(https?://\S+)")


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM-7 default alphabet or its extension table."""
    return all(ch in _GSM7 for ch in text)


def to_gsm7(text: str) -> str:
    """``text`` in GSM-7 only: other characters transliterated, emoji dropped, whitespace tidied."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(map(_gsm7_char, text)).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


@lru_cache(maxsize=4096)
def _gsm7_char(ch: str) -> str:
    if ch in _GSM7:
        return ch
    if ch in "\u2028\u2029":
        return "\n"
    if ch == "\t":
        return " "
    category = unicodedata.category(ch)
    if category in _INVISIBLE or ord(ch) in _REGIONAL_INDICATORS:
        return ""
    if ch.isspace():
        return " "
    ascii_text = anyascii(ch)
    # A pictograph that anyascii can only draw with punctuation (★ as "*", 🖂 as "@") is a picture, not text.
    if _EMOJI_NAME.fullmatch(ascii_text) or (category == "So" and not any(c.isalnum() for c in ascii_text)):
        return ""
    # The backtick is the one printable ASCII character GSM-7 lacks; Arabic ayn comes out as one too.
    return "".join(c for c in ascii_text.replace("`", "'") if c in _GSM7)


def gsm7_length(text: str) -> int:
    """Septets needed for ``text``: extension characters take two (escape + character)."""
    outside = set(text) - _GSM7
    if outside:
        raise ValueError(f"not GSM-7: {''.join(sorted(outside))!r}")
    return len(text) + sum(ch in _EXTENSION for ch in text)


def segment_count(text: str) -> int:
    """SMS segments for GSM-7 ``text``; an escape pair never straddles two segments."""
    if gsm7_length(text) <= _SINGLE_SEGMENT:
        return 1
    segments, used = 1, 0
    for ch in text:
        cost = 2 if ch in _EXTENSION else 1
        if used + cost > _CONCATENATED_SEGMENT:
            segments, used = segments + 1, 0
        used += cost
    return segments


def render_sms(replies: Sequence[Reply], max_segments: int = 3) -> str:
    """Plain GSM-7 text of ``replies`` in at most ``max_segments`` segments, replies a blank line apart."""
    if max_segments < 1:
        raise ValueError("max_segments must be at least 1")
    return _fit(replies, to_gsm7, _plain, lambda text: segment_count(text) <= max_segments)


def render_whatsapp(replies: Sequence[Reply], limit: int) -> str:
    """WhatsApp text of ``replies`` within ``limit`` characters: an order answer leads in bold and
    markup characters in the data are shown as themselves.

    Characters are counted in UTF-16 code units, so an emoji counts two: never more than any provider
    counts, whether it counts code points or code units.
    """
    if limit < 1:
        raise ValueError("limit must be at least 1")
    return _fit(replies, clean_text, _whatsapp, lambda text: len(text.encode("utf-16-le")) // 2 <= limit)


@dataclass(frozen=True, slots=True)
class _Block:
    """One reply as lines of text, before the channel's formatting."""

    kind: ReplyKind
    lines: tuple[str, ...]


_Render = Callable[[Sequence[_Block]], str]
_Fits = Callable[[str], bool]


def _plain(blocks: Sequence[_Block]) -> str:
    return "\n\n".join("\n".join(block.lines) for block in blocks if block.lines)


def _whatsapp(blocks: Sequence[_Block]) -> str:
    rendered: list[str] = []
    for block in blocks:
        lines = [_neutralise_markup(line) for line in block.lines]
        if block.kind is ReplyKind.ORDER_ANSWER and lines:
            lines[0] = f"*{lines[0]}*"
        rendered.append("\n".join(lines))
    return "\n\n".join(text for text in rendered if text)


def _neutralise_markup(text: str) -> str:
    pieces = _URL.split(text)
    return "".join(
        piece if index % 2 else _MARKUP.sub(lambda m: f"{_WORD_JOINER}{m.group()}{_WORD_JOINER}", piece)
        for index, piece in enumerate(pieces)
    )


def _present(lines: Iterable[str]) -> tuple[str, ...]:
    return tuple(line for line in lines if line)


def _fit(replies: Sequence[Reply], prepare: Callable[[str], str], render: _Render, fits: _Fits) -> str:
    full = [_Block(reply.kind, _present(prepare(part.text) for part in reply.parts)) for reply in replies]
    text = render(full)
    if fits(text):
        return text
    forms = [
        [(prepare(part.text if part.short is None else part.short), part.optional) for part in reply.parts]
        for reply in replies
    ]

    def with_optional(chosen: set[tuple[int, int]]) -> list[_Block]:
        return [
            _Block(
                reply.kind,
                _present(
                    line for j, (line, optional) in enumerate(forms[i]) if not optional or (i, j) in chosen
                ),
            )
            for i, reply in enumerate(replies)
        ]

    essential = with_optional(set())
    if not fits(render(essential)):
        return _shorten(essential, render, fits)
    chosen: set[tuple[int, int]] = set()
    for i, reply_forms in enumerate(forms):
        for j, (_, optional) in enumerate(reply_forms):
            if optional and fits(render(with_optional(chosen | {(i, j)}))):
                chosen.add((i, j))
    return render(with_optional(chosen))


@dataclass(slots=True)
class _Run:
    """Words that may be shortened from the end: prose, or in an order answer the words between facts."""

    words: list[str]
    keep: int = 0
    lead: bool = False
    """In the first line of an order answer: the status, shortened only when nothing else can be."""

    def text(self, *, shortest: bool = False) -> str:
        keep = min(self.keep, 1) if shortest else self.keep
        return " ".join(self.words) if keep == len(self.words) else _elided(self.words[:keep])


def _elided(words: Sequence[str]) -> str:
    return " ".join(words).rstrip("".join(_CLAUSE_END)) + _ELLIPSIS


def _pieces(line: str, *, facts: bool) -> list[str | _Run]:
    """A line as runs of words, and in an order answer also facts: words with a digit (order and
    tracking numbers, dates, "1/3"), which are never shortened. Prose is one run, cut from its end."""
    if not facts:
        words = line.split()
        return [_Run(words, len(words))] if words else []
    pieces: list[str | _Run] = []
    run: _Run | None = None
    for word in _WORD.findall(line):
        if any(ch.isdigit() for ch in word):
            pieces.append(word)
            run = None
            continue
        # A clause ends a run, so "on its way:" and a carrier name are shortened separately, and
        # "(expected" stays beside its date.
        if run is None or word.startswith("("):
            run = _Run([])
            pieces.append(run)
        run.words.append(word)
        run.keep += 1
        if word.endswith(_CLAUSE_END):
            run = None
    return pieces


class _Trimming:
    """Blocks whose runs are shortened a word at a time."""

    def __init__(self, blocks: Sequence[_Block]) -> None:
        self._lines = [
            (block.kind, [_pieces(line, facts=block.kind is ReplyKind.ORDER_ANSWER) for line in block.lines])
            for block in blocks
        ]
        self._runs = [
            piece for _, lines in self._lines for line in lines for piece in line if isinstance(piece, _Run)
        ]
        for kind, lines in self._lines:
            if kind is ReplyKind.ORDER_ANSWER and lines:
                for piece in lines[0]:
                    if isinstance(piece, _Run):
                        piece.lead = True

    def blocks(self, *, shortest: bool = False) -> list[_Block]:
        return [
            _Block(
                kind,
                _present(
                    " ".join(
                        piece if isinstance(piece, str) else piece.text(shortest=shortest) for piece in line
                    )
                    for line in lines
                ),
            )
            for kind, lines in self._lines
        ]

    def can_fit(self, render: _Render, fits: _Fits) -> bool:
        return fits(render(self.blocks(shortest=True)))

    def fit(self, render: _Render, fits: _Fits) -> str:
        """Shorten the longest run (the later one on a tie) a word at a time until the text fits; the
        status line of an order answer last, and there its closing words first.

        Longest first shares the cuts fairly between shipments and cuts wordy text (a long carrier
        name, a plain reply) before short labels. Call only when ``can_fit``.
        """
        text = render(self.blocks())
        while not fits(text):
            *_, index = max(
                (not run.lead, 0 if run.lead else len(run.text()), index)
                for index, run in enumerate(self._runs)
                if run.keep > 1
            )
            self._runs[index].keep -= 1
            text = render(self.blocks())
        return text


def _shorten(blocks: Sequence[_Block], render: _Render, fits: _Fits) -> str:
    """Shorten free text; if that is not enough, keep as many whole lines as fit, shortened, then "..."."""
    trimming = _Trimming(blocks)
    if trimming.can_fit(render, fits):
        return trimming.fit(render, fits)
    total = sum(len(block.lines) for block in blocks)
    kept = _longest(total - 1, lambda count: _Trimming(_first_lines(blocks, count)).can_fit(render, fits))
    if kept:
        return _Trimming(_first_lines(blocks, kept)).fit(render, fits)
    return _truncate(blocks, render, fits)


def _first_lines(blocks: Sequence[_Block], count: int) -> list[_Block]:
    """The first ``count`` lines (fewer than all), then a line saying there is more."""
    kept: list[_Block] = []
    for block in blocks:
        if count <= len(block.lines):
            kept.append(_Block(block.kind, (*block.lines[:count], _ELLIPSIS)))
            break
        kept.append(block)
        count -= len(block.lines)
    return kept


def _truncate(blocks: Sequence[_Block], render: _Render, fits: _Fits) -> str:
    """The last resort, when not even the first line fits: as many words as fit, then "..."."""
    words = [
        (index, line_index, word)
        for index, block in enumerate(blocks)
        for line_index, line in enumerate(block.lines)
        for word in line.split()
    ]

    def first(count: int) -> list[_Block]:
        by_line: dict[tuple[int, int], list[str]] = {}
        for index, line_index, word in words[:count]:
            by_line.setdefault((index, line_index), []).append(word)
        last = words[count - 1][:2]
        return [
            _Block(
                block.kind,
                _present(
                    _join_kept(by_line.get((index, line_index), []), elide=(index, line_index) == last)
                    for line_index in range(len(block.lines))
                ),
            )
            for index, block in enumerate(blocks)
        ]

    count = _longest(len(words), lambda n: fits(render(first(n))))
    if count:
        return render(first(count))
    if not words:
        return ""
    # Only a single word longer than the whole budget gets here; it has to be cut inside.
    index, _, word = words[0]

    def cut(size: int) -> str:
        return render([_Block(blocks[index].kind, (word[:size] + _ELLIPSIS,))])

    size = _longest(len(word) - 1, lambda n: fits(cut(n)))
    return cut(size) if size else ""


def _join_kept(words: Sequence[str], *, elide: bool) -> str:
    if not words:
        return ""
    return _elided(words) if elide else " ".join(words)


def _longest(upper: int, ok: Callable[[int], bool]) -> int:
    """The largest n in 1..upper with ``ok(n)``, or 0; ``ok`` must hold up to some n and not after it."""
    low, high = 0, upper
    while low < high:
        middle = (low + high + 1) // 2
        if ok(middle):
            low = middle
        else:
            high = middle - 1
    return low
