"""The formal model of the memcg kmem controller: state, actions, invariants, back-ends."""
