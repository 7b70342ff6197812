"""Test support shared by the workbench test suite (servers, fixtures' building blocks)."""
