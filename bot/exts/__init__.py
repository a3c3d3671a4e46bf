"""Bot features, one package each (python-discord style): `__init__` only holds setup()."""
