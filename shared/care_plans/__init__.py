"""Care plans: AI or template drafts of up to seven days of schedules and care logs."""
