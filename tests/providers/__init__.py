"""Tests of the funding provider port and the sandbox provider."""
