# Under /api/v1/, in the "api" namespace.
api_patterns = []

# Under /dashboard/<shop_slug>/coupons/, in the "dashboard" namespace.
dashboard_patterns = []
