from django.urls import path

from . import apis
from .views import members, segments, tags

api_patterns = [
    path("members/", apis.MemberListCreateApi.as_view(), name="members"),
    path("members/<int:pk>/", apis.MemberDetailApi.as_view(), name="member"),
    path("members/<int:pk>/devices/", apis.MemberDeviceApi.as_view(), name="member_devices"),
]

# Under /dashboard/<shop_slug>/members/, in the "dashboard" namespace.
dashboard_patterns = [
    path("", members.MemberListView.as_view(), name="members"),
    path("bulk-tag/", members.BulkTagView.as_view(), name="member_bulk_tag"),
    path("<int:pk>/", members.MemberDetailView.as_view(), name="member"),
    path("<int:pk>/edit/", members.MemberEditView.as_view(), name="member_edit"),
    path("<int:pk>/phone/", members.MemberPhoneView.as_view(), name="member_phone"),
    path("<int:pk>/freeze/", members.MemberFreezeView.as_view(), name="member_freeze"),
    path("<int:pk>/erase/", members.MemberEraseView.as_view(), name="member_erase"),
    path("<int:pk>/export/", members.MemberExportView.as_view(), name="member_export"),
    path("<int:pk>/tags/", members.MemberTagAddView.as_view(), name="member_tag_add"),
    path("<int:pk>/tags/<int:tag_pk>/remove/", members.MemberTagRemoveView.as_view(), name="member_tag_remove"),
    path("tags/", tags.TagListView.as_view(), name="member_tags"),
    path("tags/rule/", tags.RuleTagCreateView.as_view(), name="member_rule_tag_create"),
    path("tags/refresh/", tags.TagsRefreshView.as_view(), name="member_tags_refresh"),
    path("segments/", segments.SegmentListView.as_view(), name="segments"),
    path("segments/new/", segments.SegmentCreateView.as_view(), name="segment_create"),
    path("segments/count/", segments.SegmentCountView.as_view(), name="segment_count"),
    path("segments/<int:pk>/", segments.SegmentEditView.as_view(), name="segment_edit"),
    path("segments/<int:pk>/delete/", segments.SegmentDeleteView.as_view(), name="segment_delete"),
]
