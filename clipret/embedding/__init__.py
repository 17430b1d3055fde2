"""From per-clip features to vectors: fusion, the encoders, PCA, analysis, a built index's artifacts."""
