"""One error format for the whole API: {"code": "snake_case", "message": "human text", "details": {...}}."""

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from shops import availability
from shops.errors import ApplicationError


def error_body(code: str, message: str, details: dict | None = None) -> dict:
    return {"code": code, "message": str(message), "details": details or {}}


class ServiceUnavailable(exceptions.APIException):
    """Redis or PostgreSQL is out of reach (shops.availability): DRF sends `wait` as the Retry-After header."""

    status_code = 503
    default_detail = availability.MESSAGE
    default_code = "service_unavailable"
    wait = availability.RETRY_AFTER


def too_large_body() -> dict:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    message = _("The request body is larger than %(limit)s bytes.") % {"limit": f"{limit:,}"}
    return error_body("request_too_large", message, {"max_bytes": limit})


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
    # Django refuses a body above DATA_UPLOAD_MAX_MEMORY_SIZE when DRF's parser reads request.body (before reading
    # it, from Content-Length). Left to Django, that is its HTML "Bad Request (400)" page.
    if isinstance(exc, RequestDataTooBig):
        return Response(too_large_body(), status=413)
    # Missing and another shop's objects are the same DoesNotExist (selectors filter by shop): one 404.
    if isinstance(exc, ObjectDoesNotExist | Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))
    elif availability.unavailable(exc):
        availability.log(exc)
        exc = ServiceUnavailable()
    response = drf_exception_handler(exc, context)  # keeps DRF's headers: WWW-Authenticate, Retry-After, Allow
    if response is None:
        return None  # an unexpected error: Django's handler500 answers in the same format
    if isinstance(exc, exceptions.ValidationError):
        details = response.data if isinstance(response.data, dict) else {"non_field_errors": response.data}
        response.data = error_body("invalid", "The request has invalid fields.", details)
    else:
        code = exc.get_codes() if isinstance(exc.get_codes(), str) else "error"
        response.data = error_body(code, exc.detail)
        if isinstance(exc, exceptions.Throttled | ServiceUnavailable):
            response.data["details"] = {"retry_after": exc.wait}
    return response


def json_not_found(request, exception=None):
    return JsonResponse(error_body("not_found", "Not found."), status=404)


def json_bad_request(request, exception=None):
    """Django's 400 for a request it refuses before any view answers (a SuspiciousOperation), under /api/."""
    if isinstance(exception, RequestDataTooBig):
        return JsonResponse(too_large_body(), status=413)
    return JsonResponse(error_body("bad_request", _("The request could not be read.")), status=400)


def json_server_error(request):
    return JsonResponse(error_body("server_error", "Something went wrong on our side. It has been logged."), status=500)
