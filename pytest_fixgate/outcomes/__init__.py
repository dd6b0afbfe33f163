"""Outcomes: the model of a gate's result and the judges that turn measurements into one."""
