# Test kernels: filled in by the guests work. Placeholder so make parses.
.PHONY: guests
guests:
