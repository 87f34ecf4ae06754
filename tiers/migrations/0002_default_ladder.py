from django.db import migrations


def forwards(apps, schema_editor):
    """Shops created before tiers existed get the default ladder a new shop gets."""
    from tiers.defaults import create_defaults

    Shop, Tier = apps.get_model("shops", "Shop"), apps.get_model("tiers", "Tier")
    for shop in Shop.objects.exclude(pk__in=Tier.objects.values("shop_id")):
        create_defaults(shop=shop, tier_model=Tier)


class Migration(migrations.Migration):
    dependencies = [("tiers", "0001_initial"), ("shops", "0002_shop_join_on_purchase")]
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
