"""The asset graph by layer, one module each: raw -> bronze -> silver (+ quarantine) -> gold.

Importing this package builds nothing; `definitions.py` assembles the layers' asset lists.
"""
