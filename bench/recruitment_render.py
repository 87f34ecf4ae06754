"""Rendering recruitment QR codes and posters on the server (recruitment.render), in process, no database.

Scenarios:

- `recruitment_qr_png`: qr_png(url) at the default scale 10, median over `--qr-runs` runs (p95 beside it).
  Baseline: segno's own `make(url, error="m").save(kind="png")` at the same scale and border: qr_png is a thin
  wrapper, so the ratio should be about 1.
- `recruitment_poster_a4`, `recruitment_poster_a5`: poster_png with a logo, headline, three benefits and a footer,
  median over `--poster-runs` runs (p95 beside it; the first call, which loads the font, reported apart).
  Baseline: Pillow creating and saving an empty white RGB page of the same size as PNG (optimize=False, 300 dpi):
  the floor that PNG encoding alone sets.

Ours and the baseline alternate within each run; times in ms; ratio = ours / baseline (above 1: slower).

    .venv/bin/python bench/recruitment_render.py [--qr-runs 200] [--poster-runs 10]
"""

import argparse
import io
import os
import statistics
import time

from harness import report, setup_django

URL = "https://hy.example.com/j/AB12CD34/"


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20, method="inclusive")[18]


def ms(work) -> float:
    started = time.perf_counter()
    work()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--qr-runs", type=int, default=200)
    parser.add_argument("--poster-runs", type=int, default=10)
    args = parser.parse_args()

    setup_django()
    import segno
    from PIL import Image

    from recruitment.render import DPI, POSTER_SIZES, cjk_font_path, poster_png, qr_png

    def segno_png() -> bytes:
        buffer = io.BytesIO()
        segno.make(URL, error="m").save(buffer, kind="png", scale=10, border=4, dark="#000", light="#fff")
        return buffer.getvalue()

    assert qr_png(URL) == segno_png()  # the same symbol and bytes: the comparison is like for like
    ours, base = [], []
    for _ in range(args.qr_runs):
        ours.append(ms(lambda: qr_png(URL)))
        base.append(ms(segno_png))
    report(
        "recruitment_qr_png",
        figure=statistics.median(ours),
        baseline=statistics.median(base),
        unit="ms (median)",
        p95_ms=round(p95(ours), 2),
        baseline_p95_ms=round(p95(base), 2),
        median_ms=round(statistics.median(ours), 2),
        baseline_median_ms=round(statistics.median(base), 2),
        png_bytes=len(qr_png(URL)),
        runs=args.qr_runs,
        load_avg=[round(x, 2) for x in os.getloadavg()],
    )

    logo = io.BytesIO()
    Image.new("RGB", (600, 300), (255, 200, 0)).save(logo, format="PNG")
    poster = {
        "shop_name": "鲜果时光 · 静安店",
        "colour": "#C8102E",
        "headline": "扫码入会 立享好礼",
        "benefits": ["新人礼：满100减20 券", "入会即送 200 积分", "生日当月双倍积分，会员专享价每周更新"],
        "url": URL,
        "logo": logo.getvalue(),
        "footer": "活动最终解释权归本店所有 · 客服电话 400-000-0000",
    }
    for size in ("A4", "A5"):

        def empty_page(size=size) -> bytes:
            buffer = io.BytesIO()
            Image.new("RGB", POSTER_SIZES[size], (255, 255, 255)).save(
                buffer, format="PNG", optimize=False, dpi=(DPI, DPI)
            )
            return buffer.getvalue()

        def ours_poster(size=size) -> bytes:
            return poster_png(size=size, **poster)

        first = ms(ours_poster)
        ours, base = [], []
        for _ in range(args.poster_runs):
            ours.append(ms(ours_poster))
            base.append(ms(empty_page))
        report(
            f"recruitment_poster_{size.lower()}",
            figure=statistics.median(ours),
            baseline=statistics.median(base),
            unit="ms (median)",
            p95_ms=round(p95(ours), 1),
            baseline_p95_ms=round(p95(base), 1),
            first_call_ms=round(first, 1),
            png_bytes=len(ours_poster()),
            pixels="x".join(map(str, POSTER_SIZES[size])),
            font=cjk_font_path(),
            runs=args.poster_runs,
            load_avg=[round(x, 2) for x in os.getloadavg()],
        )


if __name__ == "__main__":
    main()
