"""Glass: one training step number by number (``trace``), its renderings (``report``),
gradient checks and the pictures of a run (``plot``)."""
