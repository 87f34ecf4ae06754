"""Settings that name the modules of apps above a lower one (ORDER_EFFECTS, MEMBER_EFFECTS, SHOP_DEFAULT_PROGRAM):
the lower app calls them without importing those apps. Read on every call, not cached, so that a test's settings
override takes effect; Python keeps imported modules, so this costs a dictionary lookup per module."""

from importlib import import_module

from django.conf import settings


def hook_modules(setting: str) -> list:
    return [import_module(name) for name in getattr(settings, setting)]
