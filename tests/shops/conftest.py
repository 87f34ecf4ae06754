import pytest

from config.celery import app as celery_app


@pytest.fixture
def worker_like_eager_retries():
    """Eager tasks raise their errors at the caller (task_eager_propagates); a worker retries them instead."""
    celery_app.conf.task_eager_propagates = False
    yield
    celery_app.conf.task_eager_propagates = True
