"""How a trajectory is produced from a task."""
