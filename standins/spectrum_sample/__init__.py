"""Sample Viewpoint Spectrum database: schema (4 dialects), deterministic data, loaders, oracle manifest.

See README.md in this directory. Command line: ``python -m standins.spectrum_sample {ddl,build,sql}``.
"""
