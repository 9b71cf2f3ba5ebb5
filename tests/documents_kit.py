"""Small documents for the parsing and retrieval tests: two texts on different topics, an HTML
page and a hand-made PDF (one line of Helvetica text per page, a valid cross-reference table).
"""

from __future__ import annotations

import importlib.util

PYPDF_MISSING = importlib.util.find_spec("pypdf") is None

BAKING = (
    "Baking bread at home\n\n"
    "Mix flour, water, salt and yeast into a dough. Knead the dough for ten minutes until it "
    "is smooth and elastic.\n"
    "Let the dough rise in a warm kitchen for an hour, then shape the loaf.\n\n"
    "Bake the loaf in a hot oven at 230 degrees for thirty minutes, until the crust is brown "
    "and the bread sounds hollow.\n"
)

ASTRONOMY = (
    "Watching the planets\n\n"
    "Jupiter and Saturn are the brightest planets in the night sky after Venus. A small "
    "telescope shows the moons of Jupiter and the rings of Saturn.\n"
    "Observe on a clear, dark night away from city lights, and let your eyes adapt to the "
    "darkness for twenty minutes.\n\n"
    "Mars looks red because of iron oxide dust on its surface; it is closest to Earth at "
    "opposition, every twenty-six months.\n"
)

BREAD_QUERY = "How long should the bread bake in the oven?"
PLANET_QUERY = "Which planet has rings you can see with a telescope?"

HTML_PAGE = (
    "<!doctype html><html><head><title>Ignored title</title>"
    "<style>body { color: red; }</style><script>var hidden = 1;</script></head>"
    "<body><h1>Sourdough</h1><p>A starter of flour &amp; water.</p>"
    "<ul><li>Feed it daily</li><li>Keep it warm</li></ul></body></html>"
)
HTML_TEXT = "Sourdough\n\nA starter of flour & water.\n\nFeed it daily\n\nKeep it warm"


def make_pdf(pages: list[str]) -> bytes:
    """A PDF with one line of text on each page (ASCII, no parentheses or backslashes)."""
    objects: list[bytes] = []
    page_ids = [4 + 2 * i for i in range(len(pages))]
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    kids = " ".join(f"{i} 0 R" for i in page_ids).encode()
    objects.append(b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % len(pages))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for page_id, text in zip(page_ids, pages, strict=True):
        stream = b"BT /F1 12 Tf 72 720 Td (" + text.encode("ascii") + b") Tj ET"
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (page_id + 1)
        )
        objects.append(b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)
