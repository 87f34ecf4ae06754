"""Analytics (SPEC section 9)."""
