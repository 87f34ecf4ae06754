from django.db import migrations, models

import members.models

CHUNK = 20_000


def bucket_backfill(apps, schema_editor):
    """Each existing member draws its bucket, set-based: one UPDATE per chunk of a shop's members (keyset by id)."""
    Shop = apps.get_model("shops", "Shop")
    Member = apps.get_model("members", "Member")
    for shop_id in Shop.objects.order_by("pk").values_list("pk", flat=True):
        pending = Member.objects.filter(shop_id=shop_id, bucket__isnull=True).order_by("pk")
        after = 0
        while True:
            ids = list(pending.filter(pk__gt=after).values_list("pk", flat=True)[CHUNK - 1 : CHUNK])
            upto = ids[0] if ids else None
            chunk = pending.filter(pk__gt=after, **({"pk__lte": upto} if upto else {}))
            chunk.update(bucket=members.models.RandomBucket())
            if upto is None:
                break
            after = upto


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0013_shop_index_in_primary_key"),
        ("shops", "0004_shop_index_in_primary_key"),
    ]

    operations = [
        # The bucket in three steps: a nullable column (no table rewrite), the existing members' draws, then the
        # column as the model has it (NOT NULL, a database default for inserts written in SQL, the range check).
        migrations.AddField(
            model_name="member",
            name="bucket",
            field=models.PositiveSmallIntegerField(null=True, verbose_name="holdout bucket"),
        ),
        migrations.RunPython(bucket_backfill, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="member",
            name="bucket",
            field=models.PositiveSmallIntegerField(
                db_default=members.models.RandomBucket(),
                default=members.models.bucket_draw,
                verbose_name="holdout bucket",
            ),
        ),
        migrations.AddConstraint(
            model_name="member",
            constraint=models.CheckConstraint(
                condition=models.Q(("bucket__gte", 0), ("bucket__lt", 10000)), name="member_bucket_range"
            ),
        ),
    ]
