"""The flagstone demo application: every package of the toolkit in one small app."""
