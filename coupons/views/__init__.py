"""The coupons dashboard, one module per area: templates (editor, list, codes, tier gifts), grants and the clerk's
lookup, and the points mall."""
