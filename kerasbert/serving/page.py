"""`GET /`: the page of `kerasbert serve`, three static files shipped in the package
(`kerasbert/serving/static/`: `index.html`, `page.js`, `page.css`; no build step).

The page reads `/v1/model` for the task, labels and pair-ness, sends the typed texts to
`/v1/classify` and `/v1/explain`, and draws each label's probability as a bar, the decision or
abstention, and the words coloured by their attribution. It asks for nothing outside the server:
the Content-Security-Policy of every file allows this origin only, so a page edited to fetch a
font or a script from elsewhere would be stopped by the browser.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

# The browser may load scripts, styles, images and data from this server only; no plugin, no
# framing (clickjacking), no base-URI or form tricks.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # The files change with the package: a browser asks again instead of keeping an old page.
    "Cache-Control": "no-cache",
}
# Path served → (file in `static/`, media type).
FILES = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/static/page.js": ("page.js", "text/javascript; charset=utf-8"),
    "/static/page.css": ("page.css", "text/css; charset=utf-8"),
}


@dataclass(frozen=True)
class StaticFile:
    """One file of the page, read once: its bytes and media type."""

    content: bytes
    media_type: str


def static_files() -> dict[str, StaticFile]:
    """Every file of the page by the path it is served at, read from the installed package."""
    folder = resources.files("kerasbert.serving") / "static"
    return {
        path: StaticFile((folder / name).read_bytes(), media_type)
        for path, (name, media_type) in FILES.items()
    }
