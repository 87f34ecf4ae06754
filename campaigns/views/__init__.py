"""Dashboard pages of campaigns."""
