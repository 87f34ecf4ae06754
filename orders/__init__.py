"""Purchase facts: orders, items and refunds that drive points, tiers and analytics (SPEC section 4)."""
