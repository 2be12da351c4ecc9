"""Notifications to families and operators.

- `outbox`: `publish(uow, Notice(...))`, rows written in the event's own transaction;
- `sender`: `deliver_due()`, what the `notification_sweep` timer and the `notification_send`
  queue trigger run (claim with SKIP LOCKED, lease, send, settle; backoff, quiet hours);
- `channels`: the in-app inbox (a row written in the claim) and the Web Push and ACS email
  adapters behind one protocol;
- `messages`: the Korean words of each event (full in the app, masked outside it);
- `schedule`: backoff and quiet hours (pure);
- `service` and `repository`: the inbox, preferences and push subscriptions API, and all SQL.
"""
