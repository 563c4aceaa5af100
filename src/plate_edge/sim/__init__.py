"""Synthetic plates and scenes: the `generated` camera, the demo, tests and training data.

Needs the `sim` extra (Pillow, for TrueType glyphs): pip install 'plate-edge[sim]'. The device
package never imports this except when a `generated` camera is opened.
"""
