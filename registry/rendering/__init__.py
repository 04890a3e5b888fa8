"""Printable renderings of licences: QR codes (PNG, SVG) and the A4 PDF."""
