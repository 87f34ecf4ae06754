"""shops.text: free text refuses control and invisible format characters, in one validator that every Django form
(PlainTextFormMixin) and every API input serializer (StrictSerializer) applies to each text field (issue 16, item
13). Chinese text, punctuation and emoji pass."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from django.utils import translation
from rest_framework import serializers

from shops.forms import Form
from shops.rest.serializers import MULTILINE, StrictSerializer
from shops.text import hidden_character, multiline_text, single_line_text

REFUSED = {
    "BEL": "\x07",
    "ESC": "\x1b",
    "NUL": "\x00",
    "DEL": "\x7f",
    "C1 next line": "\x85",
    "C1 CSI": "\x9b",
    "LRE": "\u202a",
    "RLE": "\u202b",
    "PDF": "\u202c",
    "LRO": "\u202d",
    "RLO": "\u202e",
    "LRI": "\u2066",
    "RLI": "\u2067",
    "FSI": "\u2068",
    "PDI": "\u2069",
    "LRM": "\u200e",
    "RLM": "\u200f",
    "ALM": "\u061c",
    "zero-width space": "\u200b",
    "zero-width non-joiner": "\u200c",
    "word joiner": "\u2060",
    "BOM": "\ufeff",
    "soft hyphen": "\u00ad",
    "line separator": "\u2028",
    "paragraph separator": "\u2029",
}
ALLOWED = [
    "张三",
    "李 雷",
    "王　五",  # ideographic space
    "Anne\u00a0Marie",  # no-break space
    "「会员日」满100减20！（限时）、。？…—·",
    'O\'Brien & Co. <VIP> 100% "好"',
    "👍🏽❤️",  # skin tone modifier, variation selector
    "👨\u200d👩\u200d👧",  # zero-width joiners of a family emoji
    "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",  # the flag of England: tag characters
    "🇨🇳",
    "ﾃｽﾄ",
    "مرحبا",
    "",
]


@pytest.mark.parametrize("char", REFUSED.values(), ids=REFUSED.keys())
def test_control_and_invisible_format_characters_are_refused_anywhere_in_the_text(char):
    for text in (f"{char}张三", f"张{char}三", f"张三{char}"):
        assert hidden_character(text) == char
        assert hidden_character(text, multiline=True) == char
        with pytest.raises(ValidationError) as raised:
            single_line_text(text)
        assert raised.value.code == "hidden_character"


@pytest.mark.parametrize("text", ALLOWED)
def test_chinese_punctuation_and_emoji_pass(text):
    assert hidden_character(text) is None
    single_line_text(text)
    multiline_text(text)


@pytest.mark.parametrize("char", ["\n", "\r", "\t"])
def test_newlines_and_tabs_pass_only_in_multiline_text(char):
    assert hidden_character(f"第一行{char}第二行") == char
    assert hidden_character(f"第一行{char}第二行", multiline=True) is None


def _message(text: str, language: str) -> list[str]:
    with translation.override(language), pytest.raises(ValidationError) as raised:
        single_line_text(text)
    with translation.override(language):
        return raised.value.messages


def test_the_message_names_the_character_in_the_users_language():
    assert _message("\u202egpj.exe", "en") == [
        "Remove the invisible character U+202E: control and text-direction characters are not allowed."
    ]
    assert _message("响铃\x07", "zh-hans") == ["请删除不可见字符 U+0007：不允许使用控制字符和文字方向字符。"]


# --- The API: every text field of an input serializer, nested ones and list items included -------------------


class _Item(StrictSerializer):
    name = serializers.CharField()


class _Input(StrictSerializer):
    name = serializers.CharField()
    email = serializers.EmailField(required=False)
    description = serializers.CharField(required=False, style=MULTILINE)
    lines = serializers.ListField(child=serializers.CharField(), required=False)
    items = _Item(many=True, required=False)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "张\u202e三"}, "name"),
        ({"name": "张三\n李四"}, "name"),
        ({"name": "张三", "description": "第一行\n\x1b[31m第二行"}, "description"),
        ({"name": "张三", "lines": ["好", "坏\x07"]}, "lines"),
        ({"name": "张三", "items": [{"name": "湿巾\u2066"}]}, "items"),
    ],
)
def test_an_input_serializer_refuses_hidden_characters_in_each_text_field(data, field):
    serializer = _Input(data=data)
    assert not serializer.is_valid()
    assert list(serializer.errors) == [field]


def test_an_input_serializers_multiline_field_keeps_newlines_and_tabs():
    data = {
        "name": "👨\u200d👩\u200d👧 张三",
        "description": "第一行\r\n\t第二行",
        "lines": ["好"],
        "items": [{"name": "湿巾"}],
    }
    serializer = _Input(data=data)
    assert serializer.is_valid(), serializer.errors
    assert serializer.validated_data["description"] == "第一行\r\n\t第二行"


def test_the_declared_fields_are_left_as_declared():
    _Input(data={"name": "张三"}).is_valid()
    _Input(data={"name": "张三"}).is_valid()
    assert _Input._declared_fields["name"].validators.count(single_line_text) == 0
    assert _Input().fields["name"].validators.count(single_line_text) == 1


# --- Django forms: every text field but passwords; a Textarea is multi-line -----------------------------------


class _Form(Form):
    name = forms.CharField()
    address = forms.CharField(widget=forms.Textarea, required=False)
    password = forms.CharField(widget=forms.PasswordInput, strip=False, required=False)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "张\x07三"}, "name"),
        ({"name": "张三\t李四"}, "name"),
        ({"name": "张三", "address": "上海市\n\u202e静安区"}, "address"),
    ],
)
def test_a_form_refuses_hidden_characters_in_each_text_field(data, field):
    form = _Form(data)
    assert not form.is_valid()
    assert list(form.errors) == [field]


def test_a_forms_textarea_keeps_newlines_and_passwords_are_left_alone():
    form = _Form({"name": "🇨🇳 张三", "address": "上海市\r\n静安区", "password": "p\x07ss\u202eword"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["address"] == "上海市\r\n静安区"
    assert single_line_text not in _Form.base_fields["name"].validators
