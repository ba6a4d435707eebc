"""facelite-bench: latency and accuracy-parity harness for bundles on real devices."""

__version__ = "0.1.0"
