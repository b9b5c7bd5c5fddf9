"""escrutinio: count, check and explain election results from polling-table tally sheets."""
__version__ = "0.1.0"
