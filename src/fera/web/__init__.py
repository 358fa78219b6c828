"""fera serve: the local, accessible web page."""
