"""Staff accounts: the clerks and officers of an organisation who use the pages."""
