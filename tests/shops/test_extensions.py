"""The catalogue of extension points (shops.extensions): the project's registrations pass the start-up check, a
wrong-shaped or missing implementation fails it, implementations run in their declared order, and every audit
action code the code writes has a label, translated into zh-Hans."""

import ast
import inspect
import re
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.utils import translation

from coupons.models import Fulfilment
from shops import extensions
from shops.extensions import (
    AUDIT_ACTION,
    DEMO_SEEDER,
    MEMBER_DATA,
    NAVIGATION,
    ORDER_POINTS_AWARD,
    POINTS,
    PROFILE_SAVED,
    REFUND_CREATED,
    SHOP_DEFAULTS,
    NavItem,
    implementations,
)
from shops.registry import Registration, extension_errors, registry, signature_problems

ROOT = Path(__file__).resolve().parents[2]
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


def errors_of(point, *registrations: Registration) -> list[tuple[str, str]]:
    """The check's (id, message) for `point` with exactly these registrations."""
    with registry.overridden(point, registrations):
        return [(e.id, e.msg) for e in extension_errors([point])]


# --- the check ---------------------------------------------------------------------------------------------------


def test_the_project_passes_the_check():
    assert extension_errors(POINTS) == []
    call_command("check")  # raises SystemCheckError on any error


def profile_saved_positional(shop, member):
    """Wrong: takes its arguments by position."""


def profile_saved_misnamed(*, shop, customer):
    """Wrong: a parameter named otherwise."""


def test_a_wrong_shaped_implementation_fails_the_check_at_start_up():
    wrong = [Registration(profile_saved_positional, app="points")]
    with registry.overridden(PROFILE_SAVED, wrong), pytest.raises(SystemCheckError) as caught:
        call_command("check")
    assert "shops.E102" in str(caught.value)
    assert "profile_saved_positional" in str(caught.value)
    assert errors_of(PROFILE_SAVED, Registration(profile_saved_misnamed, app="points")) == [
        (
            "shops.E102",
            "tests.shops.test_extensions.profile_saved_misnamed (app points, extension point profile_saved) does not "
            "match ProfileSaved: no parameter 'member', unexpected required parameter 'customer'; expected "
            "(*, shop, member).",
        ),
    ]
    [(code, message)] = errors_of(PROFILE_SAVED, Registration(profile_saved_positional, app="points"))
    assert code == "shops.E102"
    assert message.endswith(
        "'shop' is positional or keyword, not keyword-only, 'member' is positional or keyword, not keyword-only; "
        "expected (*, shop, member)."
    )


def test_an_object_implementation_is_checked_method_by_method():
    def orders_award(*, shop, orders, members):
        return None

    half = SimpleNamespace(orders_award=orders_award)  # orders_created is missing
    [(code, message)] = errors_of(ORDER_POINTS_AWARD, Registration(half, app="points"))
    assert code == "shops.E102"
    assert message.endswith(
        "(app points, extension point order_points_award) does not match OrderPointsAward: has no function "
        "orders_created()."
    )


def test_a_required_point_without_implementation_and_a_second_single_one_fail_the_check():
    assert [code for code, _message in errors_of(ORDER_POINTS_AWARD)] == ["shops.E100"]
    [points_award] = implementations(ORDER_POINTS_AWARD)
    twice = [Registration(points_award, app="points"), Registration(points_award, app="coupons")]
    assert [code for code, _message in errors_of(ORDER_POINTS_AWARD, *twice)] == ["shops.E101"]


def test_orders_keys_apps_and_data_are_checked():
    def seed(*, shop, rng, members):
        return ""

    assert [code for code, _m in errors_of(DEMO_SEEDER, Registration(seed, app="members"))] == ["shops.E104"]
    same_order = [Registration(seed, app="members", order=10), Registration(seed, app="orders", order=10)]
    assert [code for code, _m in errors_of(DEMO_SEEDER, *same_order)] == ["shops.E105"]
    assert [code for code, _m in errors_of(AUDIT_ACTION, Registration("Label", app="shops"))] == ["shops.E104"]
    assert [code for code, _m in errors_of(DEMO_SEEDER, Registration(seed, app="nowhere", order=1))] == ["shops.E103"]
    assert [code for code, _m in errors_of(NAVIGATION, Registration(("Members", "members"), app="members"))] == [
        "shops.E102"
    ]


def test_a_signature_may_add_optional_parameters_but_not_required_ones():
    expected = inspect.signature(lambda *, shop: None)
    assert signature_problems(expected, inspect.signature(lambda *, shop, tier_model=None: None)) == []
    assert signature_problems(expected, inspect.signature(lambda *, shop, **kwargs: None)) == []
    assert signature_problems(expected, inspect.signature(lambda *, shop, model: None)) == [
        "unexpected required parameter 'model'"
    ]


# --- order -------------------------------------------------------------------------------------------------------


