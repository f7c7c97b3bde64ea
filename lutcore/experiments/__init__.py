"""Experiments that combine the layers below: simulation throughput (``bench``), real
transformer layers through the FP path (``layers``), the PIM tile on real weights with its
converters' synthesis (``pim``). They sit above :mod:`lutcore.sim` and :mod:`lutcore.synth`
(beside the CLI), so neither of those imports the other."""
