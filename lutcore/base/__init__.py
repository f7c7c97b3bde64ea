"""The bottom layer: generic tools that :mod:`lutcore.hw`, :mod:`lutcore.sim` and
:mod:`lutcore.synth` use (atomic writes and table files, the Yosys runner, tool lookup,
CSV and Markdown tables). It imports nothing else of lutcore."""
