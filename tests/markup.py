"""A check shared by the output-injection tests: which elements and attributes a page has."""

from __future__ import annotations

from html.parser import HTMLParser


class _Names(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.names: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.names.add(tag)
        self.names.update(f"{tag}@{name}" for name, _ in attrs)


def markup_names(page: str) -> set[str]:
    """Every element name and ``element@attribute`` of `page`: two renderings that differ only in the strings
    they show must give the same set (a hostile string that became markup adds to it)."""
    parser = _Names()
    parser.feed(page)
    parser.close()
    return parser.names
