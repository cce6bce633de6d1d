"""``python -m vae_tfp``: see :mod:`vae_tfp.cli`."""

import sys

from vae_tfp.cli import main

sys.exit(main())
