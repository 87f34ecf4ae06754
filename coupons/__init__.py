"""Coupons, rewards and the points mall (SPEC section 8)."""
