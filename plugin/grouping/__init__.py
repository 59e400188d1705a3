"""Duplicates, edits, bursts and similar shots: finding groups, keeping the best, recommending the rest."""
