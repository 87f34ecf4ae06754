"""A test-only app: job models and an effect model for the tests of members.jobs (installed by
config.settings.test only)."""
