"""REST plumbing shared by every app's API: key authentication, throttling, errors, pagination, the base view."""
