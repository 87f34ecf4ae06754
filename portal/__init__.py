"""Shopper-facing public pages: join landing pages and the member centre. No models of its own."""
