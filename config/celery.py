"""The Celery app. Without CELERY_BROKER_URL, settings make every task run eagerly in-process."""

import os

from celery import Celery, Task
from django_scopes.state import state

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")


class UnscopedTask(Task):
    """Every task starts with no shop scope and leaves none behind (as shops.tenancy.no_shop_scope, which this module
    cannot import before Django is set up): a worker thread runs task after task, and an eager task runs inside its
    caller. Tasks enter their shop's scope themselves (task_shop_scope)."""

    def __call__(self, *args, **kwargs):
        token = state.set(None)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            state.reset(token)


app = Celery("huiyuan", task_cls=UnscopedTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
