"""Dashboard forms of the coupons app, one module per area (as coupons.views)."""
