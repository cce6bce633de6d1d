"""vae-tfp: a benchmark suite for posterior collapse in VAEs."""
