"""Word attributions for people: coloured words in a terminal, highlighted words on a web page.

Green marks a word that supports the label, red one that speaks against it; the stronger the
colour, the larger the word's share of the text's largest score. The page is one self-contained
HTML file (inline CSS, no script, nothing fetched), so it opens anywhere, offline.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from kerasbert.inference.explain import Attribution, Explanation

# Background colours (RGB) of supporting and opposing words.
SUPPORTS = (22, 163, 74)
OPPOSES = (220, 38, 38)
# 256-colour ANSI backgrounds from faint to strong, chosen so black text stays readable.
ANSI_GREENS = (194, 157, 120, 83, 46)
ANSI_REDS = (224, 217, 210, 203, 196)
TOP_WORDS = 5

PAGE_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #111; }
section { border-bottom: 1px solid #ddd; padding: 0.75rem 0; }
.label { font-weight: 600; }
.meta { color: #555; font-size: 0.9em; }
.text { line-height: 1.9; white-space: pre-wrap; }
.word { border-radius: 3px; padding: 0 1px; }
.pair { color: #555; font-size: 0.85em; margin-top: 0.4rem; }
h2.note { font-size: 1em; margin: 1.5rem 0 0; }
"""


def segments(explanation: Explanation, attribution: Attribution, segment: int):
    """The pieces of one text in order: `(piece, score)` where `score` is None between words."""
    source = explanation.text if segment == 0 else explanation.text_pair or ""
    cursor = 0
    for word, score in zip(explanation.words, attribution.scores, strict=True):
        if word.segment != segment:
            continue
        if word.start > cursor:
            yield source[cursor : word.start], None
        yield source[word.start : word.end], score
        cursor = word.end
    if cursor < len(source):
        yield source[cursor:], None


def strength(attribution: Attribution, score: float) -> float:
    """`score` as a share (0 to 1) of the text's largest absolute score."""
    largest = max((abs(value) for value in attribution.scores), default=0.0)
    return abs(score) / largest if largest > 0 else 0.0


def to_terminal(explanations: Sequence[Explanation], colour: bool) -> str:
    """Each explanation as lines for a terminal: the label and its probability, the text with
    its words coloured (with `colour`; ANSI 256-colour backgrounds), and the top words."""
    lines = []
    for explanation in explanations:
        for attribution in explanation.attributions:
            lines.append(_heading(explanation, attribution))
            for segment in (0, 1) if explanation.text_pair is not None else (0,):
                lines.append("  " + _ansi_text(explanation, attribution, segment, colour))
            top = explanation.top(TOP_WORDS, attribution.label)
            lines.append("  top: " + ", ".join(f"{word} {score:+.4f}" for word, score in top))
        lines.append("")
    return "\n".join(lines)


def to_html(
    explanations: Sequence[Explanation],
    title: str = "kerasbert explanations",
    notes: Sequence[str] | None = None,
) -> str:
    """One self-contained HTML page of every explanation (no network, no script); `notes`, one
    per explanation, say where each text came from (the report's: its truth, a mistake)."""
    sections = []
    for position, explanation in enumerate(explanations):
        if notes is not None:
            sections.append(f'<h2 class="note">{html.escape(notes[position])}</h2>')
        for attribution in explanation.attributions:
            texts = [
                f'<div class="text">{_html_text(explanation, attribution, 0)}</div>',
            ]
            if explanation.text_pair is not None:
                texts.append(
                    '<div class="pair">second text</div>'
                    f'<div class="text">{_html_text(explanation, attribution, 1)}</div>'
                )
            sections.append(
                "<section>"
                f'<div><span class="label">{html.escape(attribution.label)}</span> '
                f'<span class="meta">probability {attribution.probability:.4f} · '
                f"{html.escape(_method(explanation, attribution))}</span></div>"
                + "".join(texts)
                + "</section>"
            )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{PAGE_STYLE}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>"
        '<p class="meta">Green words support the label, red words speak against it; the '
        "stronger the colour, the larger the word's part. Hover a word for its score.</p>"
        + "\n".join(sections)
        + "</body></html>\n"
    )


def _heading(explanation: Explanation, attribution: Attribution) -> str:
    return (
        f"{attribution.label}  probability {attribution.probability:.4f}  "
        f"({_method(explanation, attribution)})"
    )


def _method(explanation: Explanation, attribution: Attribution) -> str:
    if attribution.completeness_error is None:
        return explanation.method.replace("_", " ")
    return (
        f"{explanation.method.replace('_', ' ')}, completeness error "
        f"{100 * attribution.completeness_error:.1f}%"
    )


def _ansi_text(
    explanation: Explanation, attribution: Attribution, segment: int, colour: bool
) -> str:
    pieces = []
    for piece, score in segments(explanation, attribution, segment):
        level = 0.0 if score is None else strength(attribution, score)
        if not colour or level < 0.1:
            pieces.append(piece)
            continue
        palette = ANSI_GREENS if score > 0 else ANSI_REDS
        shade = palette[min(len(palette) - 1, int(level * len(palette)))]
        pieces.append(f"\x1b[30;48;5;{shade}m{piece}\x1b[0m")
    return "".join(pieces).replace("\n", " ")


def _html_text(explanation: Explanation, attribution: Attribution, segment: int) -> str:
    pieces = []
    for piece, score in segments(explanation, attribution, segment):
        if score is None:
            pieces.append(html.escape(piece))
            continue
        red, green, blue = SUPPORTS if score > 0 else OPPOSES
        opacity = round(strength(attribution, score), 3)
        pieces.append(
            f'<span class="word" title="{score:+.4f}" '
            f'style="background: rgba({red}, {green}, {blue}, {opacity})">'
            f"{html.escape(piece)}</span>"
        )
    return "".join(pieces)


__all__ = ["segments", "strength", "to_html", "to_terminal"]
