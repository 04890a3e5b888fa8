"""Service items and the cases a window opens for them."""
