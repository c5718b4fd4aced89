"""CIMinus: energy and latency of sparse DNN workloads on digital SRAM compute-in-memory accelerators."""

__version__ = "0.1.0"
