"""Timers: interval, date and cron triggers whose slots are held in the database."""
