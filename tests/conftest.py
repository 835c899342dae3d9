import jax

# Unit tests run the models in float64 in this process (workers get their precision from the run config).
jax.config.update("jax_enable_x64", True)
