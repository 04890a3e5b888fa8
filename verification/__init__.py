"""Verification: identifier formats and the checks a verifier runs on a scanned licence."""
