"""The tenant: shops, staff and their roles, API keys, the audit log and the tenancy base classes."""
