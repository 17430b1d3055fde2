"""Per-clip features: the extractor interface and registry, the extractors, the profiles that pick them.

Importing this package is cheap: librosa, torch and transformers load inside the extractors.
"""
