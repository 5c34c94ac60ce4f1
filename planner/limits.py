"""Input limits: one place for every bound the planner puts on a topology file.

They keep a hostile or broken file from exhausting the machine while leaving room for the largest
real estates (a national estate of 5,000 instances and 50,000 connections is about 10 MB of YAML).
"""

MAX_FILE_BYTES = 32 * 1024 * 1024
MAX_EXPANDED_NODES = 3_000_000  # values after alias expansion
# Values that aliases add beyond what the file writes out: people alias a defaults block or a
# filter a few hundred times, not a structure of thousands of values thousands of times.
MAX_ALIAS_EXTRA_NODES = 100_000
MAX_DEPTH = 64  # nesting levels of mappings and lists
MAX_STRING_CHARS = 65_536  # one scalar value
MAX_INSTANCES = 20_000
MAX_CONNECTIONS = 200_000
