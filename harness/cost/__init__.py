"""Pricing of calls from their usage."""
