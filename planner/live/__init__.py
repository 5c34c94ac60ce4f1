"""Reading running MISP instances: `misp-planner import` and `misp-planner drift`.

client.py talks to one instance's REST API (read-only); snapshot.py reads what the planner needs
from each instance, several at once; importer.py turns snapshots into a topology file; drift.py
compares snapshots with what a topology plans; commands.py holds the two commands' arguments.
"""
