"""The reference implementation: kernel-shaped code whose paths yield at preemption points."""
