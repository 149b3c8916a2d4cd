"""Live order sources (Shopify, WooCommerce, a shop's own HTTP backend) and what wraps any source: a short
cache and the carrier links a source left out. They implement the ``OrderSource`` port."""
