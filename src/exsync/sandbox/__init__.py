"""The Graph sandbox."""
