"""recruitment.render: QR codes that scan back to the exact URL, posters at print size with Chinese glyphs (not
empty boxes), and the missing-font path with its system check. No database."""

import io
import xml.etree.ElementTree as ET

import pytest
import segno
import zxingcpp
from django.core import checks
from django.core.checks import registry
from PIL import Image, ImageDraw

from recruitment import render
from recruitment.checks import cjk_font_check
from recruitment.render import FontMissing, _load_font, cjk_font_path, poster_png, qr_png, qr_svg

URL = "https://hy.example.com/j/AB12CD34/"
POSTER = {
    "shop_name": "鲜果时光 · 静安店",
    "colour": "#C8102E",
    "headline": "扫码入会 立享好礼",
    "benefits": ["新人礼：满100减20 券", "入会即送 200 积分"],
    "url": URL,
    "footer": "活动最终解释权归本店所有",
}
SVG_NS = "{http://www.w3.org/2000/svg}"


def _png(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _decoded(image: Image.Image) -> list[tuple[str, zxingcpp.BarcodeFormat]]:
    return [(result.text, result.format) for result in zxingcpp.read_barcodes(image)]


def _logo_png(rgb: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 150), rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def test_qr_png_scans_back_to_the_exact_url():
    image = _png(qr_png(URL))

    modules = segno.make_qr(URL, error="m").symbol_size(border=4)[0]
    assert image.format == "PNG"
    assert image.size == (modules * 10, modules * 10)
    assert _decoded(image) == [(URL, zxingcpp.BarcodeFormat.QRCode)]


def test_qr_png_scale_sets_pixels_per_module():
    modules = segno.make_qr(URL, error="m").symbol_size(border=4)[0]

    assert _png(qr_png(URL, scale=4)).size == (modules * 4, modules * 4)


def test_a_short_url_still_gives_a_full_qr_code_not_a_micro_qr():
    short = "https://a.cn/"

    assert _decoded(_png(qr_png(short))) == [(short, zxingcpp.BarcodeFormat.QRCode)]


def test_qr_svg_is_well_formed_svg_with_a_black_path():
    svg = qr_svg(URL)

    root = ET.fromstring(svg)  # noqa: S314 - our own output, not untrusted input
    assert root.tag == f"{SVG_NS}svg"
    paths = root.findall(f"{SVG_NS}path")
    assert len(paths) == 1
    assert paths[0].get("stroke") == "#000"
    assert not svg.startswith(b"<?xml")


@pytest.mark.parametrize(("size", "pixels"), [("A4", (2480, 3508)), ("A5", (1748, 2480))])
def test_poster_is_print_size_at_300_dpi_and_its_qr_scans_to_the_url(size, pixels):
    image = _png(poster_png(size=size, **POSTER))

    assert image.format == "PNG"
    assert image.mode == "RGB"
    assert image.size == pixels
    assert image.info["dpi"] == pytest.approx((300, 300), abs=0.01)
    assert _decoded(image) == [(URL, zxingcpp.BarcodeFormat.QRCode)]


def test_poster_band_is_in_the_brand_colour():
    image = _png(poster_png(size="A5", **POSTER))

    assert image.getpixel((5, 5)) == (0xC8, 0x10, 0x2E)
    assert image.getpixel((5, image.height - 5)) == (255, 255, 255)


def test_poster_with_much_text_still_fits_a_scannable_qr_code():
    benefits = [f"第{i}项权益：会员专享价每周更新，到店出示会员码即可享受，积分可抵现金" for i in range(1, 13)]

    image = _png(poster_png(size="A5", **{**POSTER, "benefits": benefits, "footer": "说明 " * 80}))

    assert _decoded(image) == [(URL, zxingcpp.BarcodeFormat.QRCode)]


def test_chinese_text_renders_real_glyphs_not_tofu():
    font = _load_font(cjk_font_path(), 64)  # as poster_png loads its fonts

    def bitmap(text: str) -> bytes:
        image = Image.new("L", (96, 96), 0)
        ImageDraw.Draw(image).text((8, 0), text, font=font, fill=255)
        return image.tobytes()

    hui, yuan, notdef = bitmap("会"), bitmap("员"), bitmap("\ue000")  # U+E000: private use, no glyph: .notdef
    assert any(hui)
    assert hui != yuan
    assert hui != notdef
    assert yuan != notdef
    if "NotoSansCJK" in cjk_font_path():
        assert font.getname()[0] == "Noto Sans CJK SC"


def test_the_configured_font_comes_before_the_fallbacks(settings, tmp_path):
    configured = tmp_path / "shop-font.ttf"
    configured.write_bytes(b"")
    settings.CJK_FONT_PATH = str(configured)

    assert cjk_font_path() == str(configured)


def test_unknown_size_raises_value_error():
    with pytest.raises(ValueError, match="size must be one of A4, A5"):
        poster_png(size="A3", **POSTER)


@pytest.mark.parametrize("colour", ["red", "#C8102", "C8102E", "#GG102E", ""])
def test_bad_colour_raises_value_error(colour):
    with pytest.raises(ValueError, match="colour must be #RRGGBB"):
        poster_png(size="A5", **{**POSTER, "colour": colour})


def test_band_text_contrasts_with_the_brand_colour():
    assert render._text_colour_on((0xC8, 0x10, 0x2E)) == render.WHITE
    assert render._text_colour_on((0x1F, 0x3A, 0x93)) == render.WHITE
    assert render._text_colour_on((0xFF, 0xE1, 0x00)) == render.DARK
    assert render._text_colour_on((0xF5, 0xF5, 0xF5)) == render.DARK


def test_a_logo_is_drawn_in_the_band():
    logo_colour = (0, 160, 80)

    image = _png(poster_png(size="A5", logo=_logo_png(logo_colour), **POSTER))

    band = image.crop((0, 0, image.width, round(image.width * 0.2)))
    assert logo_colour in {colour for _count, colour in band.getcolors(maxcolors=1_000_000)}
    assert _decoded(image) == [(URL, zxingcpp.BarcodeFormat.QRCode)]


@pytest.mark.parametrize("logo", [b"not an image", _logo_png((0, 160, 80))[:60], b""])
def test_a_broken_logo_is_left_out(logo):
    without_logo = poster_png(size="A5", **POSTER)

    assert poster_png(size="A5", logo=logo, **POSTER) == without_logo


def test_missing_font_raises_font_missing_naming_the_setting_and_packages(settings, monkeypatch):
    settings.CJK_FONT_PATH = "/nonexistent/fonts/NotoSansCJK-Regular.ttc"
    monkeypatch.setattr(render, "FALLBACK_FONT_PATHS", ())

    with pytest.raises(FontMissing) as raised:
        cjk_font_path()
    message = str(raised.value)
    assert "CJK_FONT_PATH" in message
    assert "/nonexistent/fonts/NotoSansCJK-Regular.ttc" in message
    assert "fonts-noto-cjk" in message
    assert "fonts-wqy-microhei" in message
    with pytest.raises(FontMissing):
        poster_png(size="A5", **POSTER)


def test_system_check_warns_when_no_font_is_found(settings, monkeypatch):
    settings.CJK_FONT_PATH = "/nonexistent/fonts/NotoSansCJK-Regular.ttc"
    monkeypatch.setattr(render, "FALLBACK_FONT_PATHS", ())

    with pytest.raises(FontMissing) as raised:
        cjk_font_path()

    warnings = cjk_font_check(None)

    assert [(w.id, w.level, w.msg) for w in warnings] == [("recruitment.W001", checks.WARNING, str(raised.value))]


def test_system_check_is_silent_with_a_font_and_registered_on_import():
    assert cjk_font_check(None) == []
    assert cjk_font_check in registry.registry.get_checks()
