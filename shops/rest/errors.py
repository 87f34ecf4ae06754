"""One error format for the whole API: {"code": "snake_case", "message": "human text", "details": {...}}."""

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
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


def exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status)
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


def json_server_error(request):
    return JsonResponse(error_body("server_error", "Something went wrong on our side. It has been logged."), status=500)
