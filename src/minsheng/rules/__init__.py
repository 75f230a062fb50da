"""Policy formulas, one module per topic. Each module registers its calculations on import."""
