"""Trampoline-only exports: ``provider`` owns a key, ``consumer`` may call it, not update it.

Run: python examples/export_tramp
"""
