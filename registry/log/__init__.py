"""The transparency log (RFC 9162): every issuance, status change, key event and access, provable."""
