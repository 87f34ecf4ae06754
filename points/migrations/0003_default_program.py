from django.db import migrations


def forwards(apps, schema_editor):
    """Shops created before the points rules existed get the default rules a new shop gets."""
    from points.defaults import create_defaults

    Shop, PointsProgram = apps.get_model("shops", "Shop"), apps.get_model("points", "PointsProgram")
    for shop in Shop.objects.exclude(pk__in=PointsProgram.objects.values("shop_id")):
        create_defaults(shop=shop, program_model=PointsProgram)


class Migration(migrations.Migration):
    dependencies = [("points", "0002_program_bonus_rules_pending"), ("shops", "0002_shop_join_on_purchase")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
