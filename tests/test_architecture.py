"""Interface modules (views, APIs, forms, tasks, admin, commands) go through selectors and services: a bare
`Model.objects` there is how a query forgets its shop. An exception carries `# tenant-ok: <reason>`."""

import ast
import importlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APPS = (
    "shops",
    "members",
    "orders",
    "tiers",
    "points",
    "coupons",
    "recruitment",
    "campaigns",
    "analytics",
    "automations",
    "webhooks",
    "portal",
)
INTERFACE_MODULES = ("apis.py", "views.py", "forms.py", "tasks.py", "admin.py", "dashboard.py")
MANAGERS = ("objects", "_default_manager", "_base_manager")


def direct_orm_queries(source: str) -> list[tuple[int, str]]:
    """Lines that reach a model manager directly (`Member.objects`, `models.Member.objects`) without a
    `# tenant-ok:` comment."""
    lines = source.splitlines()
    found = []
    for node in ast.walk(ast.parse(source)):
        if not (isinstance(node, ast.Attribute) and node.attr in MANAGERS):
            continue
        owner = node.value
        name = owner.id if isinstance(owner, ast.Name) else owner.attr if isinstance(owner, ast.Attribute) else ""
        line = lines[node.lineno - 1]
        if name[:1].isupper() and "# tenant-ok:" not in line:
            found.append((node.lineno, line.strip()))
    return found


def interface_files() -> list[Path]:
    files = []
    for app in APPS:
        app_dir = ROOT / app
        files += [app_dir / name for name in INTERFACE_MODULES if (app_dir / name).exists()]
        files += sorted((app_dir / "management" / "commands").glob("*.py"))
        files += sorted((app_dir / "apis").glob("*.py")) + sorted((app_dir / "views").glob("*.py"))
    return files


def test_interface_modules_do_not_query_models_directly():
    offences = [
        f"{path.relative_to(ROOT)}:{lineno}: {line}"
        for path in interface_files()
        for lineno, line in direct_orm_queries(path.read_text(encoding="utf-8"))
    ]
    assert offences == [], "Use a selector or service (or explain with # tenant-ok:):\n" + "\n".join(offences)


def test_the_guard_sees_the_interface_modules():
    names = {str(p.relative_to(ROOT)) for p in interface_files()}
    assert {"shops/views.py", "shops/apis.py", "shops/admin.py", "shops/management/commands/seed_demo.py"} <= names


def test_the_guard_catches_a_direct_query_and_accepts_a_justified_one():
    source = (
        "def view(request):\n"
        "    a = Member.objects.filter(phone=request.GET['p'])\n"
        "    b = models.Order.objects.all()\n"
        "    c = Shop.objects.get(slug='x')  # tenant-ok: resolving the shop\n"
        "    d = self.objects\n"
    )
    assert direct_orm_queries(source) == [
        (2, "a = Member.objects.filter(phone=request.GET['p'])"),
        (3, "b = models.Order.objects.all()"),
    ]


DIGIT_TESTS = ("isdigit", "isnumeric", "isdecimal")


def unicode_digit_tests(source: str) -> list[tuple[int, str]]:
    """Lines that call str.isdigit(), isnumeric() or isdecimal(): true for superscript and other scripts' digits,
    which int() refuses or reads. shops.ids parses numbers from text instead."""
    lines = source.splitlines()
    return [
        (node.lineno, lines[node.lineno - 1].strip())
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in DIGIT_TESTS
    ]


def test_numbers_in_text_are_parsed_by_shops_ids():
    offences = [
        f"{path.relative_to(ROOT)}:{lineno}: {line}"
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        for lineno, line in unicode_digit_tests(path.read_text(encoding="utf-8"))
    ]
    assert offences == [], "Use shops.ids (parse_id, parse_int, ascii_digits):\n" + "\n".join(offences)


def test_the_digit_guard_catches_isdigit_and_its_kin():
    source = "a = x.isdigit()\nb = int(x)\nc = y.strip().isdecimal()\n"
    assert unicode_digit_tests(source) == [(1, "a = x.isdigit()"), (3, "c = y.strip().isdecimal()")]


def _project_subclasses(base: type) -> list[type]:
    """Every subclass of `base` defined in the apps, once the URL configuration (views, APIs, their forms and
    serializers) and the admin are loaded."""
    from django.conf import settings
    from django.contrib import admin

    importlib.import_module(settings.ROOT_URLCONF)
    admin.autodiscover()
    found, todo = set(), [base]
    while todo:
        for cls in todo.pop().__subclasses__():
            if cls not in found:
                found.add(cls)
                todo.append(cls)
    return sorted((cls for cls in found if cls.__module__.split(".")[0] in APPS), key=lambda c: c.__qualname__)


def test_every_form_refuses_hidden_characters_in_its_text_fields():
    from django.forms import BaseForm

    from shops.forms import PlainTextFormMixin

    forms = _project_subclasses(BaseForm)
    assert len(forms) > 40  # the walk sees the apps' forms
    unguarded = [f"{cls.__module__}.{cls.__qualname__}" for cls in forms if not issubclass(cls, PlainTextFormMixin)]
    assert unguarded == [], "Derive from shops.forms.Form or ModelForm (shops.text):\n" + "\n".join(unguarded)


def test_every_input_serializer_refuses_hidden_characters_in_its_text_fields():
    from rest_framework.serializers import Serializer

    from shops.rest.serializers import StrictSerializer

    # What the API stores comes through a view's InputSerializer and what it nests (named *Input). Query strings
    # only look things up.
    inputs = [cls for cls in _project_subclasses(Serializer) if "Input" in cls.__qualname__]
    assert len(inputs) > 15
    unguarded = [f"{cls.__module__}.{cls.__qualname__}" for cls in inputs if not issubclass(cls, StrictSerializer)]
    assert unguarded == [], "Derive from shops.rest.serializers.StrictSerializer (shops.text):\n" + "\n".join(unguarded)
