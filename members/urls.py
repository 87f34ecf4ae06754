from django.urls import path

from . import apis

api_patterns = [
    path("members/", apis.MemberListCreateApi.as_view(), name="members"),
    path("members/<int:pk>/", apis.MemberDetailApi.as_view(), name="member"),
]
