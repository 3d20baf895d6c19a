"""Protocol-level device simulators, fault injection and scenarios."""
