"""The right column: live trace list, span tree and span detail."""
