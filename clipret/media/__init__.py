"""Media in and out: safe decoding in a child process (PyAV), and writing H.264 + AAC clips."""