def test_implementations_run_in_the_dependency_order_of_their_apps_or_by_explicit_order():
    def named(point):
        return [f"{r.implementation.__module__}.{r.implementation.__name__}" for r in registry.registrations(point)]

    assert named(SHOP_DEFAULTS) == [
        "tiers.defaults.create_defaults",
        "points.defaults.create_defaults",
        "automations.defaults.create_defaults",
    ]
    assert named(REFUND_CREATED) == ["points.order_effects.refund_created", "coupons.redemption.order_refunded"]
    assert [m.__name__ for m in implementations(MEMBER_DATA)] == [
        "orders.member_data",
        "tiers.member_data",
        "points.member_data",
        "coupons.member_data",
        "recruitment.member_data",
        "campaigns.member_data",
        "automations.member_data",
    ]
    # the rule tags read the order figures: members' second seeder runs after the orders
    assert named(DEMO_SEEDER) == [
        "members.demo.seed_members",
        "orders.demo.seed_orders",
        "members.demo.seed_tags",
        "coupons.demo.seed_coupons",
        "recruitment.demo.seed_recruitment",
        "campaigns.demo.seed_campaigns",
    ]
    assert [item.url_name for item in implementations(NAVIGATION)] == [
        "home",
        "members",
        "orders",
        "tiers",
        "points_rules",
        "coupon_templates",
        "channels",
        "campaigns",
        "analytics",
        "automations",
    ]


def test_the_catalogues_table_names_the_apps_that_implement_each_point():
    from django.apps import apps

    labels = {config.label for config in apps.get_app_configs()}
    by_name = {name: getattr(extensions, name) for name in dir(extensions) if getattr(extensions, name) in POINTS}
    rows = [line.strip("| ").split(" | ") for line in extensions.__doc__.splitlines() if line.startswith("| ")]
    checked = 0
    for names, _contract, _caller, implementers in rows:
        listed = list(dict.fromkeys(word for word in re.findall(r"[a-z]+", implementers) if word in labels))
        for name in names.split(", "):
            if name in by_name and listed:  # "every app that audits" is not a list
                registered = list(dict.fromkeys(r.app for r in registry.registrations(by_name[name])))
                assert registered == listed, name
                checked += 1
    assert checked == 14


def test_an_override_replaces_the_registrations_for_its_block_only():
    item = NavItem("Elsewhere", None)
    with registry.overridden(NAVIGATION, [Registration(item, app="tests")]):
        assert implementations(NAVIGATION) == (item,)
    assert len(implementations(NAVIGATION)) == 10


# --- audit labels ------------------------------------------------------------------------------------------------

# Codes built at run time, with every value they take.
DYNAMIC_CODES = {
    "f'mall_exchange.{status}'": [
        f"mall_exchange.{status}" for status in (Fulfilment.SHIPPED, Fulfilment.DELIVERED, Fulfilment.CANCELLED)
    ],
}


def _codes(node: ast.expr, assigned: dict[str, list[ast.expr]]) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.IfExp):
        return _codes(node.body, assigned) + _codes(node.orelse, assigned)
    if isinstance(node, ast.Name) and node.id in assigned:
        return [code for value in assigned[node.id] for code in _codes(value, assigned)]
    source = ast.unparse(node)
    assert source in DYNAMIC_CODES, f"an audit action the test cannot read: {source}; add it to DYNAMIC_CODES"
    return DYNAMIC_CODES[source]


def audit_codes_written() -> dict[str, str]:
    """Every action code passed to shops.services.audit_record in the apps, with where it is written."""
    found = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            assigned: dict[str, list[ast.expr]] = {}
            for node in ast.walk(tree):
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    assigned.setdefault(node.targets[0].id, []).append(node.value)
            for node in ast.walk(tree):
                func = getattr(node, "func", None)
                name = getattr(func, "id", None) or getattr(func, "attr", None)
                if isinstance(node, ast.Call) and name == "audit_record":
                    [action] = [k.value for k in node.keywords if k.arg == "action"]
                    for code in _codes(action, assigned):
                        found.setdefault(code, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_audit_action_written_has_a_label():
    written = audit_codes_written()
    assert len(written) > 50  # the walk sees the apps' audit calls
    labels = extensions.by_key(AUDIT_ACTION)
    missing = sorted(f"{code} ({where})" for code, where in written.items() if code not in labels)
    assert missing == [], "Register a label in the writing app's apps.py (AUDIT_ACTIONS):\n" + "\n".join(missing)
    assert sorted(set(labels) - set(written)) == []  # no label for a code nothing writes


def test_every_audit_label_is_translated_into_chinese():
    labels = extensions.by_key(AUDIT_ACTION)
    with translation.override("en"):
        english = {code: str(label) for code, label in labels.items()}
    with translation.override("zh-hans"):
        untranslated = sorted(code for code, label in labels.items() if str(label) == english[code])
    assert untranslated == []
    with translation.override("zh-hans"):
        assert str(extensions.audit_action_label("mall_exchange.shipped")) == "积分兑换已发货"
    assert extensions.audit_action_label("no.such_code") == "no.such_code"
