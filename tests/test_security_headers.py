"""Security headers. The Content-Security-Policy is on every answer of every environment (here the test settings);
HTTPS redirect, HSTS and Secure cookies come with config.settings.production, loaded in a subprocess as a server
would load it. tests/browser/test_csp.py proves the pages work under the policy in a real browser."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from django.conf import settings
from django.core.cache import cache
from django.template.loader import render_to_string
from django.test import Client

from shops import csp
from shops.tenancy import shop_scope
from tests.recruitment.helpers import make_channel

ROOT = Path(__file__).resolve().parents[1]
POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
    "base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
)
NONCE_IN_PAGE = re.compile(r'<style nonce="([^"]+)">')


def nonce_of(response) -> str:
    """The nonce the page's <style> carries, checked against the one its header allows."""
    page_nonce = NONCE_IN_PAGE.search(response.content.decode()).group(1)
    assert f"style-src 'self' 'nonce-{page_nonce}';" in response["Content-Security-Policy"]
    return page_nonce


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/accounts/login/", "/api/v1/docs/", "/api/v1/docs/?script=", "/api/v1/shop/"])
def test_answers_without_inline_styles_carry_the_policy_without_a_nonce(client, path):
    response = client.get(path)
    assert response["Content-Security-Policy"] == POLICY
    assert "<style" not in response.content.decode()


@pytest.mark.django_db
def test_the_api_docs_have_no_inline_script(client):
    page = client.get("/api/v1/docs/").content.decode()
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js">',
        '<script src="/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-standalone-preset.js">',
        '<script src="/api/v1/docs/?script=">',
    ]


def test_a_dashboard_page_allows_its_own_brand_style_and_no_other(owner_client, shop):
    first, second = (nonce_of(owner_client.get(f"/dashboard/{shop.slug}/")) for _ in range(2))
    assert first != second and len(first) >= 22


def test_a_page_kept_in_the_cache_gets_a_fresh_nonce_each_time(client, shop):
    # given: a channel's landing page, which is kept rendered in the cache (portal.views.base.shared_page)
    with shop_scope(shop):
        channel = make_channel(shop, headline="扫码入会")
    cache.clear()

    # when: it is served twice, rendered once
    with mock.patch("portal.views.base.render_to_string", wraps=render_to_string) as render:
        first, second = (nonce_of(client.get(f"/j/{channel.code}/")) for _ in range(2))

    # then: the second answer came from the cache, with a nonce of its own
    assert render.call_count == 1
    assert first != second


def test_the_policy_names_a_nonce_only_when_one_was_used():
    directives = {"default-src": ["'self'"], "style-src": ["'self'", csp.NONCE]}
    assert csp.policy_header(directives) == "default-src 'self'; style-src 'self'"
    assert csp.policy_header(directives, "abc") == "default-src 'self'; style-src 'self' 'nonce-abc'"


@pytest.mark.django_db
def test_the_csrf_failure_page_is_ours_without_inline_style(owner):
    response = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": owner.email})
    assert response.status_code == 403
    page = response.content.decode()
    assert "<style" not in page and "/static/css/app.css" in page
    assert response["Content-Security-Policy"] == POLICY


# --- config.settings.production, loaded in a fresh interpreter ------------------------------------------------------

PROBE = """
import json, django
django.setup()
from django.test import Client

client = Client()
answers = {}
for name, path, headers in (
    ("http_page", "/accounts/login/?next=/dashboard/", {}),
    ("http_health", "/healthz", {}),
    ("https_page", "/accounts/login/", {"HTTP_X_FORWARDED_PROTO": "https"}),
):
    r = client.get(path, **headers)
    answers[name] = {
        "status": r.status_code,
        "location": r.headers.get("Location"),
        "hsts": r.headers.get("Strict-Transport-Security"),
        "csp": r.headers.get("Content-Security-Policy"),
        "cookies": {k: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"])} for k, m in r.cookies.items()},
    }
print(json.dumps(answers))
"""


def production_env(tmp_path, **extra) -> dict:
    """The environment a production server gets (no test settings, no test database or Redis)."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TZ")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "SECRET_KEY": "a-production-secret-key-of-fifty-or-more-random-characters-x7Q2",
        "ALLOWED_HOSTS": "testserver,vip.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        **extra,
    }


def run_production(tmp_path, *args, **extra) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=production_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_redirects_plain_http_sends_hsts_csp_and_secure_cookies(tmp_path):
    result = run_production(tmp_path, "-c", PROBE)
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])

    # plain HTTP is sent to HTTPS, path and query kept...
    assert answers["http_page"]["status"] == 301
    assert answers["http_page"]["location"] == "https://testserver/accounts/login/?next=/dashboard/"
    # ...except the load balancer's health check
    assert answers["http_health"]["status"] == 200
    assert answers["http_health"]["location"] is None

    https = answers["https_page"]
    assert https["status"] == 200
    assert https["hsts"] == "max-age=31536000; includeSubDomains"
    assert https["csp"] == POLICY
    assert https["cookies"]["csrftoken"]["secure"] is True
    assert settings.SESSION_COOKIE_NAME not in https["cookies"]  # no session for an anonymous GET


def test_production_hsts_preload_is_an_option(tmp_path):
    result = run_production(tmp_path, "-c", PROBE, SECURE_HSTS_PRELOAD="true")
    assert result.returncode == 0, result.stderr
    answers = json.loads(result.stdout.strip().splitlines()[-1])
    assert answers["https_page"]["hsts"] == "max-age=31536000; includeSubDomains; preload"


def test_production_settings_pass_the_deployment_checks(tmp_path):
    result = run_production(tmp_path, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
