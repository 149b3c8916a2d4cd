"""The core's use cases: handling a message, the outbox's deliveries, the ticket desk, hybrid
understanding. Services depend on the domain and the ports only; adapters are handed to them."""
