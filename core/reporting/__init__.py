"""What the reminders did: reports, their queries and statistics, and a case's timeline."""
