"""Stats: incidents, resolution times (MTTR), AI performance, services and playbook trust.

Every figure is one SQL query (or a few) over the stored facts; nothing is counted twice.
"""
