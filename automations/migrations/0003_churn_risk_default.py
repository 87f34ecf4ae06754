"""The churn-risk automation (SPEC 13 with SPEC 15's scores) for every existing shop, switched off."""

from django.db import migrations, models


def install(apps, schema_editor):
    from automations.defaults import defaults_install

    Shop = apps.get_model("shops", "Shop")
    models_ = {name: apps.get_model(app, name) for app, name in (("automations", "Automation"),
               ("automations", "Step"), ("campaigns", "Campaign"))}  # fmt: skip
    for shop in Shop.objects.all():
        defaults_install(shop=shop, **models_)


class Migration(migrations.Migration):
    dependencies = [("automations", "0002_default_automations")]

    operations = [
        migrations.AlterField(
            model_name="automation",
            name="trigger",
            field=models.CharField(
                choices=[
                    ("joined", "Joined"),
                    ("tier_up", "Tier upgraded"),
                    ("birthday", "Birthday"),
                    ("points_expiring", "Points expiring"),
                    ("coupons_expiring", "Coupon expiring"),
                    ("win_back", "No order for a while"),
                    ("churn_risk", "Churn risk became high"),
                    ("replenishment", "Time to buy again"),
                    ("order_care", "Order updates"),
                    ("survey", "Satisfaction survey"),
                ],
                max_length=20,
                verbose_name="trigger",
            ),
        ),
        migrations.RunPython(install, migrations.RunPython.noop),
    ]
