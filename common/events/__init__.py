"""Domain events between the services: a transactional outbox, its feed, and consumers.

A service writes its events into its own `outbox_events` table in the same transaction as the
change (`Outbox.emit`), so an event exists exactly when its change does. Events get their
`position` in the feed only once committed (`Outbox.sequence`), which keeps the feed gap-free
for readers even when transactions commit out of id order. Other components read the feed
(`GET /internal/events?after=N`, service tokens only) from their own stored cursor
(`consumer.EventConsumer`), apply each page in one transaction with the cursor, and skip
event ids they have already consumed.
"""
