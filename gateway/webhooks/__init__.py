"""Webhooks: partner systems follow the platform's events without polling.

Each API client (or person) subscribes a URL to chosen event types. The gateway follows every
service's event feed, keeps of each event only what the subscriber may see (its current role and
scope decide; members' personal data never leaves), and posts it signed with the
subscription's secret (HMAC-SHA256 over the timestamp and the body). Failed posts are tried
again with a growing pause; each attempt is in the subscription's delivery log, and any
delivery can be sent again by hand.
"""
