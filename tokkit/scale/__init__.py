"""Work past one machine on existing engines (docs/scale.md).

- :mod:`tokkit.scale.ray_count`: pretoken counting on Ray Data (``tokkit count --engine ray``),
  one task per shard with the native counter, partial tables tree-reduced into one table equal
  to the local count.
- Hypernetwork training with ``torch.distributed`` lives with the hypernetwork
  (``tokkit hypernet train --nproc N``; docs/hypernet.md).

Nothing here schedules work itself: Ray places and retries tasks, torch's launcher starts ranks.
"""
