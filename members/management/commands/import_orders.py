from members.models import ImportKind

from .import_members import ImportCommand


class Command(ImportCommand):
    help = (
        "Import historical orders from a CSV or XLSX file (订单号/external_id, 金额/amount, 支付时间/paid_at, "
        "手机号/phone or 会员ID/member_id, 状态/status; items as sku/name/category/quantity/unit_price, one row each)."
    )
    kind = ImportKind.ORDERS
