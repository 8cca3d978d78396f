"""Schedules and triggers stored in the database, and the scheduler that runs them."""
