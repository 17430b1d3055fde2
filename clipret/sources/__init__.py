"""Corpus sources besides the demo generator and YouTube: e.g. a local folder of clips per genre."""
