"""Points and growth value ledgers (SPEC section 6)."""
