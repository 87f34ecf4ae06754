api_patterns = []

# Under /dashboard/<shop_slug>/recruitment/, in the "dashboard" namespace.
dashboard_patterns = []
