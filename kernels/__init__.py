"""Numba kernels of CIMinus: flat typed arrays in, flat arrays out, no Python objects.

``layout`` names the columns, ``equations`` holds the physics as scalar functions, ``tile_stats`` the
tile statistics of sparse matrices.
"""
