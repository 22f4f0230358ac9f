"""SLAs: the policy per tier, the maths of deadlines and breaches, the sweeper that records
breaches, and the CLI commands that set a policy."""
