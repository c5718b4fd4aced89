"""Analysis of result datasets: Pareto fronts, SALib sensitivity analysis and the standard figures.

Pareto fronts need only numpy and xarray. Sensitivity analysis needs SALib and the figures matplotlib;
neither is a core dependency of CIMinus, so they are imported inside the functions that use them and
``import ciminus.analysis`` works without them.
"""

from __future__ import annotations

from ciminus.analysis.pareto import objective, pareto_front, pareto_mask
from ciminus.analysis.plots import plot_breakdown, plot_heatmap, plot_pareto, plot_sensitivity, save_figure
from ciminus.analysis.sensitivity import analyse, sample

__all__ = ["analyse", "objective", "pareto_front", "pareto_mask", "plot_breakdown", "plot_heatmap", "plot_pareto",
           "plot_sensitivity", "sample", "save_figure"]
