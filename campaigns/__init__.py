"""Campaigns and automations (SPEC section 9)."""
