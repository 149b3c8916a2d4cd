"""The email channel: inbound parsing, provider webhooks, and threaded replies over SMTP."""
