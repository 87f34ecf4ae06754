"""Members, tags, segments, recruitment entry points, referrals and privacy (SPEC sections 4-5)."""
