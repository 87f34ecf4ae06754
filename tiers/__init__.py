"""Tiers: qualification, evaluation, benefits and tier history (SPEC section 7)."""
