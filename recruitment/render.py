"""Recruitment QR codes and printable posters, rendered on the server.

Pure functions: no database access, no storage; callers pass plain values and get bytes back. Chinese text needs a
CJK font on the machine (settings.CJK_FONT_PATH or a Debian package, see `cjk_font_path`); the system check
`recruitment.W001` warns at start-up when none is found.
"""

import functools
import io
import logging
import os
import re

import segno
from django.conf import settings
from PIL import Image, ImageDraw, ImageFont, ImageOps

from .errors import FontMissing

logger = logging.getLogger(__name__)

FALLBACK_FONT_PATHS = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)

DPI = 300
# Portrait pixel sizes at 300 dpi (ISO 216: A4 210x297 mm, A5 148x210 mm).
POSTER_SIZES = {"A4": (2480, 3508), "A5": (1748, 2480)}

QR_ERROR = "m"
QR_BORDER = 4  # the quiet zone the QR specification asks for, in modules
SVG_SCALE = 8  # whole pixels per module: edges fall on pixel boundaries at 100 % zoom

# A logo larger than this is not decoded (a merchant upload could be a decompression bomb or a 50 MP photo).
LOGO_MAX_PIXELS = 25_000_000

WHITE = (255, 255, 255)
DARK = (26, 26, 26)
MUTED = (102, 102, 102)

_COLOUR = re.compile(r"#([0-9a-fA-F]{6})")
# Wrapping units: a run of Latin letters/digits (so "100" or a URL part is not split), or one other character; both
# keep the closing punctuation that follows them, since a line must not start with "，" or "：".
_CLOSING = "，。、：；！？）》」』”’,.!?:;)]%"
_TOKEN = re.compile(rf"(?:[0-9A-Za-z][0-9A-Za-z.\-_/:@%+&=?#~]*|\s+|.)[{re.escape(_CLOSING)}]*", re.DOTALL)


def cjk_font_path() -> str:
    """The first existing font file among settings.CJK_FONT_PATH and FALLBACK_FONT_PATHS.

    Raises FontMissing when there is none.
    """
    configured = getattr(settings, "CJK_FONT_PATH", None)
    candidates = ([configured] if configured else []) + list(FALLBACK_FONT_PATHS)
    for path in candidates:
        if os.path.isfile(path):
            return path
    raise FontMissing(
        "No CJK font found for recruitment posters: set CJK_FONT_PATH to a font file with Chinese glyphs "
        f"(tried: {', '.join(candidates)}), or install the Debian package fonts-noto-cjk or fonts-wqy-microhei."
    )


@functools.lru_cache(maxsize=8)
def _face_index(path: str) -> int:
    """The face to use in a font collection: Noto Sans CJK's .ttc holds JP, KR, SC, TC and HK faces (the same
    characters drawn per regional convention); we want Simplified Chinese. 0 when no face says SC."""
    for index in range(10):
        try:
            name, _style = ImageFont.truetype(path, 12, index=index).getname()
        except OSError:  # past the last face
            break
        if name and name.endswith(" SC"):
            return index
    return 0


@functools.lru_cache(maxsize=64)
def _load_font(path: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=_face_index(path))


def _qr(url: str) -> segno.QRCode:
    # make_qr, not make: segno.make picks a Micro QR for short content, which most phone scanners do not read.
    return segno.make_qr(url, error=QR_ERROR)


def qr_svg(url: str) -> bytes:
    """The QR code of `url` as an SVG document (black modules, no background, a 4-module quiet zone)."""
    buffer = io.BytesIO()
    _qr(url).save(buffer, kind="svg", scale=SVG_SCALE, border=QR_BORDER, dark="#000", xmldecl=False)
    return buffer.getvalue()


def qr_png(url: str, *, scale: int = 10) -> bytes:
    """The QR code of `url` as a PNG, `scale` pixels per module, black on white, a 4-module quiet zone."""
    buffer = io.BytesIO()
    _qr(url).save(buffer, kind="png", scale=scale, border=QR_BORDER, dark="#000", light="#fff")
    return buffer.getvalue()


