"""The pure domain: messages, orders, tickets, the typed understanding and the conversation's rules.

Nothing here does I/O or knows another layer: every module imports only the standard library, pydantic,
email-validator and other modules of this package (``tests/test_architecture.py`` holds it to that).
"""
