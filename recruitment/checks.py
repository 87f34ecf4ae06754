"""System checks of the recruitment app; importing this module registers them."""

from django.core import checks

from .errors import FontMissing
from .render import cjk_font_path


@checks.register()
def cjk_font_check(app_configs, **kwargs):
    """recruitment.W001: no CJK font, so posters would print Chinese text as empty boxes."""
    try:
        cjk_font_path()
    except FontMissing as exc:
        return [checks.Warning(str(exc), id="recruitment.W001")]
    return []