def _qr_image(url: str, *, max_side: int) -> Image.Image:
    """The QR code as an RGB image no larger than `max_side`, a whole number of pixels per module (crisp print)."""
    qr = _qr(url)
    modules = qr.symbol_size(border=QR_BORDER)[0]
    scale = max(1, max_side // modules)
    data = bytes(0 if dark else 255 for row in qr.matrix_iter(scale=1, border=QR_BORDER) for dark in row)
    image = Image.frombytes("L", (modules, modules), data)
    return image.resize((modules * scale, modules * scale), Image.Resampling.NEAREST).convert("RGB")


def _parse_colour(colour: str) -> tuple[int, int, int]:
    match = _COLOUR.fullmatch(colour or "")
    if not match:
        raise ValueError(f"colour must be #RRGGBB, got {colour!r}")
    value = match.group(1)
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


def _luminance(rgb: tuple[int, int, int]) -> float:
    """WCAG 2 relative luminance (0 black .. 1 white)."""

    def linear(channel: int) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def _contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _text_colour_on(background: tuple[int, int, int]) -> tuple[int, int, int]:
    """White or dark text, whichever contrasts more with `background`."""
    return WHITE if _contrast(WHITE, background) >= _contrast(DARK, background) else DARK


def _wrap(text: str, font: ImageFont.FreeTypeFont, width: float) -> list[str]:
    """`text` broken into lines no wider than `width`, measured with the font (CJK text has no spaces to break at).
    Explicit newlines are kept; a unit wider than a whole line is cut between characters."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        line = ""
        for token in _TOKEN.findall(paragraph):
            if font.getlength(line + token) <= width:
                line += token
                continue
            if line.strip():
                lines.append(line.rstrip())
            line = token.lstrip()
            while len(line) > 1 and font.getlength(line) > width:
                cut = len(line) - 1
                while cut > 1 and font.getlength(line[:cut]) > width:
                    cut -= 1
                lines.append(line[:cut])
                line = line[cut:]
        if line.strip() or not lines:
            lines.append(line.rstrip())
    return lines


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return ascent + descent


def _logo_image(logo: bytes, *, box: tuple[int, int]) -> Image.Image | None:
    """The logo as RGBA, scaled to fit `box` keeping its aspect; None when the bytes are not a usable image."""
    try:
        image = Image.open(io.BytesIO(logo))
        if image.width * image.height > LOGO_MAX_PIXELS:
            logger.warning("recruitment poster: logo of %sx%s px ignored (too large)", image.width, image.height)
            return None
        image.draft("RGB", box)  # JPEG: decode at a reduced size directly
        image = ImageOps.exif_transpose(image).convert("RGBA")
        image.thumbnail(box, Image.Resampling.LANCZOS)
        return image
    except Exception as exc:  # noqa: BLE001 - Pillow's decoders raise many types on bad data; the poster goes on
        logger.warning("recruitment poster: logo ignored (%s: %s)", type(exc).__name__, exc)
        return None


def poster_png(
    *,
    size: str,
    shop_name: str,
    colour: str,
    headline: str,
    benefits: list[str],
    url: str,
    logo: bytes | None = None,
    footer: str = "",
) -> bytes:
    """A printable recruitment poster as a 300 dpi PNG: a band in the shop's `colour` (#RRGGBB) with its logo and
    name, the headline, the benefits, the QR code of `url` with the URL under it, and `footer` at the bottom.

    `size` is "A4" (2480x3508 px) or "A5" (1748x2480 px). A logo that cannot be decoded is left out. Text that does
    not fit at the normal size is set smaller (the QR code keeps at least 30 % of the page width).
    Raises ValueError (unknown size, bad colour) and FontMissing.
    """
    if size not in POSTER_SIZES:
        raise ValueError(f"size must be one of {', '.join(POSTER_SIZES)}, got {size!r}")
    brand = _parse_colour(colour)
    width, height = POSTER_SIZES[size]
    font_path = cjk_font_path()

    def font(fraction: float) -> ImageFont.FreeTypeFont:
        return _load_font(font_path, max(8, round(width * fraction)))

    margin = round(width * 0.07)
    text_width = width - 2 * margin
    band_height = round(width * 0.2)

    page = Image.new("RGB", (width, height), WHITE)
    draw = ImageDraw.Draw(page)

    # The band: logo at the left, the shop name beside it (or centred without a logo).
    draw.rectangle((0, 0, width, band_height), fill=brand)
    band_padding = round(band_height * 0.18)
    logo_side = band_height - 2 * band_padding
    logo_image = _logo_image(logo, box=(logo_side * 2, logo_side)) if logo else None
    name_left = margin
    if logo_image is not None:
        page.paste(logo_image, (margin, (band_height - logo_image.height) // 2), logo_image)
        name_left = margin + logo_image.width + band_padding
    name_font = font(0.055)
    name_lines = _wrap(shop_name, name_font, width - margin - name_left)
    if len(name_lines) > 2:
        name_font = font(0.04)
        name_lines = _wrap(shop_name, name_font, width - margin - name_left)[:2]
    name_step = _line_height(name_font)
    name_top = (band_height - name_step * len(name_lines)) // 2
    for i, line in enumerate(name_lines):
        x, anchor = (name_left, "la") if logo_image is not None else (width // 2, "ma")
        draw.text((x, name_top + i * name_step), line, font=name_font, fill=_text_colour_on(brand), anchor=anchor)

    # The footer, bottom up.
    footer_font = font(0.022)
    footer_lines = _wrap(footer, footer_font, text_width) if footer.strip() else []
    footer_height = _line_height(footer_font) * len(footer_lines)
    footer_top = height - margin - footer_height
    for i, line in enumerate(footer_lines):
        draw.text(
            (width // 2, footer_top + i * _line_height(footer_font)), line, font=footer_font, fill=MUTED, anchor="ma"
        )

    # Between the band and the footer: headline, benefits, QR code and URL, stacked and centred vertically. The QR
    # code gets what the text leaves, up to half the page width; when that is under 30 %, the text shrinks.
    area_top = band_height + margin
    area_bottom = footer_top - (margin // 2 if footer_lines else 0)
    headline_colour = brand if _contrast(brand, WHITE) >= 3 else DARK
    for shrink in (1.0, 0.85, 0.72, 0.61, 0.52, 0.44):
        headline_font = font(0.075 * shrink)
        benefit_font = font(0.042 * shrink)
        url_font = font(0.02)
        gap = round(width * 0.045 * shrink)
        blocks = [
            (_wrap(headline, headline_font, text_width), headline_font, headline_colour),
            ([line for benefit in benefits for line in _wrap(benefit, benefit_font, text_width)], benefit_font, DARK),
        ]
        blocks = [(lines, f, c) for lines, f, c in blocks if any(line.strip() for line in lines)]
        url_lines = _wrap(url, url_font, text_width)
        text_height = sum(_line_height(f) * len(lines) + gap for lines, f, _c in blocks)
        text_height += round(width * 0.015) + _line_height(url_font) * len(url_lines)
        qr_side = min(width // 2, area_bottom - area_top - text_height)
        if qr_side >= width * 0.3:
            break
    qr_image = _qr_image(url, max_side=max(qr_side, 1))
    stack_height = text_height + qr_image.height
    y = area_top + max(0, (area_bottom - area_top - stack_height) // 2)
    for lines, block_font, fill in blocks:
        step = _line_height(block_font)
        for line in lines:
            draw.text((width // 2, y), line, font=block_font, fill=fill, anchor="ma")
            y += step
        y += gap
    page.paste(qr_image, ((width - qr_image.width) // 2, y))
    y += qr_image.height + round(width * 0.015)
    for line in url_lines:
        draw.text((width // 2, y), line, font=url_font, fill=MUTED, anchor="ma")
        y += _line_height(url_font)

    buffer = io.BytesIO()
    page.save(buffer, format="PNG", optimize=False, dpi=(DPI, DPI))
    return buffer.getvalue()
