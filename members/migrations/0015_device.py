import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models

import shops.distribution


class Migration(migrations.Migration):
    dependencies = [
        ("members", "0014_member_bucket"),
        ("shops", "0004_shop_index_in_primary_key"),
    ]

    operations = [
        migrations.CreateModel(
            name="Device",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "shop",
                    models.ForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.PROTECT,
                        to="shops.shop",
                        verbose_name="shop",
                    ),
                ),
                (
                    "member",
                    shops.distribution.ShopForeignKey(
                        db_index=False,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="devices",
                        to="members.member",
                        verbose_name="member",
                    ),
                ),
                (
                    "platform",
                    models.CharField(
                        choices=[("ios", "iOS"), ("android", "Android"), ("harmony", "HarmonyOS"), ("web", "Web")],
                        max_length=8,
                        verbose_name="platform",
                    ),
                ),
                ("token", models.CharField(max_length=255, verbose_name="push token")),
                ("is_active", models.BooleanField(default=True, verbose_name="active")),
                ("created_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="registered")),
                ("last_seen_at", models.DateTimeField(default=django.utils.timezone.now, verbose_name="last seen")),
            ],
            options={
                "verbose_name": "device",
                "verbose_name_plural": "devices",
                "indexes": [models.Index(fields=["shop", "member"], name="device_shop_member")],
                "constraints": [
                    models.UniqueConstraint(fields=("shop", "token"), name="device_unique_token_per_shop")
                ],
            },
        ),
    ]
