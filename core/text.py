"""Plain-text helpers shared by the apps: one-line fields and Markdown that user text cannot shape."""

import re

_WHITESPACE_RUN = re.compile(r"\s+")
# Characters that mean something anywhere in a line of CommonMark/GFM (emphasis, code, links,
# images, HTML, tables, strikethrough, entities).
_INLINE_SPECIAL = re.compile(r"([\\`*_{}\[\]()!|<>~&])")
# What turns a line into a block when it starts it: lists, quotes, headings, setext underlines.
_LINE_START = re.compile(r"^(\s*)([-+=>#]|\d+[.)])")
# Bare web addresses GFM makes links of.
_AUTOLINK = re.compile(r"(?i)(://|\bwww\.)")


def one_line(text) -> str:
    """`text` on one line: newlines, tabs and runs of spaces become one space, ends trimmed."""
    if text is None:
        return ""
    return _WHITESPACE_RUN.sub(" ", str(text)).strip()


def _escape_line(line: str) -> str:
    line = _INLINE_SPECIAL.sub(r"\\\1", line)
    line = _AUTOLINK.sub(lambda m: "\\" + m.group(1) if m.group(1) == "://" else m.group(1)[:-1] + "\\.", line)
    return _LINE_START.sub(lambda m: m.group(1) + "".join("\\" + c if not c.isdigit() else c for c in m.group(2)), line)


def md_escape(text) -> str:
    """`text` as literal Markdown inline text on one line: it cannot add a heading, list item, link or code."""
    return _escape_line(one_line(text))


def md_escape_block(text) -> str:
    """Multi-line `text` as literal Markdown paragraphs: each line escaped, blank lines kept."""
    return "\n".join(_escape_line(line.strip()) for line in str(text or "").splitlines()).strip()


def markdown_html(text: str, *, heading_offset: int = 0) -> str:
    """CommonMark `text` as HTML that is safe to show: raw HTML is escaped, unsafe link schemes dropped.

    For Markdown the application wrote (user text in it already passed through md_escape), so
    nothing in it is trusted to add markup beyond what CommonMark itself makes. `heading_offset`
    moves its headings down (2: a "#" becomes <h3>) to sit under the page's own.
    """
    import markdown_it

    # html=False: a <tag> in the text is shown as text; validateLink refuses javascript:, data: …
    parser = markdown_it.MarkdownIt("commonmark", {"html": False, "linkify": False})
    tokens = parser.parse(text or "")
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + heading_offset, 6)}"
    return parser.renderer.render(tokens, parser.options, {})
