"""Free text that merchants and shoppers type (names, tags, channel and coupon names, reasons, addresses) holds
only characters that show as what they are.

Refused: control characters (C0, DEL and C1: a BEL or an ESC in a name rings terminals and rewrites what log readers
see), the line and paragraph separators, and the invisible format characters: the bidirectional overrides,
embeddings, isolates and marks (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), which display text in another
order than it is stored ("‮gpj.exe" is stored as an .exe), and the zero-width spaces, word joiners, BOM and soft
hyphen, which make two different names look the same. Multi-line fields (descriptions, an address) keep newline,
carriage return and tab.

Allowed: everything else, Chinese text, punctuation and emoji included, with the two format characters emoji
sequences are made of: the zero-width joiner U+200D (👨‍👩‍👧) and the tag characters U+E0020-U+E007F (the flags of
England, Scotland and Wales).

One validator serves every interface: Django forms through shops.forms.PlainTextFormMixin, the API through
shops.rest.serializers.StrictSerializer, imports through members.imports.kind.Row.text.
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
_EMOJI_FORMAT = "\u200d"  # zero-width joiner
_EMOJI_TAGS = ("\U000e0020", "\U000e007f")
_MULTILINE_CONTROLS = frozenset("\n\r\t")


def hidden_character(text: str, *, multiline: bool = False) -> str | None:
    """The first character of `text` that free text may not hold (see the module docstring), or None."""
    if text.isprintable():  # no Cc, Cf, Zl, Zp (nor Zs other than the space): the common case, at C speed
        return None
    for char in text:
        if char == _EMOJI_FORMAT or _EMOJI_TAGS[0] <= char <= _EMOJI_TAGS[1]:
            continue
        if multiline and char in _MULTILINE_CONTROLS:
            continue
        if unicodedata.category(char) in _REFUSED_CATEGORIES:
            return char
    return None


def code_point(char: str) -> str:
    return f"U+{ord(char):04X}"


@deconstructible
class PlainTextValidator:
    """Refuses text holding a control or invisible format character, naming it (see the module docstring)."""

    message = _("Remove the invisible character %(char)s: control and text-direction characters are not allowed.")
    code = "hidden_character"

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value):
        if not isinstance(value, str):
            return
        char = hidden_character(value, multiline=self.multiline)
        if char is not None:
            raise ValidationError(self.message, code=self.code, params={"char": code_point(char)})

    def __eq__(self, other):
        return isinstance(other, PlainTextValidator) and self.multiline == other.multiline


single_line_text = PlainTextValidator()
multiline_text = PlainTextValidator(multiline=True)
