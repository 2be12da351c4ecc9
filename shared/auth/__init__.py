"""Accounts and access control."""
