"""Dashboard views of the members app, one module per area (members, tags, segments; imports and exports)."""
