"""The vocabulary of an index's vector spaces: what can be searched, and the per-modality vectors."""

SPACES = ("fused", "raw", "pca")  # the searchable spaces: autoencoder latent and the two baselines
MODALITIES = ("audio", "video", "lyrics")  # the per-modality named vectors every profile stores
