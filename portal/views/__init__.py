"""The shopper pages (SPEC 5): the landing pages and joining (`join`), the member centre (`centre`), over the
plumbing of `base` (the shop, its language and scope, the logged-in member)."""
