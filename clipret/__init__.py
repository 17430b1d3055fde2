"""clipret: multimodal music-video retrieval (audio + frames + lyrics → autoencoder → Qdrant).

Importing this package is cheap: torch, transformers and streamlit are imported only inside the
functions that need them.
"""

__version__ = "0.1.0"
