"""Building an index: extract features, train the embedding, push to Qdrant, evaluate, grow it."""
