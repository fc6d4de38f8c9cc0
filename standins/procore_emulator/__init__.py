"""A local emulator of the parts of Procore's REST API that a budget import touches.

Procore cannot be reached from the build machines, so tests and the demo run the
pipeline against this emulator over real HTTP. See README.md for what is faithful
to Procore's documentation and what is a guess.
"""
