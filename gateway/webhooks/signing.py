"""How a webhook post is signed, and how its receiver checks it.

The gateway sends three headers: `Webhook-Id` (the event's id: the same on every retry, so a
receiver can drop repeats), `Webhook-Timestamp` (Unix seconds of this attempt) and
`Webhook-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<body>" with the subscription secret>`.
A receiver recomputes the signature over the raw body, compares in constant time, and refuses a
timestamp too far from its clock, so a captured post cannot be replayed later: see
`tools/webhook_receiver.py`.
"""

import hashlib
import hmac

ID_HEADER = "Webhook-Id"
TIMESTAMP_HEADER = "Webhook-Timestamp"
SIGNATURE_HEADER = "Webhook-Signature"
VERSION = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    signed = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"{VERSION}={digest}"


def headers(secret: str, event_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        ID_HEADER: event_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
    }
