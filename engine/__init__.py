"""The model server (`python -m engine`)."""

import os

# OpenMP's worker threads spin while they wait for work unless told otherwise. On a machine the engine
# shares (a bot host, a CI runner) spinning threads fight the other processes for the cores, and CPU
# decoding collapses: with two busy neighbours on 2 cores, 48 tokens took 55-138 s spinning and
# 11-19 s passive. This must be set before torch (and its OpenMP runtime) is first imported; an
# operator's own OMP_WAIT_POLICY wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
