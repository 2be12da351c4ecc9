"""Notifications to families and operators (see shared/notifications/outbox.py)."""
