"""A self-contained HTML document made of sections: one file that opens anywhere, offline, and prints.

Everything is inside the file: the style sheet, the figures (PNG as ``data:`` URIs), the text. There is no script,
no web font, no external style sheet or image, so opening it makes no request beyond the file itself (the tests
check this in a headless browser). It knows nothing of campaigns: :mod:`campaign.report.sections` fills it.

A :class:`Section` has a title, a body (an HTML fragment built with :func:`esc` and :func:`table`, and/or Markdown
in the small subset :func:`markdown_to_html` reads) and figures. :func:`render` lays the sections out after a
header, with a table of contents.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Figure:
    """An image to embed: ``data`` (the file's bytes, ``mime`` its type), a caption, and alternative text for
    readers that do not see it."""

    data: bytes
    caption: str
    alt: str = ""
    mime: str = "image/png"

    def html(self) -> str:
        uri = f"data:{self.mime};base64,{base64.b64encode(self.data).decode('ascii')}"
        return (
            f'<figure><img src="{uri}" alt="{esc(self.alt or self.caption)}" loading="eager">'
            f"<figcaption>{inline(self.caption)}</figcaption></figure>"
        )


@dataclass(frozen=True)
class Section:
    """One section of the document: ``title`` (a heading and an entry of the contents), ``html`` (a trusted
    fragment), ``markdown`` (rendered with :func:`markdown_to_html` after ``html``), ``figures`` (after the text
    unless ``figures_first``), ``anchor`` (the id; from the title by default) and ``note`` (a closing remark in
    small type)."""

    title: str
    html: str = ""
    markdown: str = ""
    figures: tuple[Figure, ...] = field(default_factory=tuple)
    anchor: str = ""
    note: str = ""
    figures_first: bool = False

    @property
    def id(self) -> str:
        return self.anchor or re.sub(r"[^a-z0-9]+", "-", self.title.lower()).strip("-")

    def render(self) -> str:
        body = self.html + (markdown_to_html(self.markdown) if self.markdown else "")
        figures = "".join(f.html() for f in self.figures)
        parts = [figures, body] if self.figures_first else [body, figures]
        note = f'<p class="note">{inline(self.note)}</p>' if self.note else ""
        return f'<section id="{esc(self.id)}"><h2>{esc(self.title)}</h2>{"".join(parts)}{note}</section>'


def esc(value: object) -> str:
    """``value`` as HTML text (``<``, ``&``, quotes escaped)."""
    return html.escape(str(value), quote=True)


_INLINE = [
    (re.compile(r"\*\*([^*]+)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])"), r"<em>\1</em>"),
]
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")


def inline(text: str) -> str:
    """Escaped text with Markdown's inline marks: ``code``, **strong**, *emphasis*, [links](target). A link whose
    target names a scheme (``http:``, ...) keeps its text and shows the address, unlinked: the document loads
    nothing, and a reader offline should see where it points."""
    code: list[str] = []

    def keep(m: re.Match) -> str:  # code spans are literal: protect them from the other marks
        code.append(m.group(1))
        return f"\x00{len(code) - 1}\x00"

    out = esc(re.sub(r"`([^`]+)`", keep, text))
    for pattern, repl in _INLINE:
        out = pattern.sub(repl, out)

    def link(m: re.Match) -> str:
        label, target = m.group(1), m.group(2)
        if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", target):
            return f"{label} ({target})"
        return f'<a href="{target}">{label}</a>'

    out = _LINK.sub(link, out)
    return re.sub(r"\x00(\d+)\x00", lambda m: f"<code>{esc(code[int(m.group(1))])}</code>", out)


def table(
    header: Sequence[str] | None, rows: Iterable[Sequence[object]], numeric: Sequence[bool] | None = None, cls: str = ""
) -> str:
    """An HTML table; cells are plain text with inline marks (:func:`inline`), columns flagged ``numeric`` are
    right-aligned; no header row when ``header`` is None (a list of facts: the first column is then bold)."""
    rows = list(rows)
    width = len(header) if header is not None else max((len(r) for r in rows), default=0)
    numeric = list(numeric) if numeric is not None else [False] * width
    align = lambda k: ' class="num"' if k < len(numeric) and numeric[k] else ""  # noqa: E731
    if header is None:
        body = "".join(
            "<tr>"
            + "".join(
                (f"<th>{inline(str(c))}</th>" if k == 0 else f"<td{align(k)}>{inline(str(c))}</td>")
                for k, c in enumerate(r)
            )
            + "</tr>"
            for r in rows
        )
        return f'<div class="table"><table class="facts"><tbody>{body}</tbody></table></div>'
    head = "".join(f"<th{align(k)}>{inline(str(h))}</th>" for k, h in enumerate(header))
    body = "".join(
        "<tr>" + "".join(f"<td{align(k)}>{inline(str(c))}</td>" for k, c in enumerate(r)) + "</tr>" for r in rows
    )
    return (
        f'<div class="table"><table{f" class={chr(34)}{cls}{chr(34)}" if cls else ""}><thead><tr>{head}</tr>'
        f"</thead><tbody>{body}</tbody></table></div>"
    )


def markdown_to_html(text: str, images: Mapping[str, bytes] | None = None) -> str:
    """The Markdown this project writes, as HTML: ``#`` headings (level 3 and below inside a section), paragraphs,
    ``*``/``-`` lists, pipe tables (the ``---:`` row right-aligns), inline marks (:func:`inline`), and an image
    alone on its line (``![caption](path)``) embedded from ``images`` (PNG bytes by path; left out if absent).
    Anything else is kept as text, escaped."""
    out: list[str] = []
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        line = lines[k]
        if not line.strip():
            k += 1
            continue
        image = re.match(r"^!\[([^\]]*)\]\(([^)\s]+)\)\s*$", line.strip())
        if image:
            if images and image.group(2) in images:
                out.append(Figure(images[image.group(2)], image.group(1)).html())
            k += 1
            continue
        heading = re.match(r"^(#{1,4})\s+(.*)$", line)
        if heading:
            level = min(6, len(heading.group(1)) + 2)
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            k += 1
        elif line.lstrip().startswith("|"):
            block = []
            while k < len(lines) and lines[k].lstrip().startswith("|"):
                block.append([c.strip() for c in lines[k].strip().strip("|").split("|")])
                k += 1
            rule = len(block) > 1 and all(re.fullmatch(r":?-+:?", c) for c in block[1])
            numeric = [c.endswith(":") for c in block[1]] if rule else None
            out.append(table(block[0], block[2:] if rule else block[1:], numeric))
        elif re.match(r"^\s*[*-]\s+", line):
            items: list[str] = []
            while k < len(lines) and (re.match(r"^\s*[*-]\s+", lines[k]) or (lines[k].startswith("  ") and items)):
                if re.match(r"^\s*[*-]\s+", lines[k]):
                    items.append(re.sub(r"^\s*[*-]\s+", "", lines[k]))
                else:
                    items[-1] += " " + lines[k].strip()
                k += 1
            out.append("<ul>" + "".join(f"<li>{inline(i)}</li>" for i in items) + "</ul>")
        else:
            para = []
            while k < len(lines) and lines[k].strip() and not re.match(r"^(#{1,4}\s|\s*\||\s*[*-]\s)", lines[k]):
                para.append(lines[k].strip())
                k += 1
            out.append(f"<p>{inline(' '.join(para))}</p>")
    return "".join(out)


def sections_from_markdown(
    text: str, first_title: str, images: Mapping[str, bytes] | None = None
) -> tuple[str, list[Section]]:
    """A Markdown document as ``(its # title, sections)``: one :class:`Section` per ``##`` heading, what comes
    before the first one under ``first_title``; images embedded from ``images`` (:func:`markdown_to_html`)."""
    parts: list[tuple[str, list[str]]] = []
    body: list[str] = []
    title, current = "", first_title
    for line in text.splitlines():
        if line.startswith("# ") and not title:
            title = line[2:].strip()
        elif line.startswith("## "):
            parts.append((current, body))
            current, body = line[3:].strip(), []
        else:
            body.append(line)
    parts.append((current, body))
    return title, [Section(t, markdown_to_html("\n".join(b), images)) for t, b in parts if "\n".join(b).strip()]


STYLE = """
:root { --ink: #1d2330; --muted: #5b6475; --rule: #d9dde5; --accent: #1f5fa8; --goal: #2a7d2e; --bad: #b3261e;
        --paper: #ffffff; --tint: #f4f6f9; }
* { box-sizing: border-box; }
html { font-size: 15.5px; }
body { margin: 0; color: var(--ink); background: var(--paper); line-height: 1.5;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 1.2rem 1.6rem 3rem; }
header { border-bottom: 2px solid var(--ink); padding-bottom: .6rem; margin-bottom: .4rem; }
h1 { font-size: 1.6rem; margin: .2rem 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-top: .4rem; border-top: 1px solid var(--rule); }
h3 { font-size: 1.08rem; margin: 1.4rem 0 .4rem; }
h4 { font-size: 1rem; margin: 1rem 0 .3rem; }
p { margin: .5rem 0; max-width: 75ch; }
.sub { color: var(--muted); margin: 0; max-width: none; }
nav.toc { font-size: .9rem; margin: .6rem 0 0; }
nav.toc a { margin-right: 1.1rem; white-space: nowrap; color: var(--accent); text-decoration: none; }
code { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: .88em;
       background: var(--tint); padding: 0 .25em; border-radius: 3px; }
.table { overflow-x: auto; margin: .6rem 0 1rem; }
table { border-collapse: collapse; font-size: .88rem; }
th, td { padding: .28rem .6rem; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
th { background: var(--tint); font-weight: 600; }
table.facts th { background: none; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
figure { margin: 1rem 0 1.4rem; }
figure img { display: block; max-width: 100%; height: auto; border: 1px solid var(--rule); }
figcaption { font-size: .86rem; color: var(--muted); margin-top: .35rem; max-width: 90ch; }
.cards { display: flex; flex-wrap: wrap; gap: .9rem; margin: 1rem 0; }
.card { flex: 1 1 15rem; border: 1px solid var(--rule); border-left: 5px solid var(--accent); border-radius: 4px;
        padding: .7rem .9rem; background: var(--tint); }
.card.goal { border-left-color: var(--goal); }
.card .name { font-size: .9rem; color: var(--muted); }
.card .p { font-size: 2.1rem; font-weight: 650; line-height: 1.15; font-variant-numeric: tabular-nums; }
.card .ci { font-size: .92rem; font-variant-numeric: tabular-nums; }
.card .band { font-size: .86rem; color: var(--muted); }
.warn { border-left: 5px solid var(--bad); background: #fbeeed; padding: .5rem .8rem; }
.note { font-size: .85rem; color: var(--muted); }
.hook { border: 1px dashed var(--muted); padding: .6rem .9rem; color: var(--muted); }
details { margin: .6rem 0; }
summary { cursor: pointer; color: var(--accent); }
pre { background: var(--tint); padding: .6rem .8rem; overflow-x: auto; font-size: .8rem; }
footer { margin-top: 3rem; font-size: .82rem; color: var(--muted); border-top: 1px solid var(--rule); }
@media print {
  html { font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  nav.toc { display: none; }
  h2 { break-after: avoid; }
  figure, .card, tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  .table { overflow: visible; }
}
"""


def render(title: str, sections: Sequence[Section], subtitle: str = "", header_html: str = "", footer: str = "") -> str:
    """The whole document: a header (``title``, ``subtitle``, ``header_html``, the contents) and ``sections`` in
    order, with ``footer`` in small type at the end."""
    toc = "".join(f'<a href="#{esc(s.id)}">{esc(s.title)}</a>' for s in sections)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:; '
        "style-src 'unsafe-inline'\">"
        f"<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>"
        f"<header><h1>{esc(title)}</h1>{f'<p class=sub>{inline(subtitle)}</p>' if subtitle else ''}"
        f'{header_html}<nav class="toc">{toc}</nav></header>'
        + "".join(s.render() for s in sections)
        + (f"<footer><p>{inline(footer)}</p></footer>" if footer else "")
        + "</main></body></html>\n"
    )
