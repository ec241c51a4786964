"""GRPO for codegym: ``codegym_trainer.grpo`` holds the algorithm top to bottom (advantages,
clipped token-level policy loss, KL, entropy, optimiser step, checkpoints);
``codegym_trainer.data`` turns trajectories into padded tensors."""
