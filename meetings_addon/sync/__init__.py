"""Two-way calendar sync: a connected calendar's changes logged on the CRM timeline.

service.py (sync_calendar: incremental, locked, resumable), logging.py (what gets
logged), jobs.py (the job, the scheduler's poll), push.py (provider notifications).
"""
